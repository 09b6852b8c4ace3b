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
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/** A step with a non-finite loss or gradient, in either pass, changes neither weights nor momentum. */
class NonFiniteStepTest {

    @ParameterizedTest(name = "{0}: fault in pass {1}")
    @CsvSource({"sam, 1", "sam, 2", "aesam, 1", "looksam, 2", "sssam, 1"})
    void faultyStepIsSkippedAndChangesNothing(String method, int faultyPass) {
        try (Backend b = new CpuBackend(1)) {
            ParamLayout.Builder lb = new ParamLayout.Builder();
            lb.add("w", Shape.of(4), Role.WEIGHT);
            ParamLayout layout = lb.build();
            Buffer w = b.allocate(4), g = b.allocate(4);
            b.write(new double[] {1, -2, 3, 0.5}, w);
            Sgd sgd = new Sgd(b, 4, 0.9, 5e-4, false);
            Method m = Method.of(method, Method.Hyper.defaults().toBuilder().sssamP(1).lookSamK(1).build());
            SamOptimizer opt = new SamOptimizer(b, layout, w, g, sgd, m, 3);
            GradientClosure good = mode -> {
                b.write(new double[] {0.1, 0.2, -0.3, 0.4}, g);
                return 1.0;
            };
            opt.step(good, 0, 10, 0.1); // momentum and (for AE-SAM) the statistic now hold something
            double[] w1 = b.read(w), m1 = b.read(sgd.momentumArena());
            SamOptimizer.State s1 = opt.state();
            GradientClosure faulty = mode -> {
                boolean bad = (faultyPass == 1) == (mode == Mode.TRAIN);
                b.write(new double[] {0.1, bad ? Double.NaN : 0.2, -0.3, 0.4}, g);
                return bad ? Double.POSITIVE_INFINITY : 1.0;
            };
            SamOptimizer.StepResult r = opt.step(faulty, 1, 10, 0.1);
            assertTrue(r.skipped());
            assertArrayEquals(w1, b.read(w), "weights unchanged");
            assertArrayEquals(m1, b.read(sgd.momentumArena()), "momentum unchanged");
            assertEquals(1, opt.skippedSteps());
            assertEquals(s1.steps(), opt.state().steps());
            if (faultyPass == 1) assertEquals(s1.statObserved(), opt.state().statObserved(), "the policy did not see the step");
        }
    }
}
