package dev.sam4j.data;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.Callable;
import java.util.concurrent.CancellationException;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.ArrayBlockingQueue;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * Mini-batches of a {@link Dataset} as normalised floats, prepared ahead of time on a background thread.
 *
 * <p><b>Determinism.</b> A batch depends only on (seed, epoch, step): the epoch's order is a permutation
 * drawn from (seed, epoch) (or the identity without shuffling), and each example's augmentation from
 * (seed, epoch, example index). No generator is shared between batches, so the output is bit-identical at
 * every prefetch depth, including 0 (prepared on the caller's thread), and whatever the thread timing.
 *
 * <p><b>Memory.</b> {@code prefetch + 1} batch buffers of {@code B·C·H·W} floats are allocated once. The
 * worker fills free buffers and hands them over through a bounded queue; the consumer gives each back
 * with {@link Batch#close()} or, implicitly, by asking for the next batch. Nothing is allocated per batch.
 *
 * <p><b>Use</b> (one consumer thread):
 * <pre>{@code
 * try (BatchLoader loader = BatchLoader.builder(train).batchSize(128).seed(seed)
 *         .normalization(Normalization.fit(train)).augment(Augment.cropFlip(4)).build()) {
 *     for (int e = 0; e < epochs; e++) {
 *         try (BatchLoader.Epoch epoch = loader.epoch(e)) {
 *             for (BatchLoader.Batch b; (b = epoch.next()) != null; ) {
 *                 step(b.x(), b.labels(), b.n());   // valid until b.close() or the next next()
 *             }
 *         }
 *     }
 * }
 * }</pre>
 * Closing an epoch early (e.g. a step budget ends mid-epoch) cancels the worker and recovers its buffers;
 * closing the loader stops the thread. An exception in the worker is rethrown by the consumer's next
 * {@link Epoch#next()} as a {@link BatchLoaderException} with the original as cause (a
 * {@link DataFileException}, a file that cannot be read, is rethrown as it is: its one line names the file).
 *
 * <p><b>Streamed data sets</b> ({@link Dataset#streamed()}, e.g. an image folder): the worker reads each
 * batch's examples (decodes the images) on {@code decodeThreads} decoder threads, one per core by
 * default, into one staging buffer of {@code B·C·H·W} bytes, then augments and normalises from it as from
 * an in-memory set. Batches are therefore the same bytes as from {@link Dataset#materialize()}'s copy,
 * and still prepared {@code prefetch} ahead of the step. An example the source skips as unreadable
 * ({@code skip-bad-images}) is replaced in its slot by the next readable one in index order (wrapping
 * around), with that one's label: a rule of the data alone, so the batch does not depend on when the bad
 * image was found. The decoder threads end when the loader is closed.
 */
public final class BatchLoader implements AutoCloseable {
    private static final long SHUFFLE_STREAM = 0x53485546L;  // "SHUF"
    private static final long AUGMENT_STREAM = 0x4155474DL;  // "AUGM"
    private static final AtomicInteger THREAD_IDS = new AtomicInteger();
    private static final int MAX_PREFETCH = 64;

    private final Dataset data;
    private final int batchSize;
    private final boolean shuffle;
    private final boolean dropLast;
    private final long seed;
    private final Augment augment;
    private final Normalization norm;
    private final int prefetch;
    private final int steps;
    private final int exampleSize;
    private final int rank, worldSize;                // this loader's shard of the data-parallel batch (0 of 1: all of it)

    private final Batch[] pool;                       // prefetch + 1 buffers (1 when synchronous)
    private final BlockingQueue<Batch> free;          // buffers the worker may fill
    private final BlockingQueue<Object> ready;        // filled Batches, then one end marker (a Job or a Failure)
    private final BlockingQueue<Job> jobs = new ArrayBlockingQueue<>(1);
    private final int[] order;                        // [N] this epoch's example order; written only by the producer

    private final int decodeThreads;                  // streamed sets: threads reading one batch's examples
    private final byte[] staging;                     // streamed sets: [B·C·H·W] bytes of the batch being filled; else null
    private ExecutorService decoders;                 // started on the first streamed batch with decodeThreads > 1
    // The pool's threads, joined by close(): a terminated pool's threads may still be exiting.
    private final List<Thread> decoderThreads = new java.util.concurrent.CopyOnWriteArrayList<>();
    private Thread worker;                            // started on the first epoch; null when synchronous
    private Epoch current;
    private boolean closed;

    private BatchLoader(Builder b) {
        this.data = b.data;
        this.rank = b.rank;
        this.worldSize = b.worldSize;
        this.batchSize = b.batchSize / worldSize;   // the local batch; the global one with one rank
        this.shuffle = b.shuffle;
        this.dropLast = b.dropLast;
        this.seed = b.seed;
        this.augment = b.augment;
        this.norm = b.normalization;
        this.prefetch = b.prefetch;
        int n = data.size();
        this.steps = dropLast ? n / b.batchSize : (n + batchSize - 1) / batchSize;
        this.exampleSize = data.exampleSize();
        this.pool = new Batch[prefetch + 1];
        for (int i = 0; i < pool.length; i++) pool[i] = new Batch(this, batchSize, exampleSize);
        this.free = new ArrayBlockingQueue<>(pool.length, false, Arrays.asList(pool));
        // Room for every buffer plus the end marker, so the worker's put never waits on the consumer.
        this.ready = new ArrayBlockingQueue<>(pool.length + 1);
        this.order = new int[n];
        this.decodeThreads = b.decodeThreads > 0 ? b.decodeThreads : Runtime.getRuntime().availableProcessors();
        this.staging = data.streamed() ? new byte[Math.multiplyExact(batchSize, exampleSize)] : null;
    }

    public static Builder builder(Dataset data) { return new Builder(data); }

    /** The test set in order, no augmentation, every example once (last batch partial), prefetched. */
    public static BatchLoader forEval(Dataset data, int batchSize, Normalization normalization) {
        return builder(data).batchSize(batchSize).shuffle(false).augment(Augment.none()).normalization(normalization).build();
    }

    public Dataset dataset() { return data; }

    public int batchSize() { return batchSize; }

    /** {@code ceil(N/B)}, or {@code floor(N/B)} with dropLast. */
    public int stepsPerEpoch() { return steps; }

    public int prefetch() { return prefetch; }

    /**
     * Starts an epoch (any number, in any order: resuming at epoch 17 gives epoch 17's batches). An epoch
     * still open is closed first.
     */
    public Epoch epoch(int epoch) { return epoch(epoch, 0); }

    /**
     * Starts an epoch at batch {@code firstStep} (a resumed run: the batches are those the whole epoch would
     * have given from that step on, since a batch depends only on (seed, epoch, step)).
     */
    public Epoch epoch(int epoch, int firstStep) {
        if (closed) throw new IllegalStateException("batch loader is closed");
        if (epoch < 0) throw new IllegalArgumentException("epoch must be >= 0, got " + epoch);
        if (firstStep < 0 || firstStep > steps) throw new IllegalArgumentException("first step must be in [0, " + steps + "], got " + firstStep);
        if (current != null) current.close();
        Job job = new Job(epoch, firstStep);
        if (prefetch > 0) {
            if (worker == null) {
                worker = Thread.ofPlatform().daemon().name("sam4j-batch-loader-" + THREAD_IDS.incrementAndGet()).start(this::produce);
            }
            if (!jobs.offer(job)) throw new IllegalStateException("batch loader worker is still busy (a bug)");
        }
        current = new Epoch(job);
        return current;
    }

    /** Stops the worker (cancelling any epoch in progress) and waits for it to end. Idempotent. */
    @Override
    public void close() {
        if (closed) return;
        closed = true;
        if (current != null) {
            current.job.cancelled = true;
            current.finished = true;
            current = null;
        }
        if (worker != null) {
            worker.interrupt();
            boolean interrupted = false;
            while (true) {
                try {
                    worker.join(TimeUnit.SECONDS.toMillis(30));
                    break;
                } catch (InterruptedException e) {
                    interrupted = true; // finish the shutdown first, then restore the flag
                }
            }
            if (interrupted) Thread.currentThread().interrupt();
        }
        if (decoders != null) {
            decoders.shutdownNow();
            boolean interrupted = false;
            while (true) {
                try {
                    decoders.awaitTermination(30, TimeUnit.SECONDS);
                    // awaitTermination returns once the last task is done, while its thread may still be exiting.
                    for (Thread t : decoderThreads) t.join(TimeUnit.SECONDS.toMillis(30));
                    break;
                } catch (InterruptedException e) {
                    interrupted = true;
                }
            }
            if (interrupted) Thread.currentThread().interrupt();
        }
    }

    /** The background thread, null before the first epoch or when synchronous (for tests of shutdown and allocation). */
    Thread worker() { return worker; }

    // ---- the worker ------------------------------------------------------------------------------

    private void produce() {
        try {
            while (true) {
                Job job = jobs.take();
                Batch b = null;
                try {
                    prepareOrder(job.epoch);
                    for (int s = job.firstStep; s < steps && !job.cancelled; s++) {
                        b = free.take();
                        if (job.cancelled) break;
                        fill(b, job.epoch, s);
                        ready.put(b);
                        b = null;
                    }
                    if (b != null) free.put(b);
                    ready.put(job);
                } catch (InterruptedException e) {
                    return;
                } catch (Throwable t) {
                    if (b != null) free.offer(b);
                    ready.offer(new Failure(job, t)); // never full: see the capacity of ready
                }
            }
        } catch (InterruptedException e) {
            // close(): nothing to clean up, the buffers die with the loader
        }
    }

    private void prepareOrder(int epoch) {
        for (int i = 0; i < order.length; i++) order[i] = i;
        if (shuffle) Rng.of(seed, SHUFFLE_STREAM, epoch).shuffle(order);
        if (worldSize > 1) {
            // DistributedSampler's split of the one seeded permutation: this rank's k-th example is the permutation's
            // (rank + worldSize·k)-th, so local step s holds positions s·B + rank + worldSize·j (j < B/worldSize) and
            // the ranks' step-s batches together are exactly the single-rank step-s batch. Full batches only.
            int local = steps * batchSize;
            for (int k = 0; k < local; k++) order[k] = order[rank + worldSize * k];   // rank + W·k >= k: read before written
        }
    }

    private void fill(Batch b, int epoch, int step) throws InterruptedException {
        int start = step * batchSize;
        int n = Math.min(batchSize, order.length - start);
        int[] labels = data.labels();
        int c = data.channels(), h = data.height(), w = data.width();
        if (staging != null) {
            gather(start, n, b.indices);
            for (int i = 0; i < n; i++) {
                int idx = order[start + i];
                b.labels[i] = labels[b.indices[i]];
                // seeded by the slot's example, so that without bad images this is exactly the in-memory batch
                augment.write(staging, i * exampleSize, c, h, w, norm, b.x, i * exampleSize, Rng.hash(seed, AUGMENT_STREAM, epoch, idx));
            }
        } else {
            byte[] px = data.pixels();
            for (int i = 0; i < n; i++) {
                int idx = order[start + i];
                b.indices[i] = idx;
                b.labels[i] = labels[idx];
                augment.write(px, idx * exampleSize, c, h, w, norm, b.x, i * exampleSize, Rng.hash(seed, AUGMENT_STREAM, epoch, idx));
            }
        }
        // A reused buffer's tail would otherwise hold an older batch's data, and then which buffer a
        // batch landed in (timing) would show in the output.
        if (n < batchSize) {
            Arrays.fill(b.x, n * exampleSize, b.x.length, 0f);
            Arrays.fill(b.labels, n, batchSize, 0f);
            Arrays.fill(b.indices, n, batchSize, -1);
        }
        b.n = n;
        b.epoch = epoch;
        b.step = step;
    }

    /**
     * Reads examples {@code order[start..start+n)} into {@code staging} on the decoder threads (slot i at
     * {@code i·C·H·W}); {@code used[i]} gets the example actually read (another one when the source skips
     * the slot's as unreadable).
     */
    private void gather(int start, int n, int[] used) throws InterruptedException {
        int threads = Math.min(decodeThreads, n);
        if (threads <= 1) {
            for (int i = 0; i < n; i++) used[i] = readOrNext(order[start + i], i);
            return;
        }
        if (decoders == null) {
            int id = THREAD_IDS.incrementAndGet();
            AtomicInteger k = new AtomicInteger();
            decoders = Executors.newFixedThreadPool(decodeThreads,
                    r -> {
                        Thread t = Thread.ofPlatform().daemon().name("sam4j-decoder-" + id + "-" + k.incrementAndGet()).unstarted(r);
                        decoderThreads.add(t);
                        return t;
                    });
        }
        AtomicInteger next = new AtomicInteger();
        List<Callable<Void>> tasks = new ArrayList<>(threads);
        for (int t = 0; t < threads; t++) {
            tasks.add(() -> {
                for (int i; (i = next.getAndIncrement()) < n; ) used[i] = readOrNext(order[start + i], i);
                return null;
            });
        }
        List<Future<Void>> done;
        try {
            done = decoders.invokeAll(tasks);
        } catch (RejectedExecutionException e) {
            throw new InterruptedException("batch loader closed");
        }
        for (Future<Void> f : done) {
            try {
                f.get();
            } catch (ExecutionException e) {
                if (e.getCause() instanceof RuntimeException re) throw re;
                if (e.getCause() instanceof Error er) throw er;
                throw new IllegalStateException(e.getCause());
            } catch (CancellationException e) {
                throw new InterruptedException("batch loader closed");
            }
        }
    }

    private int readOrNext(int idx, int slot) {
        int n = data.size();
        for (int k = 0; k < n; k++) {
            int j = (idx + k) % n;
            if (data.read(j, staging, slot * exampleSize)) return j;
        }
        throw new DataFileException(data.name(), "no readable example left (every one was skipped as unreadable)");
    }

    private static final class Job {
        final int epoch;
        final int firstStep;
        volatile boolean cancelled;

        Job(int epoch, int firstStep) {
            this.epoch = epoch;
            this.firstStep = firstStep;
        }
    }

    private record Failure(Job job, Throwable cause) { }

    // ---- the consumer side -----------------------------------------------------------------------

    /** One pass over the data. Not thread-safe: one consumer thread. */
    public final class Epoch implements AutoCloseable {
        private final Job job;
        private int nextStep;
        private Batch held;
        private boolean finished;

        private Epoch(Job job) {
            this.job = job;
            this.nextStep = job.firstStep;
            if (prefetch == 0) prepareOrder(job.epoch);
        }

        public int epoch() { return job.epoch; }

        public int steps() { return steps; }

        /**
         * The next batch, or null after the last. The previously returned batch is given back first, so
         * its arrays may be overwritten from now on.
         *
         * @throws BatchLoaderException if preparing the batch failed (the cause is the original error)
         */
        public Batch next() {
            if (closed) throw new IllegalStateException("batch loader is closed");
            if (finished) return null;
            giveBackHeld();
            if (prefetch == 0) {
                if (nextStep >= steps) { finished = true; return null; }
                Batch b = pool[0];
                try {
                    fill(b, job.epoch, nextStep);
                } catch (DataFileException e) {
                    finished = true;
                    throw e;
                } catch (InterruptedException e) {
                    finished = true;
                    Thread.currentThread().interrupt();
                    throw new BatchLoaderException("interrupted while preparing batch " + nextStep + " of epoch " + job.epoch, e);
                } catch (RuntimeException | Error e) {
                    finished = true;
                    throw new BatchLoaderException("preparing batch " + nextStep + " of epoch " + job.epoch + " failed: " + e, e);
                }
                nextStep++;
                return hold(b);
            }
            Object item;
            try {
                item = ready.take();
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                close();
                throw new BatchLoaderException("interrupted while waiting for batch " + nextStep + " of epoch " + job.epoch, e);
            }
            if (item instanceof Batch b) {
                nextStep++;
                return hold(b);
            }
            finished = true;
            if (item instanceof Failure f) {
                if (f.cause instanceof DataFileException dfe) throw dfe;
                throw new BatchLoaderException("preparing batch " + nextStep + " of epoch " + job.epoch + " failed: " + f.cause, f.cause);
            }
            return null; // the end marker
        }

        private Batch hold(Batch b) {
            b.held = true;
            held = b;
            return b;
        }

        private void giveBackHeld() {
            if (held != null) {
                held.close();
                held = null;
            }
        }

        /**
         * Ends the epoch, early or not: cancels the worker, waits until it has stopped filling and recovers
         * every buffer, so the next epoch starts clean. Idempotent.
         */
        @Override
        public void close() {
            if (current == this) current = null;
            if (held != null) giveBackHeld();
            if (finished || closed) { finished = true; return; }
            finished = true;
            if (prefetch == 0) return;
            job.cancelled = true;
            boolean interrupted = false;
            while (true) {
                Object item;
                try {
                    item = ready.take();
                } catch (InterruptedException e) {
                    interrupted = true; // must still drain, or the next epoch would see this one's batches
                    continue;
                }
                if (item instanceof Batch b) free.offer(b);
                else break; // this job's end marker (Job or Failure): the worker has let go of everything
            }
            if (interrupted) Thread.currentThread().interrupt();
        }
    }

    /**
     * One batch, in a buffer owned by the loader. Arrays are full capacity ({@code B}); only the first
     * {@code n} examples are valid (the rest are zero in a final partial batch).
     */
    public static final class Batch implements AutoCloseable {
        private final BatchLoader owner;
        private final float[] x;        // [B, C, H, W] normalised pixels
        private final float[] labels;   // [B] class indices as floats (the backend keeps labels as floats)
        private final int[] indices;    // [B] dataset index of each example (-1 past n)
        private int n, epoch, step;
        private boolean held;

        private Batch(BatchLoader owner, int batchSize, int exampleSize) {
            this.owner = owner;
            this.x = new float[Math.multiplyExact(batchSize, exampleSize)];
            this.labels = new float[batchSize];
            this.indices = new int[batchSize];
        }

        /** {@code [B, C, H, W]} normalised pixels; the first {@code n·C·H·W} are valid. */
        public float[] x() { return x; }

        /** {@code [B]} labels as floats; the first {@code n} are valid. */
        public float[] labels() { return labels; }

        /** {@code [B]} dataset index of each example; the first {@code n} are valid. */
        public int[] indices() { return indices; }

        /** Examples in this batch: {@code B}, or fewer in a final partial batch. */
        public int n() { return n; }

        public int epoch() { return epoch; }

        /** Position in the epoch, 0-based. */
        public int step() { return step; }

        /** Gives the buffer back to the loader; the arrays must not be used afterwards. Idempotent. */
        @Override
        public void close() {
            if (!held) return;
            held = false;
            if (owner.prefetch > 0) owner.free.offer(this);
        }
    }

    /** Raised on the consumer's thread when a batch could not be prepared. */
    public static final class BatchLoaderException extends RuntimeException {
        private static final long serialVersionUID = 1L;

        BatchLoaderException(String message, Throwable cause) { super(message, cause); }
    }

    public static final class Builder {
        private final Dataset data;
        private int batchSize = -1;
        private boolean shuffle = true;
        private boolean dropLast;
        private long seed;
        private Augment augment = Augment.none();
        private Normalization normalization;
        private int prefetch = 2;
        private int decodeThreads;
        private int rank, worldSize = 1;

        private Builder(Dataset data) { this.data = data; }

        public Builder batchSize(int b) { this.batchSize = b; return this; }

        /** Default true; false keeps the dataset's order (evaluation). */
        public Builder shuffle(boolean s) { this.shuffle = s; return this; }

        /** Default false: the last, partial batch is kept. */
        public Builder dropLast(boolean d) { this.dropLast = d; return this; }

        /** Seeds both the epoch permutations and the augmentation. */
        public Builder seed(long s) { this.seed = s; return this; }

        public Builder augment(Augment a) { this.augment = a; return this; }

        /** Required: use {@code Normalization.fit(train)} for both the train and the test loader. */
        public Builder normalization(Normalization n) { this.normalization = n; return this; }

        /** Batches prepared ahead on the worker thread (default 2); 0 prepares on the caller's thread. */
        public Builder prefetch(int k) { this.prefetch = k; return this; }

        /** Streamed data sets: threads that read (decode) a batch's examples; 0 (the default): one per core. */
        public Builder decodeThreads(int t) { this.decodeThreads = t; return this; }

        /**
         * Data parallelism: {@link #batchSize} is the global batch, and this loader gives rank {@code rank}'s share of
         * it ({@code batchSize / worldSize} examples a step, {@link BatchLoader#batchSize()}), split like PyTorch's
         * {@code DistributedSampler} from the one seeded permutation; needs {@link #dropLast} and a batch that divides.
         */
        public Builder shard(int rank, int worldSize) {
            if (worldSize < 1 || rank < 0 || rank >= worldSize) {
                throw new IllegalArgumentException("shard: rank " + rank + " of a world of " + worldSize);
            }
            this.rank = rank;
            this.worldSize = worldSize;
            return this;
        }

        public BatchLoader build() {
            if (decodeThreads < 0) throw new IllegalArgumentException("decode threads must be >= 0, got " + decodeThreads);
            if (batchSize < 1) throw new IllegalArgumentException("batch size must be >= 1, got " + batchSize);
            if (prefetch < 0 || prefetch > MAX_PREFETCH) throw new IllegalArgumentException("prefetch must be in [0, " + MAX_PREFETCH + "], got " + prefetch);
            if (normalization == null) throw new IllegalArgumentException("normalization not set (use Normalization.fit(train))");
            if (normalization.channels() != data.channels()) {
                throw new IllegalArgumentException("normalization has " + normalization.channels() + " channels, " + data.name() + " has " + data.channels());
            }
            if (augment == null) throw new IllegalArgumentException("augment must not be null (use Augment.none())");
            if (data.size() == 0) throw new IllegalArgumentException(data.name() + " is empty");
            if (worldSize > 1 && (!dropLast || batchSize % worldSize != 0)) {
                throw new IllegalArgumentException("shard: the global batch " + batchSize + " must divide by the world size "
                        + worldSize + " and the partial last batch be dropped");
            }
            if (dropLast && data.size() < batchSize) {
                throw new IllegalArgumentException("dropLast with batch size " + batchSize + " > " + data.size() + " examples of "
                        + data.name() + " leaves no batch per epoch");
            }
            return new BatchLoader(this);
        }
    }
}
