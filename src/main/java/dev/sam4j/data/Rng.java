package dev.sam4j.data;

/**
 * SplitMix64 (Steele, Lea and Flood 2014), written out here rather than using
 * {@link java.util.SplittableRandom} so that synthetic data, label noise, subsets, shuffles and
 * augmentations are fixed by this file alone: a dataset or run is reproducible across JDK versions.
 * Not thread-safe; every user derives its own instance from a tuple of longs via {@link #of}.
 */
final class Rng {
    private static final long GOLDEN_GAMMA = 0x9E3779B97F4A7C15L;

    private long state;

    private Rng(long seed) { this.state = seed; }

    /** A generator whose stream depends on every component of the tuple (e.g. seed, stream id, epoch, index). */
    static Rng of(long... tuple) { return new Rng(hash(tuple)); }

    /**
     * Folds a tuple into one well-mixed long. Each component passes through the finaliser before the
     * next is added, so (a, b) and (b, a) give unrelated seeds.
     */
    static long hash(long... tuple) {
        long h = HASH_START;
        for (long v : tuple) h = fold(h, v);
        return h;
    }

    /** {@code hash(a, b, c, d)} without the varargs array: called once per example per epoch. */
    static long hash(long a, long b, long c, long d) {
        return fold(fold(fold(fold(HASH_START, a), b), c), d);
    }

    private static final long HASH_START = 0x243F6A8885A308D3L; // arbitrary non-zero start (digits of pi)

    private static long fold(long h, long v) { return mix(h + GOLDEN_GAMMA + mix(v)); }

    /** The SplitMix64 output finaliser (variant 13 of Stafford's mixers). */
    static long mix(long z) {
        z = (z ^ (z >>> 30)) * 0xBF58476D1CE4E5B9L;
        z = (z ^ (z >>> 27)) * 0x94D049BB133111EBL;
        return z ^ (z >>> 31);
    }

    long nextLong() { return mix(state += GOLDEN_GAMMA); }

    /** Uniform in {@code [0, bound)}; rejection sampling keeps it exactly unbiased. */
    int nextInt(int bound) {
        if (bound <= 0) throw new IllegalArgumentException("bound must be positive: " + bound);
        // 31 random bits, rejecting the top partial block of 2^31 so every residue is equally likely.
        long accept = (1L << 31) - (1L << 31) % bound;
        long r;
        do {
            r = nextLong() >>> 33;
        } while (r >= accept);
        return (int) (r % bound);
    }

    /** Uniform in {@code [0, 1)} with 53 random bits. */
    double nextDouble() { return (nextLong() >>> 11) * 0x1.0p-53; }

    /** Fisher-Yates: {@code a} becomes a uniformly random permutation of its current contents. */
    void shuffle(int[] a) {
        for (int i = a.length - 1; i > 0; i--) {
            int j = nextInt(i + 1);
            int t = a[i]; a[i] = a[j]; a[j] = t;
        }
    }
}
