package dev.sam4j.parallel;

import java.util.ArrayList;
import java.util.List;
import java.util.function.BiFunction;

/** Test helper: runs {@code body(rank, member)} on one thread per rank of an {@link InProcessGroup}; rethrows the first failure. */
public final class Ranks {
    private Ranks() {}

    public static <T> List<T> run(int n, BiFunction<Integer, Collective, T> body) {
        InProcessGroup g = new InProcessGroup(n);
        List<T> out = new ArrayList<>();
        Object[] results = new Object[n];
        Throwable[] failures = new Throwable[n];
        Thread[] threads = new Thread[n];
        for (int r = 0; r < n; r++) {
            int rank = r;
            Collective c = g.member(r);
            threads[r] = new Thread(() -> {
                try {
                    results[rank] = body.apply(rank, c);
                } catch (Throwable t) {
                    failures[rank] = t;
                    c.abort(t);
                }
            });
            threads[r].start();
        }
        for (Thread t : threads) {
            try {
                t.join();
            } catch (InterruptedException e) {
                throw new IllegalStateException(e);
            }
        }
        for (Throwable f : failures) {
            if (f != null && !(f instanceof CollectiveException)) throw f instanceof RuntimeException re ? re : new IllegalStateException(f);
        }
        for (Throwable f : failures) if (f != null) throw (RuntimeException) f;
        for (Object o : results) {
            @SuppressWarnings("unchecked") T t = (T) o;
            out.add(t);
        }
        return out;
    }
}
