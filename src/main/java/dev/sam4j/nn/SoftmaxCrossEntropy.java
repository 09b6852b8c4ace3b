package dev.sam4j.nn;

import dev.sam4j.backend.Backend;
import dev.sam4j.backend.Buffer;

/**
 * Softmax cross-entropy averaged over the batch, {@code L = (1/n)·Σ_i (logsumexp(z_i) − z_i[y_i])}, with
 * its gradient {@code dL/dz = (softmax(z) − onehot(y)) / n}. Labels are a buffer of floats holding class
 * indices (see {@link Backend}).
 *
 * <p>The mean is formed on the host in double from the downloaded per-example losses (one small transfer
 * of {@code n} floats per step): simple and deterministic. A device-side reduction can replace it when the
 * training step must not synchronise.
 */
public final class SoftmaxCrossEntropy implements AutoCloseable {
    private final Backend be;
    private final int classes, maxBatch;
    private final Buffer dLogits;        // [maxBatch, classes]
    private final Buffer lossPerExample; // [maxBatch]
    private final float[] hostLoss;      // [maxBatch]
    private float[] hostLogits;          // [maxBatch, classes], made on the first countCorrect
    private float[] hostLabels;          // [maxBatch]
    private int lastN;
    private boolean closed;

    public SoftmaxCrossEntropy(Backend backend, int classes, int maxBatch) {
        if (classes < 2) throw new IllegalArgumentException("need at least 2 classes, got " + classes);
        if (maxBatch < 1) throw new IllegalArgumentException("maxBatch must be positive, got " + maxBatch);
        this.be = backend;
        this.classes = classes;
        this.maxBatch = maxBatch;
        this.dLogits = backend.allocate((long) maxBatch * classes);
        this.lossPerExample = backend.allocate(maxBatch);
        this.hostLoss = new float[maxBatch];
    }

    /**
     * Gives its two device buffers back where the backend's buffers are closeable (device memory), for a loss that
     * does not live as long as its backend; host buffers are left to the garbage collector. Idempotent.
     */
    @Override public void close() {
        if (closed) return;
        closed = true;
        for (Buffer b : new Buffer[] {dLogits, lossPerExample}) {
            if (b instanceof AutoCloseable c) {
                try {
                    c.close();
                } catch (Exception e) {
                    throw new IllegalStateException("closing a loss buffer failed", e);
                }
            }
        }
    }

    public int classes() { return classes; }
    public int maxBatch() { return maxBatch; }

    /**
     * Mean loss of {@code logits[n, classes]} against {@code labels[n]}, leaving {@code dL/dlogits} in
     * {@link #dLogits()} for the model's backward.
     */
    public double forwardBackward(Buffer logits, Buffer labels, int n) {
        checkBatch(n);
        be.softmaxCrossEntropy(n, classes, logits, labels, dLogits, lossPerExample);
        return meanLoss(n);
    }

    /** Mean loss only (evaluation); {@link #dLogits()} is left as it was. */
    public double forward(Buffer logits, Buffer labels, int n) {
        checkBatch(n);
        be.softmaxCrossEntropy(n, classes, logits, labels, null, lossPerExample);
        return meanLoss(n);
    }

    /** {@code dL/dlogits} of the last {@link #forwardBackward}, viewed as {@code [maxBatch, classes]}. */
    public Buffer dLogits() { return dLogits; }

    /** Per-example losses of the last forward, on the backend ({@code [maxBatch]}, first {@code n} valid). */
    public Buffer lossPerExample() { return lossPerExample; }

    /** A copy of the last forward's {@code n} per-example losses, on the host. */
    public float[] lastLosses() { return java.util.Arrays.copyOf(hostLoss, lastN); }

    /** How many rows' argmax (first maximum on ties) equals the label. Downloads logits and labels. */
    public int countCorrect(Buffer logits, Buffer labels, int n) {
        checkBatch(n);
        if (hostLogits == null) {
            hostLogits = new float[maxBatch * classes];
            hostLabels = new float[maxBatch];
        }
        be.download(logits, hostLogits, 0, n * classes);
        be.download(labels, hostLabels, 0, n);
        int correct = 0;
        for (int r = 0; r < n; r++) if (argmax(hostLogits, r * classes, classes) == (int) hostLabels[r]) correct++;
        return correct;
    }

    /** Index of the first maximum of {@code v[from, from + len)}; NaN never wins. */
    public static int argmax(float[] v, int from, int len) {
        int best = 0;
        float bv = v[from];
        for (int j = 1; j < len; j++) {
            float x = v[from + j];
            if (x > bv || (Float.isNaN(bv) && !Float.isNaN(x))) { bv = x; best = j; }
        }
        return best;
    }

    private double meanLoss(int n) {
        be.download(lossPerExample, hostLoss, 0, n);
        lastN = n;
        double s = 0;
        for (int i = 0; i < n; i++) s += hostLoss[i];
        return s / n;
    }

    private void checkBatch(int n) {
        if (n < 1 || n > maxBatch) throw new IllegalArgumentException("batch of " + n + " outside [1, maxBatch=" + maxBatch + "]");
    }
}
