package dev.sam4j.data;

import static org.junit.jupiter.api.Assertions.*;

import dev.sam4j.tensor.Shape;
import org.junit.jupiter.api.Test;

class SyntheticTest {
    @Test
    void seededBalancedAndShaped() {
        DataSplit a = Synthetic.generate(Shape.of(3, 8, 6), 4, 101, 40, 1);
        assertEquals(Shape.of(3, 8, 6), a.train().exampleShape());
        assertEquals(101, a.train().size());
        assertEquals(40, a.test().size());
        for (int c : a.train().classCounts()) assertTrue(c == 25 || c == 26);
        DataSplit b = Synthetic.generate(Shape.of(3, 8, 6), 4, 101, 40, 1);
        assertArrayEquals(a.train().pixels(), b.train().pixels());
        assertArrayEquals(a.test().labels(), b.test().labels());
        assertFalse(java.util.Arrays.equals(a.train().pixels(), Synthetic.generate(Shape.of(3, 8, 6), 4, 101, 40, 2).train().pixels()));
        assertThrows(IllegalArgumentException.class, () -> Synthetic.generate(Shape.of(1, 4, 4), 1, 10, 10, 1));
        assertThrows(IllegalArgumentException.class, () -> Synthetic.generate(Shape.of(1, 4, 4), 2, 0, 10, 1));
    }

    /** Learnable: even a nearest-class-mean classifier fitted on train does well on test. */
    @Test
    void learnableByANearestMeanClassifier() {
        DataSplit s = Synthetic.generate(Synthetic.DEFAULT_SHAPE, 10, 2048, 512, Synthetic.DEFAULT_SEED);
        int e = s.train().exampleSize();
        double[][] mean = new double[10][e];
        int[] count = s.train().classCounts();
        for (int i = 0; i < s.train().size(); i++) {
            int l = s.train().labels()[i];
            for (int p = 0; p < e; p++) mean[l][p] += (s.train().pixels()[i * e + p] & 0xFF) / (double) count[l];
        }
        int correct = 0;
        for (int i = 0; i < s.test().size(); i++) {
            int best = -1;
            double bestDist = Double.MAX_VALUE;
            for (int k = 0; k < 10; k++) {
                double dist = 0;
                for (int p = 0; p < e; p++) { double d = (s.test().pixels()[i * e + p] & 0xFF) - mean[k][p]; dist += d * d; }
                if (dist < bestDist) { bestDist = dist; best = k; }
            }
            if (best == s.test().labels()[i]) correct++;
        }
        double accuracy = correct / (double) s.test().size();
        assertTrue(accuracy > 0.8, "nearest-mean accuracy " + accuracy);
    }

    @Test
    void bellNoiseHasUnitMoments() {
        Rng r = Rng.of(1);
        int n = 200000;
        double sum = 0, sq = 0;
        for (int i = 0; i < n; i++) { double g = Synthetic.bellNoise(r.nextLong()); sum += g; sq += g * g; }
        assertEquals(0, sum / n, 0.01);
        assertEquals(1, sq / n, 0.01);
        assertEquals(-2 * Math.sqrt(3), Synthetic.bellNoise(0), 1e-4); // the bounds: all quarters 0, all 65535
        assertEquals(2 * Math.sqrt(3), Synthetic.bellNoise(-1), 1e-4);
    }
}
