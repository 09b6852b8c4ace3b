package dev.sam4j.train;

import dev.sam4j.backend.Backend;
import dev.sam4j.backend.Buffer;
import dev.sam4j.nn.Mode;
import dev.sam4j.nn.Model;
import dev.sam4j.nn.SoftmaxCrossEntropy;
import dev.sam4j.nn.models.Models;
import dev.sam4j.optim.Sgd;
import dev.sam4j.tensor.Shape;
import java.util.Arrays;
import java.util.SplittableRandom;

/**
 * Times full training steps of a model on fixed random inputs (no data loading), after warm-up: the
 * same work as a {@link Trainer} step (forward, loss, backward, {@code ‖g‖²}, SGD update). Used by
 * {@code sam4j bench} and the side-by-side scripts; timings are medians because shared machines are noisy.
 */
public final class StepBenchmark {
    private StepBenchmark() {}

    /** Step times in milliseconds, sorted ascending. */
    public record Result(String model, int batch, long parameters, double[] sortedMillis) {
        public double median() { return percentile(0.5); }
        public double p90() { return percentile(0.9); }
        public double percentile(double q) {
            double pos = q * (sortedMillis.length - 1);
            int lo = (int) Math.floor(pos), hi = (int) Math.ceil(pos);
            return sortedMillis[lo] + (pos - lo) * (sortedMillis[hi] - sortedMillis[lo]);
        }
        public double imagesPerSecond() { return batch * 1000.0 / median(); }
    }

    public static Result run(Backend backend, String modelName, Shape input, int classes, int batch, int warmup, int steps,
                             long seed) {
        if (steps < 1) throw new IllegalArgumentException("steps must be >= 1");
        try (Model model = new Model(Models.create(modelName, input, classes), input, classes, backend, batch, seed)) {
            SoftmaxCrossEntropy loss = new SoftmaxCrossEntropy(backend, classes, batch);
            Sgd sgd = new Sgd(backend, model.paramCount(), 0.9, 5e-4, false);
            SplittableRandom r = new SplittableRandom(seed);
            float[] x = new float[batch * input.intSize()];
            for (int i = 0; i < x.length; i++) x[i] = (float) r.nextGaussian();
            float[] y = new float[batch];
            for (int i = 0; i < batch; i++) y[i] = r.nextInt(classes);
            Buffer xb = backend.allocate(x.length), yb = backend.allocate(batch);
            double[] ms = new double[steps];
            for (int i = 0; i < warmup + steps; i++) {
                long t0 = System.nanoTime();
                backend.upload(x, 0, xb, x.length);
                backend.upload(y, 0, yb, batch);
                Buffer logits = model.forward(xb, batch, Mode.TRAIN);
                loss.forwardBackward(logits, yb, batch);
                model.backward(loss.dLogits(), batch);
                backend.sumOfSquares(model.grads(), model.paramCount());
                sgd.step(model.params(), model.grads(), 0.01);
                long dt = System.nanoTime() - t0;
                if (i >= warmup) ms[i - warmup] = dt / 1e6;
            }
            Arrays.sort(ms);
            return new Result(modelName, batch, model.paramCount(), ms);
        }
    }
}
