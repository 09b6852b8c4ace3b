package dev.sam4j.backend.cpu;

import static dev.sam4j.backend.cpu.BackendHarness.assertBitEqual;
import static dev.sam4j.backend.cpu.BackendHarness.get;
import static dev.sam4j.backend.cpu.BackendHarness.put;
import static dev.sam4j.backend.cpu.BackendHarness.uniform;
import static org.junit.jupiter.api.Assertions.assertEquals;

import dev.sam4j.backend.Buffer;
import dev.sam4j.backend.ConvGeom;
import dev.sam4j.backend.PoolGeom;
import java.util.ArrayList;
import java.util.List;
import java.util.function.Function;
import org.junit.jupiter.api.Test;

/**
 * Bit-identical results for 1, 2 and 3 threads and from call to call (including across JIT warm-up,
 * when the same code first runs interpreted and later compiled). Each scenario runs a sequence of
 * operations on a fresh backend and returns every output; the outputs must match bit for bit.
 */
class CpuBackendDeterminismTest {

    @org.junit.jupiter.api.BeforeAll
    static void widthAvailable() {
        BackendHarness.assumeWidthAvailable();
    }


    /** Runs {@code scenario} on backends of 1, 2 and 3 threads and twice on the same backend. */
    private static void sameEverywhere(String name, Function<CpuBackend, List<float[]>> scenario) {
        List<float[]> first;
        try (CpuBackend one = new CpuBackend(1)) {
            first = scenario.apply(one);
            assertSame(name + " (repeat, 1 thread)", first, scenario.apply(one));
        }
        for (int threads : new int[] {2, 3}) {
            try (CpuBackend b = new CpuBackend(threads)) {
                assertSame(name + " (" + threads + " threads)", first, scenario.apply(b));
                assertSame(name + " (repeat, " + threads + " threads)", first, scenario.apply(b));
            }
        }
    }

    /** A double's 64 bits as four exactly representable 16-bit chunks, for the float comparisons. */
    private static float[] bits(double v) {
        long l = Double.doubleToRawLongBits(v);
        return new float[] {l & 0xffff, (l >>> 16) & 0xffff, (l >>> 32) & 0xffff, l >>> 48};
    }

    private static void assertSame(String what, List<float[]> expected, List<float[]> actual) {
        assertEquals(expected.size(), actual.size());
        for (int i = 0; i < expected.size(); i++) assertBitEqual(what + " output " + i, expected.get(i), actual.get(i));
    }

    @Test
    void gemmAllTransposesOnMlpShapes() {
        int[][] mnk = {{128, 512, 784}, {784, 512, 128}, {257, 530, 300}, {128, 10, 512}};
        sameEverywhere("gemm", b -> {
            List<float[]> out = new ArrayList<>();
            for (int[] s : mnk) {
                int m = s[0], n = s[1], k = s[2];
                for (int t = 0; t < 4; t++) {
                    boolean ta = (t & 1) != 0, tb = (t & 2) != 0;
                    Buffer a = put(b, uniform(m * k, 1)), bb = put(b, uniform(k * n, 2)), c = put(b, uniform(m * n, 3));
                    b.gemm(ta, tb, m, n, k, 0.75f, a, ta ? m : k, bb, tb ? k : n, 0.5f, c, n);
                    out.add(get(b, c));
                }
            }
            return out;
        });
    }

    @Test
    void convolutionAllThreeOps() {
        ConvGeom[] geoms = {new ConvGeom(8, 16, 16, 16, 3, 3, 1, 1), new ConvGeom(6, 9, 11, 5, 3, 3, 2, 1),
                new ConvGeom(12, 7, 7, 10, 1, 1, 1, 0), new ConvGeom(2, 10, 10, 24, 3, 3, 1, 1)};
        int n = 13; // not a multiple of the thread counts nor of the 8 filter partials
        sameEverywhere("conv", b -> {
            List<float[]> out = new ArrayList<>();
            for (ConvGeom g : geoms) {
                Buffer ws = b.allocate(b.convWorkspaceSize(g, n));
                Buffer x = put(b, uniform(n * g.inSize(), 10)), w = put(b, uniform(g.weightSize(), 11));
                Buffer bias = put(b, uniform(g.outC(), 12)), dy = put(b, uniform(n * g.outSize(), 13));
                Buffer y = b.allocate(n * g.outSize()), dx = b.allocate(n * g.inSize());
                Buffer dw = b.allocate(g.weightSize()), db = b.allocate(g.outC());
                b.convForward(g, n, x, w, bias, y, ws);
                b.convBackwardData(g, n, dy, w, dx, ws);
                b.convBackwardFilter(g, n, x, dy, dw, db, ws);
                out.add(get(b, y));
                out.add(get(b, dx));
                out.add(get(b, dw));
                out.add(get(b, db));
            }
            return out;
        });
    }

    @Test
    void reductionsAndNormalisation() {
        int big = 3 * CpuBackend.SUMSQ_CHUNK + 12345;
        sameEverywhere("reductions", b -> {
            List<float[]> out = new ArrayList<>();
            Buffer x = put(b, uniform(big, 20, -2, 2));
            out.add(bits(b.sumOfSquares(x, big)));
            Buffer rowsIn = put(b, uniform(300 * 700, 21)), sums = b.allocate(700);
            b.sumRows(rowsIn, sums, 300, 700);
            out.add(get(b, sums));

            int n = 16, c = 24, hw = 100;
            Buffer bx = put(b, uniform(n * c * hw, 22, 1, 3)), gamma = put(b, uniform(c, 23)), beta = put(b, uniform(c, 24));
            Buffer y = b.allocate(n * c * hw), rm = b.allocate(c), rv = put(b, uniform(c, 25, 1, 2));
            Buffer sm = b.allocate(c), si = b.allocate(c), dy = put(b, uniform(n * c * hw, 26));
            Buffer dx = b.allocate(n * c * hw), dg = b.allocate(c), dbeta = b.allocate(c);
            b.batchNormForwardTraining(n, c, hw, bx, gamma, beta, y, rm, rv, 0.1, 1e-5, true, sm, si);
            b.batchNormBackward(n, c, hw, bx, dy, gamma, sm, si, dx, dg, dbeta);
            for (Buffer o : new Buffer[] {y, rm, rv, sm, si, dx, dg, dbeta}) out.add(get(b, o));

            Buffer gap = b.allocate(n * c);
            b.globalAvgPoolForward(n, c, hw, bx, gap);
            out.add(get(b, gap));
            PoolGeom pg = new PoolGeom(c, 10, 10, 3, 2, 1);
            Buffer py = b.allocate(n * pg.outSize()), pdx = b.allocate(n * pg.inSize());
            b.maxPoolForward(pg, n, bx, py);
            b.maxPoolBackward(pg, n, bx, py, put(b, uniform(n * pg.outSize(), 27)), pdx);
            out.add(get(b, py));
            out.add(get(b, pdx));

            Buffer w = put(b, uniform(big, 28)), g = put(b, uniform(big, 29)), m = b.allocate(big);
            for (int step = 0; step < 3; step++) b.sgdUpdate(w, g, m, big, 0.05f, 0.9f, 1e-4f, step == 1);
            out.add(get(b, w));
            out.add(get(b, m));
            return out;
        });
    }

    /**
     * The same small problem many times on one backend: the first calls run in the interpreter, later
     * ones in C1/C2 code, and every result must equal the first (catches e.g. lane-order-dependent
     * reductions whose intrinsic and fallback orders differ).
     */
    @Test
    void stableAcrossJitWarmup() {
        try (CpuBackend b = new CpuBackend(2)) {
            int m = 20, n = 36, k = 300, len = 5000;
            Buffer a = put(b, uniform(m * k, 30)), bb = put(b, uniform(k * n, 31)), c = b.allocate(m * n);
            Buffer x = put(b, uniform(len, 32)), y = b.allocate(len);
            Buffer bn = put(b, uniform(4 * 3 * 50, 33)), gamma = put(b, uniform(3, 34)), beta = put(b, uniform(3, 35));
            Buffer bny = b.allocate(600), rm = b.allocate(3), rv = b.allocate(3), sm = b.allocate(3), si = b.allocate(3);
            float[] c0 = null, bn0 = null;
            double s0 = 0;
            for (int it = 0; it < 400; it++) {
                b.gemm(false, true, m, n, k, 1f, a, k, bb, k, 0f, c, n);
                double s = b.sumOfSquares(x, len);
                b.reluForward(x, y, len);
                b.batchNormForwardTraining(4, 3, 50, bn, gamma, beta, bny, rm, rv, 0.1, 1e-5, false, sm, si);
                if (it == 0) {
                    c0 = get(b, c);
                    bn0 = get(b, bny);
                    s0 = s;
                } else {
                    assertBitEqual("gemm at call " + it, c0, get(b, c));
                    assertBitEqual("batch norm at call " + it, bn0, get(b, bny));
                    assertEquals(Double.doubleToRawLongBits(s0), Double.doubleToRawLongBits(s), "sumOfSquares at call " + it);
                }
            }
        }
    }
}
