package dev.sam4j.backend.cpu;

import dev.sam4j.backend.ConvGeom;
import dev.sam4j.backend.PoolGeom;

/**
 * The plain reference: every operation as the simplest loops, in double precision, with offsets into
 * arrays. It is the oracle that the Vector API and CUDA versions are tested against and the engine of
 * the finite-difference gradient checks, so it favours obviousness over speed. Never delete it.
 */
public final class ScalarOps {
    private ScalarOps() {}

    public static void gemm(boolean ta, boolean tb, int m, int n, int k, double alpha, double[] a, int ao, int lda,
                            double[] b, int bo, int ldb, double beta, double[] c, int co, int ldc) {
        for (int i = 0; i < m; i++) {
            for (int j = 0; j < n; j++) {
                double s = 0;
                for (int p = 0; p < k; p++) {
                    double av = ta ? a[ao + p * lda + i] : a[ao + i * lda + p];
                    double bv = tb ? b[bo + j * ldb + p] : b[bo + p * ldb + j];
                    s += av * bv;
                }
                int ci = co + i * ldc + j;
                c[ci] = alpha * s + (beta == 0 ? 0 : beta * c[ci]);
            }
        }
    }

    public static void addRowBias(double[] y, int yo, double[] bias, int bo, int rows, int cols) {
        for (int r = 0; r < rows; r++) for (int c = 0; c < cols; c++) y[yo + r * cols + c] += bias[bo + c];
    }

    public static void sumRows(double[] dy, int yo, double[] db, int bo, int rows, int cols) {
        for (int c = 0; c < cols; c++) {
            double s = 0;
            for (int r = 0; r < rows; r++) s += dy[yo + r * cols + c];
            db[bo + c] = s;
        }
    }

    public static void convForward(ConvGeom g, int n, double[] x, int xo, double[] w, int wo, double[] bias, int bo,
                                   double[] y, int yo) {
        int oh = g.outH(), ow = g.outW();
        for (int b = 0; b < n; b++)
            for (int oc = 0; oc < g.outC(); oc++)
                for (int i = 0; i < oh; i++)
                    for (int j = 0; j < ow; j++) {
                        double s = bias == null ? 0 : bias[bo + oc];
                        for (int ic = 0; ic < g.inC(); ic++)
                            for (int ki = 0; ki < g.kH(); ki++)
                                for (int kj = 0; kj < g.kW(); kj++) {
                                    int hi = i * g.stride() - g.pad() + ki, wj = j * g.stride() - g.pad() + kj;
                                    if (hi < 0 || hi >= g.inH() || wj < 0 || wj >= g.inW()) continue;
                                    s += x[xo + ((b * g.inC() + ic) * g.inH() + hi) * g.inW() + wj]
                                            * w[wo + ((oc * g.inC() + ic) * g.kH() + ki) * g.kW() + kj];
                                }
                        y[yo + ((b * g.outC() + oc) * oh + i) * ow + j] = s;
                    }
    }

    public static void convBackwardData(ConvGeom g, int n, double[] dy, int dyo, double[] w, int wo, double[] dx, int dxo) {
        int oh = g.outH(), ow = g.outW();
        java.util.Arrays.fill(dx, dxo, dxo + n * g.inSize(), 0);
        for (int b = 0; b < n; b++)
            for (int oc = 0; oc < g.outC(); oc++)
                for (int i = 0; i < oh; i++)
                    for (int j = 0; j < ow; j++) {
                        double d = dy[dyo + ((b * g.outC() + oc) * oh + i) * ow + j];
                        for (int ic = 0; ic < g.inC(); ic++)
                            for (int ki = 0; ki < g.kH(); ki++)
                                for (int kj = 0; kj < g.kW(); kj++) {
                                    int hi = i * g.stride() - g.pad() + ki, wj = j * g.stride() - g.pad() + kj;
                                    if (hi < 0 || hi >= g.inH() || wj < 0 || wj >= g.inW()) continue;
                                    dx[dxo + ((b * g.inC() + ic) * g.inH() + hi) * g.inW() + wj]
                                            += d * w[wo + ((oc * g.inC() + ic) * g.kH() + ki) * g.kW() + kj];
                                }
                    }
    }

    public static void convBackwardFilter(ConvGeom g, int n, double[] x, int xo, double[] dy, int dyo, double[] dw, int dwo,
                                          double[] db, int dbo) {
        int oh = g.outH(), ow = g.outW();
        java.util.Arrays.fill(dw, dwo, dwo + g.weightSize(), 0);
        if (db != null) java.util.Arrays.fill(db, dbo, dbo + g.outC(), 0);
        for (int b = 0; b < n; b++)
            for (int oc = 0; oc < g.outC(); oc++)
                for (int i = 0; i < oh; i++)
                    for (int j = 0; j < ow; j++) {
                        double d = dy[dyo + ((b * g.outC() + oc) * oh + i) * ow + j];
                        if (db != null) db[dbo + oc] += d;
                        for (int ic = 0; ic < g.inC(); ic++)
                            for (int ki = 0; ki < g.kH(); ki++)
                                for (int kj = 0; kj < g.kW(); kj++) {
                                    int hi = i * g.stride() - g.pad() + ki, wj = j * g.stride() - g.pad() + kj;
                                    if (hi < 0 || hi >= g.inH() || wj < 0 || wj >= g.inW()) continue;
                                    dw[dwo + ((oc * g.inC() + ic) * g.kH() + ki) * g.kW() + kj]
                                            += d * x[xo + ((b * g.inC() + ic) * g.inH() + hi) * g.inW() + wj];
                                }
                    }
    }

    /** Index (within the input plane) of the first maximum of the window, or -1 if the window is all padding. */
    private static int argmaxWindow(PoolGeom g, double[] x, int plane, int i, int j) {
        int best = -1;
        double bv = Double.NEGATIVE_INFINITY;
        for (int ki = 0; ki < g.k(); ki++)
            for (int kj = 0; kj < g.k(); kj++) {
                int hi = i * g.stride() - g.pad() + ki, wj = j * g.stride() - g.pad() + kj;
                if (hi < 0 || hi >= g.h() || wj < 0 || wj >= g.w()) continue;
                double v = x[plane + hi * g.w() + wj];
                if (best < 0 || v > bv) { bv = v; best = hi * g.w() + wj; }
            }
        return best;
    }

    public static void maxPoolForward(PoolGeom g, int n, double[] x, int xo, double[] y, int yo) {
        int oh = g.outH(), ow = g.outW();
        for (int p = 0; p < n * g.channels(); p++)
            for (int i = 0; i < oh; i++)
                for (int j = 0; j < ow; j++) {
                    int plane = xo + p * g.h() * g.w();
                    y[yo + (p * oh + i) * ow + j] = x[plane + argmaxWindow(g, x, plane, i, j)];
                }
    }

    public static void maxPoolBackward(PoolGeom g, int n, double[] x, int xo, double[] dy, int dyo, double[] dx, int dxo) {
        int oh = g.outH(), ow = g.outW();
        java.util.Arrays.fill(dx, dxo, dxo + n * g.inSize(), 0);
        for (int p = 0; p < n * g.channels(); p++)
            for (int i = 0; i < oh; i++)
                for (int j = 0; j < ow; j++) {
                    int plane = xo + p * g.h() * g.w();
                    int at = argmaxWindow(g, x, plane, i, j);
                    dx[dxo + p * g.h() * g.w() + at] += dy[dyo + (p * oh + i) * ow + j];
                }
    }

    public static void globalAvgPoolForward(int n, int c, int hw, double[] x, int xo, double[] y, int yo) {
        for (int p = 0; p < n * c; p++) {
            double s = 0;
            for (int i = 0; i < hw; i++) s += x[xo + p * hw + i];
            y[yo + p] = s / hw;
        }
    }

    public static void globalAvgPoolBackward(int n, int c, int hw, double[] dy, int dyo, double[] dx, int dxo) {
        for (int p = 0; p < n * c; p++) for (int i = 0; i < hw; i++) dx[dxo + p * hw + i] = dy[dyo + p] / hw;
    }

    /** Mean and biased variance of channel {@code ch} over N, H, W (two passes). */
    static double[] channelStats(int n, int c, int hw, double[] x, int xo, int ch) {
        double s = 0;
        for (int b = 0; b < n; b++) for (int i = 0; i < hw; i++) s += x[xo + (b * c + ch) * hw + i];
        double mean = s / ((double) n * hw);
        double v = 0;
        for (int b = 0; b < n; b++) for (int i = 0; i < hw; i++) { double d = x[xo + (b * c + ch) * hw + i] - mean; v += d * d; }
        return new double[] {mean, v / ((double) n * hw)};
    }

    public static void batchNormForwardTraining(int n, int c, int hw, double[] x, int xo, double[] gamma, int go,
                                                double[] beta, int bo, double[] y, int yo, double[] rm, int rmo,
                                                double[] rv, int rvo, double momentum, double eps, boolean update,
                                                double[] sm, int smo, double[] si, int sio) {
        long count = (long) n * hw;
        for (int ch = 0; ch < c; ch++) {
            double[] st = channelStats(n, c, hw, x, xo, ch);
            double inv = 1.0 / Math.sqrt(st[1] + eps);
            for (int b = 0; b < n; b++)
                for (int i = 0; i < hw; i++) {
                    int at = (b * c + ch) * hw + i;
                    y[yo + at] = (x[xo + at] - st[0]) * inv * gamma[go + ch] + beta[bo + ch];
                }
            sm[smo + ch] = st[0];
            si[sio + ch] = inv;
            if (update) {
                double unbiased = count > 1 ? st[1] * count / (count - 1) : st[1];
                rm[rmo + ch] = (1 - momentum) * rm[rmo + ch] + momentum * st[0];
                rv[rvo + ch] = (1 - momentum) * rv[rvo + ch] + momentum * unbiased;
            }
        }
    }

    public static void batchNormForwardInference(int n, int c, int hw, double[] x, int xo, double[] gamma, int go,
                                                 double[] beta, int bo, double[] y, int yo, double[] rm, int rmo,
                                                 double[] rv, int rvo, double eps) {
        for (int ch = 0; ch < c; ch++) {
            double inv = 1.0 / Math.sqrt(rv[rvo + ch] + eps);
            for (int b = 0; b < n; b++)
                for (int i = 0; i < hw; i++) {
                    int at = (b * c + ch) * hw + i;
                    y[yo + at] = (x[xo + at] - rm[rmo + ch]) * inv * gamma[go + ch] + beta[bo + ch];
                }
        }
    }

    public static void batchNormBackward(int n, int c, int hw, double[] x, int xo, double[] dy, int dyo, double[] gamma,
                                         int go, double[] sm, int smo, double[] si, int sio, double[] dx, int dxo,
                                         double[] dg, int dgo, double[] db, int dbo) {
        double m = (double) n * hw;
        for (int ch = 0; ch < c; ch++) {
            double mean = sm[smo + ch], inv = si[sio + ch];
            double sumDy = 0, sumDyXhat = 0;
            for (int b = 0; b < n; b++)
                for (int i = 0; i < hw; i++) {
                    int at = (b * c + ch) * hw + i;
                    double xhat = (x[xo + at] - mean) * inv;
                    sumDy += dy[dyo + at];
                    sumDyXhat += dy[dyo + at] * xhat;
                }
            dg[dgo + ch] = sumDyXhat;
            db[dbo + ch] = sumDy;
            double gInv = gamma[go + ch] * inv;
            for (int b = 0; b < n; b++)
                for (int i = 0; i < hw; i++) {
                    int at = (b * c + ch) * hw + i;
                    double xhat = (x[xo + at] - mean) * inv;
                    dx[dxo + at] = gInv * (dy[dyo + at] - sumDy / m - xhat * sumDyXhat / m);
                }
        }
    }

    /** Validates a float-coded class label; shared by every CPU implementation. */
    public static int label(double v, int classes, int row) {
        int y = (int) v;
        if (y != v || y < 0 || y >= classes) {
            throw new IllegalArgumentException("label " + v + " of example " + row + " is not a class in [0, " + classes + ")");
        }
        return y;
    }

    public static void softmaxCrossEntropy(int n, int classes, double[] logits, int lo, double[] labels, int yo,
                                           double[] dl, int dlo, double[] loss, int losso) {
        for (int r = 0; r < n; r++) {
            int y = label(labels[yo + r], classes, r);
            int row = lo + r * classes;
            double max = Double.NEGATIVE_INFINITY;
            for (int j = 0; j < classes; j++) max = Math.max(max, logits[row + j]);
            double sum = 0;
            for (int j = 0; j < classes; j++) sum += Math.exp(logits[row + j] - max);
            double lse = max + Math.log(sum);
            loss[losso + r] = lse - logits[row + y];
            if (dl != null) {
                for (int j = 0; j < classes; j++) {
                    double p = Math.exp(logits[row + j] - lse);
                    dl[dlo + r * classes + j] = (p - (j == y ? 1 : 0)) / n;
                }
            }
        }
    }

    public static double sumOfSquares(double[] x, int xo, int n) {
        double s = 0;
        for (int i = 0; i < n; i++) s += x[xo + i] * x[xo + i];
        return s;
    }

    public static void sgdUpdate(double[] w, int wo, double[] g, int go, double[] m, int mo, int n, double lr,
                                 double mu, double wd, boolean nesterov) {
        for (int i = 0; i < n; i++) {
            double d = g[go + i] + wd * w[wo + i];
            double mi = mu * m[mo + i] + d;
            m[mo + i] = mi;
            w[wo + i] -= lr * (nesterov ? d + mu * mi : mi);
        }
    }

    public static double dot(double[] a, int ao, double[] b, int bo, int n) {
        double s = 0;
        for (int i = 0; i < n; i++) s += a[ao + i] * b[bo + i];
        return s;
    }

    public static void samPerturb(double[] w, int wo, double[] g, int go, double[] ws, int wso, double[] gs, int gso, int n,
                                  double scale) {
        for (int i = 0; i < n; i++) {
            ws[wso + i] = w[wo + i];
            gs[gso + i] = g[go + i];
            w[wo + i] += scale * g[go + i];
        }
    }

    public static double asamNormSquared(double[] w, int wo, double[] g, int go, int n, double eta) {
        double s = 0;
        for (int i = 0; i < n; i++) {
            double t = (Math.abs(w[wo + i]) + eta) * g[go + i];
            s += t * t;
        }
        return s;
    }

    public static void asamPerturb(double[] w, int wo, double[] g, int go, double[] ws, int wso, double[] gs, int gso, int n,
                                   double scale, double eta) {
        for (int i = 0; i < n; i++) {
            double wi = w[wo + i], t = Math.abs(wi) + eta;
            ws[wso + i] = wi;
            gs[gso + i] = g[go + i];
            w[wo + i] = wi + scale * t * t * g[go + i];
        }
    }

    public static void sgdUpdateWithDirection(double[] w, int wo, double[] g, int go, double[] v, int vo, double vScale,
                                              double[] m, int mo, int n, double lr, double mu, double wd, boolean nesterov) {
        for (int i = 0; i < n; i++) {
            double d = g[go + i] + vScale * v[vo + i] + wd * w[wo + i];
            double mi = mu * m[mo + i] + d;
            m[mo + i] = mi;
            w[wo + i] -= lr * (nesterov ? d + mu * mi : mi);
        }
    }
}
