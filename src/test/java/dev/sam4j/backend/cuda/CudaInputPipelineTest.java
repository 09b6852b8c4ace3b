package dev.sam4j.backend.cuda;

import static org.junit.jupiter.api.Assertions.*;

import dev.sam4j.backend.InputPipeline;
import java.util.function.IntUnaryOperator;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

/**
 * The CUDA input pipeline: pinned slots copied on the copy stream, moved into the step's buffers on the
 * compute stream. Checked: every batch lands intact (also when a batch is smaller than the slot and the
 * two device staging areas alternate), the input path itself never synchronises the host with the
 * device, and closing frees the pinned slots and the staging buffers.
 */
@Tag("gpu")
class CudaInputPipelineTest {

    @Test
    void batchesLandIntactWithoutHostSynchronisationAndEverythingIsFreed() throws Exception {
        CudaTestSupport.requireCuda();
        try (CudaBackend b = new CudaBackend(0, false)) {
            CudaBuffer x = b.allocate(1000), labels = b.allocate(10);
            long before = b.allocatedBytes();
            InputPipeline p = new InputPipeline(b.inputTransfer(), 3, 1000, 10);
            assertTrue(b.allocatedBytes() > before, "device staging areas are allocated");
            Thread producer = produce(p, 25, 100, k -> 1 + k % 10, k -> k % 7);
            int k = 0;
            float[] got = new float[1000], gotLabels = new float[10];
            for (InputPipeline.Slot s; (s = p.next()) != null; k++) {
                int n = s.n();   // the slot belongs to the producer again once submitted
                long syncs = b.hostSyncs();
                p.submit(s, x, labels);
                assertEquals(syncs, b.hostSyncs(), "submitting a batch must not wait for the device");
                assertEquals(1 + k % 10, n);
                b.download(x, got, 0, n * 100);
                b.download(labels, gotLabels, 0, n);
                for (int i = 0; i < n * 100; i++) assertEquals(k * 10_000 + i, got[i], "batch " + k + " x[" + i + "]");
                for (int i = 0; i < n; i++) assertEquals(k % 7, gotLabels[i], "batch " + k + " label " + i);
            }
            producer.join();
            assertEquals(25, k);
            p.close();
            assertEquals(before, b.allocatedBytes(), "closing the pipeline frees its device staging areas");
        }
    }

    /**
     * Many batches queued before the first download, each into its own device buffers: more batches than
     * pinned slots (so slots are refilled while earlier copies are pending) and than the two device staging
     * areas (so an area is rewritten while the compute stream may not yet have moved the batch out). On the
     * asynchronous stand-in nothing runs until something waits for it, so a missing event (copy → compute,
     * or compute → copy before an area is reused) or a slot handed back before its copy ran gives wrong
     * batches here.
     */
    @Test
    void severalBatchesInFlightBeforeTheFirstDownloadLandIntact() throws Exception {
        CudaTestSupport.requireCuda();
        int batches = 9, slots = 3, maxN = 10, width = 100;
        try (CudaBackend b = new CudaBackend(0, false)) {
            CudaBuffer[] x = new CudaBuffer[batches], labels = new CudaBuffer[batches];
            for (int k = 0; k < batches; k++) {
                x[k] = b.allocate(maxN * width);
                labels[k] = b.allocate(maxN);
            }
            InputPipeline p = new InputPipeline(b.inputTransfer(), slots, maxN * width, maxN);
            Thread producer = produce(p, batches, width, k -> maxN - k % 4, k -> k);   // partial batches too: copies shorter than the slot
            int[] sizes = new int[batches];
            int k = 0;
            long syncs = b.hostSyncs();
            for (InputPipeline.Slot s; (s = p.next()) != null; k++) {
                sizes[k] = s.n();
                assertEquals(k, s.tag(), "batches arrive in order");
                p.submit(s, x[k], labels[k]);
            }
            producer.join();
            assertEquals(batches, k);
            assertEquals(syncs, b.hostSyncs(), "queuing the batches must not synchronise the compute stream");
            for (k = 0; k < batches; k++) {
                int n = sizes[k];
                float[] got = new float[maxN * width], gotLabels = new float[maxN];
                b.download(x[k], got, 0, maxN * width);
                b.download(labels[k], gotLabels, 0, maxN);
                for (int i = 0; i < n * width; i++) assertEquals(k * 10_000 + i, got[i], "batch " + k + " x[" + i + "]");
                for (int i = n * width; i < got.length; i++) assertEquals(0f, got[i], "batch " + k + " x[" + i + "] past the batch");
                for (int i = 0; i < n; i++) assertEquals(k, gotLabels[i], "batch " + k + " label " + i);
            }
            p.close();
        }
    }

    /**
     * Starts the producer: batch {@code k} (tagged {@code k}) holds {@code size(k)} examples of {@code width}
     * floats, element {@code i} being {@code k·10,000 + i}, all labelled {@code label(k)}; then the epoch ends.
     */
    private static Thread produce(InputPipeline p, int batches, int width, IntUnaryOperator size, IntUnaryOperator label) {
        Thread producer = new Thread(() -> {
            try {
                for (int k = 0; k < batches; k++) {
                    int n = size.applyAsInt(k);
                    float[] xs = new float[n * width], ls = new float[n];
                    for (int i = 0; i < xs.length; i++) xs[i] = k * 10_000 + i;
                    java.util.Arrays.fill(ls, label.applyAsInt(k));
                    p.publish(p.acquire(), xs, xs.length, ls, n, k);
                }
                p.endEpoch();
            } catch (InterruptedException e) {
                throw new AssertionError(e);
            }
        });
        producer.start();
        return producer;
    }

    @Test
    void theBackendClosesAPipelineLeftOpen() {
        CudaTestSupport.requireCuda();
        CudaBackend b = new CudaBackend(0, false);
        new InputPipeline(b.inputTransfer(), 2, 64, 4);
        b.close();   // frees the pinned slots, events and copy stream of the transfer too
        assertEquals(0, b.allocatedBytes());
    }
}
