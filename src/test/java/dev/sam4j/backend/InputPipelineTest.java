package dev.sam4j.backend;

import static org.junit.jupiter.api.Assertions.*;

import dev.sam4j.backend.cpu.ReferenceBackend;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

class InputPipelineTest {

    /** Batch {@code k}: x[i] = k·1000 + i, labels[i] = k. */
    static float[] x(int k, int count) {
        float[] a = new float[count];
        for (int i = 0; i < count; i++) a[i] = k * 1000 + i;
        return a;
    }

    static float[] labels(int k, int n) {
        float[] a = new float[n];
        java.util.Arrays.fill(a, k);
        return a;
    }

    /** A transfer whose copies finish only once {@code lag} later batches have been submitted: a slow copy engine. */
    static final class SlowTransfer implements InputPipeline.Transfer {
        final InputPipeline.Transfer inner;
        final int lag;
        final java.util.IdentityHashMap<InputPipeline.Staging, Integer> submittedAt = new java.util.IdentityHashMap<>();
        int submits, awaits;

        SlowTransfer(InputPipeline.Transfer inner, int lag) { this.inner = inner; this.lag = lag; }

        @Override public InputPipeline.Staging newStaging(long x, int l) { return inner.newStaging(x, l); }
        @Override public void submit(InputPipeline.Staging s, long xc, int n, Buffer xd, Buffer ld) {
            inner.submit(s, xc, n, xd, ld);
            submittedAt.put(s, submits++);
        }
        @Override public boolean done(InputPipeline.Staging s) {
            Integer at = submittedAt.get(s);
            return at == null || submits - at > lag;
        }
        @Override public void await(InputPipeline.Staging s) { awaits++; submittedAt.remove(s); }
        @Override public void close() { inner.close(); }
    }

    /** Producer and consumer on two threads: every batch arrives once, in order, with its contents, at any pipeline depth. */
    @ParameterizedTest
    @ValueSource(ints = {2, 3, 5})
    void batchesArriveInOrderWithTheirContents(int slots) throws Exception {
        try (Backend b = new ReferenceBackend()) {
            Buffer xd = b.allocate(64), ld = b.allocate(8);
            SlowTransfer t = new SlowTransfer(InputPipeline.synchronous(b), 3);
            try (InputPipeline p = new InputPipeline(t, slots, 64, 8)) {
                int batches = 40;
                Random rnd = new Random(7);
                int[] sizes = new int[batches];
                for (int k = 0; k < batches; k++) sizes[k] = 1 + rnd.nextInt(8);
                Thread producer = new Thread(() -> {
                    try {
                        for (int k = 0; k < batches; k++) {
                            InputPipeline.Slot s = p.acquire();
                            p.publish(s, x(k, sizes[k] * 8), sizes[k] * 8L, labels(k, sizes[k]), sizes[k], k);
                        }
                        p.endEpoch();
                    } catch (InterruptedException e) {
                        throw new AssertionError(e);
                    }
                });
                producer.start();
                int k = 0;
                for (InputPipeline.Slot s; (s = p.next()) != null; k++) {
                    assertEquals(k, s.tag());
                    assertEquals(sizes[k], s.n());
                    p.submit(s, xd, ld);   // from here on the slot is the producer's again
                    double[] got = b.read(xd);
                    for (int i = 0; i < sizes[k] * 8; i++) assertEquals(k * 1000 + i, got[i], "batch " + k + " x[" + i + "]");
                    assertEquals(k, b.read(ld)[sizes[k] - 1]);
                }
                producer.join();
                assertEquals(batches, k);
                // Copies finish only after polling, so with few slots the consumer had to wait for some.
                assertEquals(t.awaits, p.inputWaits());
                if (slots == 2) assertTrue(p.inputWaits() > 0, "expected waits with 2 slots and slow copies");
            }
        }
    }

    @Test
    void aProducerFailureReachesTheConsumerWithItsMessage() throws Exception {
        try (Backend b = new ReferenceBackend(); InputPipeline p = new InputPipeline(InputPipeline.synchronous(b), 2, 4, 1)) {
            p.fail(new IllegalArgumentException("train-images: truncated"));
            IllegalStateException e = assertThrows(IllegalStateException.class, p::next);
            assertTrue(e.getMessage().contains("train-images: truncated"), e.getMessage());
            assertInstanceOf(IllegalArgumentException.class, e.getCause());
        }
    }

    @Test
    void drainRecoversPublishedSlotsAndOversizedBatchesAreRejected() throws Exception {
        try (Backend b = new ReferenceBackend(); InputPipeline p = new InputPipeline(InputPipeline.synchronous(b), 2, 4, 1)) {
            List<InputPipeline.Slot> got = new ArrayList<>();
            for (int k = 0; k < 2; k++) {
                InputPipeline.Slot s = p.acquire();
                p.publish(s, x(k, 4), 4, labels(k, 1), 1, k);
                got.add(s);
            }
            p.drain();
            // Both slots are free again: two more acquires do not block.
            InputPipeline.Slot a = p.acquire(), c = p.acquire();
            assertNotSame(a, c);
            IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                    () -> p.publish(a, x(0, 8), 8, labels(0, 2), 2, 0));
            assertTrue(e.getMessage().contains("does not fit"), e.getMessage());
            assertThrows(IllegalArgumentException.class, () -> new InputPipeline(InputPipeline.synchronous(b), 1, 4, 1));
        }
    }
}
