package dev.sam4j.parallel;

import dev.sam4j.backend.Backend;
import dev.sam4j.backend.Buffer;

/** One rank: every collective is the identity (a sum or mean over one rank is the value itself, bit for bit). */
public final class SingleRank implements Collective {
    public static final SingleRank INSTANCE = new SingleRank();

    private SingleRank() {}

    @Override public int rank() { return 0; }
    @Override public int worldSize() { return 1; }
    @Override public void allReduce(Backend backend, Buffer x, long n, Op op) { check(x, n); }
    @Override public void allReduce(double[] values, Op op) {
        if (values == null) throw new IllegalArgumentException("allReduce: values is null");
    }
    @Override public void broadcast(Backend backend, Buffer x, long n, int root) {
        if (root != 0) throw new IllegalArgumentException("broadcast: root " + root + " is not a rank of a world of 1");
        check(x, n);
    }
    @Override public void barrier() {}
    @Override public void abort(Throwable cause) {}
    @Override public void close() {}

    private static void check(Buffer x, long n) {
        if (n < 0 || n > x.length()) throw new IllegalArgumentException("collective over " + n + " elements of a buffer of " + x.length());
    }
}
