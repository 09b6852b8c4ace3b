package dev.sam4j.backend.cpu;

import dev.sam4j.backend.Backend;
import dev.sam4j.backend.Buffer;
import dev.sam4j.backend.ConvGeom;
import dev.sam4j.backend.PoolGeom;
import dev.sam4j.backend.Precision;

/**
 * {@link Backend} over {@link ScalarOps}: double-precision host arrays, single thread, plain loops. Used
 * as the oracle in tests (every other backend is compared with it) and for finite-difference gradient
 * checks of the real layer code, where float rounding would drown the signal. Too slow for training.
 *
 * <p>Opened for TF32 ({@link #ReferenceBackend(boolean)}), every GEMM and convolution reads its inputs rounded
 * to TF32 ({@link Precision#round(double)}, from double directly): rounded copies made per call, the one
 * place this backend allocates in an operation, acceptable in the oracle.
 */
public final class ReferenceBackend implements Backend {
    private final boolean tf32;

    /** The double-precision oracle, fp32 semantics (no input rounding). */
    public ReferenceBackend() { this(false); }

    /** With {@code tf32}, GEMM and convolution inputs are rounded to TF32 first (the emulation's oracle). */
    public ReferenceBackend(boolean tf32) { this.tf32 = tf32; }

    /**
     * {@code len} elements of {@code b} from its offset, rounded to TF32 in a new array, or {@code b}'s own
     * array when not emulating TF32; the returned buffer indexes like {@code b}.
     */
    private DoubleBuffer in(DoubleBuffer b, long len) {
        if (!tf32) return b;
        int n = (int) Math.min(len, b.len);
        double[] r = new double[n];
        for (int i = 0; i < n; i++) r[i] = Precision.TF32.round(b.data[b.offset + i]);
        return new DoubleBuffer(r, 0, n);
    }

    /** Elements a row-major {@code rows × cols} matrix with leading dimension {@code ld} spans. */
    private static long extent(int rows, int cols, int ld) { return rows == 0 || cols == 0 ? 0 : (long) (rows - 1) * ld + cols; }

    @Override public boolean supports(Precision p) { return p == Precision.BF16 || p == (tf32 ? Precision.TF32 : Precision.FP32); }

    @Override public void roundTo(Precision p, Buffer x, Buffer y, long n) {
        DoubleBuffer X = d(x), Y = d(y); need(X, n, "roundTo x"); need(Y, n, "roundTo y");
        for (int i = 0; i < n; i++) Y.data[Y.offset + i] = p.round(X.data[X.offset + i]);
    }

    /** A view into a double array. */
    public record DoubleBuffer(double[] data, int offset, int len) implements Buffer {
        @Override public long length() { return len; }
        @Override public Buffer slice(long off, long length) {
            Buffer.checkSlice(off, length, len);
            return new DoubleBuffer(data, offset + (int) off, (int) length);
        }
    }

    private static DoubleBuffer d(Buffer b) {
        if (b instanceof DoubleBuffer db) return db;
        throw new IllegalArgumentException("buffer of another backend: " + (b == null ? "null" : b.getClass().getSimpleName()));
    }

    private static void need(Buffer b, long n, String what) {
        if (b.length() < n) throw new IllegalArgumentException(what + " has " + b.length() + " elements, needs " + n);
    }

    @Override public String name() { return "cpu-reference"; }
    @Override public String describe() {
        return "scalar reference, double precision" + (tf32 ? " (GEMM/conv inputs rounded to TF32)" : "") + ", 1 thread";
    }

    @Override public Buffer allocate(long n) { return new DoubleBuffer(new double[Math.toIntExact(n)], 0, (int) n); }

    @Override public void upload(float[] src, int so, Buffer dst, int n) {
        DoubleBuffer b = d(dst); need(b, n, "upload target");
        for (int i = 0; i < n; i++) b.data[b.offset + i] = src[so + i];
    }

    @Override public void download(Buffer src, float[] dst, int dOff, int n) {
        DoubleBuffer b = d(src); need(b, n, "download source");
        for (int i = 0; i < n; i++) dst[dOff + i] = (float) b.data[b.offset + i];
    }

    @Override public double[] read(Buffer src) {
        DoubleBuffer b = d(src);
        return java.util.Arrays.copyOfRange(b.data, b.offset, b.offset + b.len);
    }

    @Override public void write(double[] src, Buffer dst) {
        DoubleBuffer b = d(dst); need(b, src.length, "write target");
        System.arraycopy(src, 0, b.data, b.offset, src.length);
    }

    @Override public void copy(Buffer src, Buffer dst, long n) {
        DoubleBuffer s = d(src), t = d(dst); need(s, n, "copy source"); need(t, n, "copy target");
        System.arraycopy(s.data, s.offset, t.data, t.offset, (int) n);
    }

    @Override public void fill(Buffer x, float v, long n) {
        DoubleBuffer b = d(x); need(b, n, "fill target");
        java.util.Arrays.fill(b.data, b.offset, b.offset + (int) n, v);
    }

    @Override public void gemm(boolean ta, boolean tb, int m, int n, int k, float alpha, Buffer a, int lda, Buffer b, int ldb,
                               float beta, Buffer c, int ldc) {
        DoubleBuffer A = in(d(a), ta ? extent(k, m, lda) : extent(m, k, lda)),
                B = in(d(b), tb ? extent(n, k, ldb) : extent(k, n, ldb)), C = d(c);
        ScalarOps.gemm(ta, tb, m, n, k, alpha, A.data, A.offset, lda, B.data, B.offset, ldb, beta, C.data, C.offset, ldc);
    }

    @Override public void addRowBias(Buffer y, Buffer bias, int rows, int cols) {
        DoubleBuffer Y = d(y), B = d(bias);
        ScalarOps.addRowBias(Y.data, Y.offset, B.data, B.offset, rows, cols);
    }

    @Override public void sumRows(Buffer dy, Buffer db, int rows, int cols) {
        DoubleBuffer Y = d(dy), B = d(db);
        ScalarOps.sumRows(Y.data, Y.offset, B.data, B.offset, rows, cols);
    }

    @Override public void reluForward(Buffer x, Buffer y, long n) {
        DoubleBuffer X = d(x), Y = d(y);
        for (int i = 0; i < n; i++) Y.data[Y.offset + i] = Math.max(X.data[X.offset + i], 0);
    }

    @Override public void reluBackward(Buffer y, Buffer dy, Buffer dx, long n) {
        DoubleBuffer Y = d(y), DY = d(dy), DX = d(dx);
        for (int i = 0; i < n; i++) DX.data[DX.offset + i] = Y.data[Y.offset + i] > 0 ? DY.data[DY.offset + i] : 0;
    }

    @Override public void add(Buffer a, Buffer b, Buffer out, long n) {
        DoubleBuffer A = d(a), B = d(b), O = d(out);
        for (int i = 0; i < n; i++) O.data[O.offset + i] = A.data[A.offset + i] + B.data[B.offset + i];
    }

    @Override public long convWorkspaceSize(ConvGeom g, int n) { return 0; }

    @Override public void convForward(ConvGeom g, int n, Buffer x, Buffer w, Buffer bias, Buffer y, Buffer ws) {
        DoubleBuffer X = in(d(x), (long) n * g.inSize()), W = in(d(w), (long) g.outC() * g.patchSize()), Y = d(y);
        DoubleBuffer Bi = bias == null ? null : d(bias);
        ScalarOps.convForward(g, n, X.data, X.offset, W.data, W.offset, Bi == null ? null : Bi.data,
                Bi == null ? 0 : Bi.offset, Y.data, Y.offset);
    }

    @Override public void convBackwardData(ConvGeom g, int n, Buffer dy, Buffer w, Buffer dx, Buffer ws) {
        DoubleBuffer DY = in(d(dy), (long) n * g.outSize()), W = in(d(w), (long) g.outC() * g.patchSize()), DX = d(dx);
        ScalarOps.convBackwardData(g, n, DY.data, DY.offset, W.data, W.offset, DX.data, DX.offset);
    }

    @Override public void convBackwardFilter(ConvGeom g, int n, Buffer x, Buffer dy, Buffer dw, Buffer dBias, Buffer ws) {
        DoubleBuffer X = in(d(x), (long) n * g.inSize()), DY = in(d(dy), (long) n * g.outSize()), DW = d(dw);
        DoubleBuffer DB = dBias == null ? null : d(dBias);
        ScalarOps.convBackwardFilter(g, n, X.data, X.offset, DY.data, DY.offset, DW.data, DW.offset,
                DB == null ? null : DB.data, DB == null ? 0 : DB.offset);
    }

    @Override public void maxPoolForward(PoolGeom g, int n, Buffer x, Buffer y) {
        DoubleBuffer X = d(x), Y = d(y);
        ScalarOps.maxPoolForward(g, n, X.data, X.offset, Y.data, Y.offset);
    }

    @Override public void maxPoolBackward(PoolGeom g, int n, Buffer x, Buffer y, Buffer dy, Buffer dx) {
        DoubleBuffer X = d(x), DY = d(dy), DX = d(dx);
        ScalarOps.maxPoolBackward(g, n, X.data, X.offset, DY.data, DY.offset, DX.data, DX.offset);
    }

    @Override public void globalAvgPoolForward(int n, int c, int hw, Buffer x, Buffer y) {
        DoubleBuffer X = d(x), Y = d(y);
        ScalarOps.globalAvgPoolForward(n, c, hw, X.data, X.offset, Y.data, Y.offset);
    }

    @Override public void globalAvgPoolBackward(int n, int c, int hw, Buffer dy, Buffer dx) {
        DoubleBuffer DY = d(dy), DX = d(dx);
        ScalarOps.globalAvgPoolBackward(n, c, hw, DY.data, DY.offset, DX.data, DX.offset);
    }

    @Override public void batchNormForwardTraining(int n, int c, int hw, Buffer x, Buffer gamma, Buffer beta, Buffer y,
                                                   Buffer rm, Buffer rv, double momentum, double eps, boolean update,
                                                   Buffer sm, Buffer si) {
        DoubleBuffer X = d(x), G = d(gamma), B = d(beta), Y = d(y), RM = d(rm), RV = d(rv), SM = d(sm), SI = d(si);
        ScalarOps.batchNormForwardTraining(n, c, hw, X.data, X.offset, G.data, G.offset, B.data, B.offset, Y.data,
                Y.offset, RM.data, RM.offset, RV.data, RV.offset, momentum, eps, update, SM.data, SM.offset, SI.data, SI.offset);
    }

    @Override public void batchNormForwardInference(int n, int c, int hw, Buffer x, Buffer gamma, Buffer beta, Buffer y,
                                                    Buffer rm, Buffer rv, double eps) {
        DoubleBuffer X = d(x), G = d(gamma), B = d(beta), Y = d(y), RM = d(rm), RV = d(rv);
        ScalarOps.batchNormForwardInference(n, c, hw, X.data, X.offset, G.data, G.offset, B.data, B.offset, Y.data,
                Y.offset, RM.data, RM.offset, RV.data, RV.offset, eps);
    }

    @Override public void batchNormBackward(int n, int c, int hw, Buffer x, Buffer dy, Buffer gamma, Buffer sm, Buffer si,
                                            Buffer dx, Buffer dGamma, Buffer dBeta) {
        DoubleBuffer X = d(x), DY = d(dy), G = d(gamma), SM = d(sm), SI = d(si), DX = d(dx), DG = d(dGamma), DB = d(dBeta);
        ScalarOps.batchNormBackward(n, c, hw, X.data, X.offset, DY.data, DY.offset, G.data, G.offset, SM.data, SM.offset,
                SI.data, SI.offset, DX.data, DX.offset, DG.data, DG.offset, DB.data, DB.offset);
    }

    @Override public void softmaxCrossEntropy(int n, int classes, Buffer logits, Buffer labels, Buffer dLogits, Buffer loss) {
        DoubleBuffer L = d(logits), Y = d(labels), O = d(loss);
        DoubleBuffer DL = dLogits == null ? null : d(dLogits);
        ScalarOps.softmaxCrossEntropy(n, classes, L.data, L.offset, Y.data, Y.offset, DL == null ? null : DL.data,
                DL == null ? 0 : DL.offset, O.data, O.offset);
    }

    @Override public double sumOfSquares(Buffer x, long n) {
        DoubleBuffer X = d(x); need(X, n, "sumOfSquares input");
        return ScalarOps.sumOfSquares(X.data, X.offset, (int) n);
    }

    @Override public void sgdUpdate(Buffer w, Buffer g, Buffer m, long n, float lr, float mu, float wd, boolean nesterov) {
        DoubleBuffer W = d(w), G = d(g), M = d(m);
        ScalarOps.sgdUpdate(W.data, W.offset, G.data, G.offset, M.data, M.offset, (int) n, lr, mu, wd, nesterov);
    }

    @Override public double dot(Buffer a, Buffer b, long n) {
        DoubleBuffer A = d(a), B = d(b); need(A, n, "dot input"); need(B, n, "dot input");
        return ScalarOps.dot(A.data, A.offset, B.data, B.offset, (int) n);
    }

    @Override public void axpby(double alpha, Buffer x, double beta, Buffer y, Buffer out, long n) {
        DoubleBuffer X = d(x), Y = d(y), O = d(out);
        for (int i = 0; i < n; i++) O.data[O.offset + i] = alpha * X.data[X.offset + i] + beta * Y.data[Y.offset + i];
    }

    @Override public void samPerturb(Buffer w, Buffer g, Buffer ws, Buffer gs, long n, double scale) {
        DoubleBuffer W = d(w), G = d(g), WS = d(ws), GS = d(gs);
        ScalarOps.samPerturb(W.data, W.offset, G.data, G.offset, WS.data, WS.offset, GS.data, GS.offset, (int) n, scale);
    }

    @Override public double asamNormSquared(Buffer w, Buffer g, long n, double eta) {
        DoubleBuffer W = d(w), G = d(g);
        return ScalarOps.asamNormSquared(W.data, W.offset, G.data, G.offset, (int) n, eta);
    }

    @Override public void asamPerturb(Buffer w, Buffer g, Buffer ws, Buffer gs, long n, double scale, double eta) {
        DoubleBuffer W = d(w), G = d(g), WS = d(ws), GS = d(gs);
        ScalarOps.asamPerturb(W.data, W.offset, G.data, G.offset, WS.data, WS.offset, GS.data, GS.offset, (int) n, scale, eta);
    }

    @Override public void restoreSgdUpdate(Buffer w, Buffer ws, Buffer g, Buffer m, long n, float lr, float mu, float wd,
                                           boolean nesterov) {
        copy(ws, w, n);
        sgdUpdate(w, g, m, n, lr, mu, wd, nesterov);
    }

    @Override public void sgdUpdateWithDirection(Buffer w, Buffer g, Buffer v, double vScale, Buffer m, long n, float lr,
                                                 float mu, float wd, boolean nesterov) {
        DoubleBuffer W = d(w), G = d(g), V = d(v), M = d(m);
        ScalarOps.sgdUpdateWithDirection(W.data, W.offset, G.data, G.offset, V.data, V.offset, vScale, M.data, M.offset,
                (int) n, lr, mu, wd, nesterov);
    }

    @Override public void close() {}
}
