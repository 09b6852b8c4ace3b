package dev.sam4j.backend.cuda;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.sam4j.backend.Backend;
import dev.sam4j.backend.Buffer;
import dev.sam4j.backend.ImageLayout;
import dev.sam4j.backend.Precision;
import dev.sam4j.backend.cpu.ReferenceBackend;
import dev.sam4j.nn.Layer;
import dev.sam4j.nn.Model;
import dev.sam4j.tensor.Shape;
import dev.sam4j.nn.SoftmaxCrossEntropy;
import dev.sam4j.nn.models.Models;
import dev.sam4j.optim.sam.Method;
import dev.sam4j.optim.Sgd;
import dev.sam4j.optim.sam.GradientClosure;
import dev.sam4j.optim.sam.SamOptimizer;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/**
 * Convnets on cuDNN in lock step with the double-precision reference: {@code cnn} and a narrow ResNet-18
 * (the zoo's block structure, widths 4–16) on 3×8×8 and 3×16×16 inputs, batch 4, 10 steps, from the same weights and
 * batches, through the host-decided {@link SamOptimizer}. After every step the SAM decision, the loss and
 * the BatchNorm running statistics must agree (so the running statistics moved exactly once per step, SAM
 * or not: SAM's second pass runs in TRAIN_FROZEN_STATS); at the end the weights must. Device memory must
 * not grow after the first step (algorithms and descriptors are cached, workspaces preallocated). Each case runs
 * in both image layouts: channels-last (NHWC) keeps every activation in NHWC between layers, the input permuted in
 * and {@code cnn}'s Flatten permuting back, and must hold the same lock step against the NCHW reference.
 */
@Tag("gpu")
class CudaConvnetTrainingTest {
    static final Shape INPUT = Shape.of(3, 8, 8);
    /**
     * ResNet's input: at 8×8 its last stage is 1×1, so BatchNorm normalises 4 numbers per channel and fp32
     * round-off grows chaotically (the CPU float backend leaves the reference just as fast there). At
     * 16×16 (2×2, 16 numbers per channel) lock step held on the stand-in but not on an H200, whose cuDNN
     * algorithms round differently: a 2.4% loss gap by step 3 under SAM in one run, BatchNorm statistics
     * off by 1.2e-4 in another. At 32×32 the last stage normalises 64 numbers per channel.
     */
    static final Shape RESNET_INPUT = Shape.of(3, 32, 32);
    static final int CLASSES = 10, BATCH = 4, STEPS = 10;
    /**
     * A small learning rate: with batch 4, SAM on this ResNet at 0.05 amplifies fp32 round-off until the
     * float CPU backend, too, leaves the double reference by step 5; lock step is about the ops, not chaos.
     */
    static final double LR = 0.01;

    static Layer model(String name) {
        return switch (name) {
            case "cnn" -> Models.cnn(INPUT, CLASSES);
            case "resnet18" -> Models.resnet(RESNET_INPUT, CLASSES, new int[] {4, 8, 8, 16}, new int[] {2, 2, 2, 2});
            default -> throw new IllegalArgumentException(name);
        };
    }

    static final class Run implements AutoCloseable {
        final Backend be;
        final Model model;
        final SoftmaxCrossEntropy loss;
        final SamOptimizer opt;
        final Buffer x, y;

        final Shape input;

        Run(Backend be, String name, Method method) {
            this.be = be;
            input = name.equals("cnn") ? INPUT : RESNET_INPUT;
            model = new Model(model(name), input, CLASSES, be, BATCH, 7);
            loss = new SoftmaxCrossEntropy(be, CLASSES, BATCH);
            Sgd sgd = new Sgd(be, model.paramCount(), 0.9, 5e-4, false);
            opt = new SamOptimizer(be, model.paramLayout(), model.params(), model.grads(), sgd, method, 11);
            x = be.allocate((long) BATCH * input.size());
            y = be.allocate(BATCH);
        }

        SamOptimizer.StepResult step(float[] xs, float[] ys, long t) {
            be.upload(xs, 0, x, xs.length);
            be.upload(ys, 0, y, ys.length);
            GradientClosure closure = mode -> {
                Buffer logits = model.forward(x, BATCH, mode);
                double l = loss.forwardBackward(logits, y, BATCH);
                model.backward(loss.dLogits(), BATCH);
                return l;
            };
            return opt.step(closure, t, STEPS, LR);
        }

        @Override public void close() { model.close(); }
    }

    private static double worst(float[] a, float[] b) {
        double worst = 0, scale = 1;
        for (int i = 0; i < a.length; i++) {
            worst = Math.max(worst, Math.abs(a[i] - b[i]));
            scale = Math.max(scale, Math.abs(b[i]));
        }
        return worst / scale;
    }

    @ParameterizedTest(name = "{0} {1} {2}")
    @CsvSource({"cnn, sam, nchw", "cnn, aesam, nchw", "resnet18, sam, nchw", "resnet18, erm, nchw",
                "cnn, sam, nhwc", "cnn, aesam, nhwc", "resnet18, sam, nhwc", "resnet18, erm, nhwc"})
    void lockStepWithTheReference(String modelName, String methodName, String layout) {
        CudaTestSupport.requireCuda();
        Method method = Method.of(methodName, Method.Hyper.defaults());
        SplittableRandom r = new SplittableRandom(5);
        ImageLayout imageLayout = ImageLayout.parse(layout);
        try (CudaBackend cuda = new CudaBackend(0, Precision.FP32, false, imageLayout); Run g = new Run(cuda, modelName, method);
             Run c = new Run(new ReferenceBackend(), modelName, method)) {
            g.model.uploadParams(c.model.downloadParams());
            g.model.uploadState(c.model.downloadState());
            long memoryAfterFirstStep = -1;
            for (int t = 0; t < STEPS; t++) {
                float[] xs = new float[BATCH * g.input.intSize()], ys = new float[BATCH];
                for (int i = 0; i < xs.length; i++) xs[i] = (float) r.nextGaussian();
                for (int i = 0; i < BATCH; i++) ys[i] = r.nextInt(CLASSES);
                SamOptimizer.StepResult a = g.step(xs, ys, t), b = c.step(xs, ys, t);
                String at = modelName + " " + methodName + " " + layout + " step " + t;
                assertEquals(b.sam(), a.sam(), at + ": SAM decision differs (s gpu " + a.s() + ", ref " + b.s() + ")");
                assertTrue(Math.abs(a.loss() - b.loss()) <= 1e-3 * (1 + Math.abs(b.loss())), at + " loss " + a.loss() + " vs " + b.loss());
                double stateDiff = worst(g.model.downloadState(), c.model.downloadState());
                // 5e-4: on an H200 a narrow ResNet-18 under SAM reached 1.2e-4 at step 5 (cuDNN's algorithms round
                // differently from the reference; running variances integrate that drift), within the loss tolerance.
                assertTrue(stateDiff <= 5e-4, at + ": BatchNorm running statistics differ by " + stateDiff);
                // The driver's count (cudaMemGetInfo): it sees cuDNN's and cuBLAS's memory too, not only our buffers.
                if (t == 0) memoryAfterFirstStep = cuda.deviceMemoryInUse();
                else assertEquals(memoryAfterFirstStep, cuda.deviceMemoryInUse(), at + ": device memory in use grew");
            }
            double w = worst(g.model.downloadParams(), c.model.downloadParams());
            assertEquals(imageLayout, cuda.imageLayout());
            assertTrue(w <= 1e-3, modelName + " " + methodName + " " + layout + ": weights differ by " + w + " (relative) after " + STEPS + " steps");
        }
    }
}
