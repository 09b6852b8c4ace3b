package dev.sam4j.backend.cuda;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.sam4j.backend.Backend;
import dev.sam4j.backend.Buffer;
import dev.sam4j.backend.cpu.ReferenceBackend;
import dev.sam4j.nn.Mode;
import dev.sam4j.nn.Model;
import dev.sam4j.nn.SoftmaxCrossEntropy;
import dev.sam4j.nn.models.Models;
import dev.sam4j.optim.Sgd;
import dev.sam4j.optim.sam.GradientClosure;
import dev.sam4j.optim.sam.Method;
import dev.sam4j.optim.sam.SamOptimizer;
import dev.sam4j.tensor.Shape;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * The {@code mlp} (Flatten, 2 × (Linear, ReLU), Linear) trained 20 steps in lock step on the CUDA backend and on the double-precision reference,
 * from the same initial weights and batches, with every SAM-family optimizer (ESAM without its data
 * selection, which needs per-example subsets): after every step the decisions must be the same, and after
 * 20 steps the weights must agree to fp32 tolerance.
 */
@Tag("gpu")
class CudaTrainingTest {
    static final Shape INPUT = Shape.of(1, 8, 8);
    static final int CLASSES = 10, BATCH = 16, STEPS = 20;

    /** One backend's model, loss, optimizer and batch buffers. */
    static final class Run implements AutoCloseable {
        final Backend be;
        final Model model;
        final SoftmaxCrossEntropy loss;
        final Sgd sgd;
        final SamOptimizer opt;
        final Buffer x, y;

        Run(Backend be, Method method) {
            this.be = be;
            // The zoo's mlp (width 512) on a GPU; a narrower one against the stand-in, where the double
            // reference and the C emulation make width 512 cost ~20 s of CI for no extra host-code coverage.
            int width = CudaTestSupport.realGpu() ? 512 : 64;
            model = new Model(Models.mlp(INPUT, CLASSES, width, 2), INPUT, CLASSES, be, BATCH, 7);
            loss = new SoftmaxCrossEntropy(be, CLASSES, BATCH);
            sgd = new Sgd(be, model.paramCount(), 0.9, 5e-4, false);
            opt = new SamOptimizer(be, model.paramLayout(), model.params(), model.grads(), sgd, method, 11);
            x = be.allocate((long) BATCH * INPUT.size());
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
            return opt.step(closure, t, STEPS, 0.05);
        }

        @Override public void close() { model.close(); }
    }

    @ParameterizedTest
    @ValueSource(strings = {"erm", "sam", "asam", "esam", "sssam", "looksam", "aesam", "aelooksam"})
    void lockStepWithTheReference(String name) {
        CudaTestSupport.requireCuda();
        Method.Hyper h = Method.Hyper.defaults().toBuilder().lookSamK(3).esamSds(false).build();
        Method method = Method.of(name, h);
        SplittableRandom r = new SplittableRandom(3);
        try (CudaBackend cuda = new CudaBackend(0, false); Run g = new Run(cuda, method);
             Run c = new Run(new ReferenceBackend(), method)) {
            g.model.uploadParams(c.model.downloadParams());
            int samSteps = 0;
            for (int t = 0; t < STEPS; t++) {
                float[] xs = new float[BATCH * INPUT.intSize()], ys = new float[BATCH];
                for (int i = 0; i < xs.length; i++) xs[i] = (float) r.nextGaussian();
                for (int i = 0; i < BATCH; i++) ys[i] = r.nextInt(CLASSES);
                SamOptimizer.StepResult a = g.step(xs, ys, t), b = c.step(xs, ys, t);
                assertEquals(b.sam(), a.sam(), name + " step " + t + ": SAM decision differs (s gpu " + a.s() + ", ref " + b.s() + ")");
                assertTrue(Math.abs(a.loss() - b.loss()) <= 1e-4 * (1 + Math.abs(b.loss())), name + " step " + t + " loss " + a.loss() + " vs " + b.loss());
                assertTrue(Math.abs(a.s() - b.s()) <= 1e-3 * b.s(), name + " step " + t + " s " + a.s() + " vs " + b.s());
                samSteps += a.sam() ? 1 : 0;
            }
            float[] wg = g.model.downloadParams(), wc = c.model.downloadParams();
            double worst = 0, scale = 0;
            for (int i = 0; i < wg.length; i++) {
                worst = Math.max(worst, Math.abs(wg[i] - wc[i]));
                scale = Math.max(scale, Math.abs(wc[i]));
            }
            assertTrue(worst <= 1e-4 * Math.max(1, scale), name + ": weights differ by " + worst + " after " + STEPS + " steps");
            if (!name.equals("erm")) assertTrue(samSteps > 0, name + " took no SAM step");
        }
    }
}
