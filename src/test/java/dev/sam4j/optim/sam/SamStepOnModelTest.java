package dev.sam4j.optim.sam;

import static org.junit.jupiter.api.Assertions.*;

import dev.sam4j.backend.Backend;
import dev.sam4j.backend.Buffer;
import dev.sam4j.backend.cpu.CpuBackend;
import dev.sam4j.nn.Mode;
import dev.sam4j.nn.Model;
import dev.sam4j.nn.SoftmaxCrossEntropy;
import dev.sam4j.nn.models.Models;
import dev.sam4j.optim.Sgd;
import dev.sam4j.tensor.Shape;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;

/** The SAM step shape on a real model (the cnn, which has BatchNorm) on the fast CPU backend. */
class SamStepOnModelTest {
    static final Shape IN = Shape.of(1, 12, 12);
    static final int B = 16, CLASSES = 10;

    /** A model, its loss and a fixed random batch, as a closure. */
    static final class Rig implements GradientClosure, AutoCloseable {
        final Backend backend = new CpuBackend(2);
        final Model model;
        final SoftmaxCrossEntropy loss;
        final Sgd sgd;
        final Buffer x, y;
        Rig(long seed) {
            model = new Model(Models.create("cnn", IN, CLASSES), IN, CLASSES, backend, B, seed);
            loss = new SoftmaxCrossEntropy(backend, CLASSES, B);
            sgd = new Sgd(backend, model.paramCount(), 0.9, 5e-4, false);
            x = backend.allocate((long) B * IN.size());
            y = backend.allocate(B);
            batch(0);
        }
        void batch(long seed) {
            SplittableRandom r = new SplittableRandom(1000 + seed);
            float[] xs = new float[B * IN.intSize()];
            for (int i = 0; i < xs.length; i++) xs[i] = (float) r.nextGaussian();
            float[] ys = new float[B];
            for (int i = 0; i < B; i++) ys[i] = r.nextInt(CLASSES);
            backend.upload(xs, 0, x, xs.length);
            backend.upload(ys, 0, y, B);
        }
        SamOptimizer optimizer(String method, Method.Hyper h) {
            return new SamOptimizer(backend, model.paramLayout(), model.params(), model.grads(), sgd, Method.of(method, h), 3);
        }
        @Override public double lossAndGradient(Mode mode) {
            double l = loss.forwardBackward(model.forward(x, B, mode), y, B);
            model.backward(loss.dLogits(), B);
            return l;
        }
        @Override public void close() { model.close(); backend.close(); }
    }

    @Test
    void batchNormRunningStatsChangeExactlyOncePerSamStep() {
        try (Rig sam = new Rig(5); Rig once = new Rig(5)) {
            SamOptimizer opt = sam.optimizer("sam", Method.Hyper.defaults());
            assertTrue(opt.step(sam, 0, 10, 0.05).sam());
            once.model.forward(once.x, B, Mode.TRAIN); // one pass-1 forward from the same weights
            assertArrayEquals(once.model.downloadState(), sam.model.downloadState(), "running stats after one SAM step");
            float[] init = new Rig(5).model.downloadState();
            assertFalse(java.util.Arrays.equals(init, sam.model.downloadState()), "running stats did change");
        }
    }

    @Test
    void samUpdateEqualsAnErmUpdateFromTheSavedWeightsBitForBit() {
        try (Rig r = new Rig(8)) {
            float[] w0 = r.model.downloadParams();
            SamOptimizer opt = r.optimizer("sam", Method.Hyper.defaults());
            opt.step(r, 0, 10, 0.05);
            float[] after = r.model.downloadParams();
            float[] gSam = r.model.downloadGrads();
            assertArrayEquals(w0, download(r.backend, opt.savedWeights(), w0.length), "saved weights are the pre-step weights");
            // An ERM-style update from the saved weights with g_sam, on a fresh momentum arena.
            Buffer w = r.backend.allocate(w0.length), g = r.backend.allocate(w0.length);
            r.backend.upload(w0, 0, w, w0.length);
            r.backend.upload(gSam, 0, g, w0.length);
            new Sgd(r.backend, w0.length, 0.9, 5e-4, false).step(w, g, 0.05);
            assertArrayEquals(download(r.backend, w, w0.length), after);
        }
    }

    static float[] download(Backend b, Buffer buf, int n) {
        float[] out = new float[n];
        b.download(buf, out, 0, n);
        return out;
    }

    /** Before the first SAM step LookSAM is plain ERM; after it, the stored direction changes the update. */
    @Test
    void lookSamEqualsErmBeforeTheFirstSamStepAndDiffersAfter() {
        Method.Hyper warm = Method.Hyper.defaults().toBuilder().aeWarmup(3).build();
        try (Rig look = new Rig(9); Rig erm = new Rig(9)) {
            SamOptimizer lo = look.optimizer("aelooksam", warm);
            SamOptimizer eo = erm.optimizer("erm", warm);
            for (int t = 0; t < 3; t++) {
                look.batch(t); erm.batch(t);
                assertFalse(lo.step(look, t, 20, 0.05).sam(), "warm-up steps are ERM steps");
                eo.step(erm, t, 20, 0.05);
                assertArrayEquals(erm.model.downloadParams(), look.model.downloadParams(), "step " + t);
            }
            look.batch(3);
            assertTrue(lo.step(look, 3, 20, 0.05).sam(), "first decision after warm-up: mu = s0-based statistic");
            assertTrue(lo.lookSamDirectionNorm() > 0);
            // From here compare one reuse step against an ERM step from the same state.
            float[] w = look.model.downloadParams();
            float[] m = download(look.backend, look.sgd.momentumArena(), w.length);
            SamOptimizer.StepResult r;
            int t = 4;
            do {
                look.batch(t);
                w = look.model.downloadParams();
                m = download(look.backend, look.sgd.momentumArena(), w.length);
                r = lo.step(look, t, 20, 0.05);
                t++;
            } while (r.sam() && t < 20);
            assertFalse(r.sam(), "expected an ERM (reuse) step within the run");
            float[] reused = look.model.downloadParams();
            // ERM from the same weights, momentum and batch:
            erm.model.uploadParams(w);
            erm.backend.upload(m, 0, erm.sgd.momentumArena(), w.length);
            erm.model.uploadState(look.model.downloadState());
            erm.batch(t - 1);
            erm.lossAndGradient(Mode.TRAIN);
            erm.sgd.step(erm.model.params(), erm.model.grads(), 0.05);
            assertFalse(java.util.Arrays.equals(reused, erm.model.downloadParams()), "the stored g_v must change the update");
        }
    }
}
