package dev.sam4j.parallel;

import dev.sam4j.backend.Backend;
import dev.sam4j.backend.Buffer;

/**
 * The collective operations a data-parallel step needs, over {@link #worldSize()} ranks that each call the same
 * operations in the same order (a collective every rank does not reach waits for it: the caller keeps the order).
 *
 * <p>Contract of every implementation: a reduction adds the ranks' values in rank order (0, 1, …, N−1), so the result
 * does not depend on which rank arrives first, and every rank receives the same bits; the SAM-family decision, computed
 * from reduced values only, is then identical on every rank by construction. A failure of one rank (an exception, a
 * lost peer) ends the pending and every later operation on every rank with a {@link CollectiveException} naming it.
 */
public interface Collective extends AutoCloseable {

    /** How values of the ranks combine: their sum, or their sum divided by the world size (the mean). */
    enum Op { SUM, MEAN }

    /** This rank, in {@code [0, worldSize())}. */
    int rank();

    /** The number of ranks. */
    int worldSize();

    /** Combines {@code x[0, n)} of every rank with {@code op}, in place; {@code x} is a buffer of {@code backend}. */
    void allReduce(Backend backend, Buffer x, long n, Op op);

    /** Combines {@code values} (the same length on every rank) with {@code op}, in place. */
    void allReduce(double[] values, Op op);

    /** Copies {@code x[0, n)} of rank {@code root} into {@code x} of every other rank. */
    void broadcast(Backend backend, Buffer x, long n, int root);

    /** Returns once every rank has called it. */
    void barrier();

    /**
     * Ends this rank's part: the group is told that this rank failed with {@code cause}, so that no other rank waits for
     * it (the in-process group wakes them at once, a socket group closes its connections).
     */
    void abort(Throwable cause);

    /** For the run's header: how many ranks, and how they are joined. */
    default String describe() { return worldSize() + " data-parallel ranks"; }

    @Override void close();
}
