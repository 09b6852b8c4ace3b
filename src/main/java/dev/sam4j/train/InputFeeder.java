package dev.sam4j.train;

import dev.sam4j.backend.Backend;
import dev.sam4j.backend.Buffer;
import dev.sam4j.backend.InputPipeline;
import dev.sam4j.data.BatchLoader;

/**
 * Feeds a {@link BatchLoader}'s batches into an {@link InputPipeline} on a background thread, so the
 * training thread only queues copies and launches steps.
 *
 * <p>Two background threads work ahead of the step: the loader's (shuffle, gather, augment, normalise
 * into its prefetch buffers) and this one (copy each batch into a staging slot, pinned memory on CUDA).
 * The batches and their order are exactly the loader's, so a run is bit-identical with or without it.
 */
final class InputFeeder implements AutoCloseable {
    private final BatchLoader loader;
    private final InputPipeline pipeline;
    private final int exampleSize;
    private Thread thread;
    private volatile boolean cancelled;

    InputFeeder(BatchLoader loader, InputPipeline pipeline, int exampleSize) {
        this.loader = loader;
        this.pipeline = pipeline;
        this.exampleSize = exampleSize;
    }

    /** Starts staging the batches of {@code epoch} (0-based); the previous epoch must be finished or stopped. */
    void start(int epoch) { start(epoch, 0); }

    /** Starts staging the batches of {@code epoch} from batch {@code firstStep} on (a resumed run). */
    void start(int epoch, int firstStep) {
        if (thread != null) throw new IllegalStateException("the previous epoch's feeder is still running");
        cancelled = false;
        thread = new Thread(() -> produce(epoch, firstStep), "sam4j-input-feeder");
        thread.setDaemon(true);
        thread.start();
    }

    private void produce(int epoch, int firstStep) {
        try (BatchLoader.Epoch it = loader.epoch(epoch, firstStep)) {
            BatchLoader.Batch b;
            while (!cancelled && (b = it.next()) != null) {
                InputPipeline.Slot slot = pipeline.acquire();
                try {
                    pipeline.publish(slot, b.x(), (long) b.n() * exampleSize, b.labels(), b.n(), b.step());
                    slot = null;
                } finally {
                    if (slot != null) pipeline.release(slot);
                    b.close();
                }
            }
            if (!cancelled) pipeline.endEpoch();
        } catch (InterruptedException e) {
            // cancelled by stop(): the consumer no longer reads
        } catch (Throwable t) {
            if (!cancelled) pipeline.fail(t);
        }
    }

    /** The next staged batch of the epoch, or {@code null} at its end. */
    InputPipeline.Slot next() {
        try {
            return pipeline.next();
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException("interrupted while waiting for the next batch", e);
        } catch (IllegalStateException e) {
            if (e.getCause() instanceof RuntimeException r) throw r;  // the loader's own message
            throw e;
        }
    }

    /** Queues the batch's copy into the step's input buffers. */
    void submit(InputPipeline.Slot slot, Buffer x, Buffer labels) { pipeline.submit(slot, x, labels); }

    /** Ends the epoch: stops the thread if it is still producing (a step budget ended mid-epoch) and recovers its slots. */
    void finishEpoch() {
        Thread t = thread;
        if (t == null) return;
        cancelled = true;
        t.interrupt();
        try {
            t.join();
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
        thread = null;
        pipeline.drain();
    }

    long inputWaits() { return pipeline.inputWaits(); }

    @Override public void close() {
        finishEpoch();
        pipeline.close();
    }
    /** {@code --input synthetic}: the first batch of epoch 0, reused by every step (no loading or copying). */
    record Synthetic(float[] x, float[] labels, int n) {
        static Synthetic firstBatch(BatchLoader loader, int exampleSize) {
            try (BatchLoader.Epoch it = loader.epoch(0)) {
                BatchLoader.Batch b = it.next();
                int n = b.n();
                return new Synthetic(java.util.Arrays.copyOf(b.x(), n * exampleSize), java.util.Arrays.copyOf(b.labels(), n), n);
            }
        }

        /**
         * Puts the batch in place, at every epoch start, not once: the evaluation after each epoch uses the same input
         * buffers. The host step's {@code closure} takes it; on the graph paths (no closure) it goes to the device.
         */
        void put(Backend backend, Buffer xBuf, Buffer labelBuf, BatchClosure closure, int exampleSize) {
            if (closure == null) {
                backend.upload(x, 0, xBuf, n * exampleSize);
                backend.upload(labels, 0, labelBuf, n);
            } else {
                closure.load(x, labels, n);
            }
        }
    }
}
