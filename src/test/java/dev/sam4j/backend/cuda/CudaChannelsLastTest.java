package dev.sam4j.backend.cuda;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import dev.sam4j.backend.Buffer;
import dev.sam4j.backend.ConvGeom;
import dev.sam4j.backend.ImageLayout;
import dev.sam4j.backend.PoolGeom;
import dev.sam4j.backend.Precision;
import dev.sam4j.backend.cpu.ReferenceBackend;
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
 * A CUDA backend opened channels-last ({@link ImageLayout#NHWC}): the permutation kernel against the plain
 * permutation, and each cuDNN operation on NHWC images (filters still given as [outC, inC, k, k]) against the
 * double-precision {@link ReferenceBackend} on the same images in NCHW. Images go in through
 * {@link CudaBackend#toImageLayout} and come back through {@link CudaBackend#fromImageLayout}, as a model's input
 * and its Flatten do. On the stand-ins this checks the host code (NHWC descriptors, the filter permutations in the
 * workspace's head, the weight gradient permuted back); on a GPU, cuDNN's channels-last kernels.
 */
@Tag("gpu")
class CudaChannelsLastTest {
    private static CudaBackend cuda;
    private static final ReferenceBackend ref = new ReferenceBackend();
    private static final double TOL = 2e-4;

    @BeforeEach
    void open() {
        CudaTestSupport.requireCuda();
        if (cuda == null) cuda = new CudaBackend(0, Precision.FP32, false, ImageLayout.NHWC);
    }

    @AfterAll
    static void close() {
        if (cuda != null) cuda.close();
        cuda = null;
    }

    private static float[] values(long n, long seed, double lo, double hi) {
        SplittableRandom r = new SplittableRandom(seed);
        float[] v = new float[Math.toIntExact(n)];
        for (int i = 0; i < v.length; i++) v[i] = (float) (lo + r.nextDouble() * (hi - lo));
        return v;
    }

    /** The same values on both backends: on CUDA in NHWC when {@code image} gives [n, c, hw], in NCHW on the reference. */
    private record Pair(Buffer gpu, Buffer ref, int[] image) {}

    private static Pair tensor(long size, long seed, double lo, double hi) {
        float[] v = values(size, seed, lo, hi);
        Pair p = new Pair(cuda.allocate(size), ref.allocate(size), null);
        cuda.upload(v, 0, p.gpu, v.length);
        ref.upload(v, 0, p.ref, v.length);
        return p;
    }

    private static Pair image(int n, int c, int hw, long seed, double lo, double hi) {
        long size = (long) n * c * hw;
        float[] v = values(size, seed, lo, hi);
        Buffer staged = cuda.allocate(size);
        cuda.upload(v, 0, staged, v.length);
        Pair p = new Pair(cuda.allocate(size), ref.allocate(size), new int[] {n, c, hw});
        cuda.toImageLayout(n, c, hw, staged, p.gpu);
        ((CudaBuffer) staged).close();
        ref.upload(v, 0, p.ref, v.length);
        return p;
    }

    private static Pair zeroImage(int n, int c, int hw) {
        long size = (long) n * c * hw;
        return new Pair(cuda.allocate(size), ref.allocate(size), new int[] {n, c, hw});
    }

    private static Pair zeros(long size) { return new Pair(cuda.allocate(size), ref.allocate(size), null); }

    /** The CUDA side in NCHW (an image permuted back), as doubles. */
    private static double[] gpuNchw(Pair p) {
        if (p.image == null) return cuda.read(p.gpu);
        Buffer back = cuda.allocate(p.gpu.length());
        cuda.fromImageLayout(p.image[0], p.image[1], p.image[2], p.gpu, back);
        double[] out = cuda.read(back);
        ((CudaBuffer) back).close();
        return out;
    }

    /** max |gpu − ref| ≤ tol·(scale + |ref|), scale = the reference's largest magnitude; elements in NCHW order. */
    private static void assertClose(String what, Pair p, double tol) {
        CudaTestSupport.assertCloseToReference(what + " (NCHW order)", ref.read(p.ref), gpuNchw(p), tol);
    }

    private static void free(Pair... ps) {
        for (Pair p : ps) ((CudaBuffer) p.gpu).close();
    }

    @Test
    void permutationMatchesThePlainOneBothWays() {
        assertEquals(ImageLayout.NHWC, cuda.imageLayout());
        assertTrue(cuda.describe().contains("NHWC"), cuda.describe());
        // Tile edges (32), one channel, one position, and sizes that are not multiples of anything.
        for (int[] s : new int[][] {{1, 1, 1}, {3, 5, 37}, {2, 33, 70}, {4, 64, 1}, {2, 3, 1024}, {1, 40, 33}, {0, 3, 5}}) {
            int n = s[0], c = s[1], hw = s[2];
            int size = n * c * hw;
            float[] nchw = values(size, 17, -1, 1), nhwc = new float[size];
            for (int b = 0; b < n; b++)
                for (int ch = 0; ch < c; ch++)
                    for (int p = 0; p < hw; p++) nhwc[(b * hw + p) * c + ch] = nchw[(b * c + ch) * hw + p];
            Buffer src = cuda.allocate(size), dst = cuda.allocate(size), back = cuda.allocate(size);
            cuda.upload(nchw, 0, src, size);
            cuda.toImageLayout(n, c, hw, src, dst);
            float[] got = new float[size];
            cuda.download(dst, got, 0, size);
            for (int i = 0; i < size; i++) {
                if (Float.floatToRawIntBits(got[i]) != Float.floatToRawIntBits(nhwc[i])) {
                    fail(n + "×" + c + "×" + hw + ": NHWC element " + i + " is " + got[i] + ", want " + nhwc[i]);
                }
            }
            cuda.fromImageLayout(n, c, hw, dst, back);
            cuda.download(back, got, 0, size);
            for (int i = 0; i < size; i++) {
                if (Float.floatToRawIntBits(got[i]) != Float.floatToRawIntBits(nchw[i])) fail(n + "×" + c + "×" + hw + ": round trip element " + i);
            }
            ((CudaBuffer) src).close();
            ((CudaBuffer) dst).close();
            ((CudaBuffer) back).close();
        }
    }

    @Test
    void aPermutationIntoItselfIsRefused() {
        Buffer b = cuda.allocate(60);
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> cuda.toImageLayout(2, 3, 10, b, b.slice(0, 60)));
        assertTrue(e.getMessage().contains("overlaps"), e.getMessage());
        ((CudaBuffer) b).close();
    }

    static Stream<Arguments> convs() {
        return Stream.of(
                Arguments.of(new ConvGeom(3, 8, 8, 4, 3, 3, 1, 1), 2),
                Arguments.of(new ConvGeom(3, 7, 9, 5, 3, 3, 2, 1), 3),
                Arguments.of(new ConvGeom(4, 5, 5, 6, 1, 1, 1, 0), 2),   // 1×1: KCRS is KRSC, no permutation
                Arguments.of(new ConvGeom(4, 9, 7, 3, 1, 1, 2, 0), 1),
                Arguments.of(new ConvGeom(1, 6, 6, 3, 3, 3, 1, 0), 2),   // one input channel: no permutation either
                Arguments.of(new ConvGeom(5, 7, 7, 2, 3, 3, 2, 0), 2),
                Arguments.of(new ConvGeom(33, 5, 5, 7, 3, 3, 1, 1), 2)); // more channels than a tile
    }

    @ParameterizedTest(name = "{0} n={1}")
    @MethodSource("convs")
    void convolutionInNhwcMatchesTheReference(ConvGeom g, int n) {
        int inHw = g.inH() * g.inW(), outHw = g.outH() * g.outW();
        Pair x = image(n, g.inC(), inHw, 1, -1, 1), dy = image(n, g.outC(), outHw, 4, -1, 1);
        Pair w = tensor(g.weightSize(), 2, -0.5, 0.5), b = tensor(g.outC(), 3, -1, 1);
        Pair y = zeroImage(n, g.outC(), outHw), dx = zeroImage(n, g.inC(), inHw), dw = zeros(g.weightSize()), db = zeros(g.outC());
        Buffer ws = cuda.allocate(Math.max(1, cuda.convWorkspaceSize(g, n)));
        Buffer refWs = ref.allocate(Math.max(1, ref.convWorkspaceSize(g, n)));
        float[] w0 = new float[g.weightSize()];
        cuda.download(w.gpu, w0, 0, w0.length);
        cuda.convForward(g, n, x.gpu, w.gpu, b.gpu, y.gpu, ws);
        ref.convForward(g, n, x.ref, w.ref, b.ref, y.ref, refWs);
        assertClose("forward " + g, y, TOL);
        cuda.convBackwardData(g, n, dy.gpu, w.gpu, dx.gpu, ws);
        ref.convBackwardData(g, n, dy.ref, w.ref, dx.ref, refWs);
        assertClose("backward data " + g, dx, TOL);
        cuda.convBackwardFilter(g, n, x.gpu, dy.gpu, dw.gpu, db.gpu, ws);
        ref.convBackwardFilter(g, n, x.ref, dy.ref, dw.ref, db.ref, refWs);
        assertClose("backward filter (back in [outC, inC, k, k]) " + g, dw, TOL);
        assertClose("bias gradient " + g, db, TOL);
        float[] w1 = new float[g.weightSize()];
        cuda.download(w.gpu, w1, 0, w1.length);
        for (int i = 0; i < w1.length; i++) assertEquals(w0[i], w1[i], 0f, "the weights themselves are never permuted in place");
        String key = cuda.convolutionAlgorithms();
        assertTrue(key.contains("/nhwc="), "channels-last algorithms are keyed as such: " + key);
        ((CudaBuffer) ws).close();
        free(x, dy, w, b, y, dx, dw, db);
    }

    @Test
    void aChannelsLastConvolutionWithoutItsWorkspaceIsRefusedNamingIt() {
        ConvGeom g = new ConvGeom(3, 6, 6, 4, 3, 3, 1, 1);
        Pair x = image(2, 3, 36, 1, -1, 1), w = tensor(g.weightSize(), 2, -1, 1), y = zeroImage(2, 4, 36);
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> cuda.convForward(g, 2, x.gpu, w.gpu, null, y.gpu, null));
        assertTrue(e.getMessage().contains("workspace") && e.getMessage().contains("KRSC"), e.getMessage());
        free(x, w, y);
    }

    @Test
    void anotherLayoutsAlgorithmsAreNotTaken() {
        cuda.reuseConvolutionAlgorithms("2/3,6,6/4,3,3/1/1=0,0,0");
        assertTrue(cuda.convolutionAlgorithmsNotReused().contains("2/3,6,6/4,3,3/1/1"), cuda.convolutionAlgorithmsNotReused().toString());
        cuda.reuseConvolutionAlgorithms("");
    }

    static Stream<Arguments> pools() {
        return Stream.of(Arguments.of(new PoolGeom(3, 8, 8, 2, 2, 0), 2), Arguments.of(new PoolGeom(2, 7, 9, 3, 2, 1), 3),
                Arguments.of(new PoolGeom(40, 5, 5, 3, 1, 1), 1));
    }

    @ParameterizedTest(name = "{0} n={1}")
    @MethodSource("pools")
    void maxPoolingInNhwcMatchesTheReference(PoolGeom g, int n) {
        Pair x = image(n, g.channels(), g.h() * g.w(), 5, -2, 2), dy = image(n, g.channels(), g.outH() * g.outW(), 6, -1, 1);
        Pair y = zeroImage(n, g.channels(), g.outH() * g.outW()), dx = zeroImage(n, g.channels(), g.h() * g.w());
        cuda.maxPoolForward(g, n, x.gpu, y.gpu);
        ref.maxPoolForward(g, n, x.ref, y.ref);
        assertClose("max pool forward " + g, y, 0);
        cuda.maxPoolBackward(g, n, x.gpu, y.gpu, dy.gpu, dx.gpu);
        ref.maxPoolBackward(g, n, x.ref, y.ref, dy.ref, dx.ref);
        assertClose("max pool backward " + g, dx, 1e-6);
        free(x, dy, y, dx);
    }

    @Test
    void globalAveragePoolingAndBatchNormInNhwcMatchTheReference() {
        for (int[] s : new int[][] {{2, 3, 16}, {3, 5, 49}, {2, 40, 9}}) {
            int n = s[0], c = s[1], hw = s[2];
            Pair x = image(n, c, hw, 7, -1, 1), dyPool = tensor((long) n * c, 8, -1, 1);
            Pair y = zeros((long) n * c), dx = zeroImage(n, c, hw);
            cuda.globalAvgPoolForward(n, c, hw, x.gpu, y.gpu);
            ref.globalAvgPoolForward(n, c, hw, x.ref, y.ref);
            assertClose("global average pool forward", y, 1e-5);
            cuda.globalAvgPoolBackward(n, c, hw, dyPool.gpu, dx.gpu);
            ref.globalAvgPoolBackward(n, c, hw, dyPool.ref, dx.ref);
            assertClose("global average pool backward", dx, 1e-5);

            Pair gamma = tensor(c, 10, 0.5, 1.5), beta = tensor(c, 11, -0.5, 0.5), rm = tensor(c, 13, -0.1, 0.1), rv = tensor(c, 14, 0.8, 1.2);
            Pair dy = image(n, c, hw, 12, -1, 1), by = zeroImage(n, c, hw), bdx = zeroImage(n, c, hw);
            Pair sm = zeros(c), si = zeros(c), dg = zeros(c), db = zeros(c);
            cuda.batchNormForwardTraining(n, c, hw, x.gpu, gamma.gpu, beta.gpu, by.gpu, rm.gpu, rv.gpu, 0.1, 1e-5, true, sm.gpu, si.gpu);
            ref.batchNormForwardTraining(n, c, hw, x.ref, gamma.ref, beta.ref, by.ref, rm.ref, rv.ref, 0.1, 1e-5, true, sm.ref, si.ref);
            assertClose("bn y", by, TOL);
            assertClose("bn saved mean", sm, TOL);
            assertClose("bn running var", rv, TOL);
            cuda.batchNormBackward(n, c, hw, x.gpu, dy.gpu, gamma.gpu, sm.gpu, si.gpu, bdx.gpu, dg.gpu, db.gpu);
            ref.batchNormBackward(n, c, hw, x.ref, dy.ref, gamma.ref, sm.ref, si.ref, bdx.ref, dg.ref, db.ref);
            assertClose("bn dx", bdx, 1e-3);
            assertClose("bn dgamma", dg, TOL);
            assertClose("bn dbeta", db, TOL);
            cuda.batchNormForwardInference(n, c, hw, x.gpu, gamma.gpu, beta.gpu, by.gpu, rm.gpu, rv.gpu, 1e-5);
            ref.batchNormForwardInference(n, c, hw, x.ref, gamma.ref, beta.ref, by.ref, rm.ref, rv.ref, 1e-5);
            assertClose("bn inference y", by, TOL);
            free(x, dyPool, y, dx, gamma, beta, rm, rv, dy, by, bdx, sm, si, dg, db);
        }
    }
}
