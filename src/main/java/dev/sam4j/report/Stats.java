package dev.sam4j.report;

import dev.sam4j.report.Report.Cell;
import dev.sam4j.report.Report.PlanRow;
import java.util.ArrayList;
import java.util.Collections;
import java.util.HashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;

/**
 * Mean and sample standard deviation over seeds, the way the papers report them; also the report's other
 * statistics: paired differences between two methods' seeds and the spread of wall times within a cell.
 */
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

    /** Paired difference {@code a − b} over the seeds both have. */
    static Stats paired(Cell a, Cell b) {
        if (a == null || b == null) return of();
        Map<Long, RunRecord> bs = b.bySeed();
        List<Double> d = new ArrayList<>();
        a.bySeed().forEach((seed, ra) -> {
            RunRecord rb = bs.get(seed);
            if (rb != null) d.add(ra.testAccuracy() - rb.testAccuracy());
        });
        return of(d.stream().mapToDouble(Double::doubleValue).toArray());
    }

    /**
     * How far apart the wall times of one cell's seeds are, measured on these runs (the slowest over the
     * fastest, the largest such ratio of any cell with at least two runs), as a parenthetical; empty when
     * no cell has two runs.
     */
    static String wallSpreadNote(Map<PlanRow, RunRecord> runs) {
        Map<String, List<Double>> byCell = new HashMap<>();
        runs.forEach((p, r) -> {
            if (Double.isFinite(r.wallSeconds()) && r.wallSeconds() > 0) {
                byCell.computeIfAbsent(p.section() + "|" + p.model() + "|" + p.noise() + "|" + p.label(), k -> new ArrayList<>())
                        .add(r.wallSeconds());
            }
        });
        double worst = 0;
        for (List<Double> w : byCell.values()) {
            if (w.size() < 2) continue;
            worst = Math.max(worst, Collections.max(w) / Collections.min(w));
        }
        return worst == 0 ? "" : String.format(Locale.ROOT, " (the slowest seed of one cell took up to %.1f× as long as its fastest)", worst);
    }
}
