package dev.sam4j.backend.cuda;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.sam4j.backend.Buffer;
import dev.sam4j.nn.Model;
import dev.sam4j.nn.ScriptedLayer;
import dev.sam4j.nn.SoftmaxCrossEntropy;
import dev.sam4j.optim.LrSchedule;
import dev.sam4j.optim.Sgd;
import dev.sam4j.optim.sam.DeviceDecidedStep;
import dev.sam4j.optim.sam.GradientClosure;
import dev.sam4j.optim.sam.Method;
import dev.sam4j.optim.sam.SamOptimizer;
import dev.sam4j.tensor.Shape;
import java.util.List;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * The host's step ({@link SamOptimizer}) and the device's ({@link DeviceDecidedStep}, graph and read-back launch)
 * agree by test: the same sequence of scripted batches ({@link ScriptedLayer}) — good ones, a loss that overflows
 * under a finite gradient, an infinite gradient, NaN in both, each fault of SAM's second pass alone, and LookSAM
 * noise-floor cases ({@code g_sam} parallel to {@code g}, or nearly) — goes through all three on the CUDA backend,
 * and every step's record (skipped, SAM, s, loss, μ, σ, c, pass 2's loss and {@code ‖g_sam‖²}) and the weights
 * after every step must be the same; at the end also the momentum, LookSAM's {@code g_v} and its norm, the SAM and
 * skipped step counts and the AE statistic. Both sides run the same kernels on the same values, so everything is
 * compared bit for bit, except the mean losses, which the device adds in another order (within 1e-12 on a GPU).
 * AE-LookSAM runs with its default max age of {@code g_v} (4, which the sequence must make expire) and with 0 (the
 * spec: never expires); Momentum-SAM (one pass, at {@code w − ρ·m/‖m‖}) meets the pass-1 faults only.
 */
@Tag("gpu")
class HostDeviceStepAgreementTest {
    static final int CLASSES = 3, BATCH = 4, QUIET = 9, STEPS = QUIET + 30, SIZE_A = 6, SIZE_B = 4;

    /**
     * What happens at each step: a fault, a noise-floor case or nothing; k = 3 puts LookSAM's SAM steps on multiples of 3.
     * The first {@code QUIET} steps (a multiple of 3) have shrinking gradients: after AE-SAM's SAM step 0 they are ERM
     * steps, where AE-LookSAM's {@code g_v} grows older than its max age.
     */
    static String event(int t) {
        if (t < QUIET) return "quiet";
        return switch (t - QUIET) {
            case 4 -> "loss";
            case 7 -> "gradient";
            case 10 -> "nan";
            case 6, 24 -> "pass2-loss";
            case 12, 27 -> "pass2-gradient";
            case 15 -> "parallel";       // g_sam = 1.3·g in floats: g_v is rounding noise
            case 18 -> "nearly-parallel"; // a g_v far below the floor
            case 21 -> "orthogonal-part"; // a g_v above the floor, stored
            default -> "none";
        };
    }

    @ParameterizedTest
    @ValueSource(strings = {"erm", "sam", "asam", "sssam", "looksam", "aesam", "aelooksam", "aelooksam:0", "msam"})
    void hostAndDeviceStepsAgreeRecordForRecord(String which) {
        CudaTestSupport.requireCuda();
        boolean gpu = CudaTestSupport.realGpu();
        String name = which.split(":")[0];
        Method.Hyper.Builder hyper = Method.Hyper.defaults().toBuilder().lookSamK(3).sssamP(0.6);
        if (which.contains(":")) hyper.lookSamMaxAge(Integer.parseInt(which.split(":")[1]));
        Method method = Method.of(name, hyper.build());
        int maxAge = method.lookSamMaxAge();
        if (which.equals("aelooksam")) assertEquals(4, maxAge, "AE-LookSAM's default max age");
        LrSchedule lr = new LrSchedule.Cosine(0.05, 2);
        ScriptedLayer hostNet = new ScriptedLayer(CLASSES, SIZE_A, SIZE_B), graphNet = new ScriptedLayer(CLASSES, SIZE_A, SIZE_B),
                readNet = new ScriptedLayer(CLASSES, SIZE_A, SIZE_B);
        Shape input = Shape.of(2);
        try (CudaBackend cuda = new CudaBackend(0, false);
             Model hostModel = new Model(hostNet, input, CLASSES, cuda, BATCH, 5);
             Model graphModel = new Model(graphNet, input, CLASSES, cuda, BATCH, 5);
             Model readModel = new Model(readNet, input, CLASSES, cuda, BATCH, 5)) {
            Buffer x = cuda.allocate(2L * BATCH), y = cuda.allocate(BATCH);
            cuda.upload(StepScript.labels(BATCH, CLASSES), 0, y, BATCH);
            SoftmaxCrossEntropy loss = new SoftmaxCrossEntropy(cuda, CLASSES, BATCH);
            Sgd sgd = new Sgd(cuda, hostModel.paramCount(), 0.9, 5e-4, false);
            SamOptimizer host = new SamOptimizer(cuda, hostModel.paramLayout(), hostModel.params(), hostModel.grads(), sgd, method, 9);
            GradientClosure closure = mode -> {
                double l = loss.forwardBackward(hostModel.forward(x, BATCH, mode), y, BATCH);
                hostModel.backward(loss.dLogits(), BATCH);
                return l;
            };
            Buffer graphHistory = cuda.allocate((long) STEPS * StepGraph.RECORD_FLOATS),
                    readHistory = cuda.allocate((long) STEPS * StepGraph.RECORD_FLOATS);
            try (DeviceDecidedStep graph = new DeviceDecidedStep(graphModel, x, y, BATCH, method, lr, STEPS, 0.9, 5e-4, false, 9);
                 DeviceDecidedStep read = new DeviceDecidedStep(readModel, x, y, BATCH, method, lr, STEPS, 0.9, 5e-4, false, 9)) {
                SplittableRandom r = new SplittableRandom(21);
                SamOptimizer.StepResult[] results = new SamOptimizer.StepResult[STEPS];
                int secondPassFaults = 0, floors = 0, expired = 0;
                long age = 0;  // g_v's age by the host's rule, to see that the sequence makes it expire
                for (int t = 0; t < STEPS; t++) {
                    String e = event(t);
                    // Fault and floor steps get a large gradient, so that AE-SAM's statistic calls them sharp (SAM steps).
                    double scale = e.equals("quiet") ? 0.3 * Math.pow(0.7, t) : e.equals("none") ? 0.1 * Math.exp(0.5 * r.nextGaussian()) : 1.0;
                    StepScript sc = StepScript.good(r, BATCH, CLASSES, hostNet.size(), scale);
                    sc = switch (e) {
                        case "parallel" -> sc.withParallelSamGradient(1.3, 0);
                        case "nearly-parallel" -> sc.withParallelSamGradient(1.5, 3e-6);
                        case "orthogonal-part" -> sc.withParallelSamGradient(1.5, 1e-3);
                        case "quiet" -> sc;
                        default -> sc.with(e, CLASSES);
                    };
                    sc.applyTo(hostNet);
                    sc.applyTo(graphNet);
                    sc.applyTo(readNet);
                    results[t] = host.step(closure, t, STEPS, lr.lr(t, STEPS));
                    graph.step();
                    graph.recordStateTo(graphHistory, t);
                    read.stepHostDecided();
                    read.recordStateTo(readHistory, t);
                    String at = name + " step " + t + " (" + e + ")";
                    assertArrayEquals(hostModel.downloadParams(), graphModel.downloadParams(), at + ": weights, host vs graph");
                    assertArrayEquals(hostModel.downloadParams(), readModel.downloadParams(), at + ": weights, host vs read-back");
                    SamOptimizer.StepResult h = results[t];
                    if (h.skipped() && e.startsWith("pass2")) secondPassFaults++;
                    if (h.sam() && e.contains("parallel") && host.lookSamDirection() != null && host.lookSamDirectionNorm() == 0) floors++;
                    if (method.lookSam() && !h.skipped()) {
                        if (h.sam()) age = 0;
                        else if (host.lookSamDirectionNorm() > 0 && ++age > maxAge && maxAge > 0) expired++;
                    }
                }
                compare(name + " graph", results, graph.readHistory(graphHistory, STEPS), gpu);
                compare(name + " read-back", results, read.readHistory(readHistory, STEPS), gpu);

                float[] hostMomentum = CudaTestSupport.download(cuda, sgd.momentumArena());
                assertArrayEquals(hostMomentum, CudaTestSupport.download(cuda, graph.momentum()), name + ": momentum, host vs graph");
                assertArrayEquals(hostMomentum, CudaTestSupport.download(cuda, read.momentum()), name + ": momentum, host vs read-back");
                SamOptimizer.State hs = host.state();
                for (DeviceDecidedStep d : List.of(graph, read)) {
                    StepGraph.CarriedState ds = d.exportState();
                    assertEquals(STEPS, ds.step());
                    assertEquals(hs.lookSamAge(), ds.lookSamAge(), name + ": g_v's age");
                    assertEquals(hs.samSteps(), ds.samSteps(), name + ": SAM steps");
                    assertEquals(hs.skippedSteps(), ds.nonFiniteSteps(), name + ": skipped steps");
                    if (name.startsWith("ae")) {
                        assertEquals(hs.statObserved(), ds.observed(), name + ": AE observations");
                        assertEquals(hs.statMean(), ds.mu(), 0.0, name + ": AE mean");
                        assertEquals(hs.statVariance(), ds.variance(), 0.0, name + ": AE variance");
                    }
                    if (method.lookSam()) {
                        assertArrayEquals(CudaTestSupport.download(cuda, host.lookSamDirection()), CudaTestSupport.download(cuda, d.lookSamDirection()), name + ": g_v");
                        assertEquals(hs.lookSamNorm(), Math.sqrt(ds.lookSamSumSquares()), 0.0, name + ": ||g_v||");
                    }
                }
                // The sequence must have exercised what it is for.
                assertEquals(3, hs.skippedSteps() - secondPassFaults, name + ": the three first-pass faults are skipped");
                if (!name.equals("erm") && !name.equals("msam")) assertTrue(secondPassFaults > 0, name + ": no second-pass fault met a SAM step");
                if (name.equals("looksam") || name.equals("aelooksam")) assertEquals(2, floors, name + ": noise-floor steps");
                if (method.lookSam()) assertEquals(maxAge > 0, expired > 0, which + ": g_v expired on " + expired + " steps");
                if (name.equals("msam")) assertEquals(0, hs.samSteps(), "Momentum-SAM takes one pass per step");
            }
        }
    }

    private static void compare(String what, SamOptimizer.StepResult[] host, List<StepGraph.State> device, boolean gpu) {
        for (int t = 0; t < host.length; t++) {
            SamOptimizer.StepResult h = host[t];
            StepGraph.State d = device.get(t);
            String at = what + " step " + t + " (" + event(t) + "): ";
            assertEquals(h.skipped(), d.skipped(), at + "skipped");
            assertEquals(h.sam(), d.sam(), at + "SAM");
            assertSame(h.s(), d.s(), at + "s");
            assertSame(h.decision().mu(), d.mu(), at + "mu");
            assertSame(h.decision().sigma(), d.sigma(), at + "sigma");
            assertSame(h.decision().c(), d.c(), at + "c");
            assertSame(h.samSumSquares(), d.samSumSquares(), at + "||g_sam||^2");
            assertLoss(h.loss(), d.loss(), gpu, at + "loss");
            assertLoss(h.samLoss(), d.samLoss(), gpu, at + "pass 2's loss");
        }
    }

    private static void assertSame(double want, double got, String what) {
        assertEquals(Double.doubleToLongBits(want), Double.doubleToLongBits(got), what + ": " + got + " vs host " + want);
    }

    /** Bit for bit against the stand-in (same summation order); within 1e-12 on a GPU. Non-finite values must match exactly. */
    private static void assertLoss(double want, double got, boolean gpu, String what) {
        if (!gpu || !Double.isFinite(want)) {
            assertSame(want, got, what);
        } else {
            assertEquals(want, got, 1e-12 * Math.abs(want), what);
        }
    }
}
