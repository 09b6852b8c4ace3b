package dev.sam4j.backend.cuda;

import static org.junit.jupiter.api.Assertions.*;

import dev.sam4j.backend.Buffer;
import dev.sam4j.nn.Model;
import dev.sam4j.nn.models.Models;
import dev.sam4j.optim.LrSchedule;
import dev.sam4j.optim.sam.DeviceDecidedStep;
import dev.sam4j.optim.sam.Method;
import dev.sam4j.tensor.Shape;
import java.util.Arrays;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * The device-decided step skips, on the device, a step whose loss or ‖g‖² is not finite: a batch with a
 * NaN pixel leaves weights and momentum bit-identical, the step's record says it was skipped, and the next
 * good batch trains normally. Checked with the graph launch and with the read-back launch, for ERM, SAM and
 * AE-SAM (the SAM branch must not run on a NaN statistic either).
 */
@Tag("gpu")
class DeviceSkipTest {
    static final Shape INPUT = Shape.of(1, 6, 6);
    static final int CLASSES = 4, BATCH = 8;

    @ParameterizedTest
    @ValueSource(strings = {"erm:graph", "sam:graph", "aesam:graph", "sam:readback", "looksam:graph"})
    void aNonFiniteStepChangesNothingOnTheDevice(String c) {
        CudaTestSupport.requireCuda();
        String method = c.split(":")[0];
        boolean readback = c.endsWith("readback");
        try (CudaBackend be = new CudaBackend(0, false)) {
            Model model = new Model(Models.mlp(INPUT, CLASSES, 16, 2), INPUT, CLASSES, be, BATCH, 3);
            Buffer x = be.allocate((long) BATCH * INPUT.size()), y = be.allocate(BATCH);
            Method m = Method.of(method, Method.Hyper.defaults());
            try (DeviceDecidedStep step = new DeviceDecidedStep(model, x, y, BATCH, m, LrSchedule.parse("constant", 0.05, 0, 10),
                    10, 0.9, 5e-4, false, 1)) {
                SplittableRandom r = new SplittableRandom(5);
                float[] xs = new float[BATCH * (int) INPUT.size()], ys = new float[BATCH];
                for (int i = 0; i < xs.length; i++) xs[i] = (float) r.nextGaussian();
                for (int i = 0; i < BATCH; i++) ys[i] = i % CLASSES;
                Buffer history = be.allocate(4L * dev.sam4j.backend.cuda.StepGraph.RECORD_FLOATS);
                // Two good steps first, so momentum is non-zero and the AE statistic has history.
                be.upload(xs, 0, x, xs.length);
                be.upload(ys, 0, y, ys.length);
                for (int k = 0; k < 2; k++) {
                    launch(step, readback);
                    step.recordStateTo(history, k);
                }
                float[] w0 = model.downloadParams();
                float[] m0 = new float[(int) model.paramCount()];
                be.download(step.momentum(), m0, 0, m0.length);

                float[] bad = xs.clone();
                bad[3] = Float.NaN;
                be.upload(bad, 0, x, bad.length);
                launch(step, readback);
                step.recordStateTo(history, 2);
                assertArrayEquals(w0, model.downloadParams(), "weights after the NaN step");
                float[] m1 = new float[m0.length];
                be.download(step.momentum(), m1, 0, m1.length);
                assertArrayEquals(m0, m1, "momentum after the NaN step");

                be.upload(xs, 0, x, xs.length);
                launch(step, readback);
                step.recordStateTo(history, 3);
                assertFalse(Arrays.equals(w0, model.downloadParams()), "a good step after the NaN one trains again");

                var states = step.readHistory(history, 4);
                assertFalse(states.get(1).skipped());
                assertTrue(states.get(2).skipped(), "the NaN step's record says it was skipped");
                assertFalse(states.get(2).sam(), "no SAM branch on a NaN statistic");
                // ERM's graph has no decide kernel, so only the SAM-family graphs count non-finite statistics.
                assertEquals(method.equals("erm") ? 0 : 1, states.get(2).nonFiniteSteps());
                assertFalse(states.get(3).skipped());
                assertTrue(Double.isFinite(states.get(3).mu()), "the AE statistic is not poisoned by the NaN step");
            }
            model.close();
        }
    }

    private static void launch(DeviceDecidedStep step, boolean readback) {
        if (readback) step.stepHostDecided(); else step.step();
    }
}
