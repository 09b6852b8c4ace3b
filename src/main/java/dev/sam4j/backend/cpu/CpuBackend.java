package dev.sam4j.backend.cpu;

import dev.sam4j.backend.Backend;
import dev.sam4j.backend.Buffer;
import dev.sam4j.backend.ConvGeom;
import dev.sam4j.backend.PoolGeom;
import dev.sam4j.backend.Precision;

/**
 * The fast CPU {@link Backend}: float32 heap arrays, Vector API kernels ({@link VectorOps}), a blocked
 * multithreaded SGEMM ({@link Sgemm}) and im2col convolution ({@link Conv}) on a persistent pool of
 * {@code threads} threads (the caller plus {@code threads − 1} workers) that {@link #close} stops.
 *
 * <p><b>Determinism.</b> Results are bit-identical from run to run and for every thread count: work is
 * cut into pieces whose boundaries depend only on the problem size (fixed chunk sizes, the GEMM tile
 * grid, channels, planes), each piece is computed by one thread in a fixed order, and reductions
 * combine per-piece partials in piece order on the calling thread. Sums that feed statistics
 * ({@link #sumOfSquares}, batch-norm moments, pooled means, bias gradients of convolutions) accumulate
 * in double.
 *
 * <p><b>No allocation in the step.</b> Every operation reuses preallocated task objects and per-thread
 * scratch (packing panels are created on a thread's first GEMM, the reduction partials grow only when a
 * larger reduction than ever before arrives). Only {@link #allocate}, {@link #read} and
 * {@link Buffer#slice} allocate.
 *
 * <p>Not thread-safe: one thread drives a backend at a time (the pool is its parallelism). Buffers are
 * {@link FloatBuffer} views; a buffer of another kind is rejected with {@link IllegalArgumentException}.
 */
public final class CpuBackend implements Backend {

    /** A view of {@code len} floats of {@code data} starting at {@code offset}. */
    public record FloatBuffer(float[] data, int offset, int len) implements Buffer {
        public FloatBuffer {
            if (data == null) throw new IllegalArgumentException("data is null");
            if (offset < 0 || len < 0 || (long) offset + len > data.length) {
                throw new IllegalArgumentException("view [" + offset + ", " + ((long) offset + len) + ") of an array of " + data.length);
            }
        }

        @Override public long length() { return len; }

        @Override public Buffer slice(long off, long length) {
            Buffer.checkSlice(off, length, len);
            return new FloatBuffer(data, offset + (int) off, (int) length);
        }
    }

    /** Elementwise work is split into chunks of this many floats (128 KiB): independent of the thread count. */
    static final int CHUNK = 1 << 15;
    /** sumOfSquares partial size; fixed so the summation tree depends on {@code n} only. */
    static final int SUMSQ_CHUNK = 1 << 16;

    private final int threads;
    /** TF32 emulation: every GEMM (and so every convolution) rounds its inputs to TF32 as it packs them. */
    private final boolean tf32;
    private final WorkerPool pool;
    private final Sgemm sgemm;
    private final Conv conv;
    private final Elementwise elementwise = new Elementwise();
    private final Planes planes = new Planes();
    /** Per-thread double lanes for the vector reductions. */
    private final double[][] lanes;
    /** Per-thread pair of doubles for batch-norm backward sums. */
    private final double[][] pair;
    private double[] partials = new double[64];
    /** Per-thread pooling row buffers, grown to the widest plane seen. */
    private final float[][] rows;

    /**
     * A backend computing with {@code threads} threads.
     *
     * @throws IllegalStateException when the JVM was started without {@code --add-modules jdk.incubator.vector}
     *         ({@link VectorModule#MISSING}); checked before any Vector API class is touched
     */
    public CpuBackend(int threads) { this(threads, false); }

    /**
     * As {@link #CpuBackend(int)}; with {@code tf32} every GEMM and convolution rounds its inputs to TF32
     * ({@link Precision#TF32}, to nearest even) and accumulates in fp32, emulating tensor cores.
     */
    public CpuBackend(int threads, boolean tf32) {
        // Before super() and so before the field initialisers, whose classes use the Vector API.
        VectorModule.require();
        super();
        if (threads < 1) throw new IllegalArgumentException("threads must be >= 1, got " + threads);
        VectorWidths.check();
        this.threads = threads;
        this.tf32 = tf32;
        this.pool = new WorkerPool(threads);
        this.sgemm = new Sgemm(pool, tf32);
        this.conv = new Conv(pool, sgemm);
        this.lanes = new double[threads][2 * VectorOps.LD];
        this.pair = new double[threads][2];
        this.rows = new float[threads][];
    }

    private float[] rowBuffer(int thread, int w) {
        float[] r = Pooling.rowBuffer(rows[thread], w);
        rows[thread] = r;
        return r;
    }

    /** Threads this backend computes with. */
    public int threads() { return threads; }

    @Override public String name() { return "cpu"; }

    @Override public String describe() {
        return "cpu, float32" + (tf32 ? " (GEMM/conv inputs rounded to TF32)" : "") + ", " + threads + " thread" + (threads == 1 ? "" : "s") + ", Vector API "
                + VectorWidths.describe() + ", SGEMM micro-kernel " + Sgemm.MR + "x" + Sgemm.NR;
    }

    // ---- validation ----

    private static FloatBuffer f(Buffer b, String what) {
        if (b instanceof FloatBuffer fb) return fb;
        throw new IllegalArgumentException(what + " is " + (b == null ? "null" : "a buffer of another backend ("
                + b.getClass().getSimpleName() + ")") + "; the cpu backend needs its own FloatBuffer");
    }

    private static FloatBuffer f(Buffer b, long n, String what) {
        FloatBuffer fb = f(b, what);
        if (n < 0) throw new IllegalArgumentException(what + ": negative element count " + n);
        if (fb.len < n) throw new IllegalArgumentException(what + " has " + fb.len + " elements, needs " + n);
        return fb;
    }

    private static int count(long n, String op) {
        if (n < 0 || n > Integer.MAX_VALUE) throw new IllegalArgumentException(op + ": element count " + n + " out of range");
        return (int) n;
    }

    // Fixed arities, not varargs: a varargs call allocates its array whenever the callee is not inlined
    // (measured: 24-32 bytes per op call once several ops interleave).
    private static void positive(String op, int d) {
        if (d < 0) throw new IllegalArgumentException(op + ": negative dimension " + d);
    }

    private static void positive(String op, int d0, int d1, int d2) {
        positive(op, d0);
        positive(op, d1);
        positive(op, d2);
    }

    // ---- memory ----

    @Override public Buffer allocate(long n) {
        if (n < 0 || n > Integer.MAX_VALUE - 16) throw new IllegalArgumentException("cannot allocate " + n + " floats in one array");
        return new FloatBuffer(new float[(int) n], 0, (int) n);
    }

    @Override public void upload(float[] src, int srcOffset, Buffer dst, int n) {
        FloatBuffer d = f(dst, n, "upload target");
        System.arraycopy(src, srcOffset, d.data, d.offset, n);
    }

    @Override public void download(Buffer src, float[] dst, int dstOffset, int n) {
        FloatBuffer s = f(src, n, "download source");
        System.arraycopy(s.data, s.offset, dst, dstOffset, n);
    }

    @Override public double[] read(Buffer src) {
        FloatBuffer s = f(src, "read source");
        double[] out = new double[s.len];
        for (int i = 0; i < s.len; i++) out[i] = s.data[s.offset + i];
        return out;
    }

    @Override public void write(double[] src, Buffer dst) {
        FloatBuffer d = f(dst, src.length, "write target");
        for (int i = 0; i < src.length; i++) d.data[d.offset + i] = (float) src[i];
    }

    @Override public void copy(Buffer src, Buffer dst, long n) {
        FloatBuffer s = f(src, n, "copy source"), d = f(dst, n, "copy target");
        System.arraycopy(s.data, s.offset, d.data, d.offset, (int) n);
    }

    @Override public void fill(Buffer x, float value, long n) {
        FloatBuffer b = f(x, n, "fill target");
        elementwise(FILL, b.data, b.offset, null, 0, null, 0, null, 0, count(n, "fill"), value, 0, 0, false);
    }

    // ---- dense algebra ----

    @Override public void gemm(boolean transA, boolean transB, int m, int n, int k, float alpha, Buffer a, int lda,
                               Buffer b, int ldb, float beta, Buffer c, int ldc) {
        positive("gemm", m, n, k);
        if (m == 0 || n == 0) return;
        int aCols = transA ? m : k, aRows = transA ? k : m;
        int bCols = transB ? k : n, bRows = transB ? n : k;
        if (lda < Math.max(1, aCols)) throw new IllegalArgumentException("gemm: lda " + lda + " < " + aCols);
        if (ldb < Math.max(1, bCols)) throw new IllegalArgumentException("gemm: ldb " + ldb + " < " + bCols);
        if (ldc < n) throw new IllegalArgumentException("gemm: ldc " + ldc + " < n " + n);
        FloatBuffer C = f(c, (long) (m - 1) * ldc + n, "gemm C");
        if (k == 0) {
            sgemm.gemm(transA, transB, m, n, 0, alpha, C.data, 0, Math.max(1, aCols), C.data, 0, Math.max(1, bCols),
                    beta, C.data, C.offset, ldc);
            return;
        }
        FloatBuffer A = f(a, (long) (aRows - 1) * lda + aCols, "gemm A");
        FloatBuffer B = f(b, (long) (bRows - 1) * ldb + bCols, "gemm B");
        sgemm.gemm(transA, transB, m, n, k, alpha, A.data, A.offset, lda, B.data, B.offset, ldb, beta, C.data, C.offset, ldc);
    }

    @Override public void addRowBias(Buffer y, Buffer bias, int rows, int cols) {
        positive("addRowBias", rows, cols, 0);
        FloatBuffer Y = f(y, (long) rows * cols, "addRowBias y"), B = f(bias, cols, "addRowBias bias");
        if ((long) rows * cols <= CHUNK || rows == 1) {
            VectorOps.addRowBias(Y.data, Y.offset, B.data, B.offset, rows, cols);
            return;
        }
        Planes p = planes.set(P_ROW_BIAS);
        p.a = Y.data; p.ao = Y.offset; p.b = B.data; p.bo = B.offset; p.rows = rows; p.cols = cols;
        p.unit = Math.max(1, CHUNK / cols);
        runPlanes(p, (rows + p.unit - 1) / p.unit);
    }

    @Override public void sumRows(Buffer dy, Buffer dBias, int rows, int cols) {
        positive("sumRows", rows, cols, 0);
        FloatBuffer Y = f(dy, (long) rows * cols, "sumRows dy"), B = f(dBias, cols, "sumRows dBias");
        // Column blocks are independent (each column's sum runs over rows in order), so any split is exact.
        int blk = 16 * VectorOps.L;
        if ((long) rows * cols <= CHUNK || cols <= blk) {
            VectorOps.sumRows(Y.data, Y.offset, rows, cols, 0, cols, B.data, B.offset);
            return;
        }
        Planes p = planes.set(P_SUM_ROWS);
        p.a = Y.data; p.ao = Y.offset; p.b = B.data; p.bo = B.offset; p.rows = rows; p.cols = cols; p.unit = blk;
        runPlanes(p, (cols + blk - 1) / blk);
    }

    // ---- elementwise ----

    private static final int FILL = 0, RELU = 1, RELU_BACKWARD = 2, ADD = 3, SGD = 4, SUMSQ = 5, DOT = 6, ASAM_NORM = 7,
            AXPBY = 8, PERTURB = 9, SGD_FROM = 10, ROUND = 11;

    @Override public void reluForward(Buffer x, Buffer y, long n) {
        int len = count(n, "reluForward");
        FloatBuffer X = f(x, n, "reluForward x"), Y = f(y, n, "reluForward y");
        elementwise(RELU, X.data, X.offset, Y.data, Y.offset, null, 0, null, 0, len, 0, 0, 0, false);
    }

    @Override public void reluBackward(Buffer y, Buffer dy, Buffer dx, long n) {
        int len = count(n, "reluBackward");
        FloatBuffer Y = f(y, n, "reluBackward y"), G = f(dy, n, "reluBackward dy"), D = f(dx, n, "reluBackward dx");
        elementwise(RELU_BACKWARD, Y.data, Y.offset, G.data, G.offset, D.data, D.offset, null, 0, len, 0, 0, 0, false);
    }

    @Override public void add(Buffer a, Buffer b, Buffer out, long n) {
        int len = count(n, "add");
        FloatBuffer A = f(a, n, "add a"), B = f(b, n, "add b"), O = f(out, n, "add out");
        elementwise(ADD, A.data, A.offset, B.data, B.offset, O.data, O.offset, null, 0, len, 0, 0, 0, false);
    }

    @Override public void roundTo(Precision p, Buffer x, Buffer y, long n) {
        int len = count(n, "roundTo");
        FloatBuffer X = f(x, n, "roundTo x"), Y = f(y, n, "roundTo y");
        int drop = 23 - p.mantissaBits();
        if (drop == 0) {
            if (X.data != Y.data || X.offset != Y.offset) System.arraycopy(X.data, X.offset, Y.data, Y.offset, len);
            return;
        }
        elementwise(ROUND, X.data, X.offset, Y.data, Y.offset, null, 0, null, 0, len, drop, 0, 0, false);
    }

    @Override public boolean supports(Precision p) { return p == Precision.BF16 || p == (tf32 ? Precision.TF32 : Precision.FP32); }

    @Override public double sumOfSquares(Buffer x, long n) {
        int len = count(n, "sumOfSquares");
        FloatBuffer X = f(x, n, "sumOfSquares input");
        return reduce(SUMSQ, X.data, X.offset, null, 0, len, 0);
    }

    /** A chunked double-lane reduction over one or two arrays (sum of squares, dot, ASAM norm): fixed order. */
    private double reduce(int op, float[] x, int xo, float[] y, int yo, int len, float s0) {
        if (len == 0) return 0;
        if (len <= SUMSQ_CHUNK) {
            return switch (op) {
                case DOT -> VectorOps.dot(x, xo, y, yo, len, lanes[0]);
                case ASAM_NORM -> VectorOps.asamNormSquared(x, xo, y, yo, len, s0, lanes[0]);
                default -> VectorOps.sumOfSquares(x, xo, len, lanes[0]);
            };
        }
        int chunks = (len + SUMSQ_CHUNK - 1) / SUMSQ_CHUNK;
        if (partials.length < chunks) partials = new double[Math.max(chunks, 2 * partials.length)];
        Elementwise e = elementwise;
        e.set(op, x, xo, y, yo, null, 0, null, 0, len, s0, 0, 0, false);
        e.chunk = SUMSQ_CHUNK;
        try {
            pool.run(e, chunks);
        } finally {
            e.clear();
        }
        double s = 0;
        for (int i = 0; i < chunks; i++) s += partials[i];
        return s;
    }

    @Override public double dot(Buffer a, Buffer b, long n) {
        int len = count(n, "dot");
        FloatBuffer A = f(a, n, "dot a"), B = f(b, n, "dot b");
        return reduce(DOT, A.data, A.offset, B.data, B.offset, len, 0);
    }

    @Override public double asamNormSquared(Buffer w, Buffer g, long n, double eta) {
        int len = count(n, "asamNormSquared");
        FloatBuffer W = f(w, n, "asamNormSquared w"), G = f(g, n, "asamNormSquared g");
        return reduce(ASAM_NORM, W.data, W.offset, G.data, G.offset, len, (float) eta);
    }

    @Override public void axpby(double alpha, Buffer x, double beta, Buffer y, Buffer out, long n) {
        int len = count(n, "axpby");
        FloatBuffer X = f(x, n, "axpby x"), Y = f(y, n, "axpby y"), O = f(out, n, "axpby out");
        elementwise(AXPBY, X.data, X.offset, Y.data, Y.offset, O.data, O.offset, null, 0, len, (float) alpha, (float) beta, 0, false);
    }

    @Override public void samPerturb(Buffer w, Buffer g, Buffer wSaved, Buffer gSaved, long n, double scale) {
        perturb(w, g, wSaved, gSaved, n, scale, false, 0);
    }

    @Override public void asamPerturb(Buffer w, Buffer g, Buffer wSaved, Buffer gSaved, long n, double scale, double eta) {
        perturb(w, g, wSaved, gSaved, n, scale, true, eta);
    }

    private void perturb(Buffer w, Buffer g, Buffer wSaved, Buffer gSaved, long n, double scale, boolean adaptive, double eta) {
        int len = count(n, "perturb");
        FloatBuffer W = f(w, n, "perturb w"), G = f(g, n, "perturb g"), WS = f(wSaved, n, "perturb saved w"),
                GS = f(gSaved, n, "perturb saved g");
        elementwise(PERTURB, W.data, W.offset, G.data, G.offset, WS.data, WS.offset, GS.data, GS.offset, len, (float) scale,
                (float) eta, 0, adaptive);
    }

    @Override public void restoreSgdUpdate(Buffer w, Buffer wSaved, Buffer g, Buffer m, long n, float lr, float momentum,
                                           float weightDecay, boolean nesterov) {
        int len = count(n, "restoreSgdUpdate");
        FloatBuffer W = f(w, n, "restoreSgdUpdate w"), WS = f(wSaved, n, "restoreSgdUpdate saved w"),
                G = f(g, n, "restoreSgdUpdate g"), M = f(m, n, "restoreSgdUpdate momentum");
        sgdFrom(W, WS, G, null, 0, M, len, lr, momentum, weightDecay, nesterov);
    }

    @Override public void sgdUpdateWithDirection(Buffer w, Buffer g, Buffer v, double vScale, Buffer m, long n, float lr,
                                                 float momentum, float weightDecay, boolean nesterov) {
        int len = count(n, "sgdUpdateWithDirection");
        FloatBuffer W = f(w, n, "sgdUpdateWithDirection w"), G = f(g, n, "sgdUpdateWithDirection g"),
                V = f(v, n, "sgdUpdateWithDirection v"), M = f(m, n, "sgdUpdateWithDirection momentum");
        sgdFrom(W, W, G, V, (float) vScale, M, len, lr, momentum, weightDecay, nesterov);
    }

    private void sgdFrom(FloatBuffer w, FloatBuffer src, FloatBuffer g, FloatBuffer v, float vScale, FloatBuffer m, int len,
                         float lr, float momentum, float weightDecay, boolean nesterov) {
        if (len == 0) return;
        Elementwise e = elementwise;
        e.set(SGD_FROM, w.data, w.offset, g.data, g.offset, m.data, m.offset, src.data, src.offset, len, lr, momentum,
                weightDecay, nesterov);
        e.v = v == null ? null : v.data;
        e.vo = v == null ? 0 : v.offset;
        e.s3 = vScale;
        e.chunk = CHUNK;
        try {
            if (len <= CHUNK || threads == 1) e.apply(0, len, 0);
            else pool.run(e, (len + CHUNK - 1) / CHUNK);
        } finally {
            e.clear();
        }
    }

    @Override public void sgdUpdate(Buffer w, Buffer g, Buffer m, long n, float lr, float momentum, float weightDecay,
                                    boolean nesterov) {
        int len = count(n, "sgdUpdate");
        FloatBuffer W = f(w, n, "sgdUpdate w"), G = f(g, n, "sgdUpdate g"), M = f(m, n, "sgdUpdate momentum");
        elementwise(SGD, W.data, W.offset, G.data, G.offset, M.data, M.offset, null, 0, len, lr, momentum, weightDecay, nesterov);
    }

    private void elementwise(int op, float[] x, int xo, float[] y, int yo, float[] z, int zo, float[] u, int uo, int n,
                             float s0, float s1, float s2, boolean flag) {
        if (n == 0) return;
        Elementwise e = elementwise;
        e.set(op, x, xo, y, yo, z, zo, u, uo, n, s0, s1, s2, flag);
        e.chunk = CHUNK;
        try {
            if (n <= CHUNK || threads == 1) e.apply(0, n, 0);
            else pool.run(e, (n + CHUNK - 1) / CHUNK);
        } finally {
            e.clear();
        }
    }

    /** Chunked elementwise/arena ops; chunk boundaries never change an element's value. */
    private final class Elementwise implements WorkerPool.Task {
        int op, xo, yo, zo, uo, vo, n, chunk;
        float[] x, y, z, u, v;
        float s0, s1, s2, s3;
        boolean flag;

        void set(int op, float[] x, int xo, float[] y, int yo, float[] z, int zo, float[] u, int uo, int n, float s0,
                 float s1, float s2, boolean flag) {
            this.op = op; this.x = x; this.xo = xo; this.y = y; this.yo = yo; this.z = z; this.zo = zo; this.u = u;
            this.uo = uo; this.n = n; this.s0 = s0; this.s1 = s1; this.s2 = s2; this.flag = flag;
        }

        void clear() { x = y = z = u = v = null; s3 = 0; }

        @Override public void run(int part, int thread) {
            int from = part * chunk;
            apply(from, Math.min(chunk, n - from), thread);
        }

        void apply(int from, int len, int thread) {
            switch (op) {
                case FILL -> VectorOps.fill(x, xo + from, s0, len);
                case RELU -> VectorOps.relu(x, xo + from, y, yo + from, len);
                case RELU_BACKWARD -> VectorOps.reluBackward(x, xo + from, y, yo + from, z, zo + from, len);
                case ADD -> VectorOps.add(x, xo + from, y, yo + from, z, zo + from, len);
                case ROUND -> VectorOps.roundMantissa(x, xo + from, y, yo + from, len, (int) s0);
                case SGD -> VectorOps.sgd(x, xo + from, y, yo + from, z, zo + from, len, s0, s1, s2, flag);
                case SUMSQ -> partials[from / chunk] = VectorOps.sumOfSquares(x, xo + from, len, lanes[thread]);
                case DOT -> partials[from / chunk] = VectorOps.dot(x, xo + from, y, yo + from, len, lanes[thread]);
                case ASAM_NORM -> partials[from / chunk] = VectorOps.asamNormSquared(x, xo + from, y, yo + from, len, s0, lanes[thread]);
                case AXPBY -> VectorOps.axpby(s0, x, xo + from, s1, y, yo + from, z, zo + from, len);
                case PERTURB -> VectorOps.perturb(x, xo + from, y, yo + from, z, zo + from, u, uo + from, len, s0, flag, s1);
                // x = w, y = g, z = m, u = weights source (saved copy or w), v = LookSAM direction (or null)
                case SGD_FROM -> VectorOps.sgdFrom(u, uo + from, x, xo + from, y, yo + from, v, v == null ? 0 : vo + from, s3, z,
                        zo + from, len, s0, s1, s2, flag);
                default -> throw new IllegalStateException("op " + op);
            }
        }
    }

    // ---- convolution ----

    @Override public long convWorkspaceSize(ConvGeom g, int n) {
        positive("convWorkspaceSize", n);
        return Conv.workspaceSize(g, n, threads);
    }

    private void checkWorkspace(ConvGeom g, int n, FloatBuffer ws) {
        long need = Conv.workspaceSize(g, n, threads);
        if (ws.len < need) throw new IllegalArgumentException("conv workspace has " + ws.len + " floats, needs " + need
                + " (convWorkspaceSize)");
    }

    private static final FloatBuffer NO_WORKSPACE = new FloatBuffer(new float[0], 0, 0);

    /** The caller's workspace; {@code null} is accepted when none is needed (pointwise conv, one image). */
    private static FloatBuffer workspace(Buffer ws, ConvGeom g, int n, int threads) {
        if (ws == null && Conv.workspaceSize(g, n, threads) == 0) return NO_WORKSPACE;
        return f(ws, "conv workspace");
    }

    @Override public void convForward(ConvGeom g, int n, Buffer x, Buffer w, Buffer bias, Buffer y, Buffer workspace) {
        positive("convForward", n);
        if (n == 0) return;
        FloatBuffer X = f(x, (long) n * g.inSize(), "convForward x"), W = f(w, g.weightSize(), "convForward w");
        FloatBuffer Bi = bias == null ? null : f(bias, g.outC(), "convForward bias");
        FloatBuffer Y = f(y, (long) n * g.outSize(), "convForward y");
        FloatBuffer WS = workspace(workspace, g, n, threads);
        checkWorkspace(g, n, WS);
        conv.forward(g, n, X.data, X.offset, W.data, W.offset, Bi == null ? null : Bi.data, Bi == null ? 0 : Bi.offset,
                Y.data, Y.offset, WS.data, WS.offset);
    }

    @Override public void convBackwardData(ConvGeom g, int n, Buffer dy, Buffer w, Buffer dx, Buffer workspace) {
        positive("convBackwardData", n);
        if (n == 0) return;
        FloatBuffer DY = f(dy, (long) n * g.outSize(), "convBackwardData dy"), W = f(w, g.weightSize(), "convBackwardData w");
        FloatBuffer DX = f(dx, (long) n * g.inSize(), "convBackwardData dx");
        FloatBuffer WS = workspace(workspace, g, n, threads);
        checkWorkspace(g, n, WS);
        conv.backwardData(g, n, DY.data, DY.offset, W.data, W.offset, DX.data, DX.offset, WS.data, WS.offset);
    }

    @Override public void convBackwardFilter(ConvGeom g, int n, Buffer x, Buffer dy, Buffer dw, Buffer dBias, Buffer workspace) {
        positive("convBackwardFilter", n);
        FloatBuffer X = f(x, (long) n * g.inSize(), "convBackwardFilter x");
        FloatBuffer DY = f(dy, (long) n * g.outSize(), "convBackwardFilter dy");
        FloatBuffer DW = f(dw, g.weightSize(), "convBackwardFilter dw");
        FloatBuffer DB = dBias == null ? null : f(dBias, g.outC(), "convBackwardFilter dBias");
        if (n == 0) {
            java.util.Arrays.fill(DW.data, DW.offset, DW.offset + g.weightSize(), 0f);
            if (DB != null) java.util.Arrays.fill(DB.data, DB.offset, DB.offset + g.outC(), 0f);
            return;
        }
        FloatBuffer WS = workspace(workspace, g, n, threads);
        checkWorkspace(g, n, WS);
        conv.backwardFilter(g, n, X.data, X.offset, DY.data, DY.offset, DW.data, DW.offset, WS.data, WS.offset);
        if (DB != null) {
            // dBias[oc] = Σ_b Σ_hw dy[b, oc]: per channel, planes in batch order, in double.
            Planes p = planes.set(P_CHANNEL_SUM);
            p.a = DY.data; p.ao = DY.offset; p.b = DB.data; p.bo = DB.offset;
            p.n = n; p.channels = g.outC(); p.hw = g.outH() * g.outW();
            runPlanes(p, g.outC());
        }
    }

    // ---- pooling ----

    @Override public void maxPoolForward(PoolGeom g, int n, Buffer x, Buffer y) {
        positive("maxPoolForward", n);
        FloatBuffer X = f(x, (long) n * g.inSize(), "maxPoolForward x"), Y = f(y, (long) n * g.outSize(), "maxPoolForward y");
        Planes p = planes.set(P_MAXPOOL);
        p.pg = g; p.a = X.data; p.ao = X.offset; p.b = Y.data; p.bo = Y.offset;
        runPlanes(p, n * g.channels());
    }

    @Override public void maxPoolBackward(PoolGeom g, int n, Buffer x, Buffer y, Buffer dy, Buffer dx) {
        positive("maxPoolBackward", n);
        FloatBuffer X = f(x, (long) n * g.inSize(), "maxPoolBackward x");
        FloatBuffer DY = f(dy, (long) n * g.outSize(), "maxPoolBackward dy");
        FloatBuffer DX = f(dx, (long) n * g.inSize(), "maxPoolBackward dx");
        Planes p = planes.set(P_MAXPOOL_BACKWARD);
        p.pg = g; p.a = X.data; p.ao = X.offset; p.b = DY.data; p.bo = DY.offset; p.c = DX.data; p.co = DX.offset;
        runPlanes(p, n * g.channels());
    }

    @Override public void globalAvgPoolForward(int n, int channels, int hw, Buffer x, Buffer y) {
        positive("globalAvgPoolForward", n, channels, hw);
        FloatBuffer X = f(x, (long) n * channels * hw, "globalAvgPoolForward x"), Y = f(y, (long) n * channels, "globalAvgPoolForward y");
        Planes p = planes.set(P_GAP);
        p.a = X.data; p.ao = X.offset; p.b = Y.data; p.bo = Y.offset; p.hw = hw;
        runPlanes(p, n * channels);
    }

    @Override public void globalAvgPoolBackward(int n, int channels, int hw, Buffer dy, Buffer dx) {
        positive("globalAvgPoolBackward", n, channels, hw);
        FloatBuffer DY = f(dy, (long) n * channels, "globalAvgPoolBackward dy"), DX = f(dx, (long) n * channels * hw, "globalAvgPoolBackward dx");
        Planes p = planes.set(P_GAP_BACKWARD);
        p.a = DY.data; p.ao = DY.offset; p.b = DX.data; p.bo = DX.offset; p.hw = hw;
        runPlanes(p, n * channels);
    }

    // ---- batch norm ----

    @Override public void batchNormForwardTraining(int n, int channels, int hw, Buffer x, Buffer gamma, Buffer beta, Buffer y,
                                                   Buffer runningMean, Buffer runningVar, double momentum, double eps,
                                                   boolean updateRunning, Buffer saveMean, Buffer saveInvStd) {
        positive("batchNormForwardTraining", n, channels, hw);
        long total = (long) n * channels * hw;
        FloatBuffer X = f(x, total, "batchNorm x"), G = f(gamma, channels, "batchNorm gamma"), B = f(beta, channels, "batchNorm beta");
        FloatBuffer Y = f(y, total, "batchNorm y"), SM = f(saveMean, channels, "batchNorm saveMean");
        FloatBuffer SI = f(saveInvStd, channels, "batchNorm saveInvStd");
        FloatBuffer RM = updateRunning ? f(runningMean, channels, "batchNorm runningMean") : null;
        FloatBuffer RV = updateRunning ? f(runningVar, channels, "batchNorm runningVar") : null;
        Planes p = planes.set(P_BN_TRAIN);
        p.n = n; p.channels = channels; p.hw = hw;
        p.a = X.data; p.ao = X.offset; p.b = Y.data; p.bo = Y.offset; p.g = G.data; p.go = G.offset; p.be = B.data; p.beo = B.offset;
        p.sm = SM.data; p.smo = SM.offset; p.si = SI.data; p.sio = SI.offset;
        p.rm = RM == null ? null : RM.data; p.rmo = RM == null ? 0 : RM.offset;
        p.rv = RV == null ? null : RV.data; p.rvo = RV == null ? 0 : RV.offset;
        p.momentum = momentum; p.eps = eps; p.update = updateRunning;
        runPlanes(p, channels);
    }

    @Override public void batchNormForwardInference(int n, int channels, int hw, Buffer x, Buffer gamma, Buffer beta, Buffer y,
                                                    Buffer runningMean, Buffer runningVar, double eps) {
        positive("batchNormForwardInference", n, channels, hw);
        long total = (long) n * channels * hw;
        FloatBuffer X = f(x, total, "batchNorm x"), G = f(gamma, channels, "batchNorm gamma"), B = f(beta, channels, "batchNorm beta");
        FloatBuffer Y = f(y, total, "batchNorm y");
        FloatBuffer RM = f(runningMean, channels, "batchNorm runningMean"), RV = f(runningVar, channels, "batchNorm runningVar");
        Planes p = planes.set(P_BN_INFER);
        p.n = n; p.channels = channels; p.hw = hw;
        p.a = X.data; p.ao = X.offset; p.b = Y.data; p.bo = Y.offset; p.g = G.data; p.go = G.offset; p.be = B.data; p.beo = B.offset;
        p.rm = RM.data; p.rmo = RM.offset; p.rv = RV.data; p.rvo = RV.offset; p.eps = eps;
        runPlanes(p, channels);
    }

    @Override public void batchNormBackward(int n, int channels, int hw, Buffer x, Buffer dy, Buffer gamma, Buffer saveMean,
                                            Buffer saveInvStd, Buffer dx, Buffer dGamma, Buffer dBeta) {
        positive("batchNormBackward", n, channels, hw);
        long total = (long) n * channels * hw;
        FloatBuffer X = f(x, total, "batchNormBackward x"), DY = f(dy, total, "batchNormBackward dy");
        FloatBuffer G = f(gamma, channels, "batchNormBackward gamma"), SM = f(saveMean, channels, "batchNormBackward saveMean");
        FloatBuffer SI = f(saveInvStd, channels, "batchNormBackward saveInvStd"), DX = f(dx, total, "batchNormBackward dx");
        FloatBuffer DG = f(dGamma, channels, "batchNormBackward dGamma"), DB = f(dBeta, channels, "batchNormBackward dBeta");
        Planes p = planes.set(P_BN_BACKWARD);
        p.n = n; p.channels = channels; p.hw = hw;
        p.a = X.data; p.ao = X.offset; p.b = DY.data; p.bo = DY.offset; p.c = DX.data; p.co = DX.offset;
        p.g = G.data; p.go = G.offset; p.sm = SM.data; p.smo = SM.offset; p.si = SI.data; p.sio = SI.offset;
        p.rm = DG.data; p.rmo = DG.offset; p.rv = DB.data; p.rvo = DB.offset;
        runPlanes(p, channels);
    }

    // ---- loss ----

    @Override public void softmaxCrossEntropy(int n, int classes, Buffer logits, Buffer labels, Buffer dLogits, Buffer lossPerExample) {
        positive("softmaxCrossEntropy", n, classes, 0);
        if (classes == 0) throw new IllegalArgumentException("softmaxCrossEntropy: no classes");
        FloatBuffer Lg = f(logits, (long) n * classes, "softmaxCrossEntropy logits"), Y = f(labels, n, "softmaxCrossEntropy labels");
        FloatBuffer O = f(lossPerExample, n, "softmaxCrossEntropy lossPerExample");
        FloatBuffer DL = dLogits == null ? null : f(dLogits, (long) n * classes, "softmaxCrossEntropy dLogits");
        // Validate every label before writing anything, so a bad batch leaves the outputs untouched.
        for (int r = 0; r < n; r++) ScalarOps.label(Y.data[Y.offset + r], classes, r);
        float[] l = Lg.data;
        for (int r = 0; r < n; r++) {
            int y = (int) Y.data[Y.offset + r];
            int row = Lg.offset + r * classes;
            double max = Double.NEGATIVE_INFINITY;
            for (int j = 0; j < classes; j++) max = Math.max(max, l[row + j]);
            double sum = 0;
            for (int j = 0; j < classes; j++) sum += Math.exp(l[row + j] - max);
            double lse = max + Math.log(sum);
            O.data[O.offset + r] = (float) (lse - l[row + y]);
            if (DL != null) {
                int d = DL.offset + r * classes;
                for (int j = 0; j < classes; j++) {
                    double pj = Math.exp(l[row + j] - lse);
                    DL.data[d + j] = (float) ((pj - (j == y ? 1 : 0)) / n);
                }
            }
        }
    }

    // ---- per-plane / per-channel work ----

    private static final int P_ROW_BIAS = 0, P_SUM_ROWS = 1, P_MAXPOOL = 2, P_MAXPOOL_BACKWARD = 3, P_GAP = 4,
            P_GAP_BACKWARD = 5, P_BN_TRAIN = 6, P_BN_INFER = 7, P_BN_BACKWARD = 8, P_CHANNEL_SUM = 9;

    /** Below this many units of work, per-plane ops stay on the calling thread. */
    private void runPlanes(Planes p, int parts) {
        try {
            if (parts <= 1 || threads == 1) {
                for (int i = 0; i < parts; i++) p.run(i, 0);
            } else {
                pool.run(p, parts);
            }
        } finally {
            p.clear();
        }
    }

    /** One preallocated task for the ops whose unit of work is a plane, a channel or a block of rows/columns. */
    private final class Planes implements WorkerPool.Task {
        int op, ao, bo, co, go, beo, smo, sio, rmo, rvo, rows, cols, unit, n, channels, hw;
        float[] a, b, c, g, be, sm, si, rm, rv;
        PoolGeom pg;
        double momentum, eps;
        boolean update;

        Planes set(int op) {
            this.op = op;
            return this;
        }

        void clear() { a = b = c = g = be = sm = si = rm = rv = null; pg = null; }

        @Override public void run(int part, int thread) {
            switch (op) {
                case P_ROW_BIAS -> {
                    int r0 = part * unit, r1 = Math.min(rows, r0 + unit);
                    VectorOps.addRowBias(a, ao + r0 * cols, b, bo, r1 - r0, cols);
                }
                case P_SUM_ROWS -> {
                    int c0 = part * unit, c1 = Math.min(cols, c0 + unit);
                    VectorOps.sumRows(a, ao, rows, cols, c0, c1, b, bo);
                }
                case P_MAXPOOL -> Pooling.maxForward(pg, a, ao + part * (pg.h() * pg.w()), b, bo + part * (pg.outH() * pg.outW()),
                        rowBuffer(thread, pg.w()));
                case P_MAXPOOL_BACKWARD -> {
                    int plane = pg.h() * pg.w(), out = pg.outH() * pg.outW();
                    Pooling.maxBackward(pg, a, ao + part * plane, b, bo + part * out, c, co + part * plane, rowBuffer(thread, pg.w()));
                }
                case P_GAP -> b[bo + part] = (float) (VectorOps.sum(a, ao + part * hw, hw, lanes[thread]) / hw);
                case P_GAP_BACKWARD -> VectorOps.fill(b, bo + part * hw, a[ao + part] / hw, hw);
                case P_CHANNEL_SUM -> {
                    double s = 0;
                    for (int i = 0; i < n; i++) s += VectorOps.sum(a, ao + (i * channels + part) * hw, hw, lanes[thread]);
                    b[bo + part] = (float) s;
                }
                case P_BN_TRAIN -> bnTrain(part, thread);
                case P_BN_INFER -> bnInfer(part);
                case P_BN_BACKWARD -> bnBackward(part, thread);
                default -> throw new IllegalStateException("op " + op);
            }
        }

        private void bnTrain(int ch, int thread) {
            double[] ln = lanes[thread];
            long count = (long) n * hw;
            double s = 0;
            for (int i = 0; i < n; i++) s += VectorOps.sum(a, ao + (i * channels + ch) * hw, hw, ln);
            double mean = s / count;
            double v = 0;
            for (int i = 0; i < n; i++) v += VectorOps.sumSquaredDeviations(a, ao + (i * channels + ch) * hw, hw, mean, ln);
            double var = v / count;
            double inv = 1.0 / Math.sqrt(var + eps);
            // y = (x − mean)·(γ·inv) + β: subtracting the mean first avoids the cancellation that a folded
            // x·scale + shift suffers when |mean| ≫ std.
            float fm = (float) mean, sc = (float) (inv * g[go + ch]), sh = be[beo + ch];
            for (int i = 0; i < n; i++) {
                int at = (i * channels + ch) * hw;
                VectorOps.normalize(a, ao + at, b, bo + at, fm, sc, sh, hw);
            }
            sm[smo + ch] = fm;
            si[sio + ch] = (float) inv;
            if (update) {
                double unbiased = count > 1 ? var * count / (count - 1) : var;
                rm[rmo + ch] = (float) ((1 - momentum) * rm[rmo + ch] + momentum * mean);
                rv[rvo + ch] = (float) ((1 - momentum) * rv[rvo + ch] + momentum * unbiased);
            }
        }

        private void bnInfer(int ch) {
            double inv = 1.0 / Math.sqrt(rv[rvo + ch] + eps);
            float sc = (float) (inv * g[go + ch]);
            for (int i = 0; i < n; i++) {
                int at = (i * channels + ch) * hw;
                VectorOps.normalize(a, ao + at, b, bo + at, rm[rmo + ch], sc, be[beo + ch], hw);
            }
        }

        /** a = x, b = dy, c = dx, rm = dGamma, rv = dBeta. */
        private void bnBackward(int ch, int thread) {
            double[] ln = lanes[thread], sums = pair[thread];
            double mean = sm[smo + ch], inv = si[sio + ch], m = (double) n * hw;
            sums[0] = 0;
            sums[1] = 0;
            for (int i = 0; i < n; i++) {
                int at = (i * channels + ch) * hw;
                VectorOps.dySums(a, ao + at, b, bo + at, hw, mean, ln, sums);
            }
            double sumDy = sums[0], sumDyXhat = sums[1] * inv;
            rm[rmo + ch] = (float) sumDyXhat;
            rv[rvo + ch] = (float) sumDy;
            // dx = γ·inv·(dy − sumDy/m − x̂·sumDyXhat/m) with x̂ = (x − mean)·inv, as a·dy + b·(x − mean) + c.
            double gInv = g[go + ch] * inv;
            float fa = (float) gInv, fb = (float) (-gInv * inv * sumDyXhat / m), fc = (float) (-gInv * sumDy / m);
            for (int i = 0; i < n; i++) {
                int at = (i * channels + ch) * hw;
                VectorOps.bnBackwardPlane(b, bo + at, a, ao + at, c, co + at, (float) mean, fa, fb, fc, hw);
            }
        }
    }

    @Override public void close() {
        pool.close();
    }
}
