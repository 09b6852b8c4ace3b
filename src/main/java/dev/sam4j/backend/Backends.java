package dev.sam4j.backend;

import dev.sam4j.backend.cpu.CpuBackend;
import dev.sam4j.backend.cpu.ReferenceBackend;
import java.util.Locale;

/**
 * Chooses a backend from a device string ({@code auto | cpu | cpu-reference | cuda[:N]}) and says why.
 * The device may also come from the system property {@code sam4j.device} or the environment variable
 * {@code SAM4J_DEVICE}; an explicit option wins over both.
 */
public final class Backends {
    private Backends() {}

    /** A chosen backend and the one-line reason for the choice. */
    public record Choice(Backend backend, String reason) {}

    /** The device to use: the explicit value unless it is null or {@code auto}, then the property, then the environment. */
    public static String resolveDevice(String explicit) {
        if (explicit != null && !explicit.isBlank() && !explicit.equalsIgnoreCase("auto")) return explicit;
        String p = System.getProperty("sam4j.device");
        if (p != null && !p.isBlank()) return p;
        String e = System.getenv("SAM4J_DEVICE");
        if (e != null && !e.isBlank()) return e;
        return "auto";
    }

    public static Choice choose(String device, int threads) {
        String d = resolveDevice(device).trim().toLowerCase(Locale.ROOT);
        if (d.equals("cpu")) {
            return new Choice(new CpuBackend(threads), "cpu requested");
        }
        if (d.equals("cpu-reference")) {
            return new Choice(new ReferenceBackend(), "cpu-reference requested (double-precision oracle; slow)");
        }
        if (d.equals("auto")) {
            return new Choice(new CpuBackend(threads), "auto: this build has no CUDA backend yet, using the CPU");
        }
        if (d.equals("cuda") || d.matches("cuda:\\d+")) {
            throw new IllegalArgumentException("--device " + d + ": the CUDA backend is not part of this build yet; use --device cpu");
        }
        throw new IllegalArgumentException("--device: unknown device '" + device + "'; valid: auto, cpu, cpu-reference, cuda[:N]");
    }
}
