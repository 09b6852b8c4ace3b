package dev.sam4j.data;

import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;

/** A parallel loop on short-lived threads, for the one-off passes of loading (image headers, statistics). */
final class Workers {
    private Workers() {}

    interface Task { void run(int worker, int i); }

    /** One per core, at most {@code n}, at least 1. */
    static int threads(int n) { return Math.max(1, Math.min(n, Runtime.getRuntime().availableProcessors())); }

    /**
     * {@code task(w, i)} for i in 0..n-1 on {@code threads} threads ({@code w} the thread's number, for
     * per-thread buffers); the caller waits, and the threads have ended when this returns. The first
     * exception of a task is rethrown here as it is.
     */
    static void forEach(int n, int threads, String name, Task task) {
        if (threads <= 1) { for (int i = 0; i < n; i++) task.run(0, i); return; }
        AtomicInteger next = new AtomicInteger();
        ExecutorService pool = Executors.newFixedThreadPool(threads, r -> {
            Thread t = new Thread(r, name);
            t.setDaemon(true);
            return t;
        });
        try {
            List<Future<?>> fs = new ArrayList<>();
            for (int t = 0; t < threads; t++) {
                int w = t;
                fs.add(pool.submit(() -> { for (int i; (i = next.getAndIncrement()) < n; ) task.run(w, i); }));
            }
            for (Future<?> f : fs) {
                try {
                    f.get();
                } catch (ExecutionException e) {
                    next.set(n); // the others stop at their next example
                    if (e.getCause() instanceof RuntimeException re) throw re;
                    if (e.getCause() instanceof Error er) throw er;
                    throw new IllegalStateException(e.getCause());
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                    throw new IllegalStateException("interrupted while reading images", e);
                }
            }
        } finally {
            pool.shutdownNow();
            try {
                pool.awaitTermination(30, TimeUnit.SECONDS);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
        }
    }
}
