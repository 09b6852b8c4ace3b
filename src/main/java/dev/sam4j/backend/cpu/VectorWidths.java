package dev.sam4j.backend.cpu;

import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorShape;
import jdk.incubator.vector.VectorSpecies;

/**
 * The vector width of the fast CPU backend, chosen once per JVM: {@code -Dsam4j.cpu.vectorBits=128|256|512},
 * by default the JVM's preferred width capped at 256 bits.
 *
 * <p>Why the cap: every published CPU number of this project was measured at 256 bits, and the 512-bit
 * path could not yet be measured against the 256-bit one on the same machine (see docs/BENCHMARKS.md);
 * a JVM on an AVX-512 CPU that prefers 512 bits therefore still runs 256 unless asked. Narrowing is done
 * through the species the kernels use, not through {@code -XX:MaxVectorSize}, so that the suite can run
 * the very code of every width on one machine (the 128-bit run in the test suite).
 *
 * <p>A width above what this JVM intrinsifies on this CPU (its preferred species) is refused, in one line,
 * when a {@link CpuBackend} is created: the kernels would run the Vector API's Java fallback, which
 * allocates on every call and is many times slower.
 */
public final class VectorWidths {
    private VectorWidths() {}

    /** The system property that sets the width. */
    public static final String PROPERTY = "sam4j.cpu.vectorBits";
    /** The default cap (see the class comment). */
    static final int DEFAULT_CAP = 256;
    /** The widest vector this JVM intrinsifies on this CPU: its preferred float species. */
    public static final int HARDWARE_BITS = FloatVector.SPECIES_PREFERRED.vectorBitSize();
    /** A width, why it is that one, and null or the one-line reason it is not usable. */
    record Choice(int bits, String how, String problem) {}

    private static final Choice CHOICE = choose(System.getProperty(PROPERTY), HARDWARE_BITS);
    /** The bit width the kernels use. */
    public static final int BITS = CHOICE.bits();

    /** The width for a property value ({@code null}: unset) on a JVM whose widest vectors are {@code hardwareBits}. */
    static Choice choose(String requested, int hardwareBits) {
        int fallback = Math.min(DEFAULT_CAP, hardwareBits);
        if (requested == null || requested.isBlank()) {
            String how = hardwareBits > DEFAULT_CAP ? "default: the JVM prefers " + hardwareBits + ", capped at "
                    + DEFAULT_CAP + "; -D" + PROPERTY + "=" + hardwareBits + " to use it" : "the JVM's preferred width";
            String problem = fallback < 128 ? "the fast CPU backend needs vectors of at least 128 bits; this JVM's are "
                    + hardwareBits + " (use --device cpu-reference)" : null;
            return new Choice(fallback, how, problem);
        }
        String how = "-D" + PROPERTY + "=" + requested.strip();
        int r = switch (requested.strip()) {
            case "128" -> 128;
            case "256" -> 256;
            case "512" -> 512;
            default -> -1;
        };
        if (r < 0) return new Choice(fallback, how, how + ": must be 128, 256 or 512");
        if (r > hardwareBits) return new Choice(fallback, how, how + ": this JVM's vectors are at most " + hardwareBits
                + " bits on this CPU, so " + r + "-bit vectors would run the slow non-intrinsified fallback");
        return new Choice(r, how, null);
    }

    /** The float species of every kernel (Pooling caps it further, see there). */
    static final VectorSpecies<Float> FLOATS = FloatVector.SPECIES_PREFERRED.vectorBitSize() == BITS
            ? FloatVector.SPECIES_PREFERRED : VectorSpecies.of(float.class, VectorShape.forBitSize(Math.max(BITS, 64)));

    /** Null when the width is usable, else the one-line reason it is not. */
    public static String problem() { return CHOICE.problem(); }

    /** Throws {@link IllegalArgumentException} with {@link #problem()} when the width is not usable. */
    static void check() {
        if (CHOICE.problem() != null) throw new IllegalArgumentException(CHOICE.problem());
    }

    /** E.g. {@code 256-bit (8 floats; the JVM's preferred width)}. */
    static String describe() {
        return BITS + "-bit (" + FLOATS.length() + " floats; " + CHOICE.how() + ")";
    }
}
