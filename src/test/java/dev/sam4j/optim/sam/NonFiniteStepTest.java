package dev.sam4j.optim.sam;

import static org.junit.jupiter.api.Assertions.*;

import dev.sam4j.backend.Backend;
import dev.sam4j.backend.Buffer;
import dev.sam4j.backend.cpu.CpuBackend;
import dev.sam4j.nn.Mode;
import dev.sam4j.optim.Sgd;
import dev.sam4j.tensor.ParamLayout;
import dev.sam4j.tensor.Role;
import dev.sam4j.tensor.Shape;
import java.util.Arrays;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/** A step with a non-finite loss or gradient, in either pass, changes nothing (the host step; the device's: DeviceSkipTest). */
class NonFiniteStepTest {

    /** One four-element weight tensor at fixed values, SGD with momentum, and {@code method} (SS-SAM p = 1, LookSAM k = 1). */
    private static final class Fixture {
        final Buffer w, g;
        final Sgd sgd;
        final SamOptimizer opt;

        Fixture(Backend b, String method) {
            ParamLayout.Builder lb = new ParamLayout.Builder();
            lb.add("w", Shape.of(4), Role.WEIGHT);
            ParamLayout layout = lb.build();
            w = b.allocate(4);
            g = b.allocate(4);
            b.write(new double[] {1, -2, 3, 0.5}, w);
            sgd = new Sgd(b, 4, 0.9, 5e-4, false);
            Method m = Method.of(method, Method.Hyper.defaults().toBuilder().sssamP(1).lookSamK(1).build());
            opt = new SamOptimizer(b, layout, w, g, sgd, m, 3);
        }
    }

    @ParameterizedTest(name = "{0}: fault in pass {1}")
    @CsvSource({"sam, 1", "sam, 2", "aesam, 1", "looksam, 2", "sssam, 1"})
    void faultyStepIsSkippedAndChangesNothing(String method, int faultyPass) {
        try (Backend b = new CpuBackend(1)) {
            Fixture f = new Fixture(b, method);
            GradientClosure good = mode -> {
                b.write(new double[] {0.1, 0.2, -0.3, 0.4}, f.g);
                return 1.0;
            };
            f.opt.step(good, 0, 10, 0.1); // momentum and (for AE-SAM) the statistic now hold something
            double[] w1 = b.read(f.w), m1 = b.read(f.sgd.momentumArena());
            SamOptimizer.State s1 = f.opt.state();
            GradientClosure faulty = mode -> {
                boolean bad = (faultyPass == 1) == (mode == Mode.TRAIN);
                b.write(new double[] {0.1, bad ? Double.NaN : 0.2, -0.3, 0.4}, f.g);
                return bad ? Double.POSITIVE_INFINITY : 1.0;
            };
            SamOptimizer.StepResult r = f.opt.step(faulty, 1, 10, 0.1);
            assertTrue(r.skipped());
            assertArrayEquals(w1, b.read(f.w), "weights unchanged");
            assertArrayEquals(m1, b.read(f.sgd.momentumArena()), "momentum unchanged");
            assertEquals(1, f.opt.skippedSteps());
            assertEquals(s1.steps(), f.opt.state().steps());
            if (faultyPass == 1) assertEquals(s1.statObserved(), f.opt.state().statObserved(), "the policy did not see the step");
        }
    }

    /**
     * Everything a skipped step could touch is as it was, whichever value of whichever pass was not finite: the
     * weights, the momentum, LookSAM's g_v and its norm, the AE statistic (put back after a second-pass fault, which
     * the policy had already seen), the SAM step count; and a Bernoulli policy's stream still advances one draw per
     * step, as the device's verdict table is indexed by the step.
     */
    @ParameterizedTest(name = "{0}: {1}")
    @CsvSource({"aesam, pass1-loss", "aesam, pass1-gradient", "aesam, pass2-loss", "aesam, pass2-gradient",
            "looksam, pass2-loss", "looksam, pass2-gradient", "sam, pass2-gradient", "sssam, pass1-loss", "sssam, pass2-gradient"})
    void aSkippedStepLeavesEveryPieceOfStateAsItWas(String method, String fault) {
        try (Backend b = new CpuBackend(1)) {
            Fixture f = new Fixture(b, method);
            double[][] grads = {{0.1, 0.2, -0.3, 0.4}, {0.3, -0.1, 0.2, 0.2}};
            GradientClosure good = mode -> {
                b.write(grads[mode == Mode.TRAIN ? 0 : 1], f.g);
                return 1.0;
            };
            f.opt.step(good, 0, 10, 0.1);
            f.opt.step(good, 1, 10, 0.1);
            double[] w1 = b.read(f.w), m1 = b.read(f.sgd.momentumArena());
            double[] v1 = f.opt.lookSamDirection() == null ? null : b.read(f.opt.lookSamDirection());
            SamOptimizer.State s1 = f.opt.state();
            boolean second = fault.startsWith("pass2"), lossFault = fault.endsWith("loss");
            GradientClosure faulty = mode -> {
                boolean bad = second == (mode == Mode.TRAIN_FROZEN_STATS);
                // 10x the gradient: AE-SAM's statistic calls the step sharp, so it reaches pass 2
                double[] gv = Arrays.stream(grads[mode == Mode.TRAIN ? 0 : 1]).map(x -> 10 * x).toArray();
                if (bad && !lossFault) gv[2] = Double.POSITIVE_INFINITY;
                b.write(gv, f.g);
                return bad && lossFault ? Double.NaN : 1.0;
            };
            SamOptimizer.StepResult r = f.opt.step(faulty, 2, 10, 0.1);
            assertTrue(r.skipped(), "skipped");
            assertFalse(r.sam(), "a skipped step is no SAM step");
            if (second) assertFalse(Double.isNaN(r.samSumSquares()), "the fault was met in pass 2");
            assertArrayEquals(w1, b.read(f.w), "weights");
            assertArrayEquals(m1, b.read(f.sgd.momentumArena()), "momentum");
            if (v1 != null) assertArrayEquals(v1, b.read(f.opt.lookSamDirection()), "g_v");
            SamOptimizer.State s2 = f.opt.state();
            assertEquals(s1.lookSamNorm(), s2.lookSamNorm(), 0.0, "||g_v||");
            assertEquals(s1.samSteps(), s2.samSteps(), "SAM steps");
            assertEquals(s1.statObserved(), s2.statObserved(), "AE observations");
            assertEquals(Double.doubleToLongBits(s1.statMean()), Double.doubleToLongBits(s2.statMean()), "AE mean");
            assertEquals(Double.doubleToLongBits(s1.statVariance()), Double.doubleToLongBits(s2.statVariance()), "AE variance");
            if (method.equals("sssam")) assertEquals(s1.policyDraws() + 1, s2.policyDraws(), "one draw per step, skipped or not");
        }
    }
}
