package dev.sam4j.backend.cpu;

import jdk.incubator.vector.DoubleVector;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.IntVector;
import jdk.incubator.vector.VectorOperators;
import jdk.incubator.vector.VectorShape;
import jdk.incubator.vector.VectorSpecies;

/**
 * Vector API kernels on {@code float[]} + offset ranges, single-threaded; {@link CpuBackend} splits
 * large ranges into fixed chunks and runs them on its pool. Every kernel has a scalar tail that performs
 * exactly the same IEEE operations as its vector body, so an element's result never depends on whether
 * it falls in the body or the tail (that is, on where a chunk boundary lies).
 *
 * <p>Reductions never use {@code reduceLanes(ADD)} on floating point: its lane order is unspecified and
 * the interpreter's fallback differs from the compiled intrinsic, which would make a result depend on
 * JIT warm-up. Lanes are instead spilled to an array and added in index order.
 */
final class VectorOps {
    private VectorOps() {}

    static final VectorSpecies<Float> F = VectorWidths.FLOATS;
    static final int L = F.length();
    /** Doubles per vector at the same bit width as {@link #F}: half as many lanes. */
    static final VectorSpecies<Double> D = VectorSpecies.of(double.class, F.vectorShape());
    static final int LD = D.length();
    /**
     * Floats per vector at half the bit width of {@link #D}: as many lanes as {@link #D}, so that a
     * reduction widens each half-width load lane for lane ({@code convertShape(F2D, D, 0)}, same lane
     * count). Widening one full-width vector into parts 0 and 1 instead is intrinsified by C2 at 256 bits
     * but not at 512, where it allocated on every call.
     */
    static final VectorSpecies<Float> H = VectorSpecies.of(float.class, VectorShape.forBitSize(D.vectorBitSize() / 2));
    // The loops widen [i, i + LD) into the first accumulator and [i + LD, i + L) into the second: the same
    // elements per accumulator as parts 0 and 1 of one full-width vector had, so no result changes. The
    // conversion is written out at each use, not in a helper: a helper that C2 declines to inline returns
    // its vector boxed, which allocated in the step when these kernels ran after many others in one JVM.

    // ---- elementwise ----

    static void relu(float[] x, int xo, float[] y, int yo, int n) {
        int i = 0;
        FloatVector zero = FloatVector.zero(F);
        for (int ub = F.loopBound(n); i < ub; i += L) FloatVector.fromArray(F, x, xo + i).max(zero).intoArray(y, yo + i);
        for (; i < n; i++) y[yo + i] = Math.max(x[xo + i], 0f);
    }

    /** {@code dx = y > 0 ? dy : 0}. NaN in {@code y} gives 0, as in the reference. */
    static void reluBackward(float[] y, int yo, float[] dy, int dyo, float[] dx, int dxo, int n) {
        int i = 0;
        FloatVector zero = FloatVector.zero(F);
        for (int ub = F.loopBound(n); i < ub; i += L) {
            FloatVector yv = FloatVector.fromArray(F, y, yo + i);
            FloatVector g = FloatVector.fromArray(F, dy, dyo + i);
            zero.blend(g, yv.compare(VectorOperators.GT, 0f)).intoArray(dx, dxo + i);
        }
        for (; i < n; i++) dx[dxo + i] = y[yo + i] > 0f ? dy[dyo + i] : 0f;
    }

    static void add(float[] a, int ao, float[] b, int bo, float[] out, int oo, int n) {
        int i = 0;
        for (int ub = F.loopBound(n); i < ub; i += L) {
            FloatVector.fromArray(F, a, ao + i).add(FloatVector.fromArray(F, b, bo + i)).intoArray(out, oo + i);
        }
        for (; i < n; i++) out[oo + i] = a[ao + i] + b[bo + i];
    }

    /**
     * {@code y = x} rounded to nearest, ties to even, to a format with fp32's exponent and {@code 23 − drop}
     * mantissa bits (drop 16: bf16, 13: TF32), on the bits: adding {@code 2^(drop−1) − 1} plus the lowest kept
     * bit and clearing the dropped bits rounds up exactly when the dropped part is above half, or half with an
     * odd kept part; a carry moves into the exponent (so the largest finite values round to infinity and
     * subnormals into normals) as the format's own rounding does. NaN is passed through unchanged, since the
     * carry could otherwise turn a NaN whose payload lies only in the dropped bits into infinity. {@code y} may
     * alias {@code x}; {@code drop} is in [1, 23].
     */
    static void roundMantissa(float[] x, int xo, float[] y, int yo, int n, int drop) {
        int half = (1 << (drop - 1)) - 1, keep = -(1 << drop);
        int i = 0;
        for (int ub = F.loopBound(n); i < ub; i += L) {
            FloatVector v = FloatVector.fromArray(F, x, xo + i);
            IntVector b = v.reinterpretAsInts();
            IntVector lsb = b.lanewise(VectorOperators.LSHR, drop).and(1);
            FloatVector r = b.add(half).add(lsb).and(keep).reinterpretAsFloats();
            r.blend(v, v.test(VectorOperators.IS_NAN)).intoArray(y, yo + i);
        }
        for (; i < n; i++) y[yo + i] = roundMantissa(x[xo + i], drop, half, keep);
    }

    /** The scalar body of {@link #roundMantissa(float[], int, float[], int, int, int)}: the same bit operations. */
    static float roundMantissa(float v, int drop, int half, int keep) {
        if (Float.isNaN(v)) return v;
        int b = Float.floatToRawIntBits(v);
        return Float.intBitsToFloat((b + half + ((b >>> drop) & 1)) & keep);
    }

    /** {@code y[i] += v} for {@code n} elements. */
    static void addScalar(float[] y, int yo, float v, int n) {
        int i = 0;
        FloatVector s = FloatVector.broadcast(F, v);
        for (int ub = F.loopBound(n); i < ub; i += L) FloatVector.fromArray(F, y, yo + i).add(s).intoArray(y, yo + i);
        for (; i < n; i++) y[yo + i] += v;
    }

    /** {@code y = (x − mean)·scale + shift} (no FMA, identically in body and tail). */
    static void normalize(float[] x, int xo, float[] y, int yo, float mean, float scale, float shift, int n) {
        int i = 0;
        FloatVector m = FloatVector.broadcast(F, mean), sc = FloatVector.broadcast(F, scale), sh = FloatVector.broadcast(F, shift);
        for (int ub = F.loopBound(n); i < ub; i += L) {
            FloatVector.fromArray(F, x, xo + i).sub(m).mul(sc).add(sh).intoArray(y, yo + i);
        }
        for (; i < n; i++) y[yo + i] = (x[xo + i] - mean) * scale + shift;
    }

    static void fill(float[] y, int yo, float v, int n) {
        java.util.Arrays.fill(y, yo, yo + n, v);
    }

    /** {@code y[r, c] += bias[c]} over {@code rows × cols}. */
    static void addRowBias(float[] y, int yo, float[] bias, int bo, int rows, int cols) {
        for (int r = 0; r < rows; r++) add(y, yo + r * cols, bias, bo, y, yo + r * cols, cols);
    }

    /**
     * Column sums {@code out[c] = Σ_r m[r, c]} for columns {@code [c0, c1)}, rows added in order 0, 1, ...
     * in float. The order per column is fixed, so splitting columns across threads cannot change a bit.
     */
    static void sumRows(float[] m, int mo, int rows, int cols, int c0, int c1, float[] out, int oo) {
        // Row by row into out through add(), not a vector loop of its own: the vector code is then the
        // small fixed-shape loop that add#12 and addRowBias#17 already keep in registers, compiled once,
        // whether C2 inlines it here or calls it. A vector loop nested inside this method's row loop was
        // sometimes compiled with its vector boxed (an OSR compile, or a compile whose Vector API calls
        // were not all inlined), 0.8 MB per call of 100 × 1,000 at 128 bits (CpuBackendAllocationTest
        // under load). Per column the additions stay 0 + m[0, c] + m[1, c] + ... in float, in the vector
        // body and add()'s scalar tail alike, so no result changes.
        int n = c1 - c0;
        if (n <= 0) return;
        java.util.Arrays.fill(out, oo + c0, oo + c1, 0f);
        for (int r = 0; r < rows; r++) add(out, oo + c0, m, mo + r * cols + c0, out, oo + c0, n);
    }

    // ---- reductions (double accumulation, fixed order) ----

    /**
     * {@code Σ x²} over {@code n} elements, each square and sum taken in double (floats widen exactly),
     * in {@code 2·LD} double lanes that are added in index order at the end: the result depends only on
     * the data and {@code n}.
     */
    static double sumOfSquares(float[] x, int xo, int n, double[] lanes) {
        DoubleVector a0 = DoubleVector.zero(D), a1 = a0;
        int i = 0;
        for (int ub = F.loopBound(n); i < ub; i += L) {
            DoubleVector lo = (DoubleVector) FloatVector.fromArray(H, x, xo + i).convertShape(VectorOperators.F2D, D, 0);
            DoubleVector hi = (DoubleVector) FloatVector.fromArray(H, x, xo + i + LD).convertShape(VectorOperators.F2D, D, 0);
            a0 = lo.fma(lo, a0);
            a1 = hi.fma(hi, a1);
        }
        double s = combine(a0, a1, lanes);
        for (; i < n; i++) {
            double v = x[xo + i];
            s += v * v;
        }
        return s;
    }

    /** {@code Σ x} in double lanes (see {@link #sumOfSquares}). */
    static double sum(float[] x, int xo, int n, double[] lanes) {
        DoubleVector a0 = DoubleVector.zero(D), a1 = a0;
        int i = 0;
        for (int ub = F.loopBound(n); i < ub; i += L) {
            a0 = a0.add((DoubleVector) FloatVector.fromArray(H, x, xo + i).convertShape(VectorOperators.F2D, D, 0));
            a1 = a1.add((DoubleVector) FloatVector.fromArray(H, x, xo + i + LD).convertShape(VectorOperators.F2D, D, 0));
        }
        double s = combine(a0, a1, lanes);
        for (; i < n; i++) s += x[xo + i];
        return s;
    }

    /** {@code Σ (x − mean)²} in double lanes. */
    static double sumSquaredDeviations(float[] x, int xo, int n, double mean, double[] lanes) {
        DoubleVector a0 = DoubleVector.zero(D), a1 = a0, mv = DoubleVector.broadcast(D, mean);
        int i = 0;
        for (int ub = F.loopBound(n); i < ub; i += L) {
            DoubleVector lo = (DoubleVector) FloatVector.fromArray(H, x, xo + i).convertShape(VectorOperators.F2D, D, 0).sub(mv);
            DoubleVector hi = (DoubleVector) FloatVector.fromArray(H, x, xo + i + LD).convertShape(VectorOperators.F2D, D, 0).sub(mv);
            a0 = lo.fma(lo, a0);
            a1 = hi.fma(hi, a1);
        }
        double s = combine(a0, a1, lanes);
        for (; i < n; i++) {
            double d = x[xo + i] - mean;
            s += d * d;
        }
        return s;
    }

    /**
     * Batch-norm backward sums over one plane: {@code out[0] += Σ dy}, {@code out[1] += Σ dy·(x − mean)},
     * in double lanes.
     */
    static void dySums(float[] x, int xo, float[] dy, int dyo, int n, double mean, double[] lanes, double[] out) {
        DoubleVector s0 = DoubleVector.zero(D), s1 = s0, t0 = s0, t1 = s0, mv = DoubleVector.broadcast(D, mean);
        int i = 0;
        for (int ub = F.loopBound(n); i < ub; i += L) {
            DoubleVector g0 = (DoubleVector) FloatVector.fromArray(H, dy, dyo + i).convertShape(VectorOperators.F2D, D, 0);
            DoubleVector g1 = (DoubleVector) FloatVector.fromArray(H, dy, dyo + i + LD).convertShape(VectorOperators.F2D, D, 0);
            DoubleVector x0 = (DoubleVector) FloatVector.fromArray(H, x, xo + i).convertShape(VectorOperators.F2D, D, 0).sub(mv);
            DoubleVector x1 = (DoubleVector) FloatVector.fromArray(H, x, xo + i + LD).convertShape(VectorOperators.F2D, D, 0).sub(mv);
            s0 = s0.add(g0);
            s1 = s1.add(g1);
            t0 = g0.fma(x0, t0);
            t1 = g1.fma(x1, t1);
        }
        s0.intoArray(lanes, 0);
        s1.intoArray(lanes, LD);
        double s = 0;
        for (int j = 0; j < 2 * LD; j++) s += lanes[j];
        t0.intoArray(lanes, 0);
        t1.intoArray(lanes, LD);
        double t = 0;
        for (int j = 0; j < 2 * LD; j++) t += lanes[j];
        for (; i < n; i++) {
            double g = dy[dyo + i];
            s += g;
            t += g * (x[xo + i] - mean);
        }
        out[0] += s;
        out[1] += t;
    }

    /** Batch-norm backward: {@code dx = a·dy + b·(x − mean) + c} (per-channel constants folded by the caller). */
    static void bnBackwardPlane(float[] dy, int dyo, float[] x, int xo, float[] dx, int dxo, float mean, float a, float b,
                                float c, int n) {
        int i = 0;
        FloatVector mv = FloatVector.broadcast(F, mean), av = FloatVector.broadcast(F, a), bv = FloatVector.broadcast(F, b),
                cv = FloatVector.broadcast(F, c);
        for (int ub = F.loopBound(n); i < ub; i += L) {
            FloatVector g = FloatVector.fromArray(F, dy, dyo + i), xv = FloatVector.fromArray(F, x, xo + i);
            g.mul(av).add(xv.sub(mv).mul(bv)).add(cv).intoArray(dx, dxo + i);
        }
        for (; i < n; i++) dx[dxo + i] = dy[dyo + i] * a + (x[xo + i] - mean) * b + c;
    }

    // ---- optimizer ----

    /**
     * SGD with momentum and weight decay, PyTorch convention: {@code d = g + wd·w; m = μ·m + d;
     * w −= lr·(nesterov ? d + μ·m : m)}, each product and sum rounded separately (no FMA) in body and tail.
     */
    static void sgd(float[] w, int wo, float[] g, int go, float[] m, int mo, int n, float lr, float mu, float wd,
                    boolean nesterov) {
        int i = 0;
        FloatVector lrv = FloatVector.broadcast(F, lr), muv = FloatVector.broadcast(F, mu), wdv = FloatVector.broadcast(F, wd);
        // Two loops, not `nesterov ? a : b` on vectors: a vector chosen through a branch can be boxed (see Sgemm).
        if (nesterov) {
            for (int ub = F.loopBound(n); i < ub; i += L) {
                FloatVector wv = FloatVector.fromArray(F, w, wo + i);
                FloatVector d = FloatVector.fromArray(F, g, go + i).add(wv.mul(wdv));
                FloatVector mv = FloatVector.fromArray(F, m, mo + i).mul(muv).add(d);
                mv.intoArray(m, mo + i);
                wv.sub(d.add(mv.mul(muv)).mul(lrv)).intoArray(w, wo + i);
            }
        } else {
            for (int ub = F.loopBound(n); i < ub; i += L) {
                FloatVector wv = FloatVector.fromArray(F, w, wo + i);
                FloatVector d = FloatVector.fromArray(F, g, go + i).add(wv.mul(wdv));
                FloatVector mv = FloatVector.fromArray(F, m, mo + i).mul(muv).add(d);
                mv.intoArray(m, mo + i);
                wv.sub(mv.mul(lrv)).intoArray(w, wo + i);
            }
        }
        for (; i < n; i++) {
            float wi = w[wo + i];
            float d = g[go + i] + wi * wd;
            float mi = m[mo + i] * mu + d;
            m[mo + i] = mi;
            float step = nesterov ? d + mi * mu : mi;
            w[wo + i] = wi - step * lr;
        }
    }

    /** Adds the two accumulators' lanes in index order: the fixed final step of every lane reduction here. */
    private static double combine(DoubleVector a0, DoubleVector a1, double[] lanes) {
        a0.intoArray(lanes, 0);
        a1.intoArray(lanes, LD);
        double s = 0;
        for (int j = 0; j < 2 * LD; j++) s += lanes[j];
        return s;
    }

    /** {@code Σ a·b} in double lanes, fixed order (see {@link #sumOfSquares}). */
    static double dot(float[] a, int ao, float[] b, int bo, int n, double[] lanes) {
        DoubleVector a0 = DoubleVector.zero(D), a1 = a0;
        int i = 0;
        for (int ub = F.loopBound(n); i < ub; i += L) {
            DoubleVector u0 = (DoubleVector) FloatVector.fromArray(H, a, ao + i).convertShape(VectorOperators.F2D, D, 0);
            DoubleVector u1 = (DoubleVector) FloatVector.fromArray(H, a, ao + i + LD).convertShape(VectorOperators.F2D, D, 0);
            DoubleVector v0 = (DoubleVector) FloatVector.fromArray(H, b, bo + i).convertShape(VectorOperators.F2D, D, 0);
            DoubleVector v1 = (DoubleVector) FloatVector.fromArray(H, b, bo + i + LD).convertShape(VectorOperators.F2D, D, 0);
            a0 = u0.fma(v0, a0);
            a1 = u1.fma(v1, a1);
        }
        double s = combine(a0, a1, lanes);
        for (; i < n; i++) s += (double) a[ao + i] * b[bo + i];
        return s;
    }

    /** ASAM's {@code Σ ((|w| + η)·g)²}: the product in float, its square and the sum in double lanes, fixed order. */
    static double asamNormSquared(float[] w, int wo, float[] g, int go, int n, float eta, double[] lanes) {
        DoubleVector a0 = DoubleVector.zero(D), a1 = a0;
        FloatVector etav = FloatVector.broadcast(H, eta);
        int i = 0;
        for (int ub = F.loopBound(n); i < ub; i += L) {
            // The float product per half-width vector: the same IEEE operations per element as a full-width one.
            FloatVector t0 = FloatVector.fromArray(H, w, wo + i).abs().add(etav).mul(FloatVector.fromArray(H, g, go + i));
            FloatVector t1 = FloatVector.fromArray(H, w, wo + i + LD).abs().add(etav).mul(FloatVector.fromArray(H, g, go + i + LD));
            DoubleVector lo = (DoubleVector) t0.convertShape(VectorOperators.F2D, D, 0);
            DoubleVector hi = (DoubleVector) t1.convertShape(VectorOperators.F2D, D, 0);
            a0 = lo.fma(lo, a0);
            a1 = hi.fma(hi, a1);
        }
        double s = combine(a0, a1, lanes);
        for (; i < n; i++) {
            double t = (Math.abs(w[wo + i]) + eta) * g[go + i];
            s += t * t;
        }
        return s;
    }

    /** {@code out = α·x + β·y}, products and sum rounded separately (body and tail agree bit for bit). */
    static void axpby(float alpha, float[] x, int xo, float beta, float[] y, int yo, float[] out, int oo, int n) {
        FloatVector av = FloatVector.broadcast(F, alpha), bv = FloatVector.broadcast(F, beta);
        int i = 0;
        for (int ub = F.loopBound(n); i < ub; i += L) {
            FloatVector.fromArray(F, x, xo + i).mul(av).add(FloatVector.fromArray(F, y, yo + i).mul(bv)).intoArray(out, oo + i);
        }
        for (; i < n; i++) out[oo + i] = x[xo + i] * alpha + y[yo + i] * beta;
    }

    /**
     * SAM's perturbation in one pass: {@code ws = w; gs = g; w = w + scale·g} (or, when {@code adaptive},
     * ASAM's {@code w + scale·(|w| + η)²·g}). One loop per variant: a vector chosen through a branch can be
     * boxed (see {@link Sgemm}), which would allocate in the step.
     */
    static void perturb(float[] w, int wo, float[] g, int go, float[] ws, int wso, float[] gs, int gso, int n, float scale,
                        boolean adaptive, float eta) {
        // One method per variant's vector loop (both loops in one method were compiled with a boxed vector at
        // 128 bits: 1.6 MB per call of 100,000 elements; CpuBackendAllocationTest).
        int i = adaptive ? perturbAdaptive(w, wo, g, go, ws, wso, gs, gso, n, scale, eta)
                : perturbPlain(w, wo, g, go, ws, wso, gs, gso, n, scale);
        for (; i < n; i++) {
            float wi = w[wo + i], gi = g[go + i];
            ws[wso + i] = wi;
            gs[gso + i] = gi;
            float e = gi * scale;
            if (adaptive) {
                float t = Math.abs(wi) + eta;
                e = e * (t * t);
            }
            w[wo + i] = wi + e;
        }
    }

    /** The vector body of {@link #perturb}, ASAM's variant; returns the elements done. */
    private static int perturbAdaptive(float[] w, int wo, float[] g, int go, float[] ws, int wso, float[] gs, int gso, int n,
                                       float scale, float eta) {
        FloatVector sv = FloatVector.broadcast(F, scale), etav = FloatVector.broadcast(F, eta);
        int i = 0;
        for (int ub = F.loopBound(n); i < ub; i += L) {
            FloatVector wv = FloatVector.fromArray(F, w, wo + i), gv = FloatVector.fromArray(F, g, go + i);
            wv.intoArray(ws, wso + i);
            gv.intoArray(gs, gso + i);
            FloatVector t = wv.abs().add(etav);
            wv.add(gv.mul(sv).mul(t.mul(t))).intoArray(w, wo + i);
        }
        return i;
    }

    /** The vector body of {@link #perturb}, SAM's variant; returns the elements done. */
    private static int perturbPlain(float[] w, int wo, float[] g, int go, float[] ws, int wso, float[] gs, int gso, int n,
                                    float scale) {
        FloatVector sv = FloatVector.broadcast(F, scale);
        int i = 0;
        for (int ub = F.loopBound(n); i < ub; i += L) {
            FloatVector wv = FloatVector.fromArray(F, w, wo + i), gv = FloatVector.fromArray(F, g, go + i);
            wv.intoArray(ws, wso + i);
            gv.intoArray(gs, gso + i);
            wv.add(gv.mul(sv)).intoArray(w, wo + i);
        }
        return i;
    }

    /**
     * The SGD update of {@link #sgd}, reading the weights from {@code src} (the saved copy, for SAM's exact
     * restore; {@code src == w} for a plain update) and the gradient {@code g + vScale·v} when {@code v} is not
     * null (LookSAM's reuse). With {@code v == null} every element is computed exactly as {@link #sgd} computes
     * it, so restore + update is bit-identical to copy + update. One vector loop per variant (no vector chosen
     * through a branch, which could be boxed and allocate).
     */
    static void sgdFrom(float[] src, int so, float[] w, int wo, float[] g, int go, float[] v, int vo, float vScale, float[] m,
                        int mo, int n, float lr, float mu, float wd, boolean nesterov) {
        // One method per variant, each one loop: with the four loops in one method C2 compiled it, after other
        // tests had run in the same JVM, with a vector boxed per iteration (1.2 MB per call of 100,000 elements,
        // sgdUpdateWithDirection; seen in CpuBackendAllocationTest). Small methods compile whole.
        int i;
        if (v == null && !nesterov) i = sgdFromPlain(src, so, w, wo, g, go, m, mo, n, lr, mu, wd);
        else if (v == null) i = sgdFromNesterov(src, so, w, wo, g, go, m, mo, n, lr, mu, wd);
        else if (!nesterov) i = sgdFromDirection(src, so, w, wo, g, go, v, vo, vScale, m, mo, n, lr, mu, wd);
        else i = sgdFromDirectionNesterov(src, so, w, wo, g, go, v, vo, vScale, m, mo, n, lr, mu, wd);
        for (; i < n; i++) {
            float wi = src[so + i];
            float gi = g[go + i];
            if (v != null) gi = gi + v[vo + i] * vScale;
            float d = gi + wi * wd;
            float mi = m[mo + i] * mu + d;
            m[mo + i] = mi;
            float step = nesterov ? d + mi * mu : mi;
            w[wo + i] = wi - step * lr;
        }
    }

    /** The vector body of {@link #sgdFrom} without {@code v}, plain momentum; returns the elements done. */
    private static int sgdFromPlain(float[] src, int so, float[] w, int wo, float[] g, int go, float[] m, int mo, int n,
                                    float lr, float mu, float wd) {
        FloatVector lrv = FloatVector.broadcast(F, lr), muv = FloatVector.broadcast(F, mu), wdv = FloatVector.broadcast(F, wd);
        int i = 0;
        for (int ub = F.loopBound(n); i < ub; i += L) {
            FloatVector wv = FloatVector.fromArray(F, src, so + i);
            FloatVector d = FloatVector.fromArray(F, g, go + i).add(wv.mul(wdv));
            FloatVector mv = FloatVector.fromArray(F, m, mo + i).mul(muv).add(d);
            mv.intoArray(m, mo + i);
            wv.sub(mv.mul(lrv)).intoArray(w, wo + i);
        }
        return i;
    }

    /** Without {@code v}, Nesterov. */
    private static int sgdFromNesterov(float[] src, int so, float[] w, int wo, float[] g, int go, float[] m, int mo, int n,
                                       float lr, float mu, float wd) {
        FloatVector lrv = FloatVector.broadcast(F, lr), muv = FloatVector.broadcast(F, mu), wdv = FloatVector.broadcast(F, wd);
        int i = 0;
        for (int ub = F.loopBound(n); i < ub; i += L) {
            FloatVector wv = FloatVector.fromArray(F, src, so + i);
            FloatVector d = FloatVector.fromArray(F, g, go + i).add(wv.mul(wdv));
            FloatVector mv = FloatVector.fromArray(F, m, mo + i).mul(muv).add(d);
            mv.intoArray(m, mo + i);
            wv.sub(d.add(mv.mul(muv)).mul(lrv)).intoArray(w, wo + i);
        }
        return i;
    }

    /** With {@code g + vScale·v}, plain momentum. */
    private static int sgdFromDirection(float[] src, int so, float[] w, int wo, float[] g, int go, float[] v, int vo,
                                        float vScale, float[] m, int mo, int n, float lr, float mu, float wd) {
        FloatVector lrv = FloatVector.broadcast(F, lr), muv = FloatVector.broadcast(F, mu), wdv = FloatVector.broadcast(F, wd);
        FloatVector vsv = FloatVector.broadcast(F, vScale);
        int i = 0;
        for (int ub = F.loopBound(n); i < ub; i += L) {
            FloatVector wv = FloatVector.fromArray(F, src, so + i);
            FloatVector d = FloatVector.fromArray(F, g, go + i).add(FloatVector.fromArray(F, v, vo + i).mul(vsv))
                    .add(wv.mul(wdv));
            FloatVector mv = FloatVector.fromArray(F, m, mo + i).mul(muv).add(d);
            mv.intoArray(m, mo + i);
            wv.sub(mv.mul(lrv)).intoArray(w, wo + i);
        }
        return i;
    }

    /** With {@code g + vScale·v}, Nesterov. */
    private static int sgdFromDirectionNesterov(float[] src, int so, float[] w, int wo, float[] g, int go, float[] v, int vo,
                                                float vScale, float[] m, int mo, int n, float lr, float mu, float wd) {
        FloatVector lrv = FloatVector.broadcast(F, lr), muv = FloatVector.broadcast(F, mu), wdv = FloatVector.broadcast(F, wd);
        FloatVector vsv = FloatVector.broadcast(F, vScale);
        int i = 0;
        for (int ub = F.loopBound(n); i < ub; i += L) {
            FloatVector wv = FloatVector.fromArray(F, src, so + i);
            FloatVector d = FloatVector.fromArray(F, g, go + i).add(FloatVector.fromArray(F, v, vo + i).mul(vsv))
                    .add(wv.mul(wdv));
            FloatVector mv = FloatVector.fromArray(F, m, mo + i).mul(muv).add(d);
            mv.intoArray(m, mo + i);
            wv.sub(d.add(mv.mul(muv)).mul(lrv)).intoArray(w, wo + i);
        }
        return i;
    }
}
