package dev.sam4j.data;

import java.util.Arrays;

/** A seeded random choice of training examples, for {@code --train-subset N}. */
public final class Subset {
    private static final long STREAM = 0x5355425345L; // "SUBSE"

    private Subset() { }

    /**
     * {@code n} distinct examples chosen uniformly at random, kept in their original relative order
     * (the loader shuffles anyway, and ordered indices make the choice easy to inspect).
     */
    public static Dataset choose(Dataset data, int n, long seed) {
        if (n < 1 || n > data.size()) {
            throw new IllegalArgumentException("train subset must be in [1, " + data.size() + "] for " + data.name() + ", got " + n);
        }
        return data.select(indices(data.size(), n, seed), data.name() + " (random subset of " + n + ", seed " + seed + ")");
    }

    static int[] indices(int size, int n, long seed) {
        int[] idx = new int[size];
        for (int i = 0; i < size; i++) idx[i] = i;
        Rng rng = Rng.of(seed, STREAM);
        for (int i = 0; i < n; i++) {
            int j = i + rng.nextInt(size - i);
            int t = idx[i]; idx[i] = idx[j]; idx[j] = t;
        }
        int[] chosen = Arrays.copyOf(idx, n);
        Arrays.sort(chosen);
        return chosen;
    }
}
