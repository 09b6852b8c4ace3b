package dev.sam4j.data;

import static org.junit.jupiter.api.Assertions.*;

import dev.sam4j.tensor.Shape;
import java.lang.management.ManagementFactory;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Random;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

class BatchLoaderTest {
    static final int N = 103, B = 10, CLASSES = 7;
    static final Shape SHAPE = Shape.of(2, 5, 4);

    static Dataset data() {
        byte[] px = new byte[N * SHAPE.intSize()];
        new Random(11).nextBytes(px);
        int[] labels = new int[N];
        for (int i = 0; i < N; i++) labels[i] = (i * 5) % CLASSES;
        return new Dataset("test", SHAPE, CLASSES, px, labels);
    }

    static final Dataset DATA = data();
    static final Normalization NORM = Normalization.fit(DATA);

    /** Everything the loader produced over some epochs, copied out of the reused buffers. */
    record Run(List<float[]> x, List<float[]> labels, List<int[]> indices, List<Integer> n) { }

    static Run run(BatchLoader.Builder b, int... epochs) {
        Run r = new Run(new ArrayList<>(), new ArrayList<>(), new ArrayList<>(), new ArrayList<>());
        try (BatchLoader loader = b.build()) {
            for (int e : epochs) {
                try (BatchLoader.Epoch ep = loader.epoch(e)) {
                    int step = 0;
                    for (BatchLoader.Batch batch; (batch = ep.next()) != null; step++) {
                        assertEquals(e, batch.epoch());
                        assertEquals(step, batch.step());
                        r.x.add(batch.x().clone());
                        r.labels.add(batch.labels().clone());
                        r.indices.add(batch.indices().clone());
                        r.n.add(batch.n());
                    }
                    assertEquals(loader.stepsPerEpoch(), step);
                }
            }
        }
        return r;
    }

    static BatchLoader.Builder train(long seed, int prefetch) {
        return BatchLoader.builder(DATA).batchSize(B).seed(seed).normalization(NORM).augment(Augment.cropFlip(2)).prefetch(prefetch);
    }

    static void assertSameBatches(Run a, Run b) {
        assertEquals(a.x.size(), b.x.size());
        for (int i = 0; i < a.x.size(); i++) {
            assertArrayEquals(a.x.get(i), b.x.get(i), "batch " + i);
            assertArrayEquals(a.labels.get(i), b.labels.get(i));
            assertArrayEquals(a.indices.get(i), b.indices.get(i));
        }
        assertEquals(a.n, b.n);
    }

    @Test
    void identicalAtEveryPrefetchDepthAndRepeatable() {
        Run reference = run(train(42, 0), 0, 1, 2);
        for (int prefetch : new int[] {0, 1, 2, 5}) assertSameBatches(reference, run(train(42, prefetch), 0, 1, 2));
        // epochs are addressable: epoch 2 alone (e.g. after a resume) is the same as epoch 2 after 0 and 1
        Run only2 = run(train(42, 3), 2);
        assertArrayEquals(reference.indices.get(2 * 11), only2.indices.get(0));
        assertArrayEquals(reference.x.get(2 * 11 + 4), only2.x.get(4));
    }

    @Test
    void seedAndEpochChangeTheOrder() {
        Run a = run(train(1, 2), 0, 1);
        Run b = run(train(2, 2), 0);
        assertFalse(Arrays.equals(a.indices.get(0), b.indices.get(0)));
        assertFalse(Arrays.equals(a.indices.get(0), a.indices.get(11)), "epoch 1 must be reshuffled");
    }

    @ParameterizedTest
    @ValueSource(ints = {0, 2})
    void everyExampleExactlyOncePerEpochWithItsLabel(int prefetch) {
        Run r = run(train(5, prefetch), 0, 1);
        assertEquals(2 * 11, r.n.size());
        for (int e = 0; e < 2; e++) {
            int[] seen = new int[N];
            for (int s = 0; s < 11; s++) {
                int k = e * 11 + s;
                for (int i = 0; i < r.n.get(k); i++) {
                    int idx = r.indices.get(k)[i];
                    seen[idx]++;
                    assertEquals((float) DATA.labels()[idx], r.labels.get(k)[i], "labels are class indices as floats");
                }
            }
            int[] once = new int[N];
            Arrays.fill(once, 1);
            assertArrayEquals(once, seen);
        }
    }

    @Test
    void lastPartialBatchIsKeptAndZeroPaddedOrDropped() {
        Run r = run(train(3, 2), 0);
        assertEquals(11, r.n.size());
        assertEquals(3, r.n.get(10));
        int e = SHAPE.intSize();
        float[] lastX = r.x.get(10);
        for (int i = 3 * e; i < lastX.length; i++) assertEquals(0f, lastX[i]);
        for (int i = 3; i < B; i++) assertEquals(-1, r.indices.get(10)[i]);

        Run dropped = run(train(3, 2).dropLast(true), 0);
        assertEquals(10, dropped.n.size());
        for (int n : dropped.n) assertEquals(B, n);
        // dropping the tail does not change the batches before it
        for (int s = 0; s < 10; s++) assertArrayEquals(r.indices.get(s), dropped.indices.get(s));
    }

    @Test
    void evalIteratesInOrderWithoutAugmentationAndNormalisesExactly() {
        Run r = run(BatchLoader.builder(DATA).batchSize(B).shuffle(false).normalization(NORM), 0, 1);
        try (BatchLoader l = BatchLoader.forEval(DATA, B, NORM)) {
            assertEquals(11, l.stepsPerEpoch());
        }
        int e = SHAPE.intSize(), plane = 5 * 4;
        for (int s = 0; s < 22; s++) {
            for (int i = 0; i < r.n.get(s); i++) {
                int idx = (s % 11) * B + i;
                assertEquals(idx, r.indices.get(s)[i]);
                for (int p = 0; p < e; p++) {
                    int c = p / plane;
                    int v = DATA.pixels()[idx * e + p] & 0xFF;
                    float expected = (float) ((v / 255.0 - NORM.mean(c)) / NORM.std(c));
                    assertEquals(expected, r.x.get(s)[i * e + p], "example " + idx + " element " + p);
                }
            }
        }
        assertSameBatches(run(BatchLoader.builder(DATA).batchSize(B).shuffle(false).normalization(NORM).prefetch(0), 0, 1), r);
    }

    @Test
    void augmentationDependsOnlyOnSeedEpochAndExample() {
        // Batch size changes which batch (and buffer, and timing) an example lands in, not its pixels.
        Run a = run(train(9, 2), 1);
        Run b = run(train(9, 0).batchSize(7), 1);
        float[][] byIndexA = byIndex(a), byIndexB = byIndex(b);
        for (int i = 0; i < N; i++) assertArrayEquals(byIndexA[i], byIndexB[i], "example " + i);
        Run otherEpoch = run(train(9, 2), 2);
        int differ = 0;
        float[][] byIndexC = byIndex(otherEpoch);
        for (int i = 0; i < N; i++) if (!Arrays.equals(byIndexA[i], byIndexC[i])) differ++;
        assertTrue(differ > N / 2, "a new epoch draws new crops and flips: " + differ);
    }

    static float[][] byIndex(Run r) {
        int e = SHAPE.intSize();
        float[][] out = new float[N][];
        for (int s = 0; s < r.n.size(); s++) {
            for (int i = 0; i < r.n.get(s); i++) out[r.indices.get(s)[i]] = Arrays.copyOfRange(r.x.get(s), i * e, (i + 1) * e);
        }
        return out;
    }

    @ParameterizedTest
    @ValueSource(ints = {0, 1, 3})
    void closingMidEpochRecoversAndLeavesNoThread(int prefetch) throws InterruptedException {
        Run fresh = run(train(4, prefetch), 1);
        Thread worker;
        try (BatchLoader loader = train(4, prefetch).build()) {
            try (BatchLoader.Epoch ep = loader.epoch(0)) {
                ep.next();
                ep.next();
            }
            // an epoch abandoned without close() is closed by the next epoch(...)
            BatchLoader.Epoch abandoned = loader.epoch(0);
            abandoned.next();
            Run r = new Run(new ArrayList<>(), new ArrayList<>(), new ArrayList<>(), new ArrayList<>());
            try (BatchLoader.Epoch ep = loader.epoch(1)) {
                for (BatchLoader.Batch b; (b = ep.next()) != null; ) {
                    r.x.add(b.x().clone()); r.labels.add(b.labels().clone()); r.indices.add(b.indices().clone()); r.n.add(b.n());
                    b.close(); // explicit give-back, then the implicit one in next() must be harmless
                    b.close();
                }
            }
            assertNull(abandoned.next());
            assertSameBatches(fresh, r);
            BatchLoader.Epoch stopped = loader.epoch(2);
            stopped.next();
            worker = loader.worker();
            // the loader is closed with an epoch in flight and the worker possibly blocked
        }
        if (worker != null) {
            worker.join(5000);
            assertFalse(worker.isAlive(), "worker thread must end on close()");
        } else {
            assertEquals(0, prefetch);
        }
    }

    @Test
    void closedLoaderRefusesWork() {
        BatchLoader loader = train(1, 2).build();
        BatchLoader.Epoch ep = loader.epoch(0);
        ep.next();
        loader.close();
        loader.close();
        assertThrows(IllegalStateException.class, ep::next);
        assertThrows(IllegalStateException.class, () -> loader.epoch(1));
    }

    @ParameterizedTest
    @ValueSource(ints = {0, 2})
    void workerExceptionsSurfaceInTheConsumersNextCall(int prefetch) {
        RuntimeException boom = new IllegalStateException("boom");
        Augment failing = (src, off, c, h, w, norm, dst, dOff, random) -> {
            if (off == 42 * SHAPE.intSize()) throw boom;
            Augment.none().write(src, off, c, h, w, norm, dst, dOff, random);
        };
        try (BatchLoader loader = BatchLoader.builder(DATA).batchSize(B).shuffle(false).normalization(NORM).augment(failing).prefetch(prefetch).build()) {
            for (int attempt = 0; attempt < 2; attempt++) { // and the loader stays usable afterwards
                try (BatchLoader.Epoch ep = loader.epoch(attempt)) {
                    for (int s = 0; s < 4; s++) assertNotNull(ep.next());
                    BatchLoader.BatchLoaderException e = assertThrows(BatchLoader.BatchLoaderException.class, ep::next);
                    assertSame(boom, e.getCause());
                    assertTrue(e.getMessage().contains("batch 4 of epoch " + attempt), e.getMessage());
                    assertNull(ep.next());
                }
            }
        }
    }

    @Test
    void noAllocationPerBatchAfterWarmUp() {
        Dataset big = Synthetic.generate(Shape.of(3, 16, 16), 10, 512, 1, 1).train();
        var mx = (com.sun.management.ThreadMXBean) ManagementFactory.getThreadMXBean();
        try (BatchLoader loader = BatchLoader.builder(big).batchSize(16).seed(1).normalization(Normalization.fit(big))
                .augment(Augment.cropFlip(4)).prefetch(2).build()) {
            long batchBytes = 16L * big.exampleSize() * Float.BYTES; // 48 KiB
            for (int e = 0; e < 3; e++) drain(loader, e); // warm-up (class loading, JIT)
            long worker0 = mx.getThreadAllocatedBytes(loader.worker().threadId());
            long consumer0 = mx.getCurrentThreadAllocatedBytes();
            for (int e = 3; e < 8; e++) drain(loader, e);
            long workerBytes = mx.getThreadAllocatedBytes(loader.worker().threadId()) - worker0;
            long consumerBytes = mx.getCurrentThreadAllocatedBytes() - consumer0;
            // 5 epochs × 32 batches: allocating per batch would cost 160 batch buffers, per example 2560 objects
            assertTrue(workerBytes < batchBytes, "worker allocated " + workerBytes);
            assertTrue(consumerBytes < batchBytes, "consumer allocated " + consumerBytes);
        }
    }

    static void drain(BatchLoader loader, int epoch) {
        try (BatchLoader.Epoch ep = loader.epoch(epoch)) {
            while (ep.next() != null) { /* consume */ }
        }
    }

    @Test
    void builderValidates() {
        assertThrows(IllegalArgumentException.class, () -> BatchLoader.builder(DATA).normalization(NORM).build());
        assertThrows(IllegalArgumentException.class, () -> BatchLoader.builder(DATA).batchSize(4).build());
        assertThrows(IllegalArgumentException.class, () -> BatchLoader.builder(DATA).batchSize(4).normalization(Normalization.unit(3)).build());
        assertThrows(IllegalArgumentException.class, () -> BatchLoader.builder(DATA).batchSize(4).normalization(NORM).prefetch(-1).build());
        assertThrows(IllegalArgumentException.class, () -> BatchLoader.builder(DATA).batchSize(N + 1).dropLast(true).normalization(NORM).build());
        try (BatchLoader l = BatchLoader.builder(DATA).batchSize(N + 1).normalization(NORM).build()) {
            assertEquals(1, l.stepsPerEpoch());
            assertThrows(IllegalArgumentException.class, () -> l.epoch(-1));
        }
    }
}
