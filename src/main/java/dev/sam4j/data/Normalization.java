package dev.sam4j.data;

import java.util.Arrays;

/**
 * Per-channel standardisation applied when bytes become floats: {@code x = (v/255 − mean_c) / std_c}.
 * Mean and (population) standard deviation are fitted on the training set and then used unchanged for
 * the test set. Conversion goes through a 256-entry table per channel, computed in double and rounded
 * once, so every path (any thread, any prefetch depth) produces bit-identical floats.
 */
public final class Normalization {
    private final double[] mean;    // [C], in units of v/255
    private final double[] std;     // [C]
    private final float[][] table;  // [C][256]

    private Normalization(double[] mean, double[] std) {
        this.mean = mean;
        this.std = std;
        this.table = new float[mean.length][256];
        for (int c = 0; c < mean.length; c++) {
            if (!(std[c] > 0) || !Double.isFinite(mean[c])) {
                throw new IllegalArgumentException("channel " + c + ": need finite mean and positive std, got " + mean[c] + ", " + std[c]);
            }
            for (int v = 0; v < 256; v++) table[c][v] = (float) ((v / 255.0 - mean[c]) / std[c]);
        }
    }

    /** Explicit statistics, e.g. the published CIFAR-10 ones, in units of v/255. */
    public static Normalization of(double[] mean, double[] std) {
        if (mean.length != std.length || mean.length == 0) throw new IllegalArgumentException("need one mean and one std per channel");
        return new Normalization(mean.clone(), std.clone());
    }

    /** Only scaling to [0, 1]: mean 0, std 1. */
    public static Normalization unit(int channels) {
        double[] m = new double[channels], s = new double[channels];
        Arrays.fill(s, 1);
        return new Normalization(m, s);
    }

    /** How many training images the statistics of a streamed set are measured on, at most. */
    public static final int SAMPLE = 10_000;
    private static final long SAMPLE_STREAM = 0x4E4F524DL; // "NORM"

    /**
     * Fits mean and standard deviation per channel over every pixel of {@code train} when it is in memory.
     * A streamed set (e.g. an image folder, decoded on demand) is measured on a seeded sample of
     * {@link #SAMPLE} of its examples (all of them when it has no more), decoded on one thread per core:
     * a full pass would cost a whole epoch of decoding before the first step. The sample does not depend
     * on the run's seed, so every run and {@code sam4j eval} on the same set measure the same statistics;
     * the set's source remembers them, so they are measured once per set.
     *
     * <p>Counting byte values first makes the sums exact integers; the double arithmetic that follows is a
     * few hundred operations, so the result does not depend on the order of the examples. A constant
     * channel (std 0) gets std 1 so that it maps to 0 instead of dividing by zero.
     */
    public static Normalization fit(Dataset train) {
        if (train.streamed()) return train.examples().normalization(train);
        int channels = train.channels(), plane = train.height() * train.width(), e = train.exampleSize();
        long[][] histogram = new long[channels][256];
        byte[] px = train.pixels();
        for (int i = 0; i < train.size(); i++) count(px, i * e, channels, plane, histogram);
        return fromHistogram(train.name(), histogram);
    }

    /**
     * The statistics of {@link #SAMPLE} examples of {@code train} chosen with a fixed seed (all when fewer),
     * read in parallel; examples the source skips as unreadable are left out. For {@link Dataset.Examples}
     * implementations.
     */
    public static Normalization fitSample(Dataset train) {
        int n = train.size(), k = Math.min(n, SAMPLE);
        int[] pick = k == n ? null : Subset.indices(n, k, SAMPLE_STREAM);
        int channels = train.channels(), plane = train.height() * train.width(), e = train.exampleSize();
        int threads = Workers.threads(k);
        long[][][] hist = new long[threads][channels][256];
        byte[][] buf = new byte[threads][e];
        Workers.forEach(k, threads, "sam4j-normalisation", (worker, i) -> {
            if (train.read(pick == null ? i : pick[i], buf[worker], 0)) count(buf[worker], 0, channels, plane, hist[worker]);
        });
        long[][] total = new long[channels][256];
        for (long[][] h : hist) for (int c = 0; c < channels; c++) for (int v = 0; v < 256; v++) total[c][v] += h[c][v];
        return fromHistogram(train.name(), total);
    }

    /** Whether {@link #fit} measures {@code train} on a sample rather than on every example. */
    public static boolean sampled(Dataset train) { return train.streamed() && train.size() > SAMPLE; }

    private static void count(byte[] px, int at, int channels, int plane, long[][] histogram) {
        for (int c = 0; c < channels; c++) {
            long[] h = histogram[c];
            for (int p = at + c * plane, end = p + plane; p < end; p++) h[px[p] & 0xFF]++;
        }
    }

    private static Normalization fromHistogram(String name, long[][] histogram) {
        int channels = histogram.length;
        double[] mean = new double[channels], std = new double[channels];
        for (int c = 0; c < channels; c++) {
            double count = 0, sum = 0;
            for (int v = 0; v < 256; v++) { count += histogram[c][v]; sum += histogram[c][v] * (v / 255.0); }
            if (count == 0) throw new IllegalArgumentException(name + ": cannot fit normalisation on an empty dataset");
            mean[c] = sum / count;
            // Two-pass (centred) variance: no cancellation from subtracting two large sums.
            double ss = 0;
            for (int v = 0; v < 256; v++) { double d = v / 255.0 - mean[c]; ss += histogram[c][v] * d * d; }
            std[c] = Math.sqrt(ss / count);
            if (std[c] == 0) std[c] = 1;
        }
        return new Normalization(mean, std);
    }

    public int channels() { return mean.length; }

    public double mean(int channel) { return mean[channel]; }

    public double std(int channel) { return std[channel]; }

    /** The normalised value of byte {@code u8} (0..255) in {@code channel}. */
    public float apply(int channel, int u8) { return table[channel][u8]; }

    /** The table row for one channel; callers must not modify it (package-private for the hot loops). */
    float[] table(int channel) { return table[channel]; }

    @Override public String toString() {
        StringBuilder b = new StringBuilder("Normalization[");
        for (int c = 0; c < mean.length; c++) {
            if (c > 0) b.append(", ");
            b.append(String.format(java.util.Locale.ROOT, "c%d mean %.4f std %.4f", c, mean[c], std[c]));
        }
        return b.append(']').toString();
    }
}
