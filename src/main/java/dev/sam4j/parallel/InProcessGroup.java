package dev.sam4j.parallel;

import dev.sam4j.backend.Backend;
import dev.sam4j.backend.Buffer;

/**
 * N ranks in one process, one thread each ({@code sam4j train --ranks N}): every rank copies its values into its own
 * slot, waits for the others, and the result of element {@code i} is {@code (float) (x_0[i] + x_1[i] + … + x_{N−1}[i])}
 * summed in double in rank order (divided by N in double for {@link Op#MEAN}), each element computed once, by the rank
 * that owns its chunk, into one shared result that every rank then copies back: the same bits on every rank, whatever
 * the threads' timing. Doubles are summed the same way by every rank from every slot (the same arithmetic, so the
 * same bits). Two waits per operation: after the contributions, and after the results are made (a rank's next
 * contribution goes to its own slot, and the shared result is written only after the next first wait, so a rank
 * still reading a result is never overwritten).
 *
 * <p>A rank that fails calls {@link Collective#abort}: every rank waiting, or arriving later, gets a
 * {@link CollectiveException} naming it, so no rank waits for a dead one.
 */
public final class InProcessGroup {
    private final int world;
    private final float[][] slots;    // per rank, written only by its rank before the first wait
    private final double[][] doubles; // per rank, likewise
    private volatile float[] result = new float[0];
    private long generation;
    private int arrived;
    private Throwable abortCause;
    private int abortRank = -1;

    public InProcessGroup(int worldSize) {
        if (worldSize < 1) throw new IllegalArgumentException("world size must be >= 1, got " + worldSize);
        this.world = worldSize;
        this.slots = new float[worldSize][0];
        this.doubles = new double[worldSize][0];
    }

    public int worldSize() { return world; }

    /** The handle of rank {@code rank}; each rank's thread uses only its own. */
    public Collective member(int rank) {
        if (rank < 0 || rank >= world) throw new IllegalArgumentException("rank " + rank + " is not in [0, " + world + ")");
        return new Member(rank);
    }

    /** Aborts the group on behalf of {@code rank} (first cause wins). */
    void abort(int rank, Throwable cause) {
        synchronized (this) {
            if (abortCause == null) {
                abortCause = cause == null ? new IllegalStateException("aborted") : cause;
                abortRank = rank;
            }
            notifyAll();
        }
    }

    private void await(int rank) {
        synchronized (this) {
            checkAborted();
            long gen = generation;
            if (++arrived == world) {
                arrived = 0;
                generation++;
                notifyAll();
                return;
            }
            while (gen == generation && abortCause == null) {
                try {
                    wait();
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                    abort(rank, new IllegalStateException("rank " + rank + " was interrupted in a collective", e));
                }
            }
            if (gen == generation) checkAborted();
        }
    }

    private void checkAborted() {
        if (abortCause != null) {
            throw new CollectiveException(abortRank, "rank " + abortRank + " failed: " + abortCause.getMessage(), abortCause);
        }
    }

    private final class Member implements Collective {
        private final int rank;

        Member(int rank) { this.rank = rank; }

        @Override public int rank() { return rank; }
        @Override public int worldSize() { return world; }

        @Override public void allReduce(Backend backend, Buffer x, long n, Op op) {
            int m = length(x, n);
            float[] mine = slot(m);
            if (m > 0) backend.download(x.slice(0, m), mine, 0, m);
            if (rank == 0 && result.length < m) result = new float[m]; // before the first wait: no rank reads it now
            await(rank);
            float[] out = result;
            long from = (long) m * rank / world, to = (long) m * (rank + 1) / world;
            double scale = op == Op.MEAN ? world : 1;
            for (int i = (int) from; i < to; i++) {
                double s = 0;
                for (int r = 0; r < world; r++) s += slots[r][i];
                out[i] = (float) (op == Op.MEAN ? s / scale : s);
            }
            await(rank);
            if (m > 0) backend.upload(out, 0, x.slice(0, m), m);
        }

        @Override public void allReduce(double[] values, Op op) {
            if (values == null) throw new IllegalArgumentException("allReduce: values is null");
            if (doubles[rank].length != values.length) doubles[rank] = new double[values.length];
            System.arraycopy(values, 0, doubles[rank], 0, values.length);
            await(rank);
            for (int k = 0; k < values.length; k++) {
                double s = 0;
                for (int r = 0; r < world; r++) {
                    if (doubles[r].length != values.length) {
                        throw new IllegalStateException("allReduce of doubles: rank " + r + " gave " + doubles[r].length
                                + " values, rank " + rank + " " + values.length);
                    }
                    s += doubles[r][k];
                }
                values[k] = op == Op.MEAN ? s / world : s;
            }
            await(rank);
        }

        @Override public void broadcast(Backend backend, Buffer x, long n, int root) {
            if (root < 0 || root >= world) throw new IllegalArgumentException("broadcast: root " + root + " is not in [0, " + world + ")");
            int m = length(x, n);
            if (rank == root && m > 0) backend.download(x.slice(0, m), slot(m), 0, m);
            await(rank);
            if (rank != root && m > 0) backend.upload(slots[root], 0, x.slice(0, m), m);
            await(rank);
        }

        @Override public void barrier() { await(rank); }

        @Override public void abort(Throwable cause) { InProcessGroup.this.abort(rank, cause); }

        @Override public void close() {}

        @Override public String describe() { return world + " data-parallel ranks in this process (threads)"; }

        private float[] slot(int m) {
            if (slots[rank].length < m) slots[rank] = new float[m];
            return slots[rank];
        }

        private static int length(Buffer x, long n) {
            if (n < 0 || n > x.length()) throw new IllegalArgumentException("collective over " + n + " elements of a buffer of " + x.length());
            return Math.toIntExact(n);
        }
    }
}
