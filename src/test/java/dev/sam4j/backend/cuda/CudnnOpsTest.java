package dev.sam4j.backend.cuda;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.sam4j.backend.Buffer;
import dev.sam4j.backend.ConvGeom;
import dev.sam4j.backend.PoolGeom;
import dev.sam4j.backend.cpu.ReferenceBackend;
import java.util.List;
import java.util.SplittableRandom;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * The cuDNN operations of {@link CudaBackend} (convolution, pooling, batch norm) against the double-precision
 * {@link ReferenceBackend}, from the same float inputs, over strides 1 and 2, padding 0 and 1, 1×1 and 3×3
 * kernels and odd sizes. On a GPU this tests cuDNN as sam4j drives it (TF32 off); against the CPU stand-ins
 * it tests the host code: descriptors, argument order, workspace plumbing, frozen running statistics.
 */
@Tag("gpu")
class CudnnOpsTest {
    private static CudaBackend cuda;
    private static final ReferenceBackend ref = new ReferenceBackend();
    private static final double TOL = 2e-4;

    @BeforeEach
    void open() {
        CudaTestSupport.requireCuda();
        if (cuda == null) cuda = new CudaBackend(0, false);
    }

    @AfterAll
    static void close() {
        if (cuda != null) cuda.close();
        cuda = null;
    }

    private record Pair(Buffer gpu, Buffer ref) {}

    private static Pair random(long n, long seed, double lo, double hi) {
        SplittableRandom r = new SplittableRandom(seed);
        float[] v = new float[Math.toIntExact(n)];
        for (int i = 0; i < v.length; i++) v[i] = (float) (lo + r.nextDouble() * (hi - lo));
        Pair p = new Pair(cuda.allocate(n), ref.allocate(n));
        cuda.upload(v, 0, p.gpu, v.length);
        ref.upload(v, 0, p.ref, v.length);
        return p;
    }

    private static Pair zeros(long n) { return new Pair(cuda.allocate(n), ref.allocate(n)); }

    /** max |gpu − ref| ≤ tol·(scale + |ref|), scale = the reference's largest magnitude (sums cancel). */
    private static void assertClose(String what, Pair p, double tol) {
        CudaTestSupport.assertCloseToReference(what, ref.read(p.ref), cuda.read(p.gpu), tol);
    }

    private static void free(Pair... ps) {
        for (Pair p : ps) ((CudaBuffer) p.gpu).close();
    }

    static Stream<Arguments> convs() {
        return Stream.of(
                Arguments.of(new ConvGeom(3, 8, 8, 4, 3, 3, 1, 1), 2),
                Arguments.of(new ConvGeom(3, 7, 9, 5, 3, 3, 2, 1), 3),
                Arguments.of(new ConvGeom(4, 5, 5, 6, 1, 1, 1, 0), 2),
                Arguments.of(new ConvGeom(4, 9, 7, 3, 1, 1, 2, 0), 1),
                Arguments.of(new ConvGeom(2, 6, 6, 3, 3, 3, 1, 0), 2),
                Arguments.of(new ConvGeom(5, 7, 7, 2, 3, 3, 2, 0), 2));
    }

    @ParameterizedTest(name = "{0} n={1}")
    @MethodSource("convs")
    void convolutionMatchesTheReference(ConvGeom g, int n) {
        for (boolean withWorkspace : new boolean[] {true, false}) {
            Pair x = random((long) n * g.inSize(), 1, -1, 1), w = random(g.weightSize(), 2, -0.5, 0.5),
                    b = random(g.outC(), 3, -1, 1), dy = random((long) n * g.outSize(), 4, -1, 1);
            Pair y = zeros((long) n * g.outSize()), dx = zeros((long) n * g.inSize()), dw = zeros(g.weightSize()), db = zeros(g.outC());
            long wsFloats = cuda.convWorkspaceSize(g, n);
            // Without a workspace the backend must fall back to an algorithm that needs none.
            Buffer ws = withWorkspace && wsFloats > 0 ? cuda.allocate(wsFloats) : null;
            Buffer refWs = ref.allocate(Math.max(1, ref.convWorkspaceSize(g, n)));
            cuda.convForward(g, n, x.gpu, w.gpu, b.gpu, y.gpu, ws);
            ref.convForward(g, n, x.ref, w.ref, b.ref, y.ref, refWs);
            assertClose("forward " + g, y, TOL);
            cuda.convForward(g, n, x.gpu, w.gpu, null, y.gpu, ws);
            ref.convForward(g, n, x.ref, w.ref, null, y.ref, refWs);
            assertClose("forward without bias " + g, y, TOL);
            cuda.convBackwardData(g, n, dy.gpu, w.gpu, dx.gpu, ws);
            ref.convBackwardData(g, n, dy.ref, w.ref, dx.ref, refWs);
            assertClose("backward data " + g, dx, TOL);
            cuda.convBackwardFilter(g, n, x.gpu, dy.gpu, dw.gpu, db.gpu, ws);
            ref.convBackwardFilter(g, n, x.ref, dy.ref, dw.ref, db.ref, refWs);
            assertClose("backward filter " + g, dw, TOL);
            assertClose("bias gradient " + g, db, TOL);
            if (ws != null) ((CudaBuffer) ws).close();
            free(x, w, b, dy, y, dx, dw, db);
        }
    }

    @Test
    void workspaceIsSizedOncePerShapeAndStepsAllocateNothing() {
        ConvGeom g = new ConvGeom(3, 8, 8, 4, 3, 3, 1, 1);
        long ws = cuda.convWorkspaceSize(g, 4);
        assertEquals(ws, cuda.convWorkspaceSize(g, 4), "cached per shape");
        assertTrue(ws >= 0);
        Pair x = random(4L * g.inSize(), 1, -1, 1), w = random(g.weightSize(), 2, -1, 1), y = zeros(4L * g.outSize());
        Buffer wsb = cuda.allocate(Math.max(1, ws));
        cuda.convForward(g, 4, x.gpu, w.gpu, null, y.gpu, wsb);
        long before = cuda.allocatedBytes();
        for (int i = 0; i < 5; i++) cuda.convForward(g, 4, x.gpu, w.gpu, null, y.gpu, wsb);
        cuda.read(y.gpu);
        assertEquals(before, cuda.allocatedBytes());
        ((CudaBuffer) wsb).close();
        free(x, w, y);
    }

    static List<Arguments> pools() {
        return List.of(Arguments.of(new PoolGeom(3, 8, 8, 2, 2, 0), 2), Arguments.of(new PoolGeom(2, 7, 9, 3, 2, 1), 3),
                Arguments.of(new PoolGeom(4, 5, 5, 3, 1, 1), 1), Arguments.of(new PoolGeom(1, 9, 7, 3, 3, 0), 2));
    }

    @ParameterizedTest(name = "{0} n={1}")
    @MethodSource("pools")
    void maxPoolingMatchesTheReference(PoolGeom g, int n) {
        // Random continuous values: no ties, so "which max gets the gradient" is not in question.
        Pair x = random((long) n * g.inSize(), 5, -2, 2), dy = random((long) n * g.outSize(), 6, -1, 1);
        Pair y = zeros((long) n * g.outSize()), dx = zeros((long) n * g.inSize());
        cuda.maxPoolForward(g, n, x.gpu, y.gpu);
        ref.maxPoolForward(g, n, x.ref, y.ref);
        assertClose("max pool forward " + g, y, 0);
        cuda.maxPoolBackward(g, n, x.gpu, y.gpu, dy.gpu, dx.gpu);
        ref.maxPoolBackward(g, n, x.ref, y.ref, dy.ref, dx.ref);
        assertClose("max pool backward " + g, dx, 1e-6);  // overlapping windows add in another order
        free(x, dy, y, dx);
    }

    @Test
    void globalAveragePoolingMatchesTheReference() {
        for (int[] s : new int[][] {{2, 3, 16}, {3, 5, 49}, {1, 7, 1}}) {
            int n = s[0], c = s[1], hw = s[2];
            Pair x = random((long) n * c * hw, 7, -1, 1), dy = random((long) n * c, 8, -1, 1);
            Pair y = zeros((long) n * c), dx = zeros((long) n * c * hw);
            cuda.globalAvgPoolForward(n, c, hw, x.gpu, y.gpu);
            ref.globalAvgPoolForward(n, c, hw, x.ref, y.ref);
            assertClose("global average pool forward", y, 1e-5);
            cuda.globalAvgPoolBackward(n, c, hw, dy.gpu, dx.gpu);
            ref.globalAvgPoolBackward(n, c, hw, dy.ref, dx.ref);
            assertClose("global average pool backward", dx, 1e-5);
            free(x, dy, y, dx);
        }
    }

    @Test
    void batchNormMatchesTheReferenceInAllModes() {
        for (int[] s : new int[][] {{2, 3, 16}, {3, 5, 9}, {4, 2, 1}}) {
            int n = s[0], c = s[1], hw = s[2];
            long size = (long) n * c * hw;
            Pair x = random(size, 9, -2, 3), gamma = random(c, 10, 0.5, 1.5), beta = random(c, 11, -0.5, 0.5),
                    dy = random(size, 12, -1, 1), rm = random(c, 13, -0.1, 0.1), rv = random(c, 14, 0.8, 1.2);
            Pair y = zeros(size), sm = zeros(c), si = zeros(c), dx = zeros(size), dg = zeros(c), db = zeros(c);
            double[] rm0 = ref.read(rm.ref), rv0 = ref.read(rv.ref);
            // TRAIN_FROZEN_STATS: batch statistics, running ones untouched.
            cuda.batchNormForwardTraining(n, c, hw, x.gpu, gamma.gpu, beta.gpu, y.gpu, rm.gpu, rv.gpu, 0.1, 1e-5, false, sm.gpu, si.gpu);
            ref.batchNormForwardTraining(n, c, hw, x.ref, gamma.ref, beta.ref, y.ref, rm.ref, rv.ref, 0.1, 1e-5, false, sm.ref, si.ref);
            assertClose("bn frozen y", y, TOL);
            assertClose("bn frozen running mean", rm, 0);
            assertClose("bn frozen running var", rv, 0);
            double[] rmNow = cuda.read(rm.gpu), rvNow = cuda.read(rv.gpu);
            for (int i = 0; i < c; i++) {
                assertEquals((float) rm0[i], (float) rmNow[i], "frozen mode must not touch the running mean");
                assertEquals((float) rv0[i], (float) rvNow[i], "frozen mode must not touch the running variance");
            }
            // TRAIN: the same, and the running statistics move (unbiased variance).
            cuda.batchNormForwardTraining(n, c, hw, x.gpu, gamma.gpu, beta.gpu, y.gpu, rm.gpu, rv.gpu, 0.1, 1e-5, true, sm.gpu, si.gpu);
            ref.batchNormForwardTraining(n, c, hw, x.ref, gamma.ref, beta.ref, y.ref, rm.ref, rv.ref, 0.1, 1e-5, true, sm.ref, si.ref);
            assertClose("bn y", y, TOL);
            assertClose("bn saved mean", sm, TOL);
            assertClose("bn saved inv std", si, TOL);
            assertClose("bn running mean", rm, TOL);
            assertClose("bn running var", rv, TOL);
            cuda.batchNormBackward(n, c, hw, x.gpu, dy.gpu, gamma.gpu, sm.gpu, si.gpu, dx.gpu, dg.gpu, db.gpu);
            ref.batchNormBackward(n, c, hw, x.ref, dy.ref, gamma.ref, sm.ref, si.ref, dx.ref, dg.ref, db.ref);
            assertClose("bn dx", dx, 1e-3);
            assertClose("bn dgamma", dg, TOL);
            assertClose("bn dbeta", db, TOL);
            cuda.batchNormForwardInference(n, c, hw, x.gpu, gamma.gpu, beta.gpu, y.gpu, rm.gpu, rv.gpu, 1e-5);
            ref.batchNormForwardInference(n, c, hw, x.ref, gamma.ref, beta.ref, y.ref, rm.ref, rv.ref, 1e-5);
            assertClose("bn inference y", y, TOL);
            free(x, gamma, beta, dy, rm, rv, y, sm, si, dx, dg, db);
        }
    }
}
