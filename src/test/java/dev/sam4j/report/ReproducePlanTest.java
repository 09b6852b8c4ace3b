package dev.sam4j.report;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * The grid {@code scripts/reproduce} plans, read back the way {@code sam4j report} reads it: planning
 * runs nothing ({@code --report-only --no-report}), so this checks the grid's shape in a second. What
 * it guards: every SS-SAM run is paired with an AE-SAM run of the same cell (the equal-cost comparison),
 * the long cnn runs every seed at two noise levels (full grid), and no run directory is planned twice.
 */
class ReproducePlanTest {
    @TempDir Path dir;

    @ParameterizedTest
    @ValueSource(booleans = {false, true})
    void theGridPairsEverySsSamRunWithAnAeSamRunOfTheSameCell(boolean quick) throws Exception {
        Path root = dir.resolve("grid");
        List<String> cmd = quick
                ? List.of("bash", "scripts/reproduce", "--quick", "--report-only", "--no-report", "--root", root.toString())
                : List.of("bash", "scripts/reproduce", "--report-only", "--no-report", "--root", root.toString());
        Process p = new ProcessBuilder(cmd).redirectErrorStream(true).start();
        String out = new String(p.getInputStream().readAllBytes());
        assertTrue(p.waitFor(60, TimeUnit.SECONDS), "planning finished");
        assertEquals(0, p.exitValue(), out);

        List<Report.PlanRow> plan = Report.readPlan(root);
        Map<String, Integer> bySection = new HashMap<>();
        Set<String> dirs = new HashSet<>(), aeCells = new HashSet<>();
        for (Report.PlanRow r : plan) {
            bySection.merge(r.section(), 1, Integer::sum);
            assertTrue(dirs.add(r.dir()), "planned twice: " + r.dir());
            if (r.label().startsWith("aesam")) aeCells.add(cell(r) + "|" + r.label().replace("aesam", ""));
        }
        for (Report.PlanRow r : plan) {
            if (r.label().startsWith("sssam")) {
                String pairedWith = r.label().replaceFirst("^sssam(-late)?( for aesam)?", "");
                assertTrue(aeCells.contains(cell(r) + "|" + pairedWith), "SS-SAM without its AE-SAM run: " + r.dir());
            }
        }
        if (quick) {
            assertEquals(Map.of("overfit", 16, "full", 4, "ablation", 4, "cnn", 8, "cnn-long", 3), bySection);
        } else {
            // 6 core methods x 3 noise levels x 3 seeds, plus ESAM and ASAM; 4 methods x 2 noise levels x 3 seeds;
            // 7 settings x (AE-SAM, SS-SAM) x 3 seeds; 6 methods x 2 noise levels x 3 seeds; 5 methods x 2 noise
            // levels x 3 seeds.
            assertEquals(Map.of("overfit", 72, "full", 24, "ablation", 42, "cnn", 36, "cnn-long", 30), bySection);
        }
        assertTrue(Files.exists(root.resolve(Report.PLAN)));
    }

    private static String cell(Report.PlanRow r) {
        return r.section() + "|" + r.model() + "|" + r.noise() + "|" + r.epochs() + "|" + r.seed();
    }
}
