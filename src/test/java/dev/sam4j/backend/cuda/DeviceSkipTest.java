package dev.sam4j.backend.cuda;

import static org.junit.jupiter.api.Assertions.*;

import dev.sam4j.backend.Buffer;
import dev.sam4j.nn.Model;
import dev.sam4j.nn.ScriptedLayer;
import dev.sam4j.nn.models.Models;
import dev.sam4j.optim.LrSchedule;
import dev.sam4j.optim.sam.DeviceDecidedStep;
import dev.sam4j.optim.sam.Method;
import dev.sam4j.tensor.Shape;
import java.util.Arrays;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * The device-decided step skips, on the device, a step whose loss or ‖g‖² is not finite in either pass: the
 * weights, the momentum, the AE-SAM statistic and LookSAM's stored direction {@code g_v} (and its squared norm)
 * stay bit-identical, the step's record says it was skipped and was no SAM step, and the next good batch trains
 * normally. A {@link ScriptedLayer} puts each fault in exactly: a loss that overflows under a finite gradient, an
 * infinite gradient under a finite loss, and either of those in SAM's second pass alone; on ERM, SAM, AE-SAM,
 * LookSAM, AE-LookSAM (its g_v expiring) and Momentum-SAM (whose one pass runs at the weights perturbed along the
 * momentum: a skip must put them back), with the graph launch and with the read-back launch. A NaN pixel through a
 * real MLP as well.
 */
@Tag("gpu")
class DeviceSkipTest {
    static final Shape INPUT = Shape.of(1, 6, 6);
    static final int CLASSES = 4, BATCH = 8;

    @ParameterizedTest
    @ValueSource(strings = {"erm:graph", "sam:graph", "aesam:graph", "sam:readback", "looksam:graph", "msam:graph", "msam:readback",
            "aelooksam:graph"})
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
                assertEquals(1, states.get(2).nonFiniteSteps(), "the skipped step is counted");
                assertFalse(states.get(3).skipped());
                if (method.equals("aesam")) assertTrue(Double.isFinite(states.get(3).mu()), "the AE statistic is not poisoned by the NaN step");
            }
            model.close();
        }
    }

    static final int SCRIPT_CLASSES = 3, SCRIPT_BATCH = 4;

    @ParameterizedTest(name = "{0}: {1} fault, {2} launch")
    @CsvSource({
            "erm, loss, graph", "erm, gradient, graph",
            "sam, loss, graph", "sam, gradient, graph", "sam, pass2-loss, graph", "sam, pass2-gradient, graph",
            "aesam, loss, graph", "aesam, gradient, graph", "aesam, pass2-loss, graph", "aesam, pass2-gradient, graph",
            "looksam, loss, graph", "looksam, gradient, graph", "looksam, pass2-loss, graph", "looksam, pass2-gradient, graph",
            "msam, loss, graph", "msam, gradient, graph", "msam, nan, graph", "msam, loss, readback",
            "aelooksam, gradient, graph", "aelooksam, pass2-loss, graph",
            "sam, loss, readback", "aesam, loss, readback", "aesam, pass2-loss, readback", "looksam, pass2-gradient, readback"})
    void aFaultyStepLeavesTheWholeStepStateAsItWas(String method, String fault, String launch) {
        CudaTestSupport.requireCuda();
        boolean readback = launch.equals("readback");
        int classes = SCRIPT_CLASSES, batch = SCRIPT_BATCH;
        ScriptedLayer net = new ScriptedLayer(classes, 5, 3);
        try (CudaBackend be = new CudaBackend(0, false); Model model = new Model(net, Shape.of(2), classes, be, batch, 3)) {
            Buffer x = be.allocate(2L * batch), y = be.allocate(batch);
            float[] labels = StepScript.labels(batch, classes);
            be.upload(labels, 0, y, batch);
            // LookSAM: SAM at steps 0 and 2, so g_v exists and has been reused (step 1) before the faulty step 2.
            Method m = Method.of(method, Method.Hyper.defaults().toBuilder().lookSamK(2).build());
            try (DeviceDecidedStep step = new DeviceDecidedStep(model, x, y, batch, m, LrSchedule.parse("constant", 0.05, 0, 10),
                    10, 0.9, 5e-4, false, 1)) {
                SplittableRandom r = new SplittableRandom(11);
                Buffer history = be.allocate(4L * StepGraph.RECORD_FLOATS);
                for (int k = 0; k < 2; k++) {
                    StepScript.good(r, batch, classes, net.size(), 0.1).applyTo(net);
                    launch(step, readback);
                    step.recordStateTo(history, k);
                }
                float[] w0 = model.downloadParams(), m0 = CudaTestSupport.download(be, step.momentum()), v0 = CudaTestSupport.download(be, step.lookSamDirection());
                StepGraph.CarriedState s0 = step.exportState();

                // A large gradient: AE-SAM's statistic would call it sharp, so the step is a SAM step where a fault allows it.
                StepScript.good(r, batch, classes, net.size(), 2.0).with(fault, classes).applyTo(net);
                launch(step, readback);
                step.recordStateTo(history, 2);
                String what = method + ", " + fault + " fault, " + launch + ": ";
                assertArrayEquals(w0, model.downloadParams(), what + "weights after the faulty step");
                assertArrayEquals(m0, CudaTestSupport.download(be, step.momentum()), what + "momentum after the faulty step");
                assertArrayEquals(v0, CudaTestSupport.download(be, step.lookSamDirection()), what + "LookSAM's g_v after the faulty step");
                StepGraph.CarriedState s1 = step.exportState();
                assertEquals(s0.step() + 1, s1.step(), what + "the step counter still advances");
                assertEquals(s0.observed(), s1.observed(), what + "the AE statistic did not observe the faulty step");
                assertEquals(s0.mu(), s1.mu(), 0.0, what + "AE mean");
                assertEquals(s0.variance(), s1.variance(), 0.0, what + "AE variance");
                assertEquals(s0.samSteps(), s1.samSteps(), what + "a skipped step is not a SAM step");
                assertEquals(s0.lookSamSumSquares(), s1.lookSamSumSquares(), 0.0, what + "LookSAM's ||g_v||^2");
                assertEquals(s0.nonFiniteSteps() + 1, s1.nonFiniteSteps(), what + "skipped steps counted");

                StepScript.good(r, batch, classes, net.size(), 0.1).applyTo(net);
                launch(step, readback);
                step.recordStateTo(history, 3);
                assertFalse(Arrays.equals(w0, model.downloadParams()), what + "a good step after the faulty one trains again");

                var states = step.readHistory(history, 4);
                assertFalse(states.get(1).skipped());
                assertTrue(states.get(2).skipped(), what + "the faulty step's record says it was skipped");
                assertFalse(states.get(2).sam(), what + "the faulty step's record says it was no SAM step");
                StepGraph.State bad = states.get(2);
                boolean secondPass = fault.startsWith("pass2");
                assertEquals(secondPass, Double.isFinite(bad.s()) && Double.isFinite(bad.loss()), what + "pass 1 was finite");
                if (fault.equals("loss")) assertTrue(Double.isFinite(bad.s()) && bad.loss() == Double.POSITIVE_INFINITY, what + "loss-only fault");
                if (fault.equals("gradient")) assertTrue(!Double.isFinite(bad.s()) && Double.isFinite(bad.loss()), what + "gradient-only fault");
                // A second-pass fault is met in pass 2, so that step was decided a SAM step first.
                if (fault.equals("pass2-loss")) assertTrue(bad.samLoss() == Double.POSITIVE_INFINITY && Double.isFinite(bad.samSumSquares()), what + bad);
                if (fault.equals("pass2-gradient")) assertTrue(Double.isFinite(bad.samLoss()) && Double.isNaN(bad.samSumSquares()), what + bad);
                if (!secondPass) assertTrue(Double.isNaN(bad.samLoss()) && Double.isNaN(bad.mu()) && Double.isNaN(bad.c()), what + "no decision: " + bad);
                assertFalse(states.get(3).skipped());
            }
        }
    }

    private static void launch(DeviceDecidedStep step, boolean readback) {
        if (readback) step.stepHostDecided(); else step.step();
    }
}
