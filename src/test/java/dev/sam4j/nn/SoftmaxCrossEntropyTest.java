package dev.sam4j.nn;

import static org.junit.jupiter.api.Assertions.*;

import dev.sam4j.backend.Buffer;
import dev.sam4j.backend.cpu.ReferenceBackend;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;

class SoftmaxCrossEntropyTest {
    final ReferenceBackend be = new ReferenceBackend();

    @Test
    void dLogitsMatchCentralDifferencesOfTheMeanLoss() {
        int n = 4, k = 5;
        SoftmaxCrossEntropy loss = new SoftmaxCrossEntropy(be, k, 6);
        SplittableRandom r = new SplittableRandom(1);
        double[] z = new double[n * k];
        for (int i = 0; i < z.length; i++) z[i] = r.nextDouble(-3, 3);
        Buffer logits = be.allocate(z.length), labels = be.allocate(n);
        be.write(z, logits);
        be.write(new double[] {0, 4, 2, 2}, labels);
        loss.forwardBackward(logits, labels, n);
        double[] analytic = be.read(loss.dLogits().slice(0, n * k));
        // The returned mean goes through float; difference the double per-example losses instead.
        java.util.function.DoubleSupplier exactMean = () -> {
            loss.forward(logits, labels, n);
            double[] l = be.read(loss.lossPerExample());
            double s = 0;
            for (int i = 0; i < n; i++) s += l[i];
            return s / n;
        };
        double scale = 0;
        for (double a : analytic) scale = Math.max(scale, Math.abs(a));
        for (int i = 0; i < n * k; i++) {
            double num = GradCheck.centralDifference(logits, i, exactMean);
            assertTrue(GradCheck.relativeError(analytic[i], num, scale) < GradCheck.TOLERANCE, "dLogits[" + i + "]: " + analytic[i] + " vs " + num);
        }
    }

    @Test
    void meanLossMatchesTheFormulaAndForwardLeavesDLogitsAlone() {
        SoftmaxCrossEntropy loss = new SoftmaxCrossEntropy(be, 3, 2);
        Buffer logits = be.allocate(6), labels = be.allocate(2);
        be.write(new double[] {1, 2, 3, 0, 0, 0}, logits);
        be.write(new double[] {2, 1}, labels);
        double expected = ((Math.log(Math.exp(1) + Math.exp(2) + Math.exp(3)) - 3) + Math.log(3)) / 2;
        assertEquals(expected, loss.forwardBackward(logits, labels, 2), 1e-6);
        double[] d = be.read(loss.dLogits());
        assertEquals(expected, loss.forward(logits, labels, 2), 1e-6);
        assertArrayEquals(d, be.read(loss.dLogits()), 0.0);
        assertEquals(2, loss.lastLosses().length);
        assertEquals(Math.log(3), loss.lastLosses()[1], 1e-6);
    }

    @Test
    void countsCorrectPredictionsWithFirstMaximumOnTies() {
        SoftmaxCrossEntropy loss = new SoftmaxCrossEntropy(be, 3, 4);
        Buffer logits = be.allocate(12), labels = be.allocate(4);
        be.write(new double[] {0, 5, 1, /**/ 2, 2, 0, /**/ 9, 1, 1, /**/ 0, 0, 1}, logits);
        be.write(new double[] {1, 1, 0, 2}, labels);   // correct, tie → 0 (wrong), correct, correct
        assertEquals(3, loss.countCorrect(logits, labels, 4));
        assertEquals(1, loss.countCorrect(logits, labels, 2));
    }

    @Test
    void rejectsBadBatchesAndLabels() {
        SoftmaxCrossEntropy loss = new SoftmaxCrossEntropy(be, 3, 2);
        Buffer logits = be.allocate(9), labels = be.allocate(3);
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> loss.forward(logits, labels, 3));
        assertTrue(e.getMessage().contains("maxBatch=2"), e.getMessage());
        be.write(new double[] {0, 3, 0}, labels);
        assertThrows(IllegalArgumentException.class, () -> loss.forward(logits, labels, 2));
    }
}
