package dev.sam4j.data;

import static org.junit.jupiter.api.Assertions.*;

import dev.sam4j.tensor.Shape;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;
import org.junit.jupiter.api.Test;

class LabelNoiseTest {
    static Dataset labels(int n, int classes) {
        int[] l = new int[n];
        for (int i = 0; i < n; i++) l[i] = (i * 7) % classes;
        return new Dataset("l", Shape.of(1, 1, 1), classes, new byte[n], l);
    }

    @ParameterizedTest
    @CsvSource({"0.2, 10, 1", "0.5, 10, 2", "0.8, 100, 3", "0.4, 2, 4", "1.0, 10, 5"})
    void changedFractionMatchesTheConventionWithinSamplingError(double fraction, int classes, long seed) {
        int n = 20000;
        Dataset d = labels(n, classes);
        LabelNoise.Result r = LabelNoise.apply(d, fraction, seed);
        assertEquals(Math.round(fraction * n), r.resampled(), "exactly round(fraction·n) labels are redrawn");
        // a redrawn label keeps its class with probability 1/C
        double p = (classes - 1.0) / classes;
        double expected = r.resampled() * p, sd = Math.sqrt(r.resampled() * p * (1 - p));
        assertEquals(expected, r.changed(), 5 * sd + 1);
        int differ = 0;
        for (int i = 0; i < n; i++) if (r.dataset().labels()[i] != d.labels()[i]) differ++;
        assertEquals(differ, r.changed());
        assertEquals((double) differ / n, r.changedFraction(), 1e-12);
        assertSame(d.pixels(), r.dataset().pixels(), "images are shared, not copied");
    }

    @Test
    void newLabelsAreUniformOverAllClasses() {
        int n = 30000, classes = 5;
        Dataset d = new Dataset("zeros", Shape.of(1, 1, 1), classes, new byte[n], new int[n]);
        LabelNoise.Result r = LabelNoise.apply(d, 1.0, 9);
        int[] counts = r.dataset().classCounts();
        for (int c = 0; c < classes; c++) assertEquals(n / (double) classes, counts[c], 5 * Math.sqrt(n * 0.2 * 0.8), "class " + c);
    }

    @Test
    void seededAndLeavesTheInputAlone() {
        Dataset d = labels(1000, 10);
        int[] before = d.labels().clone();
        LabelNoise.Result a = LabelNoise.apply(d, 0.3, 7), b = LabelNoise.apply(d, 0.3, 7), c = LabelNoise.apply(d, 0.3, 8);
        assertArrayEquals(a.dataset().labels(), b.dataset().labels());
        assertFalse(java.util.Arrays.equals(a.dataset().labels(), c.dataset().labels()));
        assertArrayEquals(before, d.labels());
        assertEquals(0, LabelNoise.apply(d, 0, 7).changed());
    }

    @Test
    void fractionMustBeInZeroOne() {
        Dataset d = labels(10, 3);
        for (double f : new double[] {-0.01, 1.01, Double.NaN, Double.POSITIVE_INFINITY}) {
            assertThrows(IllegalArgumentException.class, () -> LabelNoise.apply(d, f, 1), "fraction " + f);
        }
    }
}
