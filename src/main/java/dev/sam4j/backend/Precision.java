package dev.sam4j.backend;

import java.util.Locale;

/**
 * The arithmetic a run's layers compute in ({@code --precision}). In every precision the master weights,
 * the gradient arena, the optimizer state and the SAM-family passes over the arenas (‖g‖², the perturbation,
 * the exact restore, the update) stay fp32, so each method means the same thing in every precision; only the
 * layers' arithmetic changes:
 * <ul>
 *   <li>{@link #FP32}: everything in fp32 (the default on every device: parity with the CPU);</li>
 *   <li>{@link #TF32}: the inputs of every GEMM and convolution are rounded to TF32 (fp32's 8 exponent
 *       bits, 10 mantissa bits) and multiplied with fp32 accumulation, as tensor cores do; everything
 *       stored stays fp32;</li>
 *   <li>{@link #BF16}: layers read a bf16 copy (shadow) of the weights, and each layer's output and input
 *       gradient is stored in bf16 (8 exponent bits, 7 mantissa bits), so every GEMM and convolution input is
 *       bf16, accumulated in fp32; BatchNorm's scale, shift and statistics, the softmax cross-entropy
 *       (on the bf16 logits) and the weight gradients stay fp32, except a convolution's, which is rounded to bf16
 *       before it reaches the fp32 gradient arena (cuDNN computes it in the data's type, as PyTorch's autocast
 *       does; the CPU's emulation rounds it the same way).</li>
 * </ul>
 * Rounding is to nearest, ties to even, in both reduced formats ({@link #round(double)}); a value beyond the
 * largest finite one rounds to infinity, NaN stays NaN, and subnormals keep the format's spacing at the bottom
 * of fp32's exponent range. A backend says which precisions it computes in ({@link Backend#supports}).
 */
public enum Precision {
    FP32("fp32", 23),
    TF32("tf32", 10),
    BF16("bf16", 7);

    private final String label;
    private final int mantissaBits;

    Precision(String label, int mantissaBits) {
        this.label = label;
        this.mantissaBits = mantissaBits;
    }

    /** The name on the command line and in run files: {@code fp32}, {@code tf32}, {@code bf16}. */
    public String label() { return label; }

    /** Explicit (stored) mantissa bits of the format: 23, 10, 7. */
    public int mantissaBits() { return mantissaBits; }

    /** Whether layers store activations, activation gradients and the weights they read in bf16. */
    public boolean storesBf16() { return this == BF16; }

    /** The precision named {@code s} (case-insensitive, trimmed); the error names the option and the valid values. */
    public static Precision parse(String s) {
        String p = s == null ? "" : s.trim().toLowerCase(Locale.ROOT);
        for (Precision v : values()) if (v.label.equals(p)) return v;
        throw new IllegalArgumentException("--precision: must be fp32, tf32 or bf16, got '" + s + "'");
    }

    /**
     * {@code x} rounded to this format, to nearest with ties to even, computed exactly in double: the
     * quantum is {@code 2^(e − mantissaBits)} with {@code e} the binary exponent of {@code x}, but never below
     * fp32's smallest normal exponent {@code −126} (so subnormals keep the format's fixed spacing), and
     * {@link Math#rint} rounds {@code x / quantum} to the nearest even integer. A result above the format's
     * largest finite value is infinity (it can only be the next power of two, which fp32 cannot hold: every
     * format here has fp32's exponent range). The plain reference that the backends' fast rounding is tested against.
     */
    public double round(double x) {
        if (Double.isNaN(x) || Double.isInfinite(x) || x == 0) return x;
        int e = Math.max(Math.getExponent(x), -126);
        double quantum = Math.scalb(1.0, e - mantissaBits);
        double r = Math.rint(x / quantum) * quantum;
        return Math.abs(r) >= 0x1p128 ? Math.copySign(Double.POSITIVE_INFINITY, x) : r;
    }

    /** {@link #round(double)} of a float; exact, so the result is a float. */
    public float round(float x) { return (float) round((double) x); }

    @Override public String toString() { return label; }
}
