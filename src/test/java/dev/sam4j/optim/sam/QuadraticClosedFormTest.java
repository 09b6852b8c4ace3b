package dev.sam4j.optim.sam;

import static org.junit.jupiter.api.Assertions.*;

import dev.sam4j.backend.Backend;
import dev.sam4j.backend.Buffer;
import dev.sam4j.backend.cpu.CpuBackend;
import dev.sam4j.backend.cpu.ReferenceBackend;
import dev.sam4j.nn.Mode;
import dev.sam4j.optim.Sgd;
import dev.sam4j.tensor.ParamLayout;
import dev.sam4j.tensor.Role;
import dev.sam4j.tensor.Shape;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;

/**
 * One step of each method on L(w) = ½·wᵀAw (gradient A·w), against values computed by hand in double
 * from the formulas of the spec, to 1e-6 relative.
 */
class QuadraticClosedFormTest {
    static final double[][] A = {{3.0, 0.5, 0.0}, {0.5, 2.0, -0.3}, {0.0, -0.3, 1.0}};
    static final double[] W0 = {1.0, -0.5, 2.0};
    static final double LR = 0.1, MU = 0.9, WD = 5e-4;

    static double[] grad(double[] w) {
        double[] g = new double[3];
        for (int i = 0; i < 3; i++) for (int j = 0; j < 3; j++) g[i] += A[i][j] * w[j];
        return g;
    }

    static double norm(double[] v) { double s = 0; for (double x : v) s += x * x; return Math.sqrt(s); }

    /** A closure over the quadratic that records the modes it was called with. */
    static final class Quadratic implements GradientClosure {
        final Backend b; final Buffer w, g; final List<Mode> modes = new ArrayList<>();
        Quadratic(Backend b, Buffer w, Buffer g) { this.b = b; this.w = w; this.g = g; }
        @Override public double lossAndGradient(Mode mode) {
            modes.add(mode);
            double[] wv = b.read(w);
            double[] gv = grad(wv);
            b.write(gv, g);
            double l = 0; for (int i = 0; i < 3; i++) l += 0.5 * wv[i] * gv[i];
            return l;
        }
    }

    record Setup(Backend b, Buffer w, Buffer g, Sgd sgd, ParamLayout layout, Quadratic q) {}

    static Setup setup(Backend b) {
        ParamLayout.Builder lb = new ParamLayout.Builder();
        lb.add("w", Shape.of(3), Role.WEIGHT);
        ParamLayout layout = lb.build();
        Buffer w = b.allocate(3), g = b.allocate(3);
        b.write(W0, w);
        return new Setup(b, w, g, new Sgd(b, 3, MU, WD, false), layout, new Quadratic(b, w, g));
    }

    static void assertRel(double[] expected, double[] got, double tol, String what) {
        for (int i = 0; i < expected.length; i++) {
            double rel = Math.abs(got[i] - expected[i]) / Math.max(1e-12, Math.abs(expected[i]));
            assertTrue(rel <= tol, what + "[" + i + "]: expected " + expected[i] + " got " + got[i] + " rel " + rel);
        }
    }

    /** First SGD step from m = 0: m = d = g + wd·w; w − lr·m. */
    static double[] sgdFromZeroMomentum(double[] w, double[] g) {
        double[] out = new double[3];
        for (int i = 0; i < 3; i++) out[i] = w[i] - LR * (g[i] + WD * w[i]);
        return out;
    }

    @Test
    void samStepMatchesHandComputation() {
        for (Backend be : new Backend[] {new ReferenceBackend(), new CpuBackend(1)}) {
            try (be) {
                Setup s = setup(be);
                double rho = 0.05;
                Method m = Method.of("sam", Method.Hyper.defaults().toBuilder().rho(rho).build());
                SamOptimizer opt = new SamOptimizer(be, s.layout(), s.w(), s.g(), s.sgd(), m, 1);
                SamOptimizer.StepResult r = opt.step(s.q(), 0, 10, LR);
                double[] g = grad(W0);
                double gn = norm(g);
                double[] wp = new double[3];
                for (int i = 0; i < 3; i++) wp[i] = W0[i] + rho * g[i] / (gn + 1e-12);
                double[] expected = sgdFromZeroMomentum(W0, grad(wp));
                double tol = be instanceof ReferenceBackend ? 1e-6 : 1e-5;
                assertTrue(r.sam());
                assertEquals(gn * gn, r.s(), 1e-6 * gn * gn);
                assertRel(expected, be.read(s.w()), tol, be.name() + " w after SAM");
                assertEquals(List.of(Mode.TRAIN, Mode.TRAIN_FROZEN_STATS), s.q().modes);
                assertRel(W0, be.read(opt.savedWeights()), 0, "saved weights");
            }
        }
    }

    @Test
    void asamStepMatchesHandComputation() {
        try (Backend be = new ReferenceBackend()) {
            Setup s = setup(be);
            double rho = 0.5, eta = 0.01;
            Method m = Method.of("asam", Method.Hyper.defaults().toBuilder().asamRho(rho).asamEta(eta).build());
            SamOptimizer opt = new SamOptimizer(be, s.layout(), s.w(), s.g(), s.sgd(), m, 1);
            opt.step(s.q(), 0, 10, LR);
            double[] g = grad(W0);
            double[] t = new double[3], tg = new double[3];
            for (int i = 0; i < 3; i++) { t[i] = Math.abs(W0[i]) + eta; tg[i] = t[i] * g[i]; }
            double tgn = norm(tg);
            double[] wp = new double[3];
            for (int i = 0; i < 3; i++) wp[i] = W0[i] + rho * t[i] * t[i] * g[i] / tgn;
            assertRel(sgdFromZeroMomentum(W0, grad(wp)), be.read(s.w()), 1e-6, "w after ASAM");
        }
    }

    @Test
    void lookSamReuseStepMatchesHandComputation() {
        try (Backend be = new ReferenceBackend()) {
            Setup s = setup(be);
            double rho = 0.05, alpha = 0.7;
            Method m = Method.of("looksam", Method.Hyper.defaults().toBuilder().rho(rho).lookSamK(2).lookSamAlpha(alpha).build());
            SamOptimizer opt = new SamOptimizer(be, s.layout(), s.w(), s.g(), s.sgd(), m, 1);
            assertTrue(opt.step(s.q(), 0, 10, LR).sam());
            // hand: step 0 (SAM)
            double[] g0 = grad(W0);
            double n0 = norm(g0);
            double[] wp = new double[3];
            for (int i = 0; i < 3; i++) wp[i] = W0[i] + rho * g0[i] / (n0 + 1e-12);
            double[] gs = grad(wp);
            double dot = 0; for (int i = 0; i < 3; i++) dot += g0[i] * gs[i];
            double[] gv = new double[3];
            for (int i = 0; i < 3; i++) gv[i] = gs[i] - dot / (n0 * n0) * g0[i];
            double[] mom = new double[3], w1 = new double[3];
            for (int i = 0; i < 3; i++) { mom[i] = gs[i] + WD * W0[i]; w1[i] = W0[i] - LR * mom[i]; }
            assertRel(w1, be.read(s.w()), 1e-6, "w after the SAM step");
            assertRel(gv, be.read(opt.lookSamDirection()), 1e-6, "g_v");
            // step 1 (reuse): d = g1 + α·‖g1‖/‖g_v‖·g_v + wd·w1; m = μ·m + d
            assertFalse(opt.step(s.q(), 1, 10, LR).sam());
            double[] g1 = grad(w1);
            double scale = alpha * norm(g1) / norm(gv);
            double[] w2 = new double[3];
            for (int i = 0; i < 3; i++) {
                double d = g1[i] + scale * gv[i] + WD * w1[i];
                double mi = MU * mom[i] + d;
                w2[i] = w1[i] - LR * mi;
            }
            assertRel(w2, be.read(s.w()), 1e-6, "w after the reuse step");
            double[] erm = new double[3];
            for (int i = 0; i < 3; i++) erm[i] = w1[i] - LR * (MU * mom[i] + g1[i] + WD * w1[i]);
            assertTrue(Math.abs(erm[0] - be.read(s.w())[0]) > 1e-6, "the stored direction must change the update");
        }
    }

    /** Per-tensor LookSAM on a layout of two tensors, [0, 2) and [2, 3): projection and scale per tensor. */
    @Test
    void lookSamPerTensorReuseMatchesHandComputation() {
        try (Backend be = new ReferenceBackend()) {
            ParamLayout.Builder lb = new ParamLayout.Builder();
            lb.add("a", Shape.of(2), Role.WEIGHT);
            lb.add("b", Shape.of(1), Role.BIAS);
            ParamLayout layout = lb.build();
            Buffer w = be.allocate(3), g = be.allocate(3);
            be.write(W0, w);
            Sgd sgd = new Sgd(be, 3, MU, WD, false);
            double rho = 0.05, alpha = 0.7;
            Method m = Method.of("looksam", Method.Hyper.defaults().toBuilder().rho(rho).lookSamK(2).lookSamAlpha(alpha)
                    .lookSamPerTensor(true).build());
            SamOptimizer opt = new SamOptimizer(be, layout, w, g, sgd, m, 1);
            Quadratic q = new Quadratic(be, w, g);
            opt.step(q, 0, 10, LR);
            double[] g0 = grad(W0);
            double n0 = norm(g0);
            double[] wp = new double[3];
            for (int i = 0; i < 3; i++) wp[i] = W0[i] + rho * g0[i] / (n0 + 1e-12);
            double[] gs = grad(wp);
            int[][] parts = {{0, 2}, {2, 3}};
            double[] gv = new double[3], gvNorm = new double[2];
            for (int t = 0; t < 2; t++) {
                double dot = 0, gg = 0;
                for (int i = parts[t][0]; i < parts[t][1]; i++) { dot += g0[i] * gs[i]; gg += g0[i] * g0[i]; }
                double nn = 0;
                for (int i = parts[t][0]; i < parts[t][1]; i++) { gv[i] = gs[i] - dot / gg * g0[i]; nn += gv[i] * gv[i]; }
                gvNorm[t] = Math.sqrt(nn);
            }
            double[] mom = new double[3], w1 = new double[3];
            for (int i = 0; i < 3; i++) { mom[i] = gs[i] + WD * W0[i]; w1[i] = W0[i] - LR * mom[i]; }
            opt.step(q, 1, 10, LR);
            double[] g1 = grad(w1), w2 = new double[3];
            for (int t = 0; t < 2; t++) {
                double gn = 0;
                for (int i = parts[t][0]; i < parts[t][1]; i++) gn += g1[i] * g1[i];
                double scale = gvNorm[t] > 0 ? alpha * Math.sqrt(gn) / gvNorm[t] : 0;
                for (int i = parts[t][0]; i < parts[t][1]; i++) {
                    double d = g1[i] + scale * gv[i] + WD * w1[i];
                    w2[i] = w1[i] - LR * (MU * mom[i] + d);
                }
            }
            // Tensor "b" has one element, so its g_v is exactly 0 and its update is plain ERM.
            assertRel(w2, be.read(w), 1e-6, "w after the per-tensor reuse step");
        }
    }

    @Test
    void aeDecisionMatchesHandComputation() {
        // s stream by hand: δ = 0.9, λ1 = −1, λ2 = 1, T = 4.
        Policy.Adaptive p = new Policy.Adaptive(0.9, -1, 1, 0);
        Policy.Decider d = p.start(0);
        double[] s = {4.0, 5.0, 1.0, 9.0};
        double mu = 4.0, var = 0.0;
        Decision d0 = d.decide(0, 4, s[0]);
        assertTrue(d0.sam(), "step 0 is a SAM step (μ = s0, σ = 0)");
        assertEquals(1.0, d0.c(), 0);
        for (int t = 1; t < 4; t++) {
            mu = 0.9 * mu + 0.1 * s[t];
            var = 0.9 * var + 0.1 * (s[t] - mu) * (s[t] - mu);
            double c = -1.0 * t / 4 + 1.0 * (1 - t / 4.0);
            Decision dt = d.decide(t, 4, s[t]);
            assertEquals(mu, dt.mu(), 1e-12 * mu);
            assertEquals(Math.sqrt(var), dt.sigma(), 1e-12);
            assertEquals(c, dt.c(), 1e-15);
            assertEquals(s[t] >= mu + c * Math.sqrt(var), dt.sam(), "step " + t);
        }
    }
}
