package dev.sam4j.backend.cuda;

import static org.bytedeco.cuda.global.cudart.cudaDevAttrGlobalMemoryBusWidth;
import static org.bytedeco.cuda.global.cudart.cudaDevAttrL2CacheSize;
import static org.bytedeco.cuda.global.cudart.cudaDevAttrMemoryClockRate;
import static org.bytedeco.cuda.global.cudart.cudaDeviceGetAttribute;
import static org.bytedeco.cuda.global.cudart.cudaDriverGetVersion;
import static org.bytedeco.cuda.global.cudart.cudaGetDeviceCount;
import static org.bytedeco.cuda.global.cudart.cudaGetDeviceProperties;
import static org.bytedeco.cuda.global.cudart.cudaRuntimeGetVersion;
import static org.bytedeco.cuda.global.cudart.cudaSuccess;

import java.lang.foreign.Arena;
import java.lang.foreign.SymbolLookup;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import org.bytedeco.cuda.cudart.cudaDeviceProp;
import org.bytedeco.javacpp.Loader;

/**
 * Whether CUDA can be used here, found out without ever crashing the JVM, and what the devices are.
 *
 * <p>Order of the probe, each step only if the previous passed: (1) {@code dlopen} of
 * {@code libcuda.so.1} (the driver) and {@code libcudart.so.13} through {@code java.lang.foreign}, which
 * fails cleanly and names the missing library, where JavaCPP would only say "no jnicudart"; (2) JavaCPP
 * loads its cudart bindings, inside {@code catch (Throwable)} (without a driver the first touch throws
 * {@link UnsatisfiedLinkError} and every later one {@link NoClassDefFoundError}); (3)
 * {@code cudaGetDeviceCount}: an error or zero devices means no CUDA. The result is computed once.
 *
 * <p>A machine may carry the project's CPU stand-ins for the CUDA libraries (tests only, see
 * {@code src/test/cuda-mock}); they export {@code sam4j_cuda_stand_in}, and {@link Availability#standIn}
 * says so, so that results are never mistaken for a GPU's.
 */
public final class CudaRuntime {
    private CudaRuntime() {}

    /** The probe's verdict: usable or not, the one-line reason, the number of devices. */
    public record Availability(boolean available, String reason, int deviceCount, boolean standIn) {}

    /**
     * One device, for {@code sam4j info}, run records and the benchmarks: its memory clock (kHz), memory bus
     * width (bits) and L2 cache size (bytes) come from {@code cudaDeviceGetAttribute}, since CUDA 13 removed
     * the memory clock from {@code cudaDeviceProp}.
     */
    public record DeviceInfo(int index, String name, int major, int minor, int multiprocessors, long totalMemory,
                             int memoryClockKHz, int memoryBusBits, long l2Bytes) {
        /**
         * The theoretical memory bandwidth in bytes/s: two transfers per memory clock (double data rate, as
         * NVIDIA's own deviceQuery counts) over the whole bus.
         */
        public double peakBandwidth() { return 2.0 * memoryClockKHz * 1e3 * (memoryBusBits / 8.0); }

        public String describe() {
            return String.format(Locale.ROOT, "cuda:%d %s, compute capability %d.%d, %d SMs, %.1f GiB, %d MiB L2, "
                    + "memory %d-bit at %d MHz (%.0f GB/s peak)", index, name, major, minor, multiprocessors,
                    totalMemory / (1024.0 * 1024 * 1024), l2Bytes >> 20, memoryBusBits, memoryClockKHz / 1000, peakBandwidth() / 1e9);
        }
    }

    private static Availability cached;

    /** Probes once per JVM (see the class comment); never throws. */
    public static synchronized Availability probe() {
        if (cached == null) cached = doProbe();
        return cached;
    }

    @SuppressWarnings("restricted") // dlopen through java.lang.foreign: the JVM runs with --enable-native-access
    private static Availability doProbe() {
        String[][] libs = {
            {"libcuda.so.1", "the NVIDIA driver library is not visible: no driver installed, or not on LD_LIBRARY_PATH"},
            {"libcudart.so.13", "the CUDA 13 runtime is not on LD_LIBRARY_PATH"}};
        boolean standIn = false;
        for (String[] lib : libs) {
            try {
                SymbolLookup lookup = SymbolLookup.libraryLookup(lib[0], Arena.global());
                standIn |= lookup.find("sam4j_cuda_stand_in").isPresent();
            } catch (Throwable t) {
                return new Availability(false, lib[0] + " cannot be loaded (" + lib[1] + ")", 0, false);
            }
        }
        try {
            Loader.load(org.bytedeco.cuda.global.cudart.class);
        } catch (Throwable t) {
            return new Availability(false, "JavaCPP could not load its CUDA bindings: " + rootMessage(t), 0, standIn);
        }
        try {
            int[] count = {0};
            int err = cudaGetDeviceCount(count);
            if (err != cudaSuccess) {
                return new Availability(false, "cudaGetDeviceCount -> " + CudaCheck.runtimeName(err) + " (" + err + ")", 0, standIn);
            }
            if (count[0] == 0) return new Availability(false, "the CUDA driver reports no device", 0, standIn);
            String what = count[0] + " CUDA device(s)" + (standIn ? " (CPU stand-in libraries, not a GPU)" : "");
            return new Availability(true, what, count[0], standIn);
        } catch (Throwable t) {
            return new Availability(false, "cudaGetDeviceCount failed: " + rootMessage(t), 0, standIn);
        }
    }

    /** The devices, or an empty list when CUDA is not available. */
    public static List<DeviceInfo> devices() {
        Availability a = probe();
        List<DeviceInfo> out = new ArrayList<>();
        if (!a.available()) return out;
        for (int i = 0; i < a.deviceCount(); i++) {
            cudaDeviceProp p = new cudaDeviceProp();
            CudaCheck.rt(cudaGetDeviceProperties(p, i), "cudaGetDeviceProperties(" + i + ")");
            out.add(new DeviceInfo(i, p.name().getString(), p.major(), p.minor(), p.multiProcessorCount(), p.totalGlobalMem(),
                    attribute(cudaDevAttrMemoryClockRate, i), attribute(cudaDevAttrGlobalMemoryBusWidth, i),
                    attribute(cudaDevAttrL2CacheSize, i)));
            p.close();
        }
        return out;
    }

    private static int attribute(int attribute, int device) {
        int[] v = {0};
        CudaCheck.rt(cudaDeviceGetAttribute(v, attribute, device), "cudaDeviceGetAttribute(" + attribute + ", " + device + ")");
        return v[0];
    }

    /** {@code "driver 13.0, runtime 13.0, cuDNN 9.13.0"}; parts that cannot be read say so. */
    public static String versions() {
        if (!probe().available()) return "no CUDA";
        int[] driver = {0}, runtime = {0};
        CudaCheck.rt(cudaDriverGetVersion(driver), "cudaDriverGetVersion");
        CudaCheck.rt(cudaRuntimeGetVersion(runtime), "cudaRuntimeGetVersion");
        return "driver " + cudaVersion(driver[0]) + ", runtime " + cudaVersion(runtime[0]) + ", cuDNN " + cudnnVersion();
    }

    /** The targets of this jar's GPU kernels ({@code "sm_75 … sm_120 + compute_80 PTX"}), or why it has none. */
    public static String kernelTargets() {
        try {
            return Fatbin.describe(Fatbin.targets(CudaModule.image()));
        } catch (CudaException e) {
            return e.getMessage();
        }
    }

    /** cuDNN's version, loaded on demand and guarded: part 1 does not need cuDNN to train. */
    public static String cudnnVersion() {
        try {
            Loader.load(org.bytedeco.cuda.global.cudnn.class);
            long v = org.bytedeco.cuda.global.cudnn.cudnnGetVersion();
            return libVersion(v);
        } catch (Throwable t) {
            return "not loadable (" + rootMessage(t) + ")";
        }
    }

    /** Why cuDNN 9 cannot be loaded here (not found, or another major version), or null when it can. Never throws. */
    public static String cudnnLoadProblem() {
        long v;
        try {
            Loader.load(org.bytedeco.cuda.global.cudnn.class);
            v = org.bytedeco.cuda.global.cudnn.cudnnGetVersion();
        } catch (Throwable t) {
            return "the cuDNN 9 libraries (libcudnn*.so.9) cannot be loaded: " + rootMessage(t);
        }
        return v / 10000 == 9 ? null : "cuDNN " + libVersion(v) + " was found, sam4j needs cuDNN 9";
    }

    /** 13000 → "13.0" (driver and runtime: 1000·major + 10·minor). */
    static String cudaVersion(int v) {
        return v / 1000 + "." + v % 1000 / 10;
    }

    /** 91300 → "9.13.0" (cuDNN 9 and cuBLAS: 10000·major + 100·minor + patch). */
    static String libVersion(long v) {
        return v / 10000 + "." + v / 100 % 100 + "." + v % 100;
    }

    static String rootMessage(Throwable t) {
        Throwable root = t;
        while (root.getCause() != null && root.getCause() != root) root = root.getCause();
        String m = String.valueOf(root.getMessage()).replaceAll("(in java\\.library\\.path): [^\\[]*", "$1");
        return root.getClass().getSimpleName() + ": " + m;
    }
}
