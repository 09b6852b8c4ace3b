package dev.sam4j.report;

import dev.sam4j.io.FileFormatException;
import dev.sam4j.io.JsonReader;
import dev.sam4j.plot.Charts;
import java.awt.Color;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.ArrayList;
import java.util.Collections;
import java.util.HashMap;
import java.util.Comparator;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Objects;
import java.util.Set;
import java.util.TreeMap;
import java.util.TreeSet;
import java.util.function.Function;
import java.util.function.ToDoubleFunction;

/**
 * The reproduction report: reads a grid's {@code plan.tsv} (every planned run, finished or not), loads
 * the finished run directories, and writes a Markdown report with tables of test accuracy (mean ± sample
 * standard deviation over seeds), SAM fraction and wall time per method and noise level, paired
 * differences between methods, the λ/δ ablation against SS-SAM at equal cost, plots, the list of runs
 * every number comes from and the list of planned runs that did not finish. It also copies the small
 * per-run files into a data folder, which is itself a valid report root, so the committed report can be
 * regenerated without the (git-ignored) run directories.
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

    public static List<PlanRow> readPlan(Path root) {
        Path file = root.resolve(PLAN);
        List<String> lines;
        try {
            lines = Files.readAllLines(file);
        } catch (IOException e) {
            throw new IllegalArgumentException(file + ": cannot read the grid plan (" + e.getClass().getSimpleName()
                    + "); a report root is a directory made by scripts/reproduce");
        }
        if (lines.isEmpty() || !lines.get(0).equals(PLAN_HEADER)) {
            throw new IllegalArgumentException(file + ": expected the header '" + PLAN_HEADER.replace("\t", "<TAB>") + "'");
        }
        List<PlanRow> out = new ArrayList<>();
        Set<String> seen = new LinkedHashSet<>();
        for (int n = 1; n < lines.size(); n++) {
            if (lines.get(n).isBlank()) continue;
            String[] f = lines.get(n).split("\t", -1);
            try {
                if (f.length != 8) throw new IllegalArgumentException(f.length + " fields, expected 8");
                PlanRow r = new PlanRow(f[0], f[1], f[2], Integer.parseInt(f[3]), Double.parseDouble(f[4]), f[5], Long.parseLong(f[6]), f[7]);
                if (seen.add(r.dir())) out.add(r);
            } catch (IllegalArgumentException e) {
                throw new IllegalArgumentException(file + ": line " + (n + 1) + ": " + e.getMessage());
            }
        }
        return out;
    }

    /** The plan with each finished run loaded (absent when the run has no summary.json). */
    public static Map<PlanRow, RunRecord> load(Path root, List<PlanRow> plan) {
        Map<PlanRow, RunRecord> runs = new LinkedHashMap<>();
        for (PlanRow r : plan) {
            Path d = root.resolve(r.dir());
            if (RunRecord.isFinished(d)) runs.put(r, RunRecord.load(d));
        }
        return runs;
    }

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
    public static Stats paired(Cell a, Cell b) {
        if (a == null || b == null) return Stats.of();
        Map<Long, RunRecord> bs = b.bySeed();
        List<Double> d = new ArrayList<>();
        a.bySeed().forEach((seed, ra) -> {
            RunRecord rb = bs.get(seed);
            if (rb != null) d.add(ra.testAccuracy() - rb.testAccuracy());
        });
        return Stats.of(d.stream().mapToDouble(Double::doubleValue).toArray());
    }

    /** Groups finished runs of a section: model → noise → label → cell. */
    static Map<String, Map<Double, Map<String, Cell>>> cells(Map<PlanRow, RunRecord> runs, String section) {
        Map<String, Map<Double, Map<String, List<RunRecord>>>> g = new LinkedHashMap<>();
        runs.forEach((p, r) -> {
            if (!p.section().equals(section)) return;
            g.computeIfAbsent(p.model(), k -> new TreeMap<>()).computeIfAbsent(p.noise(), k -> new LinkedHashMap<>())
                    .computeIfAbsent(p.label(), k -> new ArrayList<>()).add(r);
        });
        Map<String, Map<Double, Map<String, Cell>>> out = new LinkedHashMap<>();
        g.forEach((model, byNoise) -> {
            Map<Double, Map<String, Cell>> m = new TreeMap<>();
            byNoise.forEach((noise, byLabel) -> {
                Map<String, Cell> c = new LinkedHashMap<>();
                byLabel.forEach((label, rs) -> c.put(label, new Cell(List.copyOf(rs))));
                m.put(noise, c);
            });
            out.put(model, m);
        });
        return out;
    }

    /**
     * Each method's colour in every chart of a report, so a reader who has learnt that AE-SAM is black in
     * one plot need not re-read the legend of the next (the palette is Okabe and Ito's, told apart by most
     * colour-blind readers; the yellow that is unreadable on white is left out). Other labels: null, the
     * chart's default palette.
     */
    static Color methodColor(String label) {
        return switch (label) {
            case "erm" -> new Color(0x0072B2);        // blue
            case "sam" -> new Color(0xD55E00);        // vermillion
            case "sssam" -> new Color(0xCC79A7);      // reddish purple
            case "looksam" -> new Color(0x009E73);    // bluish green
            case "aesam" -> Color.BLACK;
            case "aelooksam" -> new Color(0xE69F00);  // orange
            case "esam" -> new Color(0x56B4E9);       // sky blue
            case "asam" -> new Color(0x8C8C8C);       // grey
            case "sssam-late" -> new Color(0x882255); // wine (Tol), beside SS-SAM's purple
            case "aelooksam-default" -> new Color(0xDDCC77); // sand (Tol), beside AE-LookSAM's orange
            case "msam" -> new Color(0x117733);       // green (Tol), darker than LookSAM's
            default -> null;
        };
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

    static List<String> orderedLabels(Set<String> labels) {
        List<String> l = new ArrayList<>(labels);
        l.sort(Comparator.comparingInt((String s) -> {
            int i = METHOD_ORDER.indexOf(s);
            return i < 0 ? METHOD_ORDER.size() : i;
        }).thenComparing(Function.identity()));
        return l;
    }

    static String pct(double noise) { return String.format(Locale.ROOT, "%.0f%%", noise * 100); }

    // ---------------------------------------------------------------- writing

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
        PlanRow stRun = chooseStepsRun(o.root(), runs);
        boolean copyData = !sameDir(o.root(), data);
        if (copyData) exportData(o.root(), data, plan, runs, stRun, o.machine());

        StringBuilder md = new StringBuilder();
        List<String> sections = new ArrayList<>(new LinkedHashSet<>(plan.stream().map(PlanRow::section).toList()));
        // A fixed order for the known sections (resumed or partial invocations reorder plan.tsv), others after.
        sections.sort(Comparator.comparingInt(s -> SECTION_ORDER.contains(s) ? SECTION_ORDER.indexOf(s) : SECTION_ORDER.size()));
        md.append("# Reproducing AE-SAM on Fashion-MNIST\n\n");
        md.append("Generated by `sam4j report` from the run directories listed under [Runs](#runs)");
        if (o.command() != null) md.append("; the grid was run with `").append(o.command()).append('`');
        md.append(". ").append(runs.size()).append(" of ").append(plan.size()).append(" planned runs finished");
        md.append(runs.size() < plan.size() ? " (see [Not run](#not-run)).\n\n" : ".\n\n");
        md.append("Accuracy is the test accuracy after the last epoch, in %, as mean ± sample standard deviation over seeds ")
                .append("(n in brackets when fewer than the planned seeds finished); *SAM %* is the fraction of steps that took the ")
                .append("SAM path (two forward/backward passes); *time* is the median over seeds of the wall time of a whole ")
                .append("run in seconds, including evaluation after every epoch, on a machine that may be shared with other work: ")
                .append("it is noisy").append(wallSpreadNote(runs)).append(", so the SAM fraction is the better measure of cost. ")
                .append("The small per-run files behind every number are in `").append(rel(mdDir, data)).append("/`; ")
                .append("`sam4j report ").append(rel(mdDir, data)).append(" --markdown ...` rebuilds this page from them.\n\n");
        machine(md, o.machine() != null ? o.machine() : o.root().resolve("machine.txt"), runs);
        if (o.notes() != null) {
            try {
                md.append(Files.readString(o.notes()).strip()).append("\n\n");
            } catch (IOException e) {
                throw new IllegalArgumentException(o.notes() + ": cannot read the notes: " + e.getMessage());
            }
        }
        regimes(md, plan, runs, sections);
        for (String section : sections) {
            if (section.equals(ABLATION)) ablation(md, plan, runs, plots, mdDir);
            else section(md, section, plan, runs, plots, mdDir);
        }
        if (stRun != null) {
            RunRecord r = runs.get(stRun);
            StepSeries st = StepSeries.read(o.root().resolve(stRun.dir()));
            Path png = plots.resolve("s_t-" + stRun.dir().replace('/', '-') + ".png");
            RunPlots.sChart(st, "s_t and the AE-SAM threshold: " + stRun.section() + ", " + r.model() + ", noise "
                    + pct(r.labelNoise()) + ", seed " + r.seed()).savePng(png);
            int sam = 0;
            for (boolean b : st.sam()) if (b) sam++;
            md.append("## The statistic of one AE-SAM run\n\n")
                    .append("`").append(stRun.dir()).append("`: `s_t = ‖g‖²` per step (log scale), the threshold `μ_t + c_t·σ_t` ")
                    .append("and the steps that took the SAM path (").append(sam).append(" of ").append(st.size()).append(").\n\n")
                    .append("![s_t](").append(rel(mdDir, png)).append(")\n\n");
        }
        runsList(md, plan, runs);
        notRun(md, o.root(), plan, runs, o.command());
        try {
            Files.writeString(o.markdown(), md.toString());
        } catch (IOException e) {
            throw new UncheckedIOException("cannot write " + o.markdown() + ": " + e.getMessage(), e);
        }
    }

    private static boolean sameDir(Path a, Path b) {
        return a.toAbsolutePath().normalize().equals(b.toAbsolutePath().normalize());
    }

    static String rel(Path from, Path to) {
        return from.toAbsolutePath().normalize().relativize(to.toAbsolutePath().normalize()).toString().replace('\\', '/');
    }

    /** The AE-SAM run whose steps are plotted: the overfitting regime at the highest noise, lowest seed. */
    static PlanRow chooseStepsRun(Path root, Map<PlanRow, RunRecord> runs) {
        return runs.keySet().stream()
                .filter(p -> p.label().equals("aesam") && StepSeries.read(root.resolve(p.dir())) != null)
                .min(Comparator.comparing((PlanRow p) -> !p.section().equals(ABLATION_BASE))
                        .thenComparing(p -> !p.model().equals("mlp"))
                        .thenComparing(p -> -p.noise()).thenComparingLong(PlanRow::seed))
                .orElse(null);
    }

    private static void exportData(Path root, Path data, List<PlanRow> plan, Map<PlanRow, RunRecord> runs, PlanRow stRun, Path machine) {
        try {
            Files.createDirectories(data);
            Files.copy(root.resolve(PLAN), data.resolve(PLAN), StandardCopyOption.REPLACE_EXISTING);
            Path m = machine != null ? machine : root.resolve("machine.txt");
            if (Files.isRegularFile(m)) Files.copy(m, data.resolve("machine.txt"), StandardCopyOption.REPLACE_EXISTING);
            for (PlanRow p : runs.keySet()) {
                Path src = root.resolve(p.dir()), dst = data.resolve(p.dir());
                Files.createDirectories(dst);
                for (String f : List.of("provenance.json", "summary.json", "metrics.csv")) {
                    if (Files.isRegularFile(src.resolve(f))) Files.copy(src.resolve(f), dst.resolve(f), StandardCopyOption.REPLACE_EXISTING);
                }
                // The copy names its run directory relative to the report root, not where it sat on the machine that ran it.
                Map<String, Object> cfg = new LinkedHashMap<>(runs.get(p).config());
                cfg.put("out", p.dir());
                Files.writeString(dst.resolve("config.json"), dev.sam4j.io.Json.pretty(cfg));
                if (p.equals(stRun)) StepSeries.read(src).writeCsv(dst.resolve("steps.csv"));
            }
            // A failed run's log (the grid leaves it next to the run directory), so the copy still says why it failed.
            for (PlanRow p : plan) {
                if (runs.containsKey(p)) continue;
                Path log = root.resolve(p.dir() + ".log");
                if (!Files.isRegularFile(log)) continue;
                Path dst = data.resolve(p.dir() + ".log");
                Files.createDirectories(dst.getParent());
                Files.writeString(dst, relativise(root, Files.readString(log)));
            }
        } catch (IOException e) {
            throw new UncheckedIOException("cannot copy run files to " + data + ": " + e.getMessage(), e);
        }
    }

    private static void machine(StringBuilder md, Path machine, Map<PlanRow, RunRecord> runs) {
        md.append("## Machine\n\n");
        List<String> keep = List.of("Architecture", "CPU(s)", "Model name", "Thread(s) per core", "Core(s) per socket", "Socket(s)",
                "CPU max MHz", "L2 cache", "L3 cache");
        if (machine != null && Files.isRegularFile(machine)) {
            try {
                md.append("From `lscpu`:\n\n```\n");
                for (String line : Files.readAllLines(machine)) {
                    int colon = line.indexOf(':');
                    if (colon > 0 && keep.contains(line.substring(0, colon).strip())) md.append(line.strip()).append('\n');
                }
                md.append("```\n\n");
            } catch (IOException e) {
                throw new UncheckedIOException(machine + ": " + e.getMessage(), e);
            }
        } else {
            md.append("(no `machine.txt` in the report root)\n\n");
        }
        runs.values().stream().findFirst().ifPresent(r -> {
            Path prov = r.dir().resolve("provenance.json");
            if (!Files.isRegularFile(prov)) return;
            try {
                Map<String, Object> p = JsonReader.parseObject(Files.readString(prov), prov.toString());
                md.append("No GPU: every run used the CPU backend (").append(p.get("backend_description")).append("), Java ")
                        .append(p.get("java_version")).append(", ").append(p.get("os")).append(".\n\n");
            } catch (IOException | FileFormatException e) {
                // Provenance is informative only; a report without it is still correct.
            }
        });
    }

    private static void regimes(StringBuilder md, List<PlanRow> plan, Map<PlanRow, RunRecord> runs, List<String> sections) {
        md.append("## Regimes\n\n| section | model | training examples | epochs | noise | seeds | lr, schedule, batch | runs finished |\n")
                .append("|---|---|---|---|---|---|---|---|\n");
        for (String s : sections) {
            Map<String, List<PlanRow>> byModel = new LinkedHashMap<>();
            for (PlanRow p : plan) if (p.section().equals(s)) byModel.computeIfAbsent(p.model(), k -> new ArrayList<>()).add(p);
            byModel.forEach((model, rows) -> {
                Set<String> subsets = new TreeSet<>(), epochs = new TreeSet<>(), noise = new TreeSet<>(), seeds = new TreeSet<>();
                for (PlanRow p : rows) {
                    subsets.add(p.subset().equals("all") ? "all 60,000" : String.format(Locale.ROOT, "%,d (seeded subset)", Integer.parseInt(p.subset())));
                    epochs.add(String.valueOf(p.epochs()));
                    noise.add(pct(p.noise()));
                    seeds.add(String.valueOf(p.seed()));
                }
                String opt = rows.stream().map(runs::get).filter(Objects::nonNull).findFirst()
                        .map(r -> r.lr() + ", " + r.config().get("schedule") + ", " + num(r.config().get("batch_size"))).orElse("—");
                long done = rows.stream().filter(runs::containsKey).count();
                md.append("| ").append(s).append(" | ").append(model).append(" | ").append(String.join(", ", subsets)).append(" | ")
                        .append(String.join(", ", epochs)).append(" | ").append(String.join(", ", noise)).append(" | ")
                        .append(String.join(", ", seeds)).append(" | ").append(opt).append(" | ").append(done).append(" / ")
                        .append(rows.size()).append(" |\n");
            });
        }
        md.append('\n');
    }

    private static String num(Object o) {
        return o instanceof Double d && d == Math.rint(d) && Math.abs(d) < 1e15 ? String.valueOf(d.longValue()) : String.valueOf(o);
    }

    private static long plannedSeeds(List<PlanRow> plan, String section, String model, double noise, String label) {
        return plan.stream().filter(p -> p.section().equals(section) && p.model().equals(model) && p.noise() == noise
                && p.label().equals(label)).count();
    }

    private static void section(StringBuilder md, String section, List<PlanRow> plan, Map<PlanRow, RunRecord> runs, Path plots, Path mdDir) {
        md.append("## Section `").append(section).append("`\n\n");
        Map<String, Map<Double, Map<String, Cell>>> cells = cells(runs, section);
        // Models and noise levels come from the plan, so a column with nothing finished still shows as not run.
        Map<String, Set<Double>> planned = new LinkedHashMap<>();
        Map<String, Set<String>> plannedLabels = new LinkedHashMap<>();
        for (PlanRow p : plan) {
            if (!p.section().equals(section)) continue;
            planned.computeIfAbsent(p.model(), k -> new TreeSet<>()).add(p.noise());
            plannedLabels.computeIfAbsent(p.model(), k -> new LinkedHashSet<>()).add(p.label());
        }
        planned.forEach((model, noises) -> {
            Map<Double, Map<String, Cell>> byNoise = cells.getOrDefault(model, Map.of());
            List<String> labels = orderedLabels(plannedLabels.get(model));
            md.append("### `").append(model).append("`\n\n| method |");
            for (double n : noises) md.append(" acc % (noise ").append(pct(n)).append(") | SAM % | time s |");
            md.append("\n|---|");
            md.append("---:|---:|---:|".repeat(noises.size()));
            md.append('\n');
            for (String label : labels) {
                md.append("| ").append(RunRecord.displayName(label)).append(" |");
                for (double n : noises) {
                    Cell c = byNoise.getOrDefault(n, Map.of()).get(label);
                    if (c == null) {
                        md.append(" not run | | |");
                        continue;
                    }
                    long want = plannedSeeds(plan, section, model, n, label);
                    md.append(' ').append(c.accuracy().format(100, 2));
                    if (c.runs().size() < want) md.append(" (n=").append(c.runs().size()).append(')');
                    md.append(" | ").append(c.samFraction().format(100, 1).replaceAll(" ± .*", ""))
                            .append(" | ").append(String.format(Locale.ROOT, "%.0f", c.medianWallSeconds())).append(" |");
                }
                md.append('\n');
            }
            md.append('\n');
            pairedTable(md, byNoise, noises);
            for (double n : noises) {
                Map<String, Cell> byLabel = byNoise.get(n);
                if (byLabel == null || byLabel.isEmpty()) continue;
                String tag = section + "-" + model + "-noise" + Math.round(n * 100);
                Path acc = plots.resolve("accuracy-" + tag + ".png");
                Path frac = plots.resolve("sam_fraction-" + tag + ".png");
                epochChart(byLabel, "Test accuracy per epoch (mean over seeds): " + section + ", " + model + ", noise " + pct(n),
                        "test accuracy", RunRecord.Epoch::testAccuracy).savePng(acc);
                epochChart(byLabel, "SAM fraction per epoch (mean over seeds): " + section + ", " + model + ", noise " + pct(n),
                        "fraction of SAM steps", RunRecord.Epoch::samFraction).yRange(0, 1).savePng(frac);
                md.append("![accuracy ").append(tag).append("](").append(rel(mdDir, acc)).append(") ")
                        .append("![SAM fraction ").append(tag).append("](").append(rel(mdDir, frac)).append(")\n\n");
            }
        });
    }

    /** The comparisons the paper's claims are about, as per-seed differences of test accuracy. */
    static final List<String[]> PAIRS = List.of(
            new String[] {"sam", "erm"}, new String[] {"aesam", "erm"}, new String[] {"aesam", "sam"},
            new String[] {"aesam", "sssam"}, new String[] {"aesam", "sssam-late"}, new String[] {"aelooksam", "looksam"},
            new String[] {"aelooksam", "sam"});

    private static void pairedTable(StringBuilder md, Map<Double, Map<String, Cell>> byNoise, Set<Double> noises) {
        StringBuilder rows = new StringBuilder();
        for (String[] pr : PAIRS) {
            StringBuilder row = new StringBuilder("| " + RunRecord.displayName(pr[0]) + " − " + RunRecord.displayName(pr[1]) + " |");
            boolean any = false;
            for (double n : noises) {
                Map<String, Cell> c = byNoise.getOrDefault(n, Map.of());
                Stats d = paired(c.get(pr[0]), c.get(pr[1]));
                row.append(' ').append(d.n() == 0 ? "—" : signed(d) + " (n=" + d.n() + ")").append(" |");
                any |= d.n() > 0;
            }
            if (any) rows.append(row).append('\n');
        }
        if (rows.isEmpty()) {
            md.append("No paired differences yet: no seed has finished both methods of any pair.\n\n");
            return;
        }
        md.append("Paired differences of test accuracy (percentage points, same seed, mean ± std over seeds):\n\n| difference |");
        for (double n : noises) md.append(" noise ").append(pct(n)).append(" |");
        md.append("\n|---|").append("---:|".repeat(noises.size())).append('\n').append(rows).append('\n');
    }

    static String signed(Stats d) {
        String s = d.format(100, 2);
        return d.mean() >= 0 ? "+" + s : s;
    }

    private static Charts.Chart epochChart(Map<String, Cell> byLabel, String title, String yLabel, ToDoubleFunction<RunRecord.Epoch> f) {
        Charts.Chart c = new Charts.Chart(title, "epoch", yLabel).size(1000, 560);
        for (String label : orderedLabels(byLabel.keySet())) {
            Cell cell = byLabel.get(label);
            int epochs = cell.runs().stream().mapToInt(r -> r.epochs().size()).min().orElse(0);
            if (epochs == 0) continue;
            double[] x = new double[epochs], y = new double[epochs];
            for (int e = 0; e < epochs; e++) {
                x[e] = e + 1;
                final int ee = e;
                y[e] = cell.runs().stream().mapToDouble(r -> f.applyAsDouble(r.epochs().get(ee))).average().orElse(Double.NaN);
            }
            c.add(Charts.Series.line(RunRecord.displayName(label), x, y).withColor(methodColor(label)));
        }
        return c;
    }

    // ---------------------------------------------------------------- ablation

    /** An ablation setting's AE-SAM runs and their equal-cost SS-SAM runs. */
    record Setting(String name, Cell ae, Cell ss, long planned) {}

    private static void ablation(StringBuilder md, List<PlanRow> plan, Map<PlanRow, RunRecord> runs, Path plots, Path mdDir) {
        md.append("## Section `ablation`: the adaptive policy against random at equal cost\n\n");
        List<PlanRow> rows = plan.stream().filter(p -> p.section().equals(ABLATION)).toList();
        if (rows.isEmpty()) return;
        double noise = rows.get(0).noise();
        String model = rows.get(0).model();
        List<Setting> settings = new ArrayList<>();
        Map<String, Map<Double, Map<String, Cell>>> base = cells(runs, ABLATION_BASE);
        Map<String, Cell> baseCell = base.getOrDefault(model, Map.of()).getOrDefault(noise, Map.of());
        long basePlanned = plannedSeeds(plan, ABLATION_BASE, model, noise, "aesam");
        if (basePlanned > 0) {
            settings.add(new Setting("l1=-1 l2=1 d=0.9 (default; from section " + ABLATION_BASE + ")", baseCell.get("aesam"),
                    baseCell.get("sssam"), basePlanned));
        }
        Map<String, Cell> abl = cells(runs, ABLATION).getOrDefault(model, Map.of()).getOrDefault(noise, Map.of());
        for (String label : new LinkedHashSet<>(rows.stream().map(PlanRow::label).filter(l -> l.startsWith("aesam ")).toList())) {
            settings.add(new Setting(label.substring("aesam ".length()), abl.get(label), abl.get("sssam for " + label),
                    plannedSeeds(plan, ABLATION, model, noise, label)));
        }
        md.append("`").append(model).append("`, noise ").append(pct(noise)).append(", the overfitting regime. Each AE-SAM setting ")
                .append("(λ1 = c_t at the end, λ2 = c_t at the start, δ = EMA decay) is paired with SS-SAM whose p is that run's ")
                .append("measured SAM fraction (same seed), so both take the same number of SAM steps. *AE − SS* is the per-seed ")
                .append("difference; compare it with the seed-to-seed std of either method. (SS-SAM's realised fraction differs ")
                .append("from its p by binomial noise.)\n\n")
                .append("| setting | AE-SAM acc % | SS-SAM acc % | SAM % | AE − SS (pp) |\n|---|---:|---:|---:|---:|\n");
        List<Double> aeX = new ArrayList<>(), aeY = new ArrayList<>(), ssX = new ArrayList<>(), ssY = new ArrayList<>();
        for (Setting s : settings) {
            md.append("| ").append(s.name()).append(" | ");
            if (s.ae() == null) {
                md.append("not run | not run | | |\n");
                continue;
            }
            md.append(s.ae().accuracy().format(100, 2));
            if (s.ae().runs().size() < s.planned()) md.append(" (n=").append(s.ae().runs().size()).append(')');
            md.append(" | ").append(s.ss() == null ? "not run" : s.ss().accuracy().format(100, 2)).append(" | ")
                    .append(s.ae().samFraction().format(100, 1)).append(" | ");
            Stats d = paired(s.ae(), s.ss());
            md.append(d.n() == 0 ? "—" : signed(d) + " (n=" + d.n() + ")").append(" |\n");
            aeX.add(s.ae().samFraction().mean()); aeY.add(s.ae().accuracy().mean());
            if (s.ss() != null) { ssX.add(s.ss().samFraction().mean()); ssY.add(s.ss().accuracy().mean()); }
        }
        md.append('\n');
        if (!aeX.isEmpty()) {
            Path png = plots.resolve("ablation-accuracy-vs-sam-fraction.png");
            Charts.Chart c = new Charts.Chart("Ablation: test accuracy against SAM fraction (mean over seeds), " + model + ", noise "
                    + pct(noise), "fraction of SAM steps", "test accuracy").size(900, 520)
                    .add(Charts.Series.points("AE-SAM settings", RunPlots.arr(aeX), RunPlots.arr(aeY)).withColor(methodColor("aesam")));
            if (!ssX.isEmpty()) {
                c.add(Charts.Series.points("SS-SAM at the same fraction", RunPlots.arr(ssX), RunPlots.arr(ssY))
                        .withColor(methodColor("sssam")));
            }
            // One line per setting from its AE-SAM point to its SS-SAM point, so pairs can be told apart;
            // SS-SAM's realised fraction differs from its p by binomial noise, hence the lines are not vertical.
            for (Setting s : settings) {
                if (s.ae() == null || s.ss() == null) continue;
                c.add(Charts.Series.line(s.name().replaceFirst(" \\(default.*", " (default)"),
                        new double[] {s.ae().samFraction().mean(), s.ss().samFraction().mean()},
                        new double[] {s.ae().accuracy().mean(), s.ss().accuracy().mean()}));
            }
            c.savePng(png);
            md.append("![ablation](").append(rel(mdDir, png)).append(")\n\n");
        }
    }

    // ---------------------------------------------------------------- run lists

    private static void runsList(StringBuilder md, List<PlanRow> plan, Map<PlanRow, RunRecord> runs) {
        md.append("## Runs\n\nEvery finished run the tables use (directory relative to the report root; `train` = epochs done / planned).\n\n")
                .append("| run directory | method | noise | seed | test acc % | best acc % | SAM % | epochs | time s |\n")
                .append("|---|---|---:|---:|---:|---:|---:|---:|---:|\n");
        for (PlanRow p : plan) {
            RunRecord r = runs.get(p);
            if (r == null) continue;
            md.append(String.format(Locale.ROOT, "| `%s` | %s | %s | %d | %.2f | %.2f | %.1f | %d/%d | %.0f |%n", p.dir(), r.methodDetail(),
                    pct(p.noise()), p.seed(), 100 * r.testAccuracy(), 100 * r.bestTestAccuracy(), 100 * r.samFraction(),
                    r.epochs().size(), r.epochsPlanned(), r.wallSeconds()));
        }
        md.append('\n');
    }

    /** {@code text} with the report root's absolute path removed, so copied logs name runs relative to the root. */
    static String relativise(Path root, String text) {
        String abs = root.toAbsolutePath().normalize().toString();
        return text.replace(abs + "/", "").replace(abs, ".");
    }

    /**
     * Why a planned run has no summary: the last {@code sam4j: error:} line of the log the grid leaves next
     * to its directory ({@code DIR.log}), or null when there is none (the run was never started, or was killed).
     */
    static String failure(Path root, PlanRow p) {
        Path log = root.resolve(p.dir() + ".log");
        if (!Files.isRegularFile(log)) return null;
        try {
            String why = null;
            for (String line : Files.readAllLines(log)) if (line.startsWith("sam4j: error:")) why = line.substring(13).strip();
            return why == null ? null : relativise(root, why);
        } catch (IOException | UncheckedIOException e) {
            return null;
        }
    }

    private static void notRun(StringBuilder md, Path root, List<PlanRow> plan, Map<PlanRow, RunRecord> runs, String command) {
        List<PlanRow> missing = plan.stream().filter(p -> !runs.containsKey(p)).toList();
        md.append("## Not run\n\n");
        if (missing.isEmpty()) {
            md.append("Every planned run finished.\n");
            return;
        }
        // Runs that ended with an error are listed first, with the error: a diverged run is a result, not a gap.
        List<String> failed = new ArrayList<>();
        for (PlanRow p : missing) {
            String why = failure(root, p);
            if (why != null) failed.add("- `" + p.dir() + "` **failed**: " + why.replace("|", "\\|") + "\n");
        }
        if (!failed.isEmpty()) {
            md.append(failed.size()).append(failed.size() == 1 ? " run" : " runs")
                    .append(" stopped with an error (its log is `DIR.log` beside the run directory):\n\n");
            failed.forEach(md::append);
            md.append('\n');
        }
        md.append(missing.size()).append(missing.size() == 1 ? " planned run has" : " planned runs have")
                .append(" no `summary.json` (not started, stopped before the end, or failed as above). ")
                .append("`").append(command == null ? "scripts/reproduce" : command).append("` runs exactly these: it skips ")
                .append("every run that has finished. SS-SAM runs wait for their AE-SAM run's measured SAM fraction.\n\n");
        Map<String, List<PlanRow>> bySection = new LinkedHashMap<>();
        for (PlanRow p : missing) bySection.computeIfAbsent(p.section(), k -> new ArrayList<>()).add(p);
        bySection.forEach((s, rows) -> {
            md.append("- `").append(s).append("`: ").append(rows.size()).append(rows.size() == 1 ? " run: " : " runs: ");
            Map<String, List<String>> byCell = new LinkedHashMap<>();
            for (PlanRow p : rows) {
                byCell.computeIfAbsent(p.model() + " noise " + pct(p.noise()) + " " + RunRecord.displayName(p.label()),
                        k -> new ArrayList<>()).add(String.valueOf(p.seed()));
            }
            List<String> parts = new ArrayList<>();
            byCell.forEach((cell, seeds) -> parts.add(cell + " (seed " + String.join(", ", seeds) + ")"));
            md.append(String.join("; ", parts)).append('\n');
        });
    }
}
