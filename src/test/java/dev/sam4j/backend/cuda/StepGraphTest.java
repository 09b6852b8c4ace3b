package dev.sam4j.backend.cuda;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.sam4j.backend.Buffer;
import dev.sam4j.nn.Model;
import dev.sam4j.nn.SoftmaxCrossEntropy;
import dev.sam4j.nn.models.Models;
import dev.sam4j.optim.LrSchedule;
import dev.sam4j.optim.Sgd;
import dev.sam4j.optim.sam.DeviceDecidedStep;
import dev.sam4j.optim.sam.GradientClosure;
import dev.sam4j.optim.sam.Method;
import dev.sam4j.optim.sam.SamOptimizer;
import dev.sam4j.tensor.Shape;
import java.util.SplittableRandom;
import java.util.function.Function;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * The device-decided step ({@link StepGraph} via {@link DeviceDecidedStep}) against the host: per method,
 * the same model and batches trained three ways on the CUDA backend — one graph launch per step (decided on
 * the GPU), the same pieces with the flag read back by the host, and {@link SamOptimizer}'s host-driven
 * step — must take the same decisions and reach the same weights; the graph path must not synchronise.
 */
@Tag("gpu")
class StepGraphTest {
    static final Shape INPUT = Shape.of(1, 8, 8);
    static final int CLASSES = 10, BATCH = 16, STEPS = 12;

    @ParameterizedTest
    @ValueSource(strings = {"erm", "sam", "asam", "sssam", "looksam", "aesam", "aelooksam", "msam"})
    void graphHostAndOptimizerAgree(String name) {
        int width = CudaTestSupport.realGpu() ? 512 : 64;
        agree(name, cuda -> new Model(Models.mlp(INPUT, CLASSES, width, 2), INPUT, CLASSES, cuda, BATCH, 7), INPUT, BATCH, 0.05, 1e-5);
    }

    /**
     * The same with convnets: cuDNN convolution, batch norm (frozen in the captured SAM branch) and pooling
     * inside the captured graph and its conditional body. The algorithms were chosen when the model was
     * bound (outside any capture); the stand-in refuses a Find during capture, as a GPU would fail it. With
     * {@code :nhwc}, channels-last: the input permutation, the filters' permutations and Flatten's are graph
     * nodes too, and the graph path still never waits for the device.
     */
    @ParameterizedTest
    @ValueSource(strings = {"cnn:sam", "cnn:aesam", "resnet18:sam", "resnet18:erm", "cnn:aesam:nhwc", "resnet18:sam:nhwc"})
    void convnetGraphHostAndOptimizerAgree(String which) {
        String[] parts = which.split(":");
        String model = parts[0], name = parts[1];
        layout = parts.length > 2 ? dev.sam4j.backend.ImageLayout.parse(parts[2]) : dev.sam4j.backend.ImageLayout.NCHW;
        Shape input = model.equals("cnn") ? CudaConvnetTrainingTest.INPUT : CudaConvnetTrainingTest.RESNET_INPUT;
        // cuDNN's fastest algorithms may add with atomics, so the three runs are not bitwise equal on a GPU.
        agree(name, cuda -> new Model(CudaConvnetTrainingTest.model(model), input, CLASSES, cuda, 4, 7), input, 4, 0.01,
                CudaTestSupport.realGpu() ? 1e-4 : 1e-5);
    }

    /** The image layout of the next {@link #agree}'s backend. */
    private dev.sam4j.backend.ImageLayout layout = dev.sam4j.backend.ImageLayout.NCHW;

    private void agree(String name, Function<CudaBackend, Model> make, Shape input, int batch, double peakLr, double tol) {
        CudaTestSupport.requireCuda();
        Method method = Method.of(name, Method.Hyper.defaults().toBuilder().lookSamK(3).esamSds(false).build());
        LrSchedule lr = new LrSchedule.Cosine(peakLr, 2);
        int BATCH = batch;
        Shape INPUT = input;
        try (CudaBackend cuda = new CudaBackend(0, dev.sam4j.backend.Precision.FP32, false, layout);
             Model graphModel = make.apply(cuda); Model hostModel = make.apply(cuda); Model optModel = make.apply(cuda)) {
            hostModel.uploadParams(optModel.downloadParams());
            graphModel.uploadParams(optModel.downloadParams());
            Buffer x = cuda.allocate((long) BATCH * INPUT.size()), y = cuda.allocate(BATCH);
            SoftmaxCrossEntropy loss = new SoftmaxCrossEntropy(cuda, CLASSES, BATCH);
            Sgd sgd = new Sgd(cuda, optModel.paramCount(), 0.9, 5e-4, false);
            SamOptimizer opt = new SamOptimizer(cuda, optModel.paramLayout(), optModel.params(), optModel.grads(), sgd, method, 9);
            GradientClosure closure = mode -> {
                Buffer logits = optModel.forward(x, BATCH, mode);
                double l = loss.forwardBackward(logits, y, BATCH);
                optModel.backward(loss.dLogits(), BATCH);
                return l;
            };
            try (DeviceDecidedStep graph = new DeviceDecidedStep(graphModel, x, y, BATCH, method, lr, STEPS, 0.9, 5e-4, false, 9);
                 DeviceDecidedStep host = new DeviceDecidedStep(hostModel, x, y, BATCH, method, lr, STEPS, 0.9, 5e-4, false, 9)) {
                SplittableRandom r = new SplittableRandom(4);
                long graphSam = 0, graphSyncs = 0;
                for (int t = 0; t < STEPS; t++) {
                    float[] xs = new float[BATCH * INPUT.intSize()], ys = new float[BATCH];
                    for (int i = 0; i < xs.length; i++) xs[i] = (float) r.nextGaussian();
                    for (int i = 0; i < BATCH; i++) ys[i] = r.nextInt(CLASSES);
                    cuda.upload(xs, 0, x, xs.length);
                    cuda.upload(ys, 0, y, ys.length);
                    long before = cuda.hostSyncs();
                    graph.step();
                    graphSyncs += cuda.hostSyncs() - before;
                    StepGraph.State st = graph.state();
                    boolean hostSam = host.stepHostDecided();
                    SamOptimizer.StepResult o = opt.step(closure, t, STEPS, lr.lr(t, STEPS));
                    assertEquals(o.sam(), st.sam(), name + " step " + t + ": graph decision vs optimizer (s " + st.s() + " vs " + o.s() + ")");
                    assertEquals(o.sam(), hostSam, name + " step " + t + ": host-decided vs optimizer");
                    assertEquals(t + 1, st.step(), "device step counter");
                    assertTrue(Math.abs(st.s() - o.s()) <= tol * o.s(), name + " step " + t + " s " + st.s() + " vs " + o.s());
                    assertTrue(Math.abs(st.loss() - o.loss()) <= tol * (1 + Math.abs(o.loss())), name + " loss " + st.loss() + " vs " + o.loss());
                    graphSam += st.sam() ? 1 : 0;
                }
                assertEquals(0, graphSyncs, "the graph path synchronised with the host");
                assertEquals(graphSam, graph.state().samSteps());
                assertEquals(opt.samSteps(), graphSam);
                assertClose(name + " graph vs optimizer", graphModel.downloadParams(), optModel.downloadParams(), tol);
                assertClose(name + " host-decided vs graph", hostModel.downloadParams(), graphModel.downloadParams(), tol);
                // BatchNorm running statistics: updated once per step on every path (pass 2 frozen).
                assertClose(name + " running statistics, graph vs optimizer", graphModel.downloadState(), optModel.downloadState(), tol);
                assertClose(name + " running statistics, host-decided vs graph", hostModel.downloadState(), graphModel.downloadState(), tol);
            }
        }
    }

    /**
     * LookSAM's noise floor on the device, as on the host: a SAM gradient parallel to {@code g} (1.3·g, rounded to
     * floats) leaves a {@code g_v} of rounding noise, which is stored with norm 0 (never scaled up to α·‖g‖ and reused); one with a real
     * orthogonal part (1e-3 of {@code g}, above the floor of 1e-5) is stored with its norm.
     */
    @ParameterizedTest
    @org.junit.jupiter.params.provider.CsvSource({"1.3, 0, true", "1.5, 3e-6, true", "1.5, 1e-3, false"})
    void lookSamNoiseFloorOnTheDevice(double factor, double orthogonal, boolean floored) {
        CudaTestSupport.requireCuda();
        int classes = 3, batch = 4;
        dev.sam4j.nn.ScriptedLayer net = new dev.sam4j.nn.ScriptedLayer(classes, 6, 4);
        try (CudaBackend cuda = new CudaBackend(0, false); Model model = new Model(net, Shape.of(2), classes, cuda, batch, 5)) {
            Buffer x = cuda.allocate(2L * batch), y = cuda.allocate(batch);
            cuda.upload(StepScript.labels(batch, classes), 0, y, batch);
            Method m = Method.of("looksam", Method.Hyper.defaults().toBuilder().lookSamK(2).build());
            try (DeviceDecidedStep step = new DeviceDecidedStep(model, x, y, batch, m, new LrSchedule.Constant(0.05, 0), 4, 0.9, 5e-4,
                    false, 1)) {
                StepScript.good(new SplittableRandom(3), batch, classes, net.size(), 1.0).withParallelSamGradient(factor, orthogonal).applyTo(net);
                step.step();
                double gv = step.exportState().lookSamSumSquares();
                float[] v = new float[net.size()];
                cuda.download(step.lookSamDirection(), v, 0, v.length);
                double stored = 0;
                for (float f : v) stored += (double) f * f;
                assertTrue(stored > 0, "g_v was computed");
                if (floored) assertEquals(0.0, gv, 0.0, "a g_v of " + Math.sqrt(stored) + " is rounding noise: its norm is stored as 0");
                else assertEquals(stored, gv, 1e-12 * stored, "a g_v above the floor keeps its squared norm");
            }
        }
    }

    /**
     * The convnet graph step allocates nothing: device memory in use, as the driver reports it
     * ({@code cudaMemGetInfo}), flat over 500 steps on a GPU (20 against the stand-in), after a first step that
     * may load kernels lazily. The driver's count, not a tally of our own buffers: it also sees what the
     * graph, cuBLAS, cuDNN and the driver take.
     */
    @Test
    void convnetGraphStepKeepsDeviceMemoryFlat() {
        CudaTestSupport.requireCuda();
        int steps = CudaTestSupport.realGpu() ? 500 : 20;
        Memory m = deviceMemoryOverGraphSteps(steps);
        assertEquals(m.before(), m.after(), "device memory in use (cudaMemGetInfo) grew over " + (steps - 1) + " graph steps");
        assertEquals(m.tallyBefore(), m.tallyAfter(), "the backend's own buffers grew over " + (steps - 1) + " graph steps");
    }

    /**
     * The check above can fail: with the stand-in made to leak 4 KiB at every graph launch, the driver's
     * count grows by exactly that per step, while the backend's tally of its buffers (what the check compared
     * before) stays flat and could not have seen it.
     */
    @Test
    void theFlatCheckSeesALaunchThatLeaks() {
        CudaTestSupport.requireStandIn("only the CPU stand-in can be made to leak");
        int steps = 8;
        long leak = 4096;
        StandIn.leakPerGraphLaunch(leak);
        Memory m;
        try {
            m = deviceMemoryOverGraphSteps(steps);
        } finally {
            StandIn.leakPerGraphLaunch(0);
        }
        assertEquals((steps - 1) * leak, m.after() - m.before(), "growth of device memory in use over " + (steps - 1) + " leaking launches");
        assertEquals(m.tallyBefore(), m.tallyAfter(), "the backend's tally does not see what a launch takes");
    }

    /** Device memory in use (driver's count) and the backend's tally, after step 1 and after {@code steps}. */
    record Memory(long before, long after, long tallyBefore, long tallyAfter) {}

    private static Memory deviceMemoryOverGraphSteps(int steps) {
        Shape input = CudaConvnetTrainingTest.INPUT;
        Method method = Method.of("aesam", Method.Hyper.defaults());
        try (CudaBackend cuda = new CudaBackend(0, false);
             Model model = new Model(CudaConvnetTrainingTest.model("cnn"), input, CLASSES, cuda, 4, 7)) {
            Buffer x = cuda.allocate(4L * input.size()), y = cuda.allocate(4);
            float[] xs = new float[4 * input.intSize()];
            SplittableRandom r = new SplittableRandom(2);
            for (int i = 0; i < xs.length; i++) xs[i] = (float) r.nextGaussian();
            cuda.upload(xs, 0, x, xs.length);
            cuda.upload(new float[] {1, 2, 3, 4}, 0, y, 4);
            try (DeviceDecidedStep step = new DeviceDecidedStep(model, x, y, 4, method, new LrSchedule.Constant(0.01, 0), steps,
                    0.9, 5e-4, false, 1)) {
                step.step();
                step.state();  // waits for the step: what its launch takes is taken now
                long before = cuda.deviceMemoryInUse(), tallyBefore = cuda.allocatedBytes();
                for (int t = 1; t < steps; t++) step.step();
                StepGraph.State st = step.state();
                assertEquals(steps, st.step());
                return new Memory(before, cuda.deviceMemoryInUse(), tallyBefore, cuda.allocatedBytes());
            }
        }
    }

    private static void assertClose(String what, float[] a, float[] b, double tol) {
        double worst = 0;
        for (int i = 0; i < a.length; i++) worst = Math.max(worst, Math.abs(a[i] - b[i]) / Math.max(1, Math.abs(b[i])));
        assertTrue(worst <= tol, what + ": differ by " + worst);
    }
}
