package dev.sam4j.backend.cpu;

import static dev.sam4j.backend.cpu.BackendHarness.put;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.sam4j.backend.Backend;
import dev.sam4j.backend.Buffer;
import dev.sam4j.backend.ConvGeom;
import dev.sam4j.backend.Precision;
import java.util.SplittableRandom;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * The Vector API rounding ({@link CpuBackend#roundTo}) bit for bit against the plain reference
 * ({@link Precision#round}) on random bit patterns (every class of float: NaN, infinities, subnormals) and
 * edge values, at sizes that cross the vector tail and the parallel chunks; and the TF32 GEMM/convolution
 * emulation against fp32 ones on explicitly rounded inputs.
 */
class RoundingAgreementTest {
    static CpuBackend cpu2, tf32;

    @BeforeAll
    static void start() {
        BackendHarness.assumeWidthAvailable();
        cpu2 = new CpuBackend(2);
        tf32 = new CpuBackend(2, true);
    }

    @AfterAll
    static void stop() {
        if (cpu2 != null) cpu2.close();
        if (tf32 != null) tf32.close();
    }

    static final float[] EDGES = {0f, -0f, 1f, 1f + 0x1p-8f, 1f + 3 * 0x1p-8f, 1f + 0x1p-11f, 1f + 3 * 0x1p-11f,
            Float.MAX_VALUE, -Float.MAX_VALUE, Float.intBitsToFloat(0x7F7F8000), Float.intBitsToFloat(0x7F7F7FFF),
            Float.intBitsToFloat(0x7F7FF000), Float.POSITIVE_INFINITY, Float.NEGATIVE_INFINITY, Float.NaN,
            Float.intBitsToFloat(0x7F800001), Float.intBitsToFloat(0xFF800001), Float.intBitsToFloat(0x7FC00001),
            Float.MIN_VALUE, -Float.MIN_VALUE, 0x1p-134f, 3 * 0x1p-134f, 0x1p-137f, Float.intBitsToFloat(0x007FFFFF),
            Float.MIN_NORMAL, -Float.MIN_NORMAL};

    static Stream<Arguments> cases() {
        return Stream.of(Precision.values()).flatMap(p -> Stream.of(1, 7, 33, 1021, 3 * CpuBackend.CHUNK + 11)
                .map(n -> Arguments.of(p, n)));
    }

    static float[] data(int n, long seed) {
        SplittableRandom r = new SplittableRandom(seed);
        float[] x = new float[n];
        for (int i = 0; i < n; i++) {
            x[i] = switch (i % 3) {
                case 0 -> Float.intBitsToFloat(r.nextInt());                      // any bit pattern
                case 1 -> (float) r.nextGaussian();                               // the values training sees
                default -> EDGES[r.nextInt(EDGES.length)];
            };
        }
        System.arraycopy(EDGES, 0, x, 0, Math.min(n, EDGES.length));
        return x;
    }

    private static void sameBits(float[] expected, float[] actual, String what) {
        for (int i = 0; i < expected.length; i++) {
            if (Float.isNaN(expected[i]) && Float.isNaN(actual[i])) continue;
            assertEquals(Float.floatToRawIntBits(expected[i]), Float.floatToRawIntBits(actual[i]),
                    what + ": element " + i + " = " + expected[i] + " vs " + actual[i]);
        }
    }

    @ParameterizedTest(name = "{0}, n = {1}")
    @MethodSource("cases")
    void vectorRoundingIsTheReference(Precision p, int n) {
        float[] x = data(n, 31L * n + p.ordinal());
        float[] expected = new float[n];
        for (int i = 0; i < n; i++) expected[i] = p.round(x[i]);
        // out of place, at an offset
        Buffer src = put(cpu2, x), dst = cpu2.allocate(n + 5);
        cpu2.roundTo(p, src, dst.slice(5, n), n);
        float[] out = new float[n];
        cpu2.download(dst.slice(5, n), out, 0, n);
        sameBits(expected, out, p + " out of place");
        float[] unchanged = new float[n];
        cpu2.download(src, unchanged, 0, n);
        assertArrayEquals(x, unchanged, "the source is not written");
        // in place
        cpu2.roundTo(p, src, src, n);
        cpu2.download(src, out, 0, n);
        sameBits(expected, out, p + " in place");
    }

    @Test
    void referenceRoundsItsDoublesDirectly() {
        ReferenceBackend ref = new ReferenceBackend();
        double[] x = {1 + 0x1p-8 + 0x1p-40, 1 + 0x1p-8, Double.MAX_VALUE, Double.NaN, 0x1p-140, -3.0000001};
        Buffer b = ref.allocate(x.length);
        ref.write(x, b);
        ref.roundTo(Precision.BF16, b, b, x.length);
        double[] got = ref.read(b);
        // Directly from double: the first is above the tie (double → float → bf16 would have made it a tie, then 1).
        assertEquals(1 + 0x1p-7, got[0]);
        assertEquals(1.0, got[1]);
        assertEquals(Double.POSITIVE_INFINITY, got[2]);
        assertTrue(Double.isNaN(got[3]));
        assertEquals(0.0, got[4]);
        assertEquals(-3.0, got[5]);
    }

    static float[] rounded(float[] x, Precision p) {
        float[] r = x.clone();
        for (int i = 0; i < r.length; i++) r[i] = p.round(r[i]);
        return r;
    }

    /** TF32 GEMM = the fp32 GEMM of TF32-rounded inputs, bit for bit (the rounding is of the packed copies). */
    @ParameterizedTest(name = "transA {0}, transB {1}")
    @MethodSource("transposes")
    void tf32GemmIsFp32GemmOfRoundedInputs(boolean ta, boolean tb) {
        int m = 37, n = 301, k = 700;  // more than one slab (KC) and partial tiles
        float[] a = BackendHarness.uniform(m * k, 3), b = BackendHarness.uniform(k * n, 4), c0 = BackendHarness.uniform(m * n, 5);
        int lda = ta ? m : k, ldb = tb ? k : n;
        Buffer A = put(tf32, a), B = put(tf32, b), C = put(tf32, c0);
        tf32.gemm(ta, tb, m, n, k, 1.5f, A, lda, B, ldb, 0.5f, C, n);
        Buffer Ar = put(cpu2, rounded(a, Precision.TF32)), Br = put(cpu2, rounded(b, Precision.TF32)), Cr = put(cpu2, c0);
        cpu2.gemm(ta, tb, m, n, k, 1.5f, Ar, lda, Br, ldb, 0.5f, Cr, n);
        sameBits(BackendHarness.get(cpu2, Cr), BackendHarness.get(tf32, C), "tf32 gemm");
        assertArrayEquals(a, BackendHarness.get(tf32, A), "the caller's matrix is not rounded");
        // And it does differ from the fp32 GEMM of the unrounded inputs (the emulation is not a no-op).
        Buffer Cf = put(cpu2, c0);
        cpu2.gemm(ta, tb, m, n, k, 1.5f, put(cpu2, a), lda, put(cpu2, b), ldb, 0.5f, Cf, n);
        assertTrue(!java.util.Arrays.equals(BackendHarness.get(cpu2, Cf), BackendHarness.get(tf32, C)));
        // The reference's TF32 GEMM agrees to fp32 accumulation error.
        ReferenceBackend ref = new ReferenceBackend(true);
        Buffer Cd = put(ref, c0);
        ref.gemm(ta, tb, m, n, k, 1.5f, put(ref, a), lda, put(ref, b), ldb, 0.5f, Cd, n);
        float[] got = BackendHarness.get(tf32, C);
        double[] want = ref.read(Cd);
        for (int i = 0; i < got.length; i++) assertEquals(want[i], got[i], 1e-4 * (1 + Math.abs(want[i])), "element " + i);
    }

    static Stream<Arguments> transposes() {
        return Stream.of(Arguments.of(false, false), Arguments.of(true, false), Arguments.of(false, true), Arguments.of(true, true));
    }

    @Test
    void tf32ConvolutionIsFp32ConvolutionOfRoundedInputs() {
        ConvGeom g = new ConvGeom(5, 9, 9, 7, 3, 3, 1, 1);
        int n = 3;
        float[] x = BackendHarness.uniform(n * g.inSize(), 8), w = BackendHarness.uniform(g.outC() * g.patchSize(), 9),
                dy = BackendHarness.uniform(n * g.outSize(), 10);
        float[] xr = rounded(x, Precision.TF32), wr = rounded(w, Precision.TF32), dyr = rounded(dy, Precision.TF32);
        for (int op = 0; op < 3; op++) {
            float[] viaTf32 = conv(tf32, op, g, n, x, w, dy), viaRounded = conv(cpu2, op, g, n, xr, wr, dyr);
            sameBits(viaRounded, viaTf32, "conv op " + op);
        }
    }

    private static float[] conv(Backend be, int op, ConvGeom g, int n, float[] x, float[] w, float[] dy) {
        Buffer X = put(be, x), W = put(be, w), DY = put(be, dy), ws = be.allocate(be.convWorkspaceSize(g, n));
        Buffer out;
        switch (op) {
            case 0 -> be.convForward(g, n, X, W, null, out = be.allocate((long) n * g.outSize()), ws);
            case 1 -> be.convBackwardData(g, n, DY, W, out = be.allocate((long) n * g.inSize()), ws);
            default -> be.convBackwardFilter(g, n, X, DY, out = be.allocate((long) g.outC() * g.patchSize()), null, ws);
        }
        return BackendHarness.get(be, out);
    }

    @Test
    void supportedPrecisions() {
        assertTrue(cpu2.supports(Precision.FP32) && cpu2.supports(Precision.BF16) && !cpu2.supports(Precision.TF32));
        assertTrue(tf32.supports(Precision.TF32) && !tf32.supports(Precision.FP32));
        assertTrue(cpu2.unsupportedReason(Precision.TF32).contains("fp32, bf16"), cpu2.unsupportedReason(Precision.TF32));
        assertTrue(new ReferenceBackend(true).supports(Precision.TF32));
    }
}
