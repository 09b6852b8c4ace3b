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
            assertEquals(Map.of("overfit", 19, "full", 4, "ablation", 4, "cnn", 8, "cnn-long", 4, "last-batch", 4), bySection);
        } else {
            // 7 core methods (AE-LookSAM as specified and with its defaults) x 3 noise levels x 3 seeds, plus ESAM and
            // ASAM, plus MSAM at 40% noise x 3 seeds; 4 methods x 2 noise levels x 3 seeds; 7 settings x (AE-SAM, SS-SAM)
            // x 3 seeds; 7 methods x 2 noise levels x 3 seeds; 6 methods (MSAM included) x 2 noise levels x 3 seeds;
            // 4 methods at 40% noise x 3 seeds with the last batch dropped.
            assertEquals(Map.of("overfit", 84, "full", 24, "ablation", 42, "cnn", 42, "cnn-long", 36, "last-batch", 12), bySection);
            // MSAM only where SAM's gain shows; both AE-LookSAMs wherever AE-LookSAM runs.
            for (Report.PlanRow r : plan) {
                if (r.label().equals("msam")) {
                    assertTrue(r.section().equals("cnn-long") || (r.section().equals("overfit") && r.noise() == 0.4), r.dir());
                }
                if (r.label().equals("aelooksam")) {
                    String twin = r.dir().replace("-aelooksam-", "-aelooksam-default-");
                    assertTrue(plan.stream().anyMatch(q -> q.dir().equals(twin)), "no default twin for " + r.dir());
                }
            }
        }
        // The train options the grid passes: --keep-last-batch everywhere but in the last-batch section, and the
        // spec's AE-LookSAM pinned to --looksam-max-age 0 (read from the script itself, which planning does not run).
        String script = Files.readString(Path.of("scripts/reproduce"));
        assertTrue(script.contains("keep_opt=(--keep-last-batch)") && script.contains("\"${keep_opt[@]}\""), "keep-last-batch pinned");
        assertTrue(script.contains("aelooksam \\\n          --looksam-max-age 0"), "the spec's AE-LookSAM pinned");
        assertTrue(Files.exists(root.resolve(Report.PLAN)));
    }

    private static String cell(Report.PlanRow r) {
        return r.section() + "|" + r.model() + "|" + r.noise() + "|" + r.epochs() + "|" + r.seed();
    }
}
