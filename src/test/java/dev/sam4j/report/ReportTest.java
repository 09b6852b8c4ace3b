package dev.sam4j.report;

import static org.junit.jupiter.api.Assertions.*;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Random;
import java.util.stream.LongStream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

/** The report from fixture run directories: the numbers in the tables are the right statistics of the runs. */
class ReportTest {
    @TempDir Path dir;

    static LongStream seeds() { return LongStream.of(1, 2, 3, 17, 99); }

    /** Mean and sample std computed the long way, independently of {@link Stats}. */
    private static double[] meanStd(double[] x) {
        double mean = 0;
        for (double v : x) mean += v;
        mean /= x.length;
        double ss = 0;
        for (double v : x) ss += (v - mean) * (v - mean);
        return new double[] {mean, Math.sqrt(ss / (x.length - 1))};
    }

    @ParameterizedTest
    @MethodSource("seeds")
    void statsAreMeanAndSampleStd(long seed) {
        Random rnd = new Random(seed);
        double[] x = new double[2 + rnd.nextInt(6)];
        for (int i = 0; i < x.length; i++) x[i] = 0.7 + 0.1 * rnd.nextDouble();
        double[] want = meanStd(x);
        Stats s = Stats.of(x);
        assertEquals(x.length, s.n());
        assertEquals(want[0], s.mean(), 1e-12);
        assertEquals(want[1], s.std(), 1e-12);
        assertTrue(Double.isNaN(Stats.of(0.5).std()), "one value has no spread");
        assertEquals("—", Stats.of().format(100, 2));
    }

    private static String row(String... f) { return String.join("\t", f) + "\n"; }

    @ParameterizedTest
    @MethodSource("seeds")
    void tablesShowMeanStdOverSeedsAndListWhatDidNotRun(long seed) throws IOException {
        Random rnd = new Random(seed);
        Path root = dir.resolve("grid");
        StringBuilder plan = new StringBuilder(Report.PLAN_HEADER + "\n");
        double[][] acc = new double[3][3]; // method × seed
        String[] methods = {"erm", "sam", "aesam"};
        for (int m = 0; m < 3; m++) {
            for (int s = 0; s < 3; s++) {
                String d = "overfit/mlp-noise40-" + methods[m] + "-seed" + (s + 1);
                plan.append(row("overfit", "mlp", "1000", "4", "0.4", methods[m], String.valueOf(s + 1), d));
                acc[m][s] = 0.6 + 0.2 * rnd.nextDouble();
                Fixtures.run(root.resolve(d), methods[m], "mlp", 0.4, 1000, s + 1, acc[m][s], m == 0 ? 0 : m == 1 ? 1 : 0.4 + 0.01 * s,
                        10 + s, 4);
            }
        }
        // Planned but never started: must be listed, not silently dropped.
        plan.append(row("overfit", "mlp", "1000", "4", "0.4", "sssam", "1", "overfit/mlp-noise40-sssam-seed1"));
        plan.append(row("cnn", "cnn", "1000", "2", "0", "erm", "1", "cnn/cnn-noise00-erm-seed1"));
        // Planned, started and stopped by its own check: the report says why, with paths relative to the root.
        plan.append(row("overfit", "mlp", "1000", "4", "0.4", "aelooksam", "1", "overfit/mlp-noise40-aelooksam-seed1"));
        Files.createDirectories(root.resolve("overfit"));
        Files.writeString(root.resolve("overfit/mlp-noise40-aelooksam-seed1.log"), "epoch 1: ...\nsam4j: error: step 163 (epoch 3): "
                + "the loss is NaN; the last good checkpoint is " + root.toAbsolutePath() + "/overfit/mlp-noise40-aelooksam-seed1/checkpoint.safetensors.\n");
        Files.writeString(root.resolve(Report.PLAN), plan);
        Files.writeString(root.resolve("machine.txt"), "Architecture: x86_64\nCPU(s): 2\nModel name: Test CPU\nFlags: many\n");

        Path md = dir.resolve("docs/RESULTS.md");
        Report.write(new Report.Options(root, md, null, null, "scripts/reproduce", null, null));
        String text = Files.readString(md);
        for (int m = 0; m < 3; m++) {
            double[] ms = meanStd(acc[m]);
            String cell = String.format(Locale.ROOT, "%.2f ± %.2f", 100 * ms[0], 100 * ms[1]);
            assertTrue(text.contains("| " + RunRecord.displayName(methods[m]) + " | " + cell + " |"), cell + " in\n" + text);
        }
        // AE-SAM − ERM, paired by seed.
        double[] diff = new double[3];
        for (int s = 0; s < 3; s++) diff[s] = acc[2][s] - acc[0][s];
        double[] d = meanStd(diff);
        String pd = String.format(Locale.ROOT, "%s%.2f ± %.2f (n=3)", d[0] >= 0 ? "+" : "", 100 * d[0], 100 * d[1]);
        assertTrue(text.contains("| AE-SAM − ERM | " + pd + " |"), pd + " in\n" + text);
        assertTrue(text.contains("| SS-SAM | not run |"), text);
        assertTrue(text.contains("## Not run"), text);
        assertTrue(text.contains("cnn noise 0% ERM (seed 1)"), text);
        assertTrue(text.contains("9 of 12 planned runs finished"), text);
        String failed = "- `overfit/mlp-noise40-aelooksam-seed1` **failed**: step 163 (epoch 3): the loss is NaN; the last good "
                + "checkpoint is overfit/mlp-noise40-aelooksam-seed1/checkpoint.safetensors.";
        assertTrue(text.contains(failed), text);
        assertFalse(text.contains(root.toAbsolutePath().toString()), "no absolute path of the machine that ran the grid");
        // Wall times 10, 11 and 12 s per cell: the spread is measured, not asserted by a fixed sentence.
        assertTrue(text.contains("took up to 1.2× as long as its fastest"), text);
        assertTrue(text.contains("Model name: Test CPU") && !text.contains("Flags"), "lscpu lines, selected");
        assertTrue(text.contains("`overfit/mlp-noise40-aesam-seed2`"), "every run is listed");
        // Plots and the copied data, which is itself a report root giving the same tables.
        assertTrue(Files.exists(dir.resolve("docs/results-plots/accuracy-overfit-mlp-noise40.png")));
        assertTrue(Files.exists(dir.resolve("docs/results-plots/sam_fraction-overfit-mlp-noise40.png")));
        Path data = dir.resolve("docs/results-data");
        assertTrue(Files.exists(data.resolve("overfit/mlp-noise40-sam-seed3/metrics.csv")));
        Path md2 = dir.resolve("again/RESULTS.md");
        Report.write(new Report.Options(data, md2, null, null, "scripts/reproduce", null, null));
        String again = Files.readString(md2);
        assertEquals(tables(text), tables(again));
        assertTrue(again.contains(failed), "the copied data keeps the failed run's log: " + again);
    }

    /** The table rows of a report (lines starting with '|'), which must not depend on where the runs were read from. */
    private static List<String> tables(String md) {
        List<String> out = new ArrayList<>();
        for (String l : md.split("\n")) if (l.startsWith("|")) out.add(l);
        return out;
    }

    @Test
    void everyMethodHasItsOwnColourInEveryChart() {
        var colours = new java.util.HashSet<java.awt.Color>();
        for (String m : Report.METHOD_ORDER) {
            var c = Report.methodColor(m);
            assertNotNull(c, m);
            assertTrue(colours.add(c), m + " shares its colour with another method");
        }
        assertNull(Report.methodColor("not-a-method"));
    }

    @Test
    void ablationPairsEachSettingWithItsEqualCostSsSam() throws IOException {
        Path root = dir.resolve("grid");
        StringBuilder plan = new StringBuilder(Report.PLAN_HEADER + "\n");
        double[] ae = {0.80, 0.82, 0.81}, ss = {0.79, 0.80, 0.82};
        for (int s = 0; s < 3; s++) {
            String label = "aesam l1=1 l2=-1 d=0.9";
            String a = "ablation/rev-seed" + (s + 1) + "-aesam", b = "ablation/rev-seed" + (s + 1) + "-sssam";
            plan.append(row("ablation", "mlp", "1000", "3", "0.4", label, String.valueOf(s + 1), a));
            plan.append(row("ablation", "mlp", "1000", "3", "0.4", "sssam for " + label, String.valueOf(s + 1), b));
            Fixtures.run(root.resolve(a), "aesam", "mlp", 0.4, 1000, s + 1, ae[s], 0.5, 10, 3);
            Fixtures.run(root.resolve(b), "sssam", "mlp", 0.4, 1000, s + 1, ss[s], 0.5, 10, 3);
        }
        // Planned, started and stopped by its own check: the report says why, with paths relative to the root.
        plan.append(row("overfit", "mlp", "1000", "4", "0.4", "aelooksam", "1", "overfit/mlp-noise40-aelooksam-seed1"));
        Files.createDirectories(root.resolve("overfit"));
        Files.writeString(root.resolve("overfit/mlp-noise40-aelooksam-seed1.log"), "epoch 1: ...\nsam4j: error: step 163 (epoch 3): "
                + "the loss is NaN; the last good checkpoint is " + root.toAbsolutePath() + "/overfit/mlp-noise40-aelooksam-seed1/checkpoint.safetensors.\n");
        Files.writeString(root.resolve(Report.PLAN), plan);
        Path md = dir.resolve("r/REPORT.md");
        Report.write(new Report.Options(root, md, null, null, null, null, null));
        String text = Files.readString(md);
        // AE − SS per seed: +1, +2, −1 pp → mean +0.67, std 1.53.
        assertTrue(text.contains("| l1=1 l2=-1 d=0.9 | 81.00 ± 1.00 | 80.33 ± 1.53 | 50.0 ± 0.0 | +0.67 ± 1.53 (n=3) |"), text);
        assertTrue(Files.exists(dir.resolve("r/report-plots/ablation-accuracy-vs-sam-fraction.png")));
    }

    @Test
    void aRootWithoutAPlanIsNamed() {
        var e = assertThrows(IllegalArgumentException.class,
                () -> Report.write(new Report.Options(dir, dir.resolve("x.md"), null, null, null, null, null)));
        assertTrue(e.getMessage().contains("plan.tsv"), e.getMessage());
    }
}
