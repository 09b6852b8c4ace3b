package dev.sam4j.backend.cpu;

import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.locks.LockSupport;

/**
 * A persistent fork-join pool for the CPU backend: {@code threads − 1} daemon workers plus the calling
 * thread run the parts of one {@link Task} at a time and the call returns when every part is done.
 *
 * <p>Why not {@code ForkJoinPool}: the hot ops take 10 µs – 1 ms, so waking a parked thread (≈ 20–60 µs
 * on Linux) would cost as much as the work; workers here spin on a volatile sequence number for a short
 * while ({@link #SPIN_NANOS}) after each job, so back-to-back ops in a training step find them awake,
 * and park afterwards so an idle backend burns no CPU. Dispatch allocates nothing: tasks are
 * preallocated objects whose fields the caller sets before {@link #run}.
 *
 * <p>Parts are claimed dynamically (an atomic counter) for load balance, so which thread runs a part
 * varies; every task must therefore make a part's result independent of the thread that runs it (the
 * thread index only selects per-thread scratch). That is what keeps results independent of the thread
 * count. Not reentrant: a task must not call {@link #run} (use the serial kernels inside tasks), and one
 * pool serves one calling thread at a time.
 */
final class WorkerPool implements AutoCloseable {

    /** One parallel job; {@code part} in {@code [0, parts)}, {@code thread} in {@code [0, threads)}. */
    interface Task {
        void run(int part, int thread);
    }

    /** How long an idle worker spins before parking: a few ops' worth, short enough not to hog a core. */
    static final long SPIN_NANOS = 200_000;
    /** How long the caller spins for a worker to finish before yielding its core. */
    static final long AWAIT_SPIN_NANOS = 50_000;

    private final int threads;
    private final Worker[] workers;
    private final AtomicInteger next = new AtomicInteger();
    private volatile Task task;
    private volatile int parts;
    private volatile Throwable failure;
    private volatile boolean closed;

    WorkerPool(int threads) {
        if (threads < 1) throw new IllegalArgumentException("threads must be >= 1, got " + threads);
        this.threads = threads;
        this.workers = new Worker[threads - 1];
        for (int i = 0; i < workers.length; i++) {
            workers[i] = new Worker(i + 1);
            workers[i].start();
        }
    }

    int threads() { return threads; }

    /**
     * Runs {@code parts} parts of {@code t} over all threads and returns when all are done. With one part
     * or one thread the caller runs everything itself (no hand-off cost).
     */
    void run(Task t, int parts) {
        if (parts <= 0) return;
        if (closed) throw new IllegalStateException("backend is closed");
        if (parts == 1 || workers.length == 0) {
            for (int p = 0; p < parts; p++) t.run(p, 0);
            return;
        }
        this.task = t;
        this.parts = parts;
        this.failure = null;
        next.set(0);
        // Workers that could get no part would only add wake-up latency; wake as many as can help.
        int helpers = Math.min(workers.length, parts - 1);
        for (int i = 0; i < helpers; i++) workers[i].publish();
        Throwable mine = null;
        try {
            claimLoop(t, parts, 0);
        } catch (Throwable e) {
            mine = e;
        }
        for (int i = 0; i < helpers; i++) workers[i].awaitDone();
        this.task = null;
        Throwable f = mine != null ? mine : failure;
        if (f instanceof RuntimeException re) throw re;
        if (f instanceof Error er) throw er;
        if (f != null) throw new IllegalStateException(f);
    }

    private void claimLoop(Task t, int parts, int thread) {
        for (int p; (p = next.getAndIncrement()) < parts; ) t.run(p, thread);
    }

    @Override
    public void close() {
        closed = true;
        for (Worker w : workers) LockSupport.unpark(w);
        for (Worker w : workers) {
            try {
                w.join(1000);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                return;
            }
        }
    }

    private final class Worker extends Thread {
        private final int index;
        private volatile long seq;      // jobs published to this worker
        private volatile long done;     // jobs this worker has finished
        private volatile boolean parked;

        Worker(int index) {
            super("sam4j-cpu-" + index);
            this.index = index;
            setDaemon(true);
        }

        void publish() {
            seq = seq + 1;          // only the calling thread writes seq
            if (parked) LockSupport.unpark(this);
        }

        /**
         * Waits for this worker's current job. Spins briefly (the parts are balanced, so the worker is
         * usually microseconds behind), then yields: when the cores are oversubscribed the worker may
         * be descheduled, and a caller that keeps spinning only delays it (a count-bounded spin of 64 K
         * PAUSEs is ≈ 4 ms on Skylake-SP, where PAUSE takes ≈ 140 cycles).
         */
        void awaitDone() {
            long target = seq;
            if (done == target) return;
            long deadline = System.nanoTime() + AWAIT_SPIN_NANOS;
            while (done != target) {
                for (int i = 0; i < 32 && done != target; i++) Thread.onSpinWait();
                if (System.nanoTime() > deadline) Thread.yield();
            }
        }

        @Override
        public void run() {
            long seen = 0;
            while (true) {
                long deadline = System.nanoTime() + SPIN_NANOS;
                while (seq == seen) {
                    if (closed) return;
                    if (System.nanoTime() < deadline) {
                        Thread.onSpinWait();
                    } else {
                        // Dekker-style hand-shake with publish(): both sides write then read volatiles,
                        // so either we see the new seq or the publisher sees parked and unparks us.
                        parked = true;
                        if (seq == seen && !closed) LockSupport.park(this);
                        parked = false;
                        deadline = System.nanoTime() + SPIN_NANOS;
                    }
                }
                seen = seq;
                try {
                    claimLoop(task, parts, index);
                } catch (Throwable e) {
                    failure = e;
                }
                done = seen;
            }
        }
    }
}
