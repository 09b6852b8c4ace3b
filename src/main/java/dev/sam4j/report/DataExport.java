package dev.sam4j.report;

import static dev.sam4j.report.Report.PLAN;
import static dev.sam4j.report.Runs.relativise;

import dev.sam4j.report.Report.PlanRow;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * The copy of the small per-run files behind a report (plan, machine, provenance, summary, metrics,
 * config, one run's steps, failed runs' logs) into a data folder that is itself a valid report root.
 */
final class DataExport {
    private DataExport() { }

    static boolean sameDir(Path a, Path b) {
        return a.toAbsolutePath().normalize().equals(b.toAbsolutePath().normalize());
    }

    static void exportData(Path root, Path data, List<PlanRow> plan, Map<PlanRow, RunRecord> runs, PlanRow stRun, Path machine) {
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
}
