package dev.sam4j.data;

/**
 * Symmetric label noise, the usual robustness benchmark for SAM: a seeded choice of exactly
 * {@code round(fraction · n)} training examples get a new label drawn uniformly from <em>all</em>
 * classes. The draw may return the true class, so the expected fraction of labels that actually change
 * is {@code fraction · (C − 1) / C}; {@link Result} reports both numbers so a run log is unambiguous.
 * (The other common convention, drawing only among the other classes, would make every resampled label
 * wrong; it is not what "replaced by a uniformly random class" means.)
 */
public final class LabelNoise {
    private static final long STREAM = 0x4E4F495345L; // "NOISE"

    private LabelNoise() { }

    /**
     * @param dataset   the noisy copy (images shared with the input, labels new)
     * @param resampled how many labels were redrawn ({@code round(fraction · n)})
     * @param changed   how many of those now differ from the original label
     */
    public record Result(Dataset dataset, int resampled, int changed) {
        public double changedFraction() { return dataset.size() == 0 ? 0 : (double) changed / dataset.size(); }

        public double resampledFraction() { return dataset.size() == 0 ? 0 : (double) resampled / dataset.size(); }
    }

    public static Result apply(Dataset data, double fraction, long seed) {
        if (!(fraction >= 0 && fraction <= 1)) throw new IllegalArgumentException("label noise fraction must be in [0, 1], got " + fraction);
        int n = data.size();
        int k = (int) Math.round(fraction * n);
        Rng rng = Rng.of(seed, STREAM);
        // Partial Fisher-Yates: the first k entries of idx become a uniform random k-subset.
        int[] idx = new int[n];
        for (int i = 0; i < n; i++) idx[i] = i;
        for (int i = 0; i < k; i++) {
            int j = i + rng.nextInt(n - i);
            int t = idx[i]; idx[i] = idx[j]; idx[j] = t;
        }
        int[] labels = data.labels().clone();
        int changed = 0;
        for (int i = 0; i < k; i++) {
            int next = rng.nextInt(data.classes());
            if (next != labels[idx[i]]) changed++;
            labels[idx[i]] = next;
        }
        return new Result(data.withLabels(labels, data.name() + " + symmetric label noise " + fraction), k, changed);
    }
}
