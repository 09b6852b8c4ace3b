package dev.sam4j.backend;

import java.util.ArrayDeque;
import java.util.concurrent.ArrayBlockingQueue;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.TimeUnit;

/**
 * Moves training batches from a host thread to device buffers without making the training step wait
 * for the copy: a fixed ring of host staging slots (pinned memory on CUDA) that a producer thread fills
 * ahead of time, and whose copies to the device are queued asynchronously, overlapping the step that is
 * running.
 *
 * <p><b>Threads.</b> One producer: {@link #acquire()} a free slot (waits while every slot is busy),
 * {@link #publish} a batch into it, {@link #endEpoch()} after the last one. One consumer, the training
 * thread: {@link #next()} returns the published slots in order ({@code null} at the end of the epoch),
 * {@link #submit} queues a slot's copy into the step's input buffers. Only the consumer calls into the
 * backend, so a GPU context is only ever used from the training thread.
 *
 * <p><b>Why slots come back late.</b> After {@link #submit}, a slot's host memory is still being read by
 * the copy engine; it returns to the free list only once its copy has finished, which the consumer checks
 * without waiting ({@link Transfer#done}) on every call. If the producer is starved because every slot is
 * still in flight, the consumer waits for the oldest copy ({@link Transfer#await}): that bounds how far
 * the host runs ahead of the device, and it is the only wait in the input path.
 *
 * <p>Memory: {@code slots} staging areas of {@code xCapacity + labelCapacity} floats, allocated once.
 */
public final class InputPipeline implements AutoCloseable {
    /** One slot's host memory, written by the producer. */
    public interface Staging {
        /** Copies {@code xCount} floats of {@code x} and {@code n} of {@code labels} into this staging memory. */
        void put(float[] x, long xCount, float[] labels, int n);
    }

    /** How a backend copies a staging slot to device buffers: asynchronously on a GPU, at once on the CPU. */
    public interface Transfer extends AutoCloseable {
        Staging newStaging(long xCapacity, int labelCapacity);

        /**
         * Queues the copy of the slot's first {@code xCount} / {@code n} values into {@code xDst} /
         * {@code labelDst}, ordered before any operation queued on the backend afterwards. The staging
         * memory may be rewritten only once {@link #done} says so.
         */
        void submit(Staging s, long xCount, int n, Buffer xDst, Buffer labelDst);

        /** Whether the slot's last copy has finished; never waits. */
        boolean done(Staging s);

        /** Waits until the slot's last copy has finished. */
        void await(Staging s);

        /** Waits for every queued copy, then frees the staging memory and any copy resources. */
        @Override void close();
    }

    /** A staging slot and the batch it holds. */
    public static final class Slot {
        private final Staging staging;
        private long xCount;
        private int n;
        private long tag;

        private Slot(Staging staging) { this.staging = staging; }

        /** Examples in this slot's batch. */
        public int n() { return n; }

        /** The producer's tag for this batch (e.g. its step number). */
        public long tag() { return tag; }
    }

    private static final Object END = new Object();
    private record Failure(Throwable cause) { }

    private final Transfer transfer;
    private final long xCapacity;
    private final int labelCapacity;
    private final Slot[] slots;
    private final BlockingQueue<Slot> free;
    private final BlockingQueue<Object> ready;
    private final ArrayDeque<Slot> inFlight = new ArrayDeque<>();   // consumer only
    private long inputWaits;
    private boolean closed;

    /** A pipeline of {@code slots} (≥ 2) slots of {@code xCapacity} input and {@code labelCapacity} label floats. */
    public InputPipeline(Transfer transfer, int slots, long xCapacity, int labelCapacity) {
        if (slots < 2) throw new IllegalArgumentException("an input pipeline needs at least 2 slots, got " + slots);
        this.transfer = transfer;
        this.xCapacity = xCapacity;
        this.labelCapacity = labelCapacity;
        this.slots = new Slot[slots];
        this.free = new ArrayBlockingQueue<>(slots);
        this.ready = new ArrayBlockingQueue<>(slots + 2);
        try {
            for (int i = 0; i < slots; i++) {
                this.slots[i] = new Slot(transfer.newStaging(xCapacity, labelCapacity));
                free.add(this.slots[i]);
            }
        } catch (RuntimeException e) {
            transfer.close();
            throw e;
        }
    }

    public int slots() { return slots.length; }

    /** Times the consumer had to wait for a copy to finish before a slot could be reused. */
    public long inputWaits() { return inputWaits; }

    // ----------------------------------------------------------------------------------- producer

    /** A free slot; waits while all are busy. */
    public Slot acquire() throws InterruptedException { return free.take(); }

    /** Gives back a slot acquired but not published (the producer was cancelled). */
    public void release(Slot s) { free.add(s); }

    /** Copies a batch into the slot and hands it to the consumer, in publication order. */
    public void publish(Slot s, float[] x, long xCount, float[] labels, int n, long tag) throws InterruptedException {
        if (xCount > xCapacity || n > labelCapacity || n < 0 || xCount < 0) {
            throw new IllegalArgumentException("batch of " + n + " examples (" + xCount + " floats) does not fit a slot of "
                    + labelCapacity + " examples (" + xCapacity + " floats)");
        }
        s.staging.put(x, xCount, labels, n);
        s.xCount = xCount;
        s.n = n;
        s.tag = tag;
        ready.put(s);
    }

    /** Marks the end of the current epoch: the consumer's {@link #next()} returns {@code null} after the last slot. */
    public void endEpoch() throws InterruptedException { ready.put(END); }

    /** Ends the epoch with a failure that the consumer's {@link #next()} rethrows. */
    public void fail(Throwable t) {
        if (!ready.offer(new Failure(t))) throw new IllegalStateException("input pipeline queue is full", t);
    }

    // ----------------------------------------------------------------------------------- consumer

    /**
     * The next published slot, or {@code null} at the end of the epoch. Rethrows a producer failure as an
     * {@link IllegalStateException} with the original as cause.
     */
    public Slot next() throws InterruptedException {
        checkOpen();
        while (true) {
            reclaim();
            Object o = ready.poll();
            if (o == null) {
                if (free.isEmpty() && !inFlight.isEmpty()) {
                    // The producer needs a slot and all are being copied: wait for the oldest copy.
                    Slot oldest = inFlight.poll();
                    transfer.await(oldest.staging);
                    inputWaits++;
                    free.add(oldest);
                    continue;
                }
                o = ready.poll(20, TimeUnit.MILLISECONDS);
                if (o == null) continue;
            }
            if (o == END) return null;
            if (o instanceof Failure f) {
                throw new IllegalStateException("input pipeline: " + f.cause().getMessage(), f.cause());
            }
            return (Slot) o;
        }
    }

    /**
     * Queues the slot's copy into the step's input buffers; the slot returns to the producer when the copy
     * is done, which may be before this returns, so the caller must not touch the slot afterwards.
     */
    public void submit(Slot s, Buffer xDst, Buffer labelDst) {
        checkOpen();
        transfer.submit(s.staging, s.xCount, s.n, xDst, labelDst);
        inFlight.add(s);
        reclaim();
    }

    /** Returns a slot from {@link #next()} without copying it (the consumer stopped early). */
    public void discard(Slot s) { free.add(s); }

    /**
     * After the producer has stopped: returns every published but unconsumed slot to the free list and
     * forgets an end marker or failure, so the next epoch starts clean.
     */
    public void drain() {
        for (Object o; (o = ready.poll()) != null; ) {
            if (o instanceof Slot s) free.add(s);
        }
    }

    private void reclaim() {
        while (!inFlight.isEmpty() && transfer.done(inFlight.peek().staging)) free.add(inFlight.poll());
    }

    private void checkOpen() {
        if (closed) throw new IllegalStateException("input pipeline is closed");
    }

    /** Waits for the copies in flight, then frees the staging memory. The producer must have stopped. */
    @Override public void close() {
        if (closed) return;
        closed = true;
        transfer.close();
    }

    /** The CPU's transfer: plain arrays, copied into the buffers at once. */
    public static Transfer synchronous(Backend backend) {
        record HostStaging(float[] x, float[] labels) implements Staging {
            @Override public void put(float[] src, long xCount, float[] lab, int n) {
                System.arraycopy(src, 0, x, 0, Math.toIntExact(xCount));
                System.arraycopy(lab, 0, labels, 0, n);
            }
        }
        return new Transfer() {
            @Override public Staging newStaging(long xCapacity, int labelCapacity) {
                return new HostStaging(new float[Math.toIntExact(xCapacity)], new float[labelCapacity]);
            }

            @Override public void submit(Staging s, long xCount, int n, Buffer xDst, Buffer labelDst) {
                HostStaging h = (HostStaging) s;
                backend.upload(h.x(), 0, xDst, Math.toIntExact(xCount));
                backend.upload(h.labels(), 0, labelDst, n);
            }

            @Override public boolean done(Staging s) { return true; }
            @Override public void await(Staging s) { }
            @Override public void close() { }
        };
    }
}
