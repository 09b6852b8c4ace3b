package dev.sam4j.data;

import static org.junit.jupiter.api.Assertions.*;

import dev.sam4j.tensor.Shape;
import java.util.Arrays;
import java.util.SplittableRandom;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;
import org.junit.jupiter.api.Test;

/** Sharding: the ranks' step-s batches are, interleaved like DistributedSampler, exactly the one-rank step-s batch. */
class BatchLoaderShardTest {

    static Dataset data(int n) {
        SplittableRandom r = new SplittableRandom(7);
        byte[] px = new byte[n * 4];
        r.nextBytes(px);
        int[] labels = new int[n];
        for (int i = 0; i < n; i++) labels[i] = r.nextInt(3);
        return new Dataset("tiny", Shape.of(1, 2, 2), 3, px, labels);
    }

    static BatchLoader loader(Dataset d, int batch, boolean shuffle, int rank, int world) {
        return BatchLoader.builder(d).batchSize(batch).shuffle(shuffle).seed(11).dropLast(true).prefetch(rank % 2)
                .augment(Augment.none()).normalization(Normalization.unit(1)).shard(rank, world).build();
    }

    @ParameterizedTest
    @CsvSource({"2,12,true", "3,12,true", "4,12,false", "4,8,true", "1,10,true"})
    void ranksTogetherAreTheOneRankBatch(int world, int batch, boolean shuffle) {
        Dataset d = data(53);
        for (int epoch = 0; epoch < 2; epoch++) {
            try (BatchLoader one = loader(d, batch, shuffle, 0, 1); BatchLoader.Epoch e1 = one.epoch(epoch)) {
                BatchLoader[] shards = new BatchLoader[world];
                BatchLoader.Epoch[] es = new BatchLoader.Epoch[world];
                for (int r = 0; r < world; r++) {
                    shards[r] = loader(d, batch, shuffle, r, world);
                    assertEquals(batch / world, shards[r].batchSize());
                    assertEquals(one.stepsPerEpoch(), shards[r].stepsPerEpoch());
                    es[r] = shards[r].epoch(epoch);
                }
                BatchLoader.Batch b;
                int steps = 0;
                while ((b = e1.next()) != null) {
                    int local = batch / world;
                    for (int r = 0; r < world; r++) {
                        BatchLoader.Batch s = es[r].next();
                        assertNotNull(s);
                        assertEquals(local, s.n());
                        for (int j = 0; j < local; j++) {
                            int at = r + world * j;
                            assertEquals(b.indices()[at], s.indices()[j], "rank " + r + " example " + j + " of step " + steps);
                            assertEquals(b.labels()[at], s.labels()[j]);
                            assertArrayEquals(Arrays.copyOfRange(b.x(), at * 4, at * 4 + 4), Arrays.copyOfRange(s.x(), j * 4, j * 4 + 4));
                        }
                        s.close();
                    }
                    b.close();
                    steps++;
                }
                assertEquals(53 / batch, steps);
                for (int r = 0; r < world; r++) {
                    assertNull(es[r].next());
                    es[r].close();
                    shards[r].close();
                }
            }
        }
    }

    @Test
    void aShardNeedsADividingBatchAndFullBatches() {
        Dataset d = data(20);
        assertThrows(IllegalArgumentException.class, () -> loader(d, 10, true, 0, 3));
        assertThrows(IllegalArgumentException.class, () -> BatchLoader.builder(d).batchSize(10).normalization(Normalization.unit(1))
                .shard(0, 2).build());
        assertThrows(IllegalArgumentException.class, () -> BatchLoader.builder(d).shard(2, 2));
    }
}
