package dev.sam4j.train;

import static org.junit.jupiter.api.Assertions.*;

import dev.sam4j.backend.Backend;
import dev.sam4j.backend.Buffer;
import dev.sam4j.backend.InputPipeline;
import dev.sam4j.backend.cpu.ReferenceBackend;
import dev.sam4j.data.Augment;
import dev.sam4j.data.BatchLoader;
import dev.sam4j.data.Dataset;
import dev.sam4j.data.Normalization;
import dev.sam4j.data.Synthetic;
import dev.sam4j.tensor.Shape;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;

class InputFeederTest {
    static final Dataset DATA = Synthetic.generate(Shape.of(1, 6, 6), 4, 200, 10, 5).train();

    static BatchLoader loader() {
        return BatchLoader.builder(DATA).batchSize(16).shuffle(true).seed(3).augment(Augment.none())
                .normalization(Normalization.fit(DATA)).dropLast(true).prefetch(2).build();
    }

    /** The batches of one epoch as the loader gives them directly: [x..., labels...] per batch. */
    static List<float[]> direct(int epoch) {
        List<float[]> out = new ArrayList<>();
        try (BatchLoader l = loader(); BatchLoader.Epoch it = l.epoch(epoch)) {
            for (BatchLoader.Batch b; (b = it.next()) != null; ) {
                float[] v = new float[b.n() * 37];
                System.arraycopy(b.x(), 0, v, 0, b.n() * 36);
                System.arraycopy(b.labels(), 0, v, b.n() * 36, b.n());
                out.add(v);
            }
        }
        return out;
    }

    static List<float[]> fed(InputFeeder f, Backend b, Buffer x, Buffer labels, int epoch, int maxBatches) {
        List<float[]> out = new ArrayList<>();
        f.start(epoch);
        try {
            for (InputPipeline.Slot s; out.size() < maxBatches && (s = f.next()) != null; ) {
                int n = s.n();
                f.submit(s, x, labels);
                float[] v = new float[n * 37];
                double[] xs = b.read(x), ls = b.read(labels);
                for (int i = 0; i < n * 36; i++) v[i] = (float) xs[i];
                for (int i = 0; i < n; i++) v[n * 36 + i] = (float) ls[i];
                out.add(v);
            }
        } finally {
            f.finishEpoch();
        }
        return out;
    }

    /** Through the feeder the batches are exactly the loader's, also after an epoch stopped early. */
    @Test
    void feedsTheLoadersBatchesExactlyAndRecoversFromAnEarlyStop() {
        try (Backend b = new ReferenceBackend(); BatchLoader l = loader()) {
            Buffer x = b.allocate(16 * 36), labels = b.allocate(16);
            try (InputFeeder f = new InputFeeder(l, new InputPipeline(InputPipeline.synchronous(b), 3, 16 * 36, 16), 36)) {
                List<float[]> e0 = direct(0), e1 = direct(1);
                assertEquals(12, e0.size());
                List<float[]> early = fed(f, b, x, labels, 0, 3);   // a step budget ends mid-epoch
                assertEquals(3, early.size());
                for (int i = 0; i < 3; i++) assertArrayEquals(e0.get(i), early.get(i), "batch " + i);
                List<float[]> full = fed(f, b, x, labels, 1, Integer.MAX_VALUE);
                assertEquals(e1.size(), full.size());
                for (int i = 0; i < full.size(); i++) assertArrayEquals(e1.get(i), full.get(i), "epoch 1 batch " + i);
                assertNotEquals(java.util.Arrays.hashCode(e0.get(0)), java.util.Arrays.hashCode(e1.get(0)), "epochs are shuffled differently");
            }
        }
    }
}
