package dev.sam4j.report;

import dev.sam4j.io.FileFormatException;
import dev.sam4j.io.JsonReader;
import java.io.BufferedReader;
import java.io.BufferedWriter;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Map;

/**
 * The per-step records of a run: {@code s = ‖g‖²}, the adaptive statistic ({@code μ}, {@code σ},
 * {@code c}; NaN for non-adaptive methods), the SAM decision and the loss. Read from {@code steps.jsonl}
 * or from the compact {@code steps.csv} that {@link #writeCsv} makes for committing one run's steps
 * (about a sixth of the JSON's size, and every step kept, so a plot from it is the same plot).
 */
public record StepSeries(long[] step, double[] loss, double[] s, double[] mu, double[] sigma, double[] c, boolean[] sam) {
    public static final String CSV_HEADER = "step,loss,s,mu,sigma,c,sam";

    public int size() { return step.length; }

    /** {@code μ + c·σ}, the adaptive policy's threshold at each step (NaN where there is none). */
    public double[] threshold() {
        double[] t = new double[size()];
        for (int i = 0; i < t.length; i++) t[i] = mu[i] + c[i] * sigma[i];
        return t;
    }

    /** Whether the run recorded the adaptive statistic (AE-SAM, AE-LookSAM). */
    public boolean hasThreshold() {
        for (int i = 0; i < size(); i++) if (Double.isFinite(mu[i]) && Double.isFinite(sigma[i]) && Double.isFinite(c[i])) return true;
        return false;
    }

    /** Reads {@code steps.jsonl}, else {@code steps.csv}, from a run directory; null when it has neither. */
    public static StepSeries read(Path runDir) {
        Path jsonl = runDir.resolve("steps.jsonl"), csv = runDir.resolve("steps.csv");
        if (Files.isRegularFile(jsonl)) return readJsonl(jsonl);
        if (Files.isRegularFile(csv)) return readCsv(csv);
        return null;
    }

    private static final class Cols {
        final List<Long> step = new ArrayList<>();
        final List<double[]> v = new ArrayList<>(); // loss, s, mu, sigma, c, sam
        StepSeries done() {
            int n = step.size();
            long[] st = new long[n];
            double[] loss = new double[n], s = new double[n], mu = new double[n], sg = new double[n], c = new double[n];
            boolean[] sam = new boolean[n];
            for (int i = 0; i < n; i++) {
                double[] r = v.get(i);
                st[i] = step.get(i); loss[i] = r[0]; s[i] = r[1]; mu[i] = r[2]; sg[i] = r[3]; c[i] = r[4]; sam[i] = r[5] != 0;
            }
            return new StepSeries(st, loss, s, mu, sg, c, sam);
        }
    }

    static StepSeries readJsonl(Path file) {
        Cols cols = new Cols();
        try (BufferedReader r = Files.newBufferedReader(file)) {
            String line;
            int n = 0;
            while ((line = r.readLine()) != null) {
                n++;
                if (line.isBlank()) continue;
                Map<String, Object> m;
                try {
                    m = JsonReader.parseObject(line, file + " line " + n);
                } catch (FileFormatException e) {
                    // A run killed mid-write leaves a cut last line; anything earlier is corruption.
                    if (r.ready()) throw new IllegalArgumentException(e.getMessage(), e);
                    break;
                }
                cols.step.add((long) d(m.get("step")));
                cols.v.add(new double[] {d(m.get("loss")), d(m.get("s")), d(m.get("mu")), d(m.get("sigma")), d(m.get("c")),
                        Boolean.TRUE.equals(m.get("sam")) ? 1 : 0});
            }
        } catch (IOException e) {
            throw new UncheckedIOException(file + ": cannot read: " + e.getMessage(), e);
        }
        return cols.done();
    }

    private static double d(Object o) { return o instanceof Number x ? x.doubleValue() : Double.NaN; }

    static StepSeries readCsv(Path file) {
        Cols cols = new Cols();
        try {
            List<String> lines = Files.readAllLines(file);
            if (lines.isEmpty() || !lines.get(0).equals(CSV_HEADER)) {
                throw new IllegalArgumentException(file + ": expected the header '" + CSV_HEADER + "'");
            }
            for (int n = 1; n < lines.size(); n++) {
                String[] f = lines.get(n).split(",");
                if (f.length != 7) throw new IllegalArgumentException(file + ": line " + (n + 1) + " has " + f.length + " fields, expected 7");
                cols.step.add(Long.parseLong(f[0]));
                cols.v.add(new double[] {p(f[1]), p(f[2]), p(f[3]), p(f[4]), p(f[5]), f[6].equals("1") ? 1 : 0});
            }
        } catch (IOException e) {
            throw new UncheckedIOException(file + ": cannot read: " + e.getMessage(), e);
        }
        return cols.done();
    }

    private static double p(String s) { return s.isEmpty() ? Double.NaN : Double.parseDouble(s); }

    /** Writes every step in the compact CSV form (6 significant digits; empty field for NaN). */
    public void writeCsv(Path file) {
        try (BufferedWriter w = Files.newBufferedWriter(file)) {
            w.write(CSV_HEADER);
            w.newLine();
            for (int i = 0; i < size(); i++) {
                w.write(step[i] + "," + f(loss[i]) + "," + f(s[i]) + "," + f(mu[i]) + "," + f(sigma[i]) + "," + f(c[i]) + "," + (sam[i] ? 1 : 0));
                w.newLine();
            }
        } catch (IOException e) {
            throw new UncheckedIOException("cannot write " + file + ": " + e.getMessage(), e);
        }
    }

    private static String f(double v) {
        return Double.isFinite(v) ? String.format(Locale.ROOT, "%.6g", v) : "";
    }
}
