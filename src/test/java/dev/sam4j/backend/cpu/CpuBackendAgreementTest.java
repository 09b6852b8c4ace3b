package dev.sam4j.backend.cpu;

import static dev.sam4j.backend.cpu.BackendHarness.assertClose;
import static dev.sam4j.backend.cpu.BackendHarness.put;
import static dev.sam4j.backend.cpu.BackendHarness.uniform;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.sam4j.backend.Backend;
import dev.sam4j.backend.Buffer;
import dev.sam4j.backend.ConvGeom;
import dev.sam4j.backend.PoolGeom;
import java.util.ArrayList;
import java.util.List;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * Every operation of {@link CpuBackend} (1 and 2 threads) against the double-precision
 * {@link ReferenceBackend} over awkward sizes, with float32-appropriate tolerances: elementwise ops are
 * exact or within one rounding; sums of {@code k} terms get {@code ~k·1e-6} relative slack.
 */
class CpuBackendAgreementTest {
    static final Backend REF = new ReferenceBackend();
    static CpuBackend cpu1, cpu2;

    @BeforeAll
    static void start() {
        BackendHarness.assumeWidthAvailable();
        cpu1 = new CpuBackend(1);
        cpu2 = new CpuBackend(2);
    }

    @AfterAll
    static void stop() {
        if (cpu1 != null) cpu1.close();
        if (cpu2 != null) cpu2.close();
    }

    static Backend cpu(int threads) {
        return threads == 1 ? cpu1 : cpu2;
    }

    static final int[] SIZES = {1, 7, 31, 1021, 278011};

    static Stream<Arguments> sizes() {
        List<Arguments> out = new ArrayList<>();
        for (int t : new int[] {1, 2}) for (int n : SIZES) out.add(Arguments.of(t, n));
        return out.stream();
    }

    // ---- elementwise and arena ops ----

    @ParameterizedTest(name = "threads={0} n={1}")
    @MethodSource("sizes")
    void reluForwardAndInPlace(int threads, int n) {
        Backend cpu = cpu(threads);
        float[] x = uniform(n, 1);
        Buffer rx = put(REF, x), ry = REF.allocate(n), cx = put(cpu, x), cy = cpu.allocate(n);
        REF.reluForward(rx, ry, n);
        cpu.reluForward(cx, cy, n);
        assertClose("relu", REF, ry, cpu, cy, 0);
        cpu.reluForward(cx, cx, n);
        assertClose("relu in place", REF, ry, cpu, cx, 0);
    }

    @ParameterizedTest(name = "threads={0} n={1}")
    @MethodSource("sizes")
    void reluBackwardAliasingDy(int threads, int n) {
        Backend cpu = cpu(threads);
        float[] y = uniform(n, 2), dy = uniform(n, 3);
        for (int i = 0; i < n; i += 5) y[i] = 0f; // exact zeros must block the gradient
        Buffer ry = put(REF, y), rdy = put(REF, dy), rdx = REF.allocate(n);
        Buffer cy = put(cpu, y), cdy = put(cpu, dy);
        REF.reluBackward(ry, rdy, rdx, n);
        cpu.reluBackward(cy, cdy, cdy, n);
        assertClose("reluBackward", REF, rdx, cpu, cdy, 0);
    }

    @ParameterizedTest(name = "threads={0} n={1}")
    @MethodSource("sizes")
    void addWithAliasedOutput(int threads, int n) {
        Backend cpu = cpu(threads);
        float[] a = uniform(n, 4), b = uniform(n, 5);
        Buffer ra = put(REF, a), rb = put(REF, b), ro = REF.allocate(n), ca = put(cpu, a), cb = put(cpu, b);
        REF.add(ra, rb, ro, n);
        cpu.add(ca, cb, ca, n);
        // float addition rounds once; the reference adds in double
        assertClose("add", REF, ro, cpu, ca, 1e-7);
    }

    @ParameterizedTest(name = "threads={0} n={1}")
    @MethodSource("sizes")
    void fillCopyUploadDownload(int threads, int n) {
        Backend cpu = cpu(threads);
        Buffer c = cpu.allocate(n + 3);
        cpu.fill(c, 2.5f, n);
        double[] got = cpu.read(c);
        for (int i = 0; i < n; i++) assertEquals(2.5, got[i]);
        for (int i = n; i < n + 3; i++) assertEquals(0.0, got[i], "fill wrote past n");
        float[] x = uniform(n, 6);
        Buffer src = put(cpu, x), dst = cpu.allocate(n);
        cpu.copy(src, dst, n);
        float[] back = new float[n + 2];
        cpu.download(dst, back, 2, n);
        for (int i = 0; i < n; i++) assertEquals(x[i], back[i + 2]);
        double[] d = new double[n];
        for (int i = 0; i < n; i++) d[i] = i * 0.5;
        cpu.write(d, dst);
        assertClose("write/read", d, cpu.read(dst), 0);
        Buffer view = dst.slice(n / 2, n - n / 2);
        assertEquals(d[n / 2], cpu.read(view)[0]);
    }

    @ParameterizedTest(name = "threads={0} n={1}")
    @MethodSource("sizes")
    void sumOfSquares(int threads, int n) {
        Backend cpu = cpu(threads);
        float[] x = uniform(n, 7, -3, 3);
        double r = REF.sumOfSquares(put(REF, x), n), c = cpu.sumOfSquares(put(cpu, x), n);
        // both accumulate in double: only the summation order differs
        assertEquals(r, c, 1e-12 * r + 1e-30);
    }

    @ParameterizedTest(name = "threads={0} n={1}")
    @MethodSource("sizes")
    void sgdUpdate(int threads, int n) {
        Backend cpu = cpu(threads);
        for (boolean nesterov : new boolean[] {false, true}) {
            float[] w = uniform(n, 8), g = uniform(n, 9), m = uniform(n, 10);
            Buffer rw = put(REF, w), rg = put(REF, g), rm = put(REF, m);
            Buffer cw = put(cpu, w), cg = put(cpu, g), cm = put(cpu, m);
            for (int step = 0; step < 3; step++) {
                REF.sgdUpdate(rw, rg, rm, n, 0.1f, 0.9f, 5e-4f, nesterov);
                cpu.sgdUpdate(cw, cg, cm, n, 0.1f, 0.9f, 5e-4f, nesterov);
            }
            assertClose("sgd w nesterov=" + nesterov, REF, rw, cpu, cw, 2e-6);
            assertClose("sgd m nesterov=" + nesterov, REF, rm, cpu, cm, 2e-6);
        }
    }

    // ---- rows ----

    static Stream<Arguments> matrices() {
        int[][] shapes = {{1, 1}, {7, 31}, {31, 7}, {128, 512}, {1021, 7}, {300, 1021}, {3, 278011 / 3}};
        List<Arguments> out = new ArrayList<>();
        for (int t : new int[] {1, 2}) for (int[] s : shapes) out.add(Arguments.of(t, s[0], s[1]));
        return out.stream();
    }

    @ParameterizedTest(name = "threads={0} rows={1} cols={2}")
    @MethodSource("matrices")
    void addRowBias(int threads, int rows, int cols) {
        Backend cpu = cpu(threads);
        float[] y = uniform(rows * cols, 11), b = uniform(cols, 12);
        Buffer ry = put(REF, y), cy = put(cpu, y);
        REF.addRowBias(ry, put(REF, b), rows, cols);
        cpu.addRowBias(cy, put(cpu, b), rows, cols);
        assertClose("addRowBias", REF, ry, cpu, cy, 1e-7);
    }

    @ParameterizedTest(name = "threads={0} rows={1} cols={2}")
    @MethodSource("matrices")
    void sumRows(int threads, int rows, int cols) {
        Backend cpu = cpu(threads);
        float[] y = uniform(rows * cols, 13);
        Buffer rb = REF.allocate(cols), cb = cpu.allocate(cols);
        REF.sumRows(put(REF, y), rb, rows, cols);
        cpu.sumRows(put(cpu, y), cb, rows, cols);
        assertClose("sumRows", REF, rb, cpu, cb, 1e-6 * rows);
    }

    // ---- GEMM ----

    static Stream<Arguments> gemmShapes() {
        int[][] mnk = {{1, 1, 1}, {1, 7, 31}, {7, 1, 65}, {31, 65, 7}, {65, 31, 130}, {130, 257, 1}, {257, 7, 31},
                {6, 16, 256}, {12, 48, 257}, {65, 130, 257}, {130, 65, 300}, {200, 530, 70},
                {33, 70, 700},   // three k slabs
                {7, 2100, 33}};  // two 2048-wide B panels
        List<Arguments> out = new ArrayList<>();
        int i = 0;
        for (int[] s : mnk)
            for (int ta = 0; ta < 2; ta++)
                for (int tb = 0; tb < 2; tb++) out.add(Arguments.of(1 + (i++ % 2), s[0], s[1], s[2], ta == 1, tb == 1));
        return out.stream();
    }

    @ParameterizedTest(name = "threads={0} m={1} n={2} k={3} ta={4} tb={5}")
    @MethodSource("gemmShapes")
    void gemm(int threads, int m, int n, int k, boolean ta, boolean tb) {
        Backend cpu = cpu(threads);
        // leading dimensions larger than the stored rows, to catch ld/width mix-ups
        int lda = (ta ? m : k) + 3, ldb = (tb ? k : n) + 5, ldc = n + 2;
        int aRows = ta ? k : m, bRows = tb ? n : k;
        float[] a = uniform(aRows * lda, 20), b = uniform(bRows * ldb, 21);
        float[][] alphaBeta = {{1f, 0f}, {1f, 1f}, {-0.5f, 0.3f}, {0f, 2f}};
        for (float[] ab : alphaBeta) {
            float[] c = uniform(m * ldc, 22);
            if (ab[1] == 0f) java.util.Arrays.fill(c, Float.NaN); // beta == 0 must ignore C entirely
            Buffer rc = put(REF, ab[1] == 0f ? new float[m * ldc] : c), cc = put(cpu, c);
            REF.gemm(ta, tb, m, n, k, ab[0], put(REF, a), lda, put(REF, b), ldb, ab[1], rc, ldc);
            cpu.gemm(ta, tb, m, n, k, ab[0], put(cpu, a), lda, put(cpu, b), ldb, ab[1], cc, ldc);
            double[] r = REF.read(rc), g = cpu.read(cc);
            // compare only the m×n window; the padding columns must be untouched
            for (int i = 0; i < m; i++) {
                for (int j = n; j < ldc; j++) {
                    assertEquals(Float.floatToRawIntBits(c[i * ldc + j]), Float.floatToRawIntBits((float) g[i * ldc + j]),
                            "gemm wrote into the ldc padding at " + i + "," + j);
                    g[i * ldc + j] = r[i * ldc + j];
                }
            }
            assertClose("gemm alpha=" + ab[0] + " beta=" + ab[1], r, g, 1e-6 * (k + 4));
        }
    }

    @Test
    void gemmOnSubViewsWithOffsets() {
        for (Backend cpu : new Backend[] {cpu1, cpu2}) {
            int m = 37, n = 70, k = 45;
            float[] big = uniform(10000, 23);
            Buffer ra = put(REF, big), ca = put(cpu, big);
            Buffer rc = REF.allocate(m * n + 9), cc = cpu.allocate(m * n + 9);
            REF.gemm(false, true, m, n, k, 1f, ra.slice(11, m * k), k, ra.slice(3001, n * k), k, 0f, rc.slice(9, m * n), n);
            cpu.gemm(false, true, m, n, k, 1f, ca.slice(11, m * k), k, ca.slice(3001, n * k), k, 0f, cc.slice(9, m * n), n);
            assertClose("gemm views", REF, rc, cpu, cc, 1e-6 * k);
        }
    }

    // ---- convolution ----

    static Stream<Arguments> convs() {
        Object[][] cases = {
                {new ConvGeom(3, 8, 8, 5, 3, 3, 1, 1), 2},
                {new ConvGeom(2, 7, 9, 3, 3, 3, 2, 1), 3},      // stride 2, non-square input
                {new ConvGeom(4, 6, 5, 6, 1, 1, 1, 0), 2},      // pointwise: no im2col
                {new ConvGeom(3, 9, 7, 2, 1, 1, 2, 0), 2},      // 1×1 with stride goes through im2col
                {new ConvGeom(1, 5, 5, 4, 5, 5, 1, 0), 3},      // kernel covers the input
                {new ConvGeom(2, 11, 10, 7, 3, 2, 2, 0), 9},    // non-square kernel; 9 images > 8 partials
                {new ConvGeom(16, 12, 12, 32, 3, 3, 1, 1), 4},  // several GEMM tiles
                {new ConvGeom(3, 6, 6, 1, 3, 3, 1, 2), 2},      // pad 2: whole rows of padding
                {new ConvGeom(1, 9, 9, 16, 3, 3, 1, 1), 3},     // patch 9 < outC 16: transposed filter gradient
                {new ConvGeom(3, 8, 7, 32, 3, 3, 2, 1), 9},     // ... with stride 2 and 8 partials
        };
        List<Arguments> out = new ArrayList<>();
        for (int t : new int[] {1, 2}) for (Object[] c : cases) out.add(Arguments.of(t, c[0], c[1]));
        return out.stream();
    }

    @ParameterizedTest(name = "threads={0} {1} n={2}")
    @MethodSource("convs")
    void convForwardBackward(int threads, ConvGeom g, int n) {
        Backend cpu = cpu(threads);
        float[] x = uniform(n * g.inSize(), 30), w = uniform(g.weightSize(), 31), bias = uniform(g.outC(), 32);
        float[] dy = uniform(n * g.outSize(), 33);
        Buffer ws = cpu.allocate(cpu.convWorkspaceSize(g, n));
        double tolFwd = 1e-6 * (g.patchSize() + 4), tolBwd = 1e-6 * (g.outC() * g.kH() * g.kW() + 4);
        double tolFilter = 1e-6 * (n * g.outH() * g.outW() + 4);

        Buffer ry = REF.allocate(n * g.outSize()), cy = cpu.allocate(n * g.outSize());
        for (boolean withBias : new boolean[] {true, false}) {
            REF.convForward(g, n, put(REF, x), put(REF, w), withBias ? put(REF, bias) : null, ry, null);
            cpu.fill(cy, Float.NaN, n * g.outSize());
            cpu.convForward(g, n, put(cpu, x), put(cpu, w), withBias ? put(cpu, bias) : null, cy, ws);
            assertClose("convForward bias=" + withBias, REF, ry, cpu, cy, tolFwd);
        }

        Buffer rdx = REF.allocate(n * g.inSize()), cdx = cpu.allocate(n * g.inSize());
        cpu.fill(cdx, Float.NaN, n * g.inSize());
        REF.convBackwardData(g, n, put(REF, dy), put(REF, w), rdx, null);
        cpu.convBackwardData(g, n, put(cpu, dy), put(cpu, w), cdx, ws);
        assertClose("convBackwardData", REF, rdx, cpu, cdx, tolBwd);

        Buffer rdw = REF.allocate(g.weightSize()), cdw = cpu.allocate(g.weightSize());
        Buffer rdb = REF.allocate(g.outC()), cdb = cpu.allocate(g.outC());
        cpu.fill(cdw, Float.NaN, g.weightSize());
        cpu.fill(cdb, Float.NaN, g.outC());
        REF.convBackwardFilter(g, n, put(REF, x), put(REF, dy), rdw, rdb, null);
        cpu.convBackwardFilter(g, n, put(cpu, x), put(cpu, dy), cdw, cdb, ws);
        assertClose("convBackwardFilter dw", REF, rdw, cpu, cdw, tolFilter);
        assertClose("convBackwardFilter dBias", REF, rdb, cpu, cdb, 1.2e-7); // double sum, one float rounding
        cpu.convBackwardFilter(g, n, put(cpu, x), put(cpu, dy), cdw, null, ws);
        assertClose("convBackwardFilter without bias", REF, rdw, cpu, cdw, tolFilter);
    }

    @Test
    void pointwiseConvOfOneImageNeedsNoWorkspace() {
        ConvGeom g = new ConvGeom(5, 4, 3, 6, 1, 1, 1, 0);
        assertEquals(0, cpu2.convWorkspaceSize(g, 1));
        float[] x = uniform(g.inSize(), 34), w = uniform(g.weightSize(), 35), dy = uniform(g.outSize(), 36);
        Buffer ry = REF.allocate(g.outSize()), cy = cpu2.allocate(g.outSize());
        REF.convForward(g, 1, put(REF, x), put(REF, w), null, ry, null);
        cpu2.convForward(g, 1, put(cpu2, x), put(cpu2, w), null, cy, null);
        assertClose("pointwise forward", REF, ry, cpu2, cy, 1e-5);
        Buffer rdw = REF.allocate(g.weightSize()), cdw = cpu2.allocate(g.weightSize());
        REF.convBackwardFilter(g, 1, put(REF, x), put(REF, dy), rdw, null, null);
        cpu2.convBackwardFilter(g, 1, put(cpu2, x), put(cpu2, dy), cdw, null, null);
        assertClose("pointwise filter gradient", REF, rdw, cpu2, cdw, 1e-5);
    }

    @Test
    void convRejectsShortWorkspace() {
        ConvGeom g = new ConvGeom(3, 8, 8, 4, 3, 3, 1, 1);
        Buffer ws = cpu2.allocate(cpu2.convWorkspaceSize(g, 2) - 1);
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> cpu2.convForward(g, 2,
                cpu2.allocate(2 * g.inSize()), cpu2.allocate(g.weightSize()), null, cpu2.allocate(2 * g.outSize()), ws));
        assertTrue(e.getMessage().contains("workspace"), e.getMessage());
    }

    // ---- pooling ----

    static Stream<Arguments> pools() {
        Object[][] cases = {
                {new PoolGeom(3, 8, 8, 2, 2, 0), 2},
                {new PoolGeom(2, 7, 9, 3, 2, 1), 3},  // padded, odd sizes
                {new PoolGeom(1, 5, 6, 2, 1, 0), 2},  // overlapping windows: gradients add up
                {new PoolGeom(4, 9, 9, 3, 3, 0), 1},
                {new PoolGeom(2, 7, 5, 2, 2, 0), 2},  // odd sizes at the 2×2 fast path: last row/col dropped
                {new PoolGeom(2, 4, 4, 3, 1, 2), 2},  // pad 2 with k 3
                {new PoolGeom(3, 20, 34, 2, 2, 0), 2}, // wide enough for the vector path plus a tail
                {new PoolGeom(2, 9, 35, 2, 2, 0), 3},  // odd width: the last column is dropped
                {new PoolGeom(4, 14, 14, 2, 2, 0), 2}, // one full vector plus an overlapping last one
        };
        List<Arguments> out = new ArrayList<>();
        for (int t : new int[] {1, 2}) for (Object[] c : cases) out.add(Arguments.of(t, c[0], c[1]));
        return out.stream();
    }

    @ParameterizedTest(name = "threads={0} {1} n={2}")
    @MethodSource("pools")
    void maxPool(int threads, PoolGeom g, int n) {
        Backend cpu = cpu(threads);
        float[] x = uniform(n * g.inSize(), 40);
        // a few values repeated so that windows have ties: the first maximum must win
        for (int i = 0; i < x.length; i++) x[i] = Math.round(x[i] * 3) / 3f;
        float[] dy = uniform(n * g.outSize(), 41);
        Buffer ry = REF.allocate(n * g.outSize()), cy = cpu.allocate(n * g.outSize());
        REF.maxPoolForward(g, n, put(REF, x), ry);
        cpu.maxPoolForward(g, n, put(cpu, x), cy);
        assertClose("maxPoolForward", REF, ry, cpu, cy, 0);
        Buffer rdx = REF.allocate(n * g.inSize()), cdx = cpu.allocate(n * g.inSize());
        cpu.fill(cdx, Float.NaN, n * g.inSize());
        REF.maxPoolBackward(g, n, put(REF, x), ry, put(REF, dy), rdx);
        cpu.maxPoolBackward(g, n, put(cpu, x), cy, put(cpu, dy), cdx);
        assertClose("maxPoolBackward", REF, rdx, cpu, cdx, 1e-6); // overlapping windows add in float
    }

    static Stream<Arguments> planes() {
        int[][] cases = {{1, 1, 1}, {2, 3, 1}, {3, 5, 49}, {2, 7, 1021}, {4, 3, 31}, {8, 16, 64}, {128, 10, 1}};
        List<Arguments> out = new ArrayList<>();
        for (int t : new int[] {1, 2}) for (int[] c : cases) out.add(Arguments.of(t, c[0], c[1], c[2]));
        return out.stream();
    }

    @ParameterizedTest(name = "threads={0} n={1} c={2} hw={3}")
    @MethodSource("planes")
    void globalAvgPool(int threads, int n, int c, int hw) {
        Backend cpu = cpu(threads);
        float[] x = uniform(n * c * hw, 50), dy = uniform(n * c, 51);
        Buffer ry = REF.allocate(n * c), cy = cpu.allocate(n * c);
        REF.globalAvgPoolForward(n, c, hw, put(REF, x), ry);
        cpu.globalAvgPoolForward(n, c, hw, put(cpu, x), cy);
        assertClose("globalAvgPoolForward", REF, ry, cpu, cy, 1e-7);
        Buffer rdx = REF.allocate(n * c * hw), cdx = cpu.allocate(n * c * hw);
        REF.globalAvgPoolBackward(n, c, hw, put(REF, dy), rdx);
        cpu.globalAvgPoolBackward(n, c, hw, put(cpu, dy), cdx);
        assertClose("globalAvgPoolBackward", REF, rdx, cpu, cdx, 1e-7);
    }

    // ---- batch norm ----

    @ParameterizedTest(name = "threads={0} n={1} c={2} hw={3}")
    @MethodSource("planes")
    void batchNorm(int threads, int n, int c, int hw) {
        Backend cpu = cpu(threads);
        int total = n * c * hw;
        // an offset mean (3) with a small spread checks that the centering does not cancel badly
        float[] x = uniform(total, 60, 2.5, 3.5), gamma = uniform(c, 61, 0.5, 1.5), beta = uniform(c, 62);
        float[] rm0 = uniform(c, 63), rv0 = uniform(c, 64, 0.5, 2), dy = uniform(total, 65);
        double momentum = 0.1, eps = 1e-5;
        for (boolean update : new boolean[] {true, false}) {
            Buffer rx = put(REF, x), rg = put(REF, gamma), rb = put(REF, beta), ry = REF.allocate(total);
            Buffer rrm = put(REF, rm0), rrv = put(REF, rv0), rsm = REF.allocate(c), rsi = REF.allocate(c);
            Buffer cx = put(cpu, x), cg = put(cpu, gamma), cb = put(cpu, beta), cy = cpu.allocate(total);
            Buffer crm = put(cpu, rm0), crv = put(cpu, rv0), csm = cpu.allocate(c), csi = cpu.allocate(c);
            REF.batchNormForwardTraining(n, c, hw, rx, rg, rb, ry, rrm, rrv, momentum, eps, update, rsm, rsi);
            cpu.batchNormForwardTraining(n, c, hw, cx, cg, cb, cy, crm, crv, momentum, eps, update, csm, csi);
            // y is O(1) but computed from x − mean with |x| ≈ 3 and 1/std up to ~3.5: a few float roundings
            assertClose("bn y", REF, ry, cpu, cy, 2e-5);
            assertClose("bn saveMean", REF, rsm, cpu, csm, 1e-6);
            assertClose("bn saveInvStd", REF, rsi, cpu, csi, 1e-5);
            assertClose("bn runningMean update=" + update, REF, rrm, cpu, crm, 1e-6);
            assertClose("bn runningVar update=" + update, REF, rrv, cpu, crv, 1e-5);

            Buffer riy = REF.allocate(total), ciy = cpu.allocate(total);
            REF.batchNormForwardInference(n, c, hw, rx, rg, rb, riy, rrm, rrv, eps);
            cpu.batchNormForwardInference(n, c, hw, cx, cg, cb, ciy, crm, crv, eps);
            assertClose("bn inference", REF, riy, cpu, ciy, 2e-5);

            Buffer rdx = REF.allocate(total), rdg = REF.allocate(c), rdb = REF.allocate(c);
            Buffer cdx = cpu.allocate(total), cdg = cpu.allocate(c), cdb = cpu.allocate(c);
            REF.batchNormBackward(n, c, hw, rx, put(REF, dy), rg, rsm, rsi, rdx, rdg, rdb);
            cpu.batchNormBackward(n, c, hw, cx, put(cpu, dy), cg, csm, csi, cdx, cdg, cdb);
            double sumTol = 2e-5 * Math.sqrt((double) n * hw);
            assertClose("bn dGamma", REF, rdg, cpu, cdg, sumTol);
            assertClose("bn dBeta", REF, rdb, cpu, cdb, 1e-7 * n * hw);
            assertClose("bn dx", REF, rdx, cpu, cdx, 1e-4);
        }
    }

    // ---- loss ----

    static Stream<Arguments> losses() {
        int[][] cases = {{1, 1}, {7, 10}, {128, 10}, {31, 1021}, {1, 2}};
        List<Arguments> out = new ArrayList<>();
        for (int t : new int[] {1, 2}) for (int[] c : cases) out.add(Arguments.of(t, c[0], c[1]));
        return out.stream();
    }

    @ParameterizedTest(name = "threads={0} n={1} classes={2}")
    @MethodSource("losses")
    void softmaxCrossEntropy(int threads, int n, int classes) {
        Backend cpu = cpu(threads);
        float[] logits = uniform(n * classes, 70, -8, 8);
        float[] labels = new float[n];
        java.util.SplittableRandom r = new java.util.SplittableRandom(71);
        for (int i = 0; i < n; i++) labels[i] = r.nextInt(classes);
        Buffer rd = REF.allocate(n * classes), rl = REF.allocate(n), cd = cpu.allocate(n * classes), cl = cpu.allocate(n);
        REF.softmaxCrossEntropy(n, classes, put(REF, logits), put(REF, labels), rd, rl);
        cpu.softmaxCrossEntropy(n, classes, put(cpu, logits), put(cpu, labels), cd, cl);
        assertClose("loss", REF, rl, cpu, cl, 1e-6);
        assertClose("dLogits", REF, rd, cpu, cd, 1e-7);
        Buffer cl2 = cpu.allocate(n);
        cpu.softmaxCrossEntropy(n, classes, put(cpu, logits), put(cpu, labels), null, cl2);
        assertClose("loss without dLogits", REF, rl, cpu, cl2, 1e-6);
    }

    @Test
    void softmaxCrossEntropyRejectsBadLabels() {
        for (float bad : new float[] {10f, -1f, 2.5f, Float.NaN}) {
            float[] labels = {1f, bad, 3f};
            IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> cpu2.softmaxCrossEntropy(3, 10,
                    cpu2.allocate(30), put(cpu2, labels), cpu2.allocate(30), cpu2.allocate(3)));
            assertTrue(e.getMessage().contains("label"), e.getMessage());
        }
    }

    // ---- validation ----

    @Test
    void rejectsForeignAndShortBuffers() {
        Buffer foreign = REF.allocate(10);
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> cpu1.reluForward(foreign, cpu1.allocate(10), 10));
        assertTrue(e.getMessage().contains("another backend"), e.getMessage());
        e = assertThrows(IllegalArgumentException.class, () -> cpu1.add(cpu1.allocate(10), cpu1.allocate(9), cpu1.allocate(10), 10));
        assertTrue(e.getMessage().contains("needs 10"), e.getMessage());
        assertThrows(IllegalArgumentException.class, () -> cpu1.gemm(false, false, 4, 4, 4, 1f, cpu1.allocate(16), 3,
                cpu1.allocate(16), 4, 0f, cpu1.allocate(16), 4));
        assertThrows(IllegalArgumentException.class, () -> cpu1.gemm(false, false, 4, 4, 4, 1f, cpu1.allocate(15), 4,
                cpu1.allocate(16), 4, 0f, cpu1.allocate(16), 4));
        assertThrows(IllegalArgumentException.class, () -> cpu1.sumOfSquares(cpu1.allocate(3), 4));
        assertThrows(IllegalArgumentException.class, () -> new CpuBackend(0));
    }

    @Test
    void describesItself() {
        assertEquals("cpu", cpu2.name());
        assertTrue(cpu2.describe().contains("2 threads"), cpu2.describe());
    }
}
