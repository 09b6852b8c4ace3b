package dev.sam4j.report;

import java.awt.Color;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Objects;
import java.util.TreeMap;
import java.util.function.ToDoubleFunction;

/**
 * The reproduction report: reads a grid's {@code plan.tsv} (every planned run, finished or not), loads
 * the finished run directories, and writes a Markdown report with tables of test accuracy (mean ± sample
 * standard deviation over seeds), SAM fraction and wall time per method and noise level, paired
 * differences between methods, the λ/δ ablation against SS-SAM at equal cost, plots, the list of runs
 * every number comes from and the list of planned runs that did not finish. It also copies the small
 * per-run files into a data folder, which is itself a valid report root, so the committed report can be
 * regenerated without the (git-ignored) run directories.
 *
 * <p>This class is the entry point and holds the shared vocabulary (plan rows, cells, the method and
 * section orders); the work is done by {@link Runs} (reading), {@link Stats} (statistics),
 * {@link Markdown} (the page), {@link ReportCharts} (its plots) and {@link DataExport} (the copy).
 */
public final class Report {
    public static final String PLAN = "plan.tsv";
    static final String PLAN_HEADER = "section\tmodel\tsubset\tepochs\tnoise\tlabel\tseed\tdir";
    /** Row order of the tables: the paper's methods, then the extra rows. */
    static final List<String> METHOD_ORDER = List.of("erm", "sam", "sssam", "sssam-late", "looksam", "aesam", "aelooksam",
            "aelooksam-default", "msam", "esam", "asam");
    static final String ABLATION = "ablation";
    static final List<String> SECTION_ORDER = List.of("overfit", "full", "ablation", "cnn", "cnn-long", "last-batch");
    static final String ABLATION_BASE = "overfit"; // the section whose default-setting AE-SAM / SS-SAM pair the ablation reuses

    private Report() { }

    /** One planned run: where it belongs in the tables, and its directory relative to the root. */
    public record PlanRow(String section, String model, String subset, int epochs, double noise, String label, long seed, String dir) {}

    /** What to write and from where. */
    public record Options(Path root, Path markdown, Path plots, Path data, String command, Path machine, Path notes) {
        public Options {
            Objects.requireNonNull(root);
            Objects.requireNonNull(markdown);
        }
    }

    /** The grid's plan ({@code plan.tsv} under {@code root}), one row per distinct run directory. */
    public static List<PlanRow> readPlan(Path root) { return Runs.readPlan(root); }

    /** The plan with each finished run loaded (absent when the run has no summary.json). */
    public static Map<PlanRow, RunRecord> load(Path root, List<PlanRow> plan) { return Runs.load(root, plan); }

    /** A table cell: the runs of one (section, model, noise, label) over seeds. */
    public record Cell(List<RunRecord> runs) {
        public Stats accuracy() { return stat(RunRecord::testAccuracy); }
        public Stats samFraction() { return stat(RunRecord::samFraction); }
        public Stats wallSeconds() { return stat(RunRecord::wallSeconds); }
        /** Median wall time: on a shared machine one run slowed by other work would dominate a mean. */
        public double medianWallSeconds() {
            double[] w = runs.stream().mapToDouble(RunRecord::wallSeconds).sorted().toArray();
            if (w.length == 0) return Double.NaN;
            return w.length % 2 == 1 ? w[w.length / 2] : (w[w.length / 2 - 1] + w[w.length / 2]) / 2;
        }
        public Stats stat(ToDoubleFunction<RunRecord> f) { return Stats.of(runs.stream().mapToDouble(f).toArray()); }
        public Map<Long, RunRecord> bySeed() {
            Map<Long, RunRecord> m = new TreeMap<>();
            for (RunRecord r : runs) m.put(r.seed(), r);
            return m;
        }
    }

    /** Paired difference {@code a − b} over the seeds both have. */
    public static Stats paired(Cell a, Cell b) { return Stats.paired(a, b); }

    /** Each method's colour in every chart of a report (see {@link ReportCharts#methodColor}). */
    static Color methodColor(String label) { return ReportCharts.methodColor(label); }

    public static void write(Options o) {
        List<PlanRow> plan = readPlan(o.root());
        Map<PlanRow, RunRecord> runs = load(o.root(), plan);
        Path mdDir = o.markdown().toAbsolutePath().getParent();
        String stem = o.markdown().getFileName().toString().replaceFirst("\\.md$", "").toLowerCase(Locale.ROOT);
        Path plots = o.plots() != null ? o.plots() : mdDir.resolve(stem + "-plots");
        Path data = o.data() != null ? o.data() : mdDir.resolve(stem + "-data");
        try {
            Files.createDirectories(mdDir);
            Files.createDirectories(plots);
        } catch (IOException e) {
            throw new UncheckedIOException("cannot create " + plots + ": " + e.getMessage(), e);
        }
        PlanRow stRun = Runs.chooseStepsRun(o.root(), runs);
        boolean copyData = !DataExport.sameDir(o.root(), data);
        if (copyData) DataExport.exportData(o.root(), data, plan, runs, stRun, o.machine());

        String md = Markdown.report(o, plan, runs, plots, data, mdDir, stRun);
        try {
            Files.writeString(o.markdown(), md);
        } catch (IOException e) {
            throw new UncheckedIOException("cannot write " + o.markdown() + ": " + e.getMessage(), e);
        }
    }
}
