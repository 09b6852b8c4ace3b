package dev.sam4j.train;

import dev.sam4j.backend.Backend;
import dev.sam4j.backend.Buffer;
import dev.sam4j.nn.Mode;
import dev.sam4j.nn.Model;
import dev.sam4j.nn.SoftmaxCrossEntropy;
import dev.sam4j.optim.sam.GradientClosure;

/**
 * The current batch as a {@link GradientClosure}: pass 1 also counts correct predictions (for the
 * training accuracy) and keeps the per-example losses that ESAM's data selection compares against. Public so
 * that the step benchmark ({@code dev.sam4j.benchmark.StepBenchmark}) times exactly the trainer's host-driven step.
 */
public final class BatchClosure implements GradientClosure {
    private final Backend backend;
    private final Model model;
    private final SoftmaxCrossEntropy loss;
    private final Buffer xBuf, labelBuf;             // [maxBatch, C, H, W], [maxBatch]: the batch on the device
    private final Buffer subsetXBuf, subsetLabelBuf; // ESAM-SDS's selected examples (pass 2 only), or null
    private final float[] logitsHost;                // [maxBatch, classes]
    private final int exampleSize, classes, maxSubset;
    private float[] hostX;      // the loader's batch, valid for this step
    private float[] hostLabels;
    private int n;
    private float[] subX;       // gathered subset for ESAM-SDS, allocated on first use
    private float[] subLabels;
    long pass1Correct;

    /**
     * The batch lives in {@code xBuf} / {@code labelBuf} ({@link #load}); ESAM's selected examples go to
     * {@code subsetXBuf} / {@code subsetLabelBuf} (up to {@code maxSubset}; null where no ESAM runs);
     * {@code logitsHost} holds {@code [maxBatch, classes]} for the accuracy count.
     */
    public BatchClosure(Backend backend, Model model, SoftmaxCrossEntropy loss, Buffer xBuf, Buffer labelBuf, Buffer subsetXBuf,
                 Buffer subsetLabelBuf, float[] logitsHost, int exampleSize, int classes, int maxSubset) {
        this.backend = backend;
        this.model = model;
        this.loss = loss;
        this.xBuf = xBuf;
        this.labelBuf = labelBuf;
        this.subsetXBuf = subsetXBuf;
        this.subsetLabelBuf = subsetLabelBuf;
        this.logitsHost = logitsHost;
        this.exampleSize = exampleSize;
        this.classes = classes;
        this.maxSubset = maxSubset;
    }

    /** Uploads the batch {@code x[n, example]}, {@code labels[n]}; both arrays must stay unchanged for this step. */
    public void load(float[] x, float[] labels, int n) {
        this.hostX = x;
        this.hostLabels = labels;
        this.n = n;
        backend.upload(x, 0, xBuf, n * exampleSize);
        backend.upload(labels, 0, labelBuf, n);
    }

    @Override public double lossAndGradient(Mode mode) {
        Buffer logits = model.forward(xBuf, n, mode);
        double l = loss.forwardBackward(logits, labelBuf, n);
        if (mode == Mode.TRAIN) {
            backend.download(logits, logitsHost, 0, n * classes);
            pass1Correct = countCorrect(logitsHost, hostLabels, n, classes);
        }
        model.backward(loss.dLogits(), n);
        return l;
    }

    @Override public boolean supportsSubsets() { return true; }
    @Override public int batchSize() { return n; }
    @Override public float[] lastPerExampleLoss() { return loss.lastLosses(); }

    @Override public float[] perExampleLoss(Mode mode) {
        loss.forward(model.forward(xBuf, n, mode), labelBuf, n);
        return loss.lastLosses();
    }

    @Override public double lossAndGradient(Mode mode, int[] subset) {
        int es = exampleSize;
        if (subX == null) { subX = new float[maxSubset * es]; subLabels = new float[maxSubset]; }
        for (int i = 0; i < subset.length; i++) {
            System.arraycopy(hostX, subset[i] * es, subX, i * es, es);
            subLabels[i] = hostLabels[subset[i]];
        }
        int m = subset.length;
        backend.upload(subX, 0, subsetXBuf, m * es);
        backend.upload(subLabels, 0, subsetLabelBuf, m);
        Buffer logits = model.forward(subsetXBuf, m, mode);
        double l = loss.forwardBackward(logits, subsetLabelBuf, m);
        model.backward(loss.dLogits(), m);
        return l;
    }

    /** How many of the {@code n} rows of {@code logits} have their largest entry at the label (the first, on a tie). */
    static long countCorrect(float[] logits, float[] labels, int n, int classes) {
        long c = 0;
        for (int i = 0; i < n; i++) {
            int best = 0;
            for (int j = 1; j < classes; j++) if (logits[i * classes + j] > logits[i * classes + best]) best = j;
            if (best == (int) labels[i]) c++;
        }
        return c;
    }
}
