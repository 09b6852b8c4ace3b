package dev.sam4j.benchmark;

import dev.sam4j.io.Json;
import dev.sam4j.plot.Charts;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.TreeMap;

/**
 * Turns the JSON lines of {@code sam4j bench} and of the PyTorch peer ({@code scripts/peers/pytorch_sam.py})
 * into one results document, a markdown table, a CSV and plots. A row is one model, method and batch size;
 * it holds sam4j's line and PyTorch's where there is one, and their ratio. Lines are matched on
 * {@code (model, optimizer, batch)}, never on order, so either side may be missing (no PyTorch on the
 * host, a model PyTorch failed on) and the row says so instead of pairing the wrong numbers.
 *
 * <p>All ratios use mean step times: a mixed method's cost is its mean, and for ERM and SAM the mean and
 * median agree to within the noise (both are in the lines).
 */
public final class BenchReport {
    private BenchReport() {}

    /** One model, method and batch size: the two implementations' lines (either may be null). */
    public record Row(String model, String optimizer, int batch, Map<String, Object> sam4j, Map<String, Object> pytorch) {
        /** sam4j's mean step time over PyTorch's, NaN unless both ran. */
        public double ratio() { return num(sam4j, "mean_ms") / num(pytorch, "mean_ms"); }

        public long params() {
            double p = num(sam4j, "params");
            return (long) (Double.isNaN(p) ? num(pytorch, "params") : p);
        }
    }

    /** A number field of a line, NaN when the line or the field is missing or null. */
    public static double num(Map<String, Object> line, String key) {
        if (line == null) return Double.NaN;
        return line.get(key) instanceof Number n ? n.doubleValue() : Double.NaN;
    }

    /** The JSON objects among the lines of {@code files} (other lines, e.g. progress, are skipped). */
    public static List<Map<String, Object>> readLines(List<Path> files) {
        List<Map<String, Object>> out = new ArrayList<>();
        for (Path f : files) {
            List<String> lines;
            try {
                lines = Files.readAllLines(f);
            } catch (IOException e) {
                throw new UncheckedIOException("cannot read benchmark lines " + f + ": " + e.getMessage(), e);
            }
            for (int i = 0; i < lines.size(); i++) {
                String l = lines.get(i).trim();
                if (!l.startsWith("{")) continue;
                out.add(dev.sam4j.io.JsonReader.parseObject(l, f + " line " + (i + 1)));
            }
        }
        return out;
    }

    /** Pairs sam4j and PyTorch lines by (model, optimizer, batch), in order of first appearance; a later line replaces an earlier one. */
    public static List<Row> merge(List<Map<String, Object>> lines) {
        Map<String, Map<String, Object>[]> byKey = new LinkedHashMap<>();
        for (Map<String, Object> l : lines) {
            String impl = str(l, "impl"), model = str(l, "model"), opt = str(l, "optimizer");
            double batch = num(l, "batch");
            if (impl == null || model == null || opt == null || Double.isNaN(batch)) {
                throw new IllegalArgumentException("benchmark line without impl, model, optimizer or batch: " + Json.write(l));
            }
            int side = switch (impl) {
                case "sam4j" -> 0;
                case "pytorch" -> 1;
                default -> throw new IllegalArgumentException("benchmark line of unknown impl '" + impl + "'");
            };
            @SuppressWarnings("unchecked")
            Map<String, Object>[] pair = byKey.computeIfAbsent(model + "\u0000" + opt + "\u0000" + (int) batch, k -> new Map[2]);
            pair[side] = l;
        }
        List<Row> rows = new ArrayList<>();
        for (Map<String, Object>[] p : byKey.values()) {
            Map<String, Object> any = p[0] != null ? p[0] : p[1];
            rows.add(new Row(str(any, "model"), str(any, "optimizer"), (int) num(any, "batch"), p[0], p[1]));
        }
        return rows;
    }

    /** The results document: {@code meta} and one object per row with both lines and the ratio. */
    public static Map<String, Object> json(Map<String, Object> meta, List<Row> rows) {
        Map<String, Object> doc = new LinkedHashMap<>();
        doc.put("meta", meta);
        List<Object> list = new ArrayList<>();
        for (Row r : rows) {
            Map<String, Object> o = new LinkedHashMap<>();
            o.put("model", r.model());
            o.put("optimizer", r.optimizer());
            o.put("batch", r.batch());
            o.put("params", r.params());
            o.put("sam4j", r.sam4j());
            o.put("pytorch", r.pytorch());
            o.put("sam4j_over_pytorch_mean", r.ratio());
            o.put("sam4j_over_pytorch_median", num(r.sam4j(), "median_ms") / num(r.pytorch(), "median_ms"));
            list.add(o);
        }
        doc.put("rows", list);
        doc.put("ae_sam_checks", aeChecks(rows));
        return doc;
    }

    /**
     * AE-SAM's cost against its budget, per model and batch where sam4j timed ERM, SAM and AE-SAM: an
     * AE-SAM run with SAM fraction f should cost what its mix costs, (1 + f)/2 of SAM's mean step when
     * a SAM step is two ERM steps; {@code ratio} above 1.03 means the decision itself costs something.
     */
    public static List<Map<String, Object>> aeChecks(List<Row> rows) {
        Map<String, Map<String, Row>> by = new LinkedHashMap<>();
        for (Row r : rows) by.computeIfAbsent(r.model() + " @" + r.batch(), k -> new TreeMap<>()).put(r.optimizer(), r);
        List<Map<String, Object>> out = new ArrayList<>();
        for (var e : by.entrySet()) {
            Row sam = e.getValue().get("sam"), ae = e.getValue().get("aesam");
            if (sam == null || ae == null || sam.sam4j() == null || ae.sam4j() == null) continue;
            double f = num(ae.sam4j(), "sam_fraction"), budget = (1 + f) / 2 * num(sam.sam4j(), "mean_ms");
            Map<String, Object> o = new LinkedHashMap<>();
            o.put("model", ae.model());
            o.put("batch", ae.batch());
            o.put("aesam_mean_ms", num(ae.sam4j(), "mean_ms"));
            o.put("sam_fraction", f);
            o.put("budget_ms", budget);
            o.put("ratio", num(ae.sam4j(), "mean_ms") / budget);
            out.add(o);
        }
        return out;
    }

    /** Markdown: the metadata as a list, then one table per model and batch size. */
    public static String markdown(Map<String, Object> meta, List<Row> rows) {
        StringBuilder b = new StringBuilder();
        for (var e : meta.entrySet()) b.append("- ").append(e.getKey()).append(": ").append(e.getValue()).append('\n');
        String group = null;
        boolean anyUnequal = false;
        for (Row r : rows) {
            String g = r.model() + " @" + r.batch();
            if (!g.equals(group)) {
                group = g;
                b.append(String.format(Locale.ROOT, "%n**`%s`**, batch %d, %,d parameters%n%n", r.model(), r.batch(), r.params()));
                b.append("| method | sam4j median ms | p90 ms | mean ms | images/s | SAM fraction | × ERM | MiB | "
                        + "PyTorch mean ms | PyTorch SAM fraction | PyTorch × ERM | sam4j / PyTorch |\n");
                b.append("|---|---|---|---|---|---|---|---|---|---|---|---|\n");
            }
            Map<String, Object> s = r.sam4j(), p = r.pytorch();
            double mem = num(s, "device_mb") > 0 ? num(s, "device_mb") : num(s, "heap_mb");
            b.append("| ").append(r.optimizer())
                    .append(" | ").append(ms(num(s, "median_ms"))).append(" | ").append(ms(num(s, "p90_ms")))
                    .append(" | ").append(ms(num(s, "mean_ms"))).append(" | ").append(fmt("%,.0f", num(s, "images_per_second")))
                    .append(" | ").append(fmt("%.2f", num(s, "sam_fraction"))).append(" | ").append(fmt("%.2f", num(s, "vs_erm_mean")))
                    .append(" | ").append(fmt("%.1f", mem))
                    .append(" | ").append(ms(num(p, "mean_ms"))).append(" | ").append(fmt("%.2f", num(p, "sam_fraction")))
                    .append(" | ").append(fmt("%.2f", num(p, "vs_erm_mean"))).append(" | **").append(fmt("%.2f", r.ratio()))
                    .append("**").append(unequalFractions(r) ? " †" : "").append(" |\n");
            anyUnequal |= unequalFractions(r);
        }
        if (anyUnequal) {
            b.append("\n† the two implementations took different fractions of SAM steps (an adaptive or random policy on "
                    + "different weights and gradients), so this ratio is not at equal work; compare the SAM and ERM rows, or "
                    + "each side's × ERM against its own SAM fraction.\n");
        }
        List<Map<String, Object>> checks = aeChecks(rows);
        if (!checks.isEmpty()) b.append('\n');
        for (Map<String, Object> c : checks) {
            b.append(String.format(Locale.ROOT, "AE-SAM, `%s` batch %d: %s ms at SAM fraction %.2f; budget (1 + f)/2 × SAM = %s ms; "
                            + "ratio %.3f (target ≤ 1.03)%n", c.get("model"), ((Number) c.get("batch")).intValue(),
                    ms((Double) c.get("aesam_mean_ms")), (Double) c.get("sam_fraction"), ms((Double) c.get("budget_ms")),
                    (Double) c.get("ratio")));
        }
        return b.toString();
    }

    /** Whether both sides ran and their SAM fractions differ by more than one step in twenty. */
    static boolean unequalFractions(Row r) {
        return Math.abs(num(r.sam4j(), "sam_fraction") - num(r.pytorch(), "sam_fraction")) > 0.05;
    }

    /** One line per row: both implementations' times, sam4j's memory, the ratio. */
    public static String csv(List<Row> rows) {
        StringBuilder b = new StringBuilder("model,optimizer,batch,params,sam4j_median_ms,sam4j_p90_ms,sam4j_mean_ms,"
                + "sam4j_images_per_second,sam4j_sam_fraction,sam4j_heap_mb,sam4j_device_mb,sam4j_process_rss_mb,"
                + "pytorch_median_ms,pytorch_p90_ms,pytorch_mean_ms,pytorch_sam_fraction,sam4j_over_pytorch_mean\n");
        for (Row r : rows) {
            Map<String, Object> s = r.sam4j(), p = r.pytorch();
            b.append(r.model()).append(',').append(r.optimizer()).append(',').append(r.batch()).append(',').append(r.params());
            for (double v : new double[] {num(s, "median_ms"), num(s, "p90_ms"), num(s, "mean_ms"), num(s, "images_per_second"),
                    num(s, "sam_fraction"), num(s, "heap_mb"), num(s, "device_mb"), num(s, "process_rss_mb"), num(p, "median_ms"),
                    num(p, "p90_ms"), num(p, "mean_ms"), num(p, "sam_fraction"), r.ratio()}) {
                b.append(',').append(Double.isNaN(v) ? "" : String.format(Locale.ROOT, "%.4g", v));
            }
            b.append('\n');
        }
        return b.toString();
    }

    /**
     * Two PNGs: mean ms per step against {@code x} ({@code "batch"} or {@code "params"}), one series per
     * implementation, model (family, for {@code params}) and method, log-log; and sam4j's memory per method
     * (device memory on a GPU, else heap) against the same {@code x}. {@code title} names the run, e.g.
     * "vs batch size, cpu"; each chart puts what it shows in front of it. Returns the files written.
     */
    public static List<Path> plots(String title, List<Row> rows, String x, Path timePng, Path memoryPng) {
        if (!x.equals("batch") && !x.equals("params")) throw new IllegalArgumentException("plot x must be batch or params, got " + x);
        Map<String, List<double[]>> time = new LinkedHashMap<>(), mem = new LinkedHashMap<>();
        for (Row r : rows) {
            double xv = x.equals("batch") ? r.batch() : r.params();
            String model = x.equals("batch") ? r.model() : r.model().replaceFirst(":.*", ":*");
            add(time, "sam4j " + model + " " + r.optimizer(), xv, num(r.sam4j(), "mean_ms"));
            add(time, "PyTorch " + model + " " + r.optimizer(), xv, num(r.pytorch(), "mean_ms"));
            boolean device = num(r.sam4j(), "device_mb") > 0;
            add(mem, "sam4j " + model + " " + r.optimizer() + (device ? " (device)" : " (heap)"), xv,
                    num(r.sam4j(), device ? "device_mb" : "heap_mb"));
        }
        String xl = x.equals("batch") ? "batch size (log scale)" : "parameters (log scale)";
        Charts.Chart t = new Charts.Chart("Time per step, " + title, xl, "mean ms per step (log scale)").logX(true).logY(true);
        time.forEach((k, v) -> t.add(series(k, v)));
        Charts.Chart m = new Charts.Chart("sam4j memory per method, " + title, xl, "MiB kept alive by model + optimizer (log scale)")
                .logX(true).logY(true);
        mem.forEach((k, v) -> m.add(series(k, v)));
        t.savePng(timePng);
        m.savePng(memoryPng);
        return List.of(timePng, memoryPng);
    }

    private static void add(Map<String, List<double[]>> m, String key, double x, double y) {
        if (Double.isFinite(y) && y > 0) m.computeIfAbsent(key, k -> new ArrayList<>()).add(new double[] {x, y});
    }

    private static Charts.Series series(String name, List<double[]> pts) {
        pts.sort((a, c) -> Double.compare(a[0], c[0]));
        return new Charts.Series(name, pts.stream().mapToDouble(p -> p[0]).toArray(), pts.stream().mapToDouble(p -> p[1]).toArray(),
                Charts.Style.LINE_MARKERS);
    }

    private static String str(Map<String, Object> l, String key) { return l.get(key) instanceof String s ? s : null; }

    private static String ms(double v) {
        if (Double.isNaN(v)) return "–";
        return String.format(Locale.ROOT, v < 10 ? "%.3f" : v < 100 ? "%.2f" : "%.1f", v);
    }

    private static String fmt(String f, double v) { return Double.isNaN(v) ? "–" : String.format(Locale.ROOT, f, v); }
}
