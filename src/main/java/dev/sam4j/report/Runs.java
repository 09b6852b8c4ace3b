package dev.sam4j.report;

import static dev.sam4j.report.Report.ABLATION_BASE;
import static dev.sam4j.report.Report.PLAN;
import static dev.sam4j.report.Report.PLAN_HEADER;

import dev.sam4j.report.Report.Cell;
import dev.sam4j.report.Report.PlanRow;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;

/** Reading a report root: the grid's plan, the finished runs, their grouping into cells, and failed runs' logs. */
final class Runs {
    private Runs() { }

    static List<PlanRow> readPlan(Path root) {
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
    static Map<PlanRow, RunRecord> load(Path root, List<PlanRow> plan) {
        Map<PlanRow, RunRecord> runs = new LinkedHashMap<>();
        for (PlanRow r : plan) {
            Path d = root.resolve(r.dir());
            if (RunRecord.isFinished(d)) runs.put(r, RunRecord.load(d));
        }
        return runs;
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

    static long plannedSeeds(List<PlanRow> plan, String section, String model, double noise, String label) {
        return plan.stream().filter(p -> p.section().equals(section) && p.model().equals(model) && p.noise() == noise
                && p.label().equals(label)).count();
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
}
