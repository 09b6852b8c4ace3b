package dev.sam4j.backend.cpu;

import static org.junit.jupiter.api.Assertions.fail;

import dev.sam4j.backend.Backend;
import dev.sam4j.backend.Buffer;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Assumptions;

/** Test helpers: the same float data in two backends, and tolerance comparisons against the oracle. */
final class BackendHarness {
    private BackendHarness() {}

    /**
     * Skips the calling test class, naming the width, when this run's {@code -Dsam4j.cpu.vectorBits} is one
     * the hardware lacks (the suite's 512-bit run on a machine with narrower vectors).
     */
    static void assumeWidthAvailable() {
        Assumptions.assumeTrue(VectorWidths.problem() == null,
                () -> "CPU vector width " + System.getProperty(VectorWidths.PROPERTY) + " not run here: " + VectorWidths.problem());
    }

    /** Uniform floats in {@code [lo, hi)} from a seeded generator. */
    static float[] uniform(int n, long seed, double lo, double hi) {
        SplittableRandom r = new SplittableRandom(seed);
        float[] a = new float[n];
        for (int i = 0; i < n; i++) a[i] = (float) (lo + (hi - lo) * r.nextDouble());
        return a;
    }

    static float[] uniform(int n, long seed) {
        return uniform(n, seed, -1, 1);
    }

    static Buffer put(Backend b, float[] data) {
        Buffer buf = b.allocate(data.length);
        b.upload(data, 0, buf, data.length);
        return buf;
    }

    static float[] get(Backend b, Buffer buf) {
        float[] out = new float[(int) buf.length()];
        b.download(buf, out, 0, out.length);
        return out;
    }

    /**
     * Asserts {@code |actual − expected| <= tol·(1 + |expected|)} element-wise, reporting the first offender.
     * NaN must match NaN.
     */
    static void assertClose(String what, double[] expected, double[] actual, double tol) {
        if (expected.length != actual.length) fail(what + ": length " + actual.length + " != " + expected.length);
        for (int i = 0; i < expected.length; i++) {
            double e = expected[i], a = actual[i];
            if (Double.isNaN(e) && Double.isNaN(a)) continue;
            if (!(Math.abs(a - e) <= tol * (1 + Math.abs(e)))) {
                fail(what + ": element " + i + " is " + a + ", reference " + e + " (|diff| " + Math.abs(a - e)
                        + " > " + tol * (1 + Math.abs(e)) + ")");
            }
        }
    }

    static void assertClose(String what, Backend ref, Buffer r, Backend cpu, Buffer c, double tol) {
        assertClose(what, ref.read(r), cpu.read(c), tol);
    }

    /** Bitwise equality of two float arrays (NaN payloads included). */
    static void assertBitEqual(String what, float[] a, float[] b) {
        if (a.length != b.length) fail(what + ": length " + b.length + " != " + a.length);
        for (int i = 0; i < a.length; i++) {
            if (Float.floatToRawIntBits(a[i]) != Float.floatToRawIntBits(b[i])) {
                fail(what + ": element " + i + " differs: " + a[i] + " vs " + b[i]);
            }
        }
    }
}
