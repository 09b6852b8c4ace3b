package dev.sam4j.data;

import static org.junit.jupiter.api.Assertions.*;

import dev.sam4j.tensor.Shape;
import org.junit.jupiter.api.Test;

class SubsetTest {
    @Test
    void distinctSeededExamplesWithTheirPixelsAndLabels() {
        Dataset d = Synthetic.generate(Shape.of(1, 3, 3), 4, 200, 1, 5).train();
        Dataset s = Subset.choose(d, 50, 11);
        assertEquals(50, s.size());
        int[] idx = Subset.indices(200, 50, 11);
        for (int i = 0; i < 50; i++) {
            if (i > 0) assertTrue(idx[i] > idx[i - 1], "distinct and in original order");
            assertEquals(d.labels()[idx[i]], s.labels()[i]);
            for (int p = 0; p < 9; p++) assertEquals(d.pixels()[idx[i] * 9 + p], s.pixels()[i * 9 + p]);
        }
        assertArrayEquals(s.pixels(), Subset.choose(d, 50, 11).pixels());
        assertNotEquals(java.util.Arrays.toString(idx), java.util.Arrays.toString(Subset.indices(200, 50, 12)));
        assertEquals(200, Subset.choose(d, 200, 1).size());
    }

    @Test
    void sizeMustBeBetweenOneAndTheDatasetSize() {
        Dataset d = Synthetic.generate(Shape.of(1, 2, 2), 2, 10, 1, 5).train();
        String m = assertThrows(IllegalArgumentException.class, () -> Subset.choose(d, 11, 1)).getMessage();
        assertTrue(m.contains("[1, 10]") && m.contains("11"), m);
        assertThrows(IllegalArgumentException.class, () -> Subset.choose(d, 0, 1));
    }
}
