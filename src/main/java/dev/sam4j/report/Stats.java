package dev.sam4j.report;

import java.util.Locale;

/** Mean and sample standard deviation over seeds, the way the papers report them. */
public record Stats(int n, double mean, double std) {

    /** Mean and sample standard deviation (n − 1); the deviation of one value is NaN (not zero: it is unknown). */
    public static Stats of(double... xs) {
        int n = 0;
        double sum = 0;
        for (double x : xs) if (Double.isFinite(x)) { sum += x; n++; }
        if (n == 0) return new Stats(0, Double.NaN, Double.NaN);
        double mean = sum / n, ss = 0;
        for (double x : xs) if (Double.isFinite(x)) ss += (x - mean) * (x - mean);
        return new Stats(n, mean, n > 1 ? Math.sqrt(ss / (n - 1)) : Double.NaN);
    }

    /** {@code mean ± std} scaled by {@code scale} (100 for percentages), with {@code digits} decimals. */
    public String format(double scale, int digits) {
        if (n == 0) return "—";
        String m = String.format(Locale.ROOT, "%." + digits + "f", mean * scale);
        return Double.isFinite(std) ? m + " ± " + String.format(Locale.ROOT, "%." + digits + "f", std * scale) : m;
    }
}
