package dev.sam4j.optim.sam;

import static dev.sam4j.optim.sam.QuadraticClosedFormTest.*;
import static org.junit.jupiter.api.Assertions.*;

import dev.sam4j.backend.Backend;
import dev.sam4j.backend.cpu.CpuBackend;
import dev.sam4j.backend.cpu.ReferenceBackend;
import dev.sam4j.nn.Mode;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * Momentum-SAM and LookSAM's expiring {@code g_v} on the quadratic L(w) = ½·wᵀAw of {@link QuadraticClosedFormTest},
 * against the update written out by hand in double.
 */
class MomentumSamAndMaxAgeTest {

    static Method msam(double rho) { return Method.of("msam", Method.Hyper.defaults().toBuilder().msamRho(rho).build()); }

    /**
     * MSAM by hand (Becker et al. 2024, Algorithm 1, PyTorch momentum convention): {@code w̃ = w − ρ·v/‖v‖}
     * ({@code v = 0}: {@code w̃ = w}); {@code g = ∇L(w̃)}; {@code v ← μ·v + g + wd·w}; {@code w ← w − lr·v}.
     */
    static double[][] msamByHand(double rho, int steps) {
        double[] w = W0.clone(), v = new double[3];
        for (int t = 0; t < steps; t++) {
            double vn = norm(v);
            double[] wt = new double[3];
            for (int i = 0; i < 3; i++) wt[i] = vn > 0 ? w[i] - rho * v[i] / (vn + 1e-12) : w[i];
            double[] g = grad(wt);
            for (int i = 0; i < 3; i++) {
                v[i] = MU * v[i] + g[i] + WD * w[i];
                w[i] -= LR * v[i];
            }
        }
        return new double[][] {w, v};
    }

    @Test
    void firstMsamStepIsPlainSgdAndTheSecondTakesItsOnlyGradientAtTheMomentumPerturbedPoint() {
        for (Backend be : new Backend[] {new ReferenceBackend(), new CpuBackend(1)}) {
            try (be) {
                Setup s = setup(be);
                double rho = 0.3, tol = be instanceof ReferenceBackend ? 1e-6 : 1e-5;
                SamOptimizer opt = new SamOptimizer(be, s.layout(), s.w(), s.g(), s.sgd(), msam(rho), 1);
                SamOptimizer.StepResult r0 = opt.step(s.q(), 0, 10, LR);
                assertRel(sgdFromZeroMomentum(W0, grad(W0)), be.read(s.w()), tol, be.name() + " w after step 0 (v = 0)");
                assertFalse(r0.sam(), "one pass: no step of MSAM is a SAM (two-pass) step");
                double[] w1 = be.read(s.w());
                opt.step(s.q(), 1, 10, LR);
                // Step 1 written out: v1 = g(w0) + wd·w0, the perturbed point w1 − ρ·v1/‖v1‖, its gradient only.
                double[] v1 = new double[3];
                for (int i = 0; i < 3; i++) v1[i] = grad(W0)[i] + WD * W0[i];
                double vn = norm(v1);
                double[] wt = new double[3];
                for (int i = 0; i < 3; i++) wt[i] = w1[i] - rho * v1[i] / vn;
                double[] gt = grad(wt), w2 = new double[3], v2 = new double[3];
                for (int i = 0; i < 3; i++) { v2[i] = MU * v1[i] + gt[i] + WD * w1[i]; w2[i] = w1[i] - LR * v2[i]; }
                assertRel(w2, be.read(s.w()), tol, be.name() + " w after step 1");
                assertRel(v2, be.read(s.sgd().momentumArena()), tol, be.name() + " momentum after step 1");
                assertEquals(List.of(Mode.TRAIN, Mode.TRAIN), s.q().modes, "one pass per step, and it updates BatchNorm");
                assertEquals(0, opt.samSteps());
                // The sign matters: perturbing along +v instead gives a different step.
                double[] wPlus = new double[3];
                for (int i = 0; i < 3; i++) wPlus[i] = w1[i] + rho * v1[i] / vn;
                double[] gPlus = grad(wPlus);
                double wrong = w1[0] - LR * (MU * v1[0] + gPlus[0] + WD * w1[0]);
                assertTrue(Math.abs(wrong - be.read(s.w())[0]) > 1e-4, "w̃ = w + ρ·v/‖v‖ would give the same step");
            }
        }
    }

    @ParameterizedTest(name = "rho {0}")
    @ValueSource(doubles = {0.05, 0.3, 2.0})
    void msamOverManyStepsMatchesTheHandLoopAndDiffersFromErm(double rho) {
        try (Backend be = new ReferenceBackend()) {
            Setup s = setup(be), e = setup(be);
            SamOptimizer opt = new SamOptimizer(be, s.layout(), s.w(), s.g(), s.sgd(), msam(rho), 1);
            SamOptimizer erm = new SamOptimizer(be, e.layout(), e.w(), e.g(), e.sgd(), Method.of("erm", Method.Hyper.defaults()), 1);
            int steps = 12;
            for (int t = 0; t < steps; t++) { opt.step(s.q(), t, steps, LR); erm.step(e.q(), t, steps, LR); }
            double[][] hand = msamByHand(rho, steps);
            assertRel(hand[0], be.read(s.w()), 1e-5, "w after " + steps + " steps");
            assertRel(hand[1], be.read(s.sgd().momentumArena()), 1e-5, "v after " + steps + " steps");
            double d = 0;
            for (int i = 0; i < 3; i++) d += Math.abs(be.read(s.w())[i] - be.read(e.w())[i]);
            assertTrue(d > 1e-4, "MSAM must not be ERM: weight difference " + d);
        }
    }

    /** Restored from its state and arenas, a second optimizer continues exactly as the first (checkpoints). */
    @Test
    void msamContinuesFromItsMomentumAlone() {
        try (Backend be = new ReferenceBackend()) {
            Setup a = setup(be), b = setup(be);
            SamOptimizer oa = new SamOptimizer(be, a.layout(), a.w(), a.g(), a.sgd(), msam(0.3), 1);
            for (int t = 0; t < 3; t++) oa.step(a.q(), t, 6, LR);
            be.write(be.read(a.w()), b.w());
            be.write(be.read(a.sgd().momentumArena()), b.sgd().momentumArena());
            SamOptimizer ob = new SamOptimizer(be, b.layout(), b.w(), b.g(), b.sgd(), msam(0.3), 1);
            ob.restore(oa.state());
            for (int t = 3; t < 6; t++) { oa.step(a.q(), t, 6, LR); ob.step(b.q(), t, 6, LR); }
            assertArrayEquals(be.read(a.w()), be.read(b.w()), 0.0);
            assertEquals(6, ob.steps());
        }
    }

    @Test
    void msamRefusesAStepWithANonFiniteLossAndLeavesTheWeightsAsTheyWere() {
        try (Backend be = new ReferenceBackend()) {
            Setup s = setup(be);
            SamOptimizer opt = new SamOptimizer(be, s.layout(), s.w(), s.g(), s.sgd(), msam(0.3), 1);
            opt.step(s.q(), 0, 10, LR);
            double[] w = be.read(s.w()), v = be.read(s.sgd().momentumArena());
            GradientClosure bad = mode -> { s.q().lossAndGradient(mode); return Double.NaN; };
            assertTrue(opt.step(bad, 1, 10, LR).skipped());
            assertArrayEquals(w, be.read(s.w()), 0.0, "weights restored from the perturbed point");
            assertArrayEquals(v, be.read(s.sgd().momentumArena()), 0.0, "momentum untouched");
        }
    }

    /**
     * LookSAM with k = 100 (one SAM step, at step 0) and max age 2: steps 1 and 2 reuse {@code g_v} (the same
     * updates as with max age 0), step 3 is a plain SGD step, computed by hand from the state before it; with max
     * age 0 step 3 still reuses.
     */
    @Test
    void anExpiredDirectionIsNoLongerReused() {
        try (Backend be = new ReferenceBackend()) {
            Setup a = setup(be), b = setup(be);
            Method.Hyper h = Method.Hyper.defaults().toBuilder().lookSamK(100).build();
            SamOptimizer aged = new SamOptimizer(be, a.layout(), a.w(), a.g(), a.sgd(),
                    Method.of("looksam", h.toBuilder().lookSamMaxAge(2).build()), 1);
            SamOptimizer forever = new SamOptimizer(be, b.layout(), b.w(), b.g(), b.sgd(),
                    Method.of("looksam", h.toBuilder().lookSamMaxAge(0).build()), 1);
            for (int t = 0; t < 3; t++) {
                assertEquals(t == 0, aged.step(a.q(), t, 10, LR).sam());
                forever.step(b.q(), t, 10, LR);
                assertArrayEquals(be.read(b.w()), be.read(a.w()), 0.0, "step " + t + ": g_v still fresh");
            }
            assertEquals(2, aged.state().lookSamAge());
            double[] w2 = be.read(a.w()), m2 = be.read(a.sgd().momentumArena()), g3 = grad(w2), w3 = new double[3];
            for (int i = 0; i < 3; i++) w3[i] = w2[i] - LR * (MU * m2[i] + g3[i] + WD * w2[i]);
            aged.step(a.q(), 3, 10, LR);
            forever.step(b.q(), 3, 10, LR);
            assertRel(w3, be.read(a.w()), 1e-6, "step 3: plain SGD once g_v is 3 steps old");
            assertTrue(Math.abs(be.read(a.w())[0] - be.read(b.w())[0]) > 1e-6, "max age 0 still reuses at step 3");
            // A restored optimizer knows the age: it does not reuse either.
            Setup c = setup(be);
            be.write(w2, c.w());
            be.write(m2, c.sgd().momentumArena());
            SamOptimizer restored = new SamOptimizer(be, c.layout(), c.w(), c.g(), c.sgd(),
                    Method.of("looksam", h.toBuilder().lookSamMaxAge(2).build()), 1);
            be.write(be.read(aged.lookSamDirection()), restored.lookSamDirection());
            SamOptimizer.State st = aged.state();
            restored.restore(new SamOptimizer.State(3, st.samSteps(), 0, st.lookSamNorm(), null, st.statMean(),
                    st.statVariance(), st.statObserved(), 0, 0, 2));
            restored.step(c.q(), 3, 10, LR);
            assertArrayEquals(be.read(a.w()), be.read(c.w()), 0.0);
        }
    }

    @Test
    void defaultsAndTheSpecsValues() {
        Method.Hyper d = Method.Hyper.defaults();
        assertEquals(Method.AE_LOOKSAM_MAX_AGE, Method.of("aelooksam", d).lookSamMaxAge());
        assertEquals(0, Method.of("looksam", d).lookSamMaxAge(), "LookSAM's own schedule refreshes g_v every k steps");
        assertEquals(0, Method.of("aelooksam", d.toBuilder().lookSamMaxAge(0).build()).lookSamMaxAge(), "0: the spec");
        assertEquals(Method.Hyper.MSAM_RHO, Method.of("msam", d).perturbation().rho());
        assertInstanceOf(Policy.Never.class, Method.of("msam", d).policy());
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> d.toBuilder().lookSamMaxAge(-3).build());
        assertEquals("Method.Hyper.Builder.lookSamMaxAge(-3): must be >= 0", e.getMessage());
        // The CUDA graph step runs all three (the expiring g_v and Momentum-SAM on the device).
        assertNull(DeviceDecidedStep.unsupported(Method.of("aelooksam", d.toBuilder().lookSamMaxAge(0).build())));
        assertNull(DeviceDecidedStep.unsupported(Method.of("aelooksam", d)));
        assertNull(DeviceDecidedStep.unsupported(Method.of("msam", d)));
    }
}
