package dev.sam4j.train;

import dev.sam4j.parallel.Collective;
import dev.sam4j.parallel.CollectiveException;
import dev.sam4j.parallel.InProcessGroup;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/**
 * {@code sam4j train --ranks N}: N data-parallel ranks in this process, one thread each, each a {@link Trainer} with
 * its own backend (of {@code --threads} threads), model, loader shard and step, joined by an {@link InProcessGroup}.
 * Every rank holds the same weights after every step; rank 0 is the one that reports (give only it listeners) and
 * writes checkpoints. A rank that fails aborts the group, so the others end at their next collective instead of
 * waiting, and {@link #run} rethrows the failure that started it.
 */
public final class LocalRanks implements AutoCloseable {
    private final Trainer[] trainers;
    private final Collective[] members;

    /** Builds {@code config.ranks()} trainers, each resuming from {@code resumeFrom} when given (null: a fresh run). */
    public LocalRanks(TrainConfig config, Path resumeFrom) {
        int n = config.ranks();
        InProcessGroup group = new InProcessGroup(n);
        trainers = new Trainer[n];
        members = new Collective[n];
        try {
            for (int r = 0; r < n; r++) {
                members[r] = group.member(r);
                trainers[r] = new Trainer(config, resumeFrom, members[r]);
            }
        } catch (RuntimeException | Error e) {
            try {
                close();
            } catch (RuntimeException suppressed) {
                e.addSuppressed(suppressed);
            }
            throw e;
        }
    }

    public int size() { return trainers.length; }

    /** Rank {@code r}'s trainer (rank 0 reports: add listeners to it only). */
    public Trainer rank(int r) { return trainers[r]; }

    /** Stops the run after the step in progress on every rank (rank 0 asks; the ranks agree on the step). */
    public void requestStop() { trainers[0].requestStop(); }

    /** Runs every rank to the end; each rank's summary, in rank order (they agree: the same records on every rank). */
    public List<RunSummary> run() {
        int n = trainers.length;
        RunSummary[] results = new RunSummary[n];
        Throwable[] failures = new Throwable[n];
        Thread[] threads = new Thread[n];
        for (int r = 0; r < n; r++) {
            int rank = r;
            threads[r] = new Thread(() -> {
                try {
                    results[rank] = trainers[rank].run();
                } catch (Throwable t) {
                    failures[rank] = t;
                    members[rank].abort(t);
                }
            }, "sam4j-rank-" + r);
            threads[r].start();
        }
        boolean interrupted = false;
        for (Thread t : threads) {
            while (true) {
                try {
                    t.join();
                    break;
                } catch (InterruptedException e) {
                    interrupted = true;
                    requestStop();
                }
            }
        }
        if (interrupted) Thread.currentThread().interrupt();
        Throwable first = null;
        for (Throwable f : failures) {
            // The rank that failed first names the run's failure; the others only saw the group aborted.
            if (f != null && (first == null || first instanceof CollectiveException && !(f instanceof CollectiveException))) first = f;
        }
        if (first instanceof RuntimeException re) throw re;
        if (first instanceof Error err) throw err;
        if (first != null) throw new IllegalStateException(first);
        return List.of(results);
    }

    /** Closes every trainer built, each even when an earlier one fails. */
    @Override public void close() {
        List<RuntimeException> errors = new ArrayList<>();
        for (Trainer t : trainers) {
            if (t == null) continue;
            try {
                t.close();
            } catch (RuntimeException e) {
                errors.add(e);
            }
        }
        if (!errors.isEmpty()) {
            RuntimeException e = errors.get(0);
            for (int i = 1; i < errors.size(); i++) e.addSuppressed(errors.get(i));
            throw e;
        }
    }
}
