package dev.sam4j.data;

import static org.junit.jupiter.api.Assertions.*;

import dev.sam4j.tensor.Shape;
import org.junit.jupiter.api.Test;

class NormalizationTest {
    @Test
    void fitMatchesADirectComputation() {
        Dataset d = Synthetic.generate(Shape.of(3, 6, 5), 4, 50, 1, 3).train();
        Normalization n = Normalization.fit(d);
        int plane = 30;
        for (int c = 0; c < 3; c++) {
            double sum = 0, count = 0;
            for (int i = 0; i < d.size(); i++)
                for (int p = 0; p < plane; p++) { sum += (d.pixels()[i * 90 + c * plane + p] & 0xFF) / 255.0; count++; }
            double mean = sum / count, ss = 0;
            for (int i = 0; i < d.size(); i++)
                for (int p = 0; p < plane; p++) { double v = (d.pixels()[i * 90 + c * plane + p] & 0xFF) / 255.0 - mean; ss += v * v; }
            assertEquals(mean, n.mean(c), 1e-12);
            assertEquals(Math.sqrt(ss / count), n.std(c), 1e-12);
            assertEquals((float) ((200 / 255.0 - mean) / Math.sqrt(ss / count)), n.apply(c, 200), 1e-6f);
        }
    }

    @Test
    void constantChannelGetsUnitStdAndUnitScalesOnly() {
        byte[] px = new byte[2 * 4];
        java.util.Arrays.fill(px, (byte) 51);
        Normalization n = Normalization.fit(new Dataset("c", Shape.of(1, 2, 2), 2, px, new int[] {0, 1}));
        assertEquals(0.2, n.mean(0), 1e-12);
        assertEquals(1.0, n.std(0));
        assertEquals(0f, n.apply(0, 51), 1e-7f);
        assertEquals(1f, Normalization.unit(2).apply(1, 255));
        assertEquals(0f, Normalization.unit(2).apply(1, 0));
        assertThrows(IllegalArgumentException.class, () -> Normalization.of(new double[] {0}, new double[] {0}));
    }
}
