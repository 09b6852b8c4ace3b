package dev.sam4j.backend.cuda;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import dev.sam4j.backend.Buffer;
import dev.sam4j.backend.cpu.ReferenceBackend;
import java.util.ArrayList;
import java.util.List;
import java.util.SplittableRandom;
import java.util.function.BiConsumer;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * Every {@link CudaBackend} operation the MLP and the SAM family use, against the double-precision
 * {@link ReferenceBackend}, over awkward sizes (1, 7, 31, 1021, 278011, and 11M on a real GPU), from the
 * same float inputs. On a GPU this tests the kernels; against the CPU stand-ins it tests the host code
 * (argument marshalling, sizes and leading dimensions, launch shapes, lifetimes).
 */
@Tag("gpu")
class CudaBackendTest {
    private static CudaBackend cuda;
    private static final ReferenceBackend ref = new ReferenceBackend();

    /** Per test, so that each test shows as skipped, with the reason, where there is no CUDA. */
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

    static List<Integer> sizes() {
        List<Integer> s = new ArrayList<>(List.of(1, 7, 31, 1021, 278011));
        if (CudaRuntime.probe().available() && CudaTestSupport.realGpu()) s.add(11_173_962);  // ResNet-18's arena
        return s;
    }

    /** The same values on both backends. */
    private record Pair(Buffer gpu, Buffer ref, float[] host) {}

    private static Pair random(int n, long seed, double scale) {
        SplittableRandom r = new SplittableRandom(seed);
        float[] v = new float[n];
        for (int i = 0; i < n; i++) v[i] = (float) ((r.nextDouble() * 2 - 1) * scale);
        Buffer g = cuda.allocate(n), h = ref.allocate(n);
        cuda.upload(v, 0, g, n);
        ref.upload(v, 0, h, n);
        return new Pair(g, h, v);
    }

    private static void free(Pair... pairs) {
        for (Pair p : pairs) ((CudaBuffer) p.gpu).close();
    }

    /** max |gpu − ref| ≤ tol·(1 + |ref|) elementwise. */
    private static void assertClose(String what, Pair p, int n, double tol) {
        float[] got = new float[n];
        cuda.download(p.gpu, got, 0, n);
        double[] want = ref.read(p.ref);
        for (int i = 0; i < n; i++) {
            if (!(Math.abs(got[i] - want[i]) <= tol * (1 + Math.abs(want[i])))) {
                fail(what + " n=" + n + ": element " + i + " is " + got[i] + ", reference " + want[i]);
            }
        }
    }

    private static void assertRel(String what, double want, double got, double tol) {
        assertTrue(Math.abs(got - want) <= tol * Math.max(Math.abs(want), 1e-30), what + ": " + got + " vs reference " + want);
    }

    @ParameterizedTest
    @MethodSource("sizes")
    void reductionsAreDeterministicAndMatchTheReference(int n) {
        Pair a = random(n, 1, 1), b = random(n, 2, 0.5);
        double s1 = cuda.sumOfSquares(a.gpu, n), s2 = cuda.sumOfSquares(a.gpu, n);
        assertEquals(Double.doubleToRawLongBits(s1), Double.doubleToRawLongBits(s2), "sum of squares differs between runs");
        assertRel("sumOfSquares", ref.sumOfSquares(a.ref, n), s1, 1e-10);
        assertRel("dot", ref.dot(a.ref, b.ref, n), cuda.dot(a.gpu, b.gpu, n), 1e-9);
        assertRel("asamNormSquared", ref.asamNormSquared(a.ref, b.ref, n, 0.01f), cuda.asamNormSquared(a.gpu, b.gpu, n, 0.01f), 1e-9);
        free(a, b);
    }

    @ParameterizedTest
    @MethodSource("sizes")
    void samFamilyPassesMatchTheReference(int n) {
        Pair w = random(n, 3, 0.1), g = random(n, 4, 0.01), ws = random(n, 5, 1), gs = random(n, 6, 1), m = random(n, 7, 0.01),
                v = random(n, 8, 0.01);
        cuda.samPerturb(w.gpu, g.gpu, ws.gpu, gs.gpu, n, 0.37f);
        ref.samPerturb(w.ref, g.ref, ws.ref, gs.ref, n, 0.37f);
        assertClose("samPerturb w", w, n, 1e-6);
        assertClose("samPerturb wSaved", ws, n, 0);
        assertClose("samPerturb gSaved", gs, n, 0);

        cuda.asamPerturb(w.gpu, g.gpu, ws.gpu, gs.gpu, n, 2.5f, 0.01f);
        ref.asamPerturb(w.ref, g.ref, ws.ref, gs.ref, n, 2.5f, 0.01f);
        assertClose("asamPerturb w", w, n, 1e-6);
        assertClose("asamPerturb wSaved", ws, n, 1e-7);

        cuda.restoreSgdUpdate(w.gpu, ws.gpu, g.gpu, m.gpu, n, 0.1f, 0.9f, 5e-4f, false);
        ref.restoreSgdUpdate(w.ref, ws.ref, g.ref, m.ref, n, 0.1f, 0.9f, 5e-4f, false);
        assertClose("restoreSgdUpdate w", w, n, 1e-6);
        assertClose("restoreSgdUpdate m", m, n, 1e-6);

        cuda.sgdUpdate(w.gpu, g.gpu, m.gpu, n, 0.05f, 0.9f, 5e-4f, true);
        ref.sgdUpdate(w.ref, g.ref, m.ref, n, 0.05f, 0.9f, 5e-4f, true);
        assertClose("sgdUpdate (Nesterov) w", w, n, 1e-6);
        assertClose("sgdUpdate (Nesterov) m", m, n, 1e-6);

        cuda.sgdUpdateWithDirection(w.gpu, g.gpu, v.gpu, 0.7f, m.gpu, n, 0.05f, 0.9f, 0f, false);
        ref.sgdUpdateWithDirection(w.ref, g.ref, v.ref, 0.7f, m.ref, n, 0.05f, 0.9f, 0f, false);
        assertClose("sgdUpdateWithDirection w", w, n, 1e-6);
        assertClose("sgdUpdateWithDirection m", m, n, 1e-6);

        cuda.axpby(-0.3f, g.gpu, 1.5f, v.gpu, v.gpu, n);
        ref.axpby(-0.3f, g.ref, 1.5f, v.ref, v.ref, n);
        assertClose("axpby (out aliases y)", v, n, 1e-6);
        free(w, g, ws, gs, m, v);
    }

    @ParameterizedTest
    @MethodSource("sizes")
    void elementwiseMatchesTheReference(int n) {
        Pair a = random(n, 9, 1), b = random(n, 10, 1), out = random(n, 11, 1);
        check("reluForward", a, out, n, (be, p) -> be.reluForward(p[0], p[1], n));
        check("reluBackward (dx aliases dy)", a, b, n, (be, p) -> be.reluBackward(p[0], p[1], p[1], n));
        cuda.add(a.gpu, b.gpu, out.gpu, n);
        ref.add(a.ref, b.ref, out.ref, n);
        assertClose("add", out, n, 1e-7);
        cuda.fill(out.gpu, 3.25f, n);
        ref.fill(out.ref, 3.25f, n);
        assertClose("fill", out, n, 0);
        cuda.copy(a.gpu, out.gpu, n);
        ref.copy(a.ref, out.ref, n);
        assertClose("copy", out, n, 0);
        free(a, b, out);
    }

    private static void check(String what, Pair in, Pair out, int n, BiConsumer<dev.sam4j.backend.Backend, Buffer[]> op) {
        op.accept(cuda, new Buffer[] {in.gpu, out.gpu});
        op.accept(ref, new Buffer[] {in.ref, out.ref});
        assertClose(what, out, n, 1e-7);
    }

    @Test
    void gemmHonoursTransposesLeadingDimensionsAlphaAndBeta() {
        int[][] shapes = {{1, 1, 1}, {7, 5, 3}, {33, 17, 65}, {64, 10, 512}};
        for (int[] s : shapes) {
            int m = s[0], n = s[1], k = s[2];
            for (int t = 0; t < 4; t++) {
                boolean ta = (t & 1) != 0, tb = (t & 2) != 0;
                int lda = (ta ? m : k) + 3, ldb = (tb ? k : n) + 2, ldc = n + 5;
                Pair a = random((ta ? k : m) * lda, 20 + t, 1), b = random((tb ? n : k) * ldb, 30 + t, 1), c = random(m * ldc, 40 + t, 1);
                cuda.gemm(ta, tb, m, n, k, 0.75f, a.gpu, lda, b.gpu, ldb, -0.5f, c.gpu, ldc);
                ref.gemm(ta, tb, m, n, k, 0.75f, a.ref, lda, b.ref, ldb, -0.5f, c.ref, ldc);
                assertClose("gemm " + m + "x" + n + "x" + k + " transA=" + ta + " transB=" + tb, c, m * ldc, 1e-5 * Math.sqrt(k));
                free(a, b, c);
            }
        }
    }

    @Test
    void biasAndLossMatchTheReference() {
        int rows = 37, cols = 10;
        Pair y = random(rows * cols, 50, 3), bias = random(cols, 51, 1), db = random(cols, 52, 1);
        cuda.addRowBias(y.gpu, bias.gpu, rows, cols);
        ref.addRowBias(y.ref, bias.ref, rows, cols);
        assertClose("addRowBias", y, rows * cols, 1e-7);
        cuda.sumRows(y.gpu, db.gpu, rows, cols);
        ref.sumRows(y.ref, db.ref, rows, cols);
        assertClose("sumRows", db, cols, 1e-6);

        float[] labels = new float[rows];
        for (int i = 0; i < rows; i++) labels[i] = (i * 7) % cols;
        Buffer lg = cuda.allocate(rows), lr = ref.allocate(rows);
        cuda.upload(labels, 0, lg, rows);
        ref.upload(labels, 0, lr, rows);
        Pair dl = random(rows * cols, 53, 1), loss = random(rows, 54, 1);
        cuda.softmaxCrossEntropy(rows, cols, y.gpu, lg, dl.gpu, loss.gpu);
        ref.softmaxCrossEntropy(rows, cols, y.ref, lr, dl.ref, loss.ref);
        assertClose("softmaxCrossEntropy loss", loss, rows, 1e-5);
        assertClose("softmaxCrossEntropy dLogits", dl, rows * cols, 1e-6);

        labels[3] = 10.5f;  // not a class: the kernel flags it, the next sync reports it
        cuda.upload(labels, 0, lg, rows);
        cuda.softmaxCrossEntropy(rows, cols, y.gpu, lg, null, loss.gpu);
        CudaException e = assertThrows(CudaException.class, () -> cuda.download(loss.gpu, new float[rows], 0, rows));
        assertTrue(e.getMessage().contains("label"), e.getMessage());
        free(y, bias, db, dl, loss);
        ((CudaBuffer) lg).close();
    }

    @Test
    void buffersAreFreedAndSlicesShareMemory() {
        long before = cuda.allocatedBytes();
        CudaBuffer b = cuda.allocate(1000);
        float[] zeros = new float[1000];
        cuda.download(b, zeros, 0, 1000);
        assertArrayEquals(new float[1000], zeros, "allocate must zero-fill");
        Buffer s = b.slice(100, 10);
        cuda.fill(s, 2f, 10);
        float[] all = new float[1000];
        cuda.download(b, all, 0, 1000);
        assertEquals(2f, all[100]);
        assertEquals(2f, all[109]);
        assertEquals(0f, all[110]);
        assertEquals(0f, all[99]);
        assertEquals(before + 4000, cuda.allocatedBytes());
        b.close();
        b.close();  // idempotent
        assertEquals(before, cuda.allocatedBytes());
        assertThrows(IllegalArgumentException.class, () -> cuda.fill(ref.allocate(3), 1f, 3));
    }
}
