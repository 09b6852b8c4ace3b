package dev.sam4j.data;

import static org.junit.jupiter.api.Assertions.*;

import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/** An epoch started at step k gives the batches k, k+1, ... of the whole epoch (what a resumed run needs). */
class BatchLoaderStartStepTest {

    @ParameterizedTest
    @CsvSource({"0, 3", "2, 3", "0, 0", "2, 0", "5, 2"})
    void startingMidEpochGivesTheSameBatches(int prefetch, int firstStep) {
        Dataset d = Synthetic.generate(dev.sam4j.tensor.Shape.of(1, 4, 4), 3, 50, 10, 7).train();
        try (BatchLoader a = build(d, prefetch); BatchLoader b = build(d, prefetch)) {
            try (BatchLoader.Epoch whole = a.epoch(4); BatchLoader.Epoch part = b.epoch(4, firstStep)) {
                for (int s = 0; s < firstStep; s++) assertNotNull(whole.next());
                for (BatchLoader.Batch x; (x = whole.next()) != null; ) {
                    BatchLoader.Batch y = part.next();
                    assertNotNull(y);
                    assertEquals(x.step(), y.step());
                    assertArrayEquals(x.x(), y.x());
                    assertArrayEquals(x.labels(), y.labels());
                }
                assertNull(part.next());
            }
        }
    }

    private static BatchLoader build(Dataset d, int prefetch) {
        return BatchLoader.builder(d).batchSize(8).seed(9).augment(Augment.cropFlip(1)).normalization(Normalization.fit(d))
                .prefetch(prefetch).build();
    }
}
