package dev.sam4j.nn;

import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.sam4j.backend.Buffer;
import dev.sam4j.backend.cpu.ReferenceBackend;
import dev.sam4j.tensor.ParamLayout;
import dev.sam4j.tensor.ParamSpec;
import dev.sam4j.tensor.Role;
import dev.sam4j.tensor.Shape;
import java.util.SplittableRandom;
import java.util.function.DoubleSupplier;

/**
 * Finite-difference gradient checking of one layer on the double-precision reference backend. The scalar
 * loss is {@code L = Σ r ⊙ y} for a fixed random {@code r}, so {@code dL/dy = r} is what backward receives.
 */
final class GradCheck {
    /**
     * Central-difference step. Measured on these tests: at 1e-6 the rounding noise of the forward pass
     * (about 1e-9 absolute) gives relative errors up to 6e-7 even for layers linear in the checked
     * variable, while at 1e-5 the truncation error (h^2/6 times the third derivative) stays near 1e-11
     * and the errors stay below 1e-7.
     */
    static final double H = 1e-5;
    static final double TOLERANCE = 1e-6;

    final ReferenceBackend be = new ReferenceBackend();
    final Layer layer;
    final Shape in, out;
    final int n;
    final ParamLayout paramLayout, stateLayout;
    final Buffer params, grads, state, x, dy;
    final double[] r;
    final SplittableRandom rnd;

    GradCheck(Layer layer, Shape in, int n, long seed) {
        this.layer = layer;
        this.in = in;
        this.n = n;
        ParamLayout.Builder pb = new ParamLayout.Builder(), sb = new ParamLayout.Builder();
        out = layer.declare("t", in, pb, sb);
        paramLayout = pb.build();
        stateLayout = sb.build();
        params = be.allocate(paramLayout.total());
        grads = be.allocate(paramLayout.total());
        state = be.allocate(stateLayout.total());
        layer.bind(new Context(be, paramLayout, params, grads, stateLayout, state), n);
        rnd = new SplittableRandom(seed);
        // Generic random parameters (not the model's init): BN scales away from 0, variances positive.
        double[] p = new double[(int) paramLayout.total()];
        for (ParamSpec s : paramLayout.specs()) {
            for (long i = s.offset(); i < s.end(); i++) {
                p[(int) i] = s.role() == Role.BN_SCALE ? 0.5 + rnd.nextDouble() : rnd.nextDouble(-1, 1);
            }
        }
        be.write(p, params);
        double[] st = new double[(int) stateLayout.total()];
        for (ParamSpec s : stateLayout.specs()) {
            for (long i = s.offset(); i < s.end(); i++) {
                st[(int) i] = s.role() == Role.RUNNING_VAR ? 0.5 + rnd.nextDouble() : rnd.nextDouble(-1, 1);
            }
        }
        be.write(st, state);
        x = be.allocate(n * in.size());
        dy = be.allocate(n * out.size());
        r = new double[(int) (n * out.size())];
        for (int i = 0; i < r.length; i++) r[i] = rnd.nextDouble(-1, 1);
    }

    /** Uniform inputs in (−1, 1). */
    GradCheck randomInput() {
        double[] v = new double[(int) x.length()];
        for (int i = 0; i < v.length; i++) v[i] = rnd.nextDouble(-1, 1);
        be.write(v, x);
        return this;
    }

    /** Inputs at least {@code gap} away from 0 (ReLU's kink). */
    GradCheck inputAwayFromZero(double gap) {
        double[] v = new double[(int) x.length()];
        for (int i = 0; i < v.length; i++) v[i] = (gap + rnd.nextDouble()) * (rnd.nextBoolean() ? 1 : -1);
        be.write(v, x);
        return this;
    }

    /** A random permutation of evenly spaced values: no two inputs within 0.01, so no max-pool ties. */
    GradCheck distinctInput() {
        int len = (int) x.length();
        double[] v = new double[len];
        for (int i = 0; i < len; i++) v[i] = -1 + 2.0 * i / len;
        for (int i = len - 1; i > 0; i--) {
            int j = rnd.nextInt(i + 1);
            double t = v[i]; v[i] = v[j]; v[j] = t;
        }
        be.write(v, x);
        return this;
    }

    double loss(Mode mode) {
        double[] y = be.read(layer.forward(x, n, mode));
        double s = 0;
        for (int i = 0; i < r.length; i++) s += r[i] * y[i];
        return s;
    }

    /** Forward then backward with {@code dy = r}; returns {@code dx} (null if the layer skipped it). */
    double[] backward(Mode mode) {
        loss(mode);
        be.write(r, dy);
        Buffer dx = layer.backward(dy, n);
        return dx == null ? null : java.util.Arrays.copyOf(be.read(dx), (int) x.length());
    }

    /** Checks dx and every parameter gradient against central differences, every coordinate. */
    double checkAll(Mode mode) {
        double[] dx = backward(mode);
        double[] g = be.read(grads);
        double worst = 0;
        if (dx != null) worst = compare("input", dx, x, 0, dx.length, mode);
        for (ParamSpec s : paramLayout.specs()) {
            worst = Math.max(worst, compare(s.name(), g, params, s.offset(), s.size(), mode));
        }
        return worst;
    }

    /** Compares analytic {@code a[from, from+len)} with differences of the loss in {@code buf[from, ...)}. */
    private double compare(String what, double[] a, Buffer buf, long from, long len, Mode mode) {
        double scale = 0;
        for (long i = from; i < from + len; i++) scale = Math.max(scale, Math.abs(a[(int) i]));
        double worst = 0;
        for (long i = from; i < from + len; i++) {
            final long at = i;
            double num = centralDifference(buf, at, () -> loss(mode));
            double e = relativeError(a[(int) at], num, scale);
            worst = Math.max(worst, e);
            assertTrue(e < TOLERANCE, () -> what + "[" + (at - from) + "]: analytic " + a[(int) at] + " numeric " + num + " (rel. error " + e + ")");
        }
        return worst;
    }

    /** {@code (L(v + h) − L(v − h)) / 2h} for the element {@code at} of {@code buf}, which is restored. */
    static double centralDifference(Buffer buf, long at, DoubleSupplier loss) {
        ReferenceBackend.DoubleBuffer d = (ReferenceBackend.DoubleBuffer) buf;
        int idx = d.offset() + (int) at;
        double v = d.data()[idx];
        d.data()[idx] = v + H;
        double plus = loss.getAsDouble();
        d.data()[idx] = v - H;
        double minus = loss.getAsDouble();
        d.data()[idx] = v;
        return (plus - minus) / (2 * H);
    }

    /**
     * {@code |a − b| / max(|a|, |b|, 1e-3·scale, 1e-3)}: relative, except that entries far below the
     * tensor's largest gradient, or below 1e-3, must agree to 1e-9 absolute (differencing noise is about
     * 1e-10 there; some gradients, e.g. of a conv bias followed by BatchNorm, are exactly zero).
     */
    static double relativeError(double a, double b, double scale) {
        double den = Math.max(Math.max(Math.abs(a), Math.abs(b)), Math.max(1e-3 * scale, 1e-3));
        return den == 0 ? 0 : Math.abs(a - b) / den;
    }
}
