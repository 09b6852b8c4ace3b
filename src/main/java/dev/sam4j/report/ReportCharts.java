package dev.sam4j.report;

import static dev.sam4j.report.Markdown.orderedLabels;
import static dev.sam4j.report.Markdown.pct;

import dev.sam4j.plot.Charts;
import dev.sam4j.report.Markdown.Setting;
import dev.sam4j.report.Report.Cell;
import java.awt.Color;
import java.util.List;
import java.util.Map;
import java.util.function.ToDoubleFunction;

/** The report's plots: per-epoch curves of one table's methods, the ablation's scatter, and each method's colour. */
final class ReportCharts {
    private ReportCharts() { }

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

    static Charts.Chart epochChart(Map<String, Cell> byLabel, String title, String yLabel, ToDoubleFunction<RunRecord.Epoch> f) {
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

    /** The ablation's scatter: each setting's AE-SAM point, its equal-cost SS-SAM point and a line between them. */
    static Charts.Chart ablationChart(List<Setting> settings, String model, double noise, List<Double> aeX, List<Double> aeY,
            List<Double> ssX, List<Double> ssY) {
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
        return c;
    }
}
