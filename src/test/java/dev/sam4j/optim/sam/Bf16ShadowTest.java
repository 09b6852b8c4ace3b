package dev.sam4j.optim.sam;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.sam4j.backend.Backend;
import dev.sam4j.backend.Buffer;
import dev.sam4j.backend.Precision;
import dev.sam4j.backend.cpu.CpuBackend;
import dev.sam4j.backend.cpu.ReferenceBackend;
import dev.sam4j.nn.Model;
import dev.sam4j.nn.SoftmaxCrossEntropy;
import dev.sam4j.nn.models.Models;
import dev.sam4j.optim.Sgd;
import dev.sam4j.tensor.Shape;
import java.util.SplittableRandom;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;
import org.junit.jupiter.api.Test;

/**
 * The bf16 shadow of the weights written by the optimizer's own passes ({@link SamOptimizer#keepShadowOf}, the
 * weight-writing {@code Backend} operations that take a shadow) against the model rounding the whole arena before
 * every forward (an optimizer that does not keep the shadow): the same weights, shadow and losses bit for bit, for
 * every method, including ESAM's per-tensor slices, LookSAM's per-tensor reuse, Momentum-SAM and a step skipped after
 * its perturbation. A shadow that lagged the weights after any of those passes would make the layers compute at old
 * weights and the two runs part at once.
 */
class Bf16ShadowTest {

    static final Shape INPUT = Shape.of(1, 8, 8);

    @ParameterizedTest
    @ValueSource(strings = {"erm", "sam", "asam", "esam", "sssam", "looksam", "looksam-per-tensor", "aesam", "aelooksam", "msam"})
    void theOptimizersShadowIsTheModelsOwnRoundingOnTheCpu(String method) {
        try (CpuBackend be = new CpuBackend(1)) {
            assertSameRun(be, method, "cnn", 6);
        }
    }

    @Test
    void theReferenceBackendKeepsTheShadowToo() {
        try (ReferenceBackend be = new ReferenceBackend()) {
            assertSameRun(be, "sam", "mlp", 4);
            assertSameRun(be, "asam", "mlp", 4);
        }
    }

    @Test
    void fp32ModelsHaveNoShadowAndAForeignModelIsRefused() {
        try (CpuBackend be = new CpuBackend(1);
             Model m = new Model(Models.mlp(INPUT, 10, 16, 1), INPUT, 10, be, 4, 1, Precision.FP32);
             Model other = new Model(Models.mlp(INPUT, 10, 16, 1), INPUT, 10, be, 4, 1, Precision.BF16)) {
            assertNull(m.bf16Shadow());
            assertNull(m.handShadowToOptimizer());
            SamOptimizer opt = new SamOptimizer(be, m.paramLayout(), m.params(), m.grads(),
                    new Sgd(be, m.paramCount(), 0.9, 0, false), Method.of("sam", Method.Hyper.defaults()), 1);
            assertTrue(opt == opt.keepShadowOf(m), "keepShadowOf returns the optimizer");
            IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> opt.keepShadowOf(other));
            assertTrue(e.getMessage().contains("parameter arena"), e.getMessage());
            assertNotNull(other.bf16Shadow());
        }
    }

    /**
     * Two bf16 models of {@code net} from one seed, trained {@code steps} steps of {@code method} on the same batches:
     * one by an optimizer keeping the shadow, one by an optimizer that does not (the model rounds before each forward).
     * Step 2's SAM pass and step 3's first pass report a NaN loss, so that the skips run too: the restore of the
     * perturbed weights after pass 2 (and Momentum-SAM's after its one pass), and a pass-1 skip that writes nothing.
     */
    public static void assertSameRun(Backend be, String method, String net, int steps) {
        int classes = 10, batch = 8;
        boolean perTensor = method.equals("looksam-per-tensor");
        String name = perTensor ? "looksam" : method;
        Method.Hyper.Builder h = Method.Hyper.defaults().toBuilder().rho(0.5);
        if (name.equals("sssam")) h.sssamP(0.5);
        if (name.equals("esam")) h.esamBeta(0.5).esamSwp(true).esamSds(false);
        if (name.equals("looksam") || name.equals("aelooksam")) h.lookSamK(2);
        if (perTensor) h.lookSamPerTensor(true);
        if (name.startsWith("ae")) h.aeLambda1(-10).aeLambda2(10);   // both branches taken early
        Method m = Method.of(name, h.build());
        try (Model kept = new Model(Models.create(net, INPUT, classes), INPUT, classes, be, batch, 3, Precision.BF16);
             Model rounded = new Model(Models.create(net, INPUT, classes), INPUT, classes, be, batch, 3, Precision.BF16)) {
            SamOptimizer a = new SamOptimizer(be, kept.paramLayout(), kept.params(), kept.grads(),
                    new Sgd(be, kept.paramCount(), 0.9, 5e-4, false), m, 11).keepShadowOf(kept);
            SamOptimizer b = new SamOptimizer(be, rounded.paramLayout(), rounded.params(), rounded.grads(),
                    new Sgd(be, rounded.paramCount(), 0.9, 5e-4, false), m, 11);
            SoftmaxCrossEntropy la = new SoftmaxCrossEntropy(be, classes, batch), lb = new SoftmaxCrossEntropy(be, classes, batch);
            Buffer x = be.allocate((long) batch * INPUT.size()), y = be.allocate(batch);
            SplittableRandom r = new SplittableRandom(5);
            int sam = 0;
            for (int t = 0; t < steps; t++) {
                float[] xs = new float[batch * INPUT.intSize()], ys = new float[batch];
                for (int i = 0; i < xs.length; i++) xs[i] = (float) r.nextGaussian();
                for (int i = 0; i < batch; i++) ys[i] = r.nextInt(classes);
                be.upload(xs, 0, x, xs.length);
                be.upload(ys, 0, y, ys.length);
                int step = t;
                SamOptimizer.StepResult ra = a.step(mode -> fault(step, mode, pass(kept, la, x, y, batch, mode)), t, steps, 0.1);
                SamOptimizer.StepResult rb = b.step(mode -> fault(step, mode, pass(rounded, lb, x, y, batch, mode)), t, steps, 0.1);
                assertEquals(Double.doubleToRawLongBits(rb.loss()), Double.doubleToRawLongBits(ra.loss()), method + " step " + t + " loss");
                assertEquals(rb.sam(), ra.sam(), method + " step " + t + " decision");
                if (ra.sam()) sam++;
                assertArrayEquals(rounded.downloadParams(), kept.downloadParams(), method + " step " + t + " weights");
            }
            float[] w = kept.downloadParams(), shadow = download(be, kept.bf16Shadow(), w.length);
            // The reference backend holds doubles: bf16 of the double is not always bf16 of its float download.
            for (int i = 0; i < w.length && !(be instanceof ReferenceBackend); i++) {
                assertEquals(Float.floatToRawIntBits(Precision.BF16.round(w[i])), Float.floatToRawIntBits(shadow[i]),
                        method + ": shadow[" + i + "] is not bf16(w)");
            }
            if (!name.equals("erm") && !name.equals("msam") && !name.equals("sssam")) {
                assertTrue(sam > 0, method + ": no SAM step was taken, so the perturbation passes went untested");
            }
        }
    }

    /** A NaN loss for step 2's SAM pass and step 3's first pass; else {@code loss}. */
    private static double fault(int t, dev.sam4j.nn.Mode mode, double loss) {
        if (t == 2 && mode == dev.sam4j.nn.Mode.TRAIN_FROZEN_STATS) return Double.NaN;
        if (t == 3 && mode == dev.sam4j.nn.Mode.TRAIN) return Double.NaN;
        return loss;
    }

    private static double pass(Model model, SoftmaxCrossEntropy loss, Buffer x, Buffer y, int batch, dev.sam4j.nn.Mode mode) {
        double l = loss.forwardBackward(model.forward(x, batch, mode), y, batch);
        model.backward(loss.dLogits(), batch);
        return l;
    }

    private static float[] download(Backend be, Buffer b, int n) {
        float[] out = new float[n];
        be.download(b, out, 0, n);
        return out;
    }
}
