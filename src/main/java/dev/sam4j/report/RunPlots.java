package dev.sam4j.report;

import dev.sam4j.plot.Charts;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/**
 * The per-run plots of {@code sam4j plot RUN_DIR}: accuracy and SAM fraction per epoch, the loss per
 * step, and for an adaptive run {@code s_t} with the threshold {@code μ_t + c_t·σ_t} and the SAM steps.
 */
public final class RunPlots {
    private RunPlots() { }

    /** Writes the plots into {@code out} and returns the files written. */
    public static List<Path> write(Path runDir, Path out) {
        RunRecord run = RunRecord.load(runDir);
        String name = run.methodDetail() + ", " + run.model() + ", noise " + run.labelNoise() + ", seed " + run.seed();
        List<Path> files = new ArrayList<>();
        List<RunRecord.Epoch> ep = run.epochs();
        if (!ep.isEmpty()) {
            double[] x = new double[ep.size()], test = new double[ep.size()], train = new double[ep.size()], frac = new double[ep.size()];
            for (int i = 0; i < x.length; i++) {
                x[i] = ep.get(i).epoch();
                test[i] = ep.get(i).testAccuracy();
                train[i] = ep.get(i).trainAccuracy();
                frac[i] = ep.get(i).samFraction();
            }
            Charts.Chart acc = new Charts.Chart("Accuracy per epoch: " + name, "epoch", "accuracy")
                    .add(Charts.Series.line("test", x, test));
            // The CUDA graph paths do not count training hits (NaN); leave that line out rather than fail.
            if (allFinite(train)) acc.add(Charts.Series.line("train (pass 1, noisy labels)", x, train));
            files.add(save(acc, out.resolve("accuracy.png")));
            files.add(save(new Charts.Chart("SAM fraction per epoch: " + name, "epoch", "fraction of SAM steps")
                    .yRange(0, 1).add(Charts.Series.line("SAM fraction", x, frac)), out.resolve("sam_fraction.png")));
        }
        StepSeries st = StepSeries.read(runDir);
        if (st != null && st.size() > 0) {
            files.add(save(new Charts.Chart("Training loss per step: " + name, "step", "batch loss").integerX()
                    .add(Charts.Series.line("loss", asDouble(st.step()), st.loss())), out.resolve("loss.png")));
            if (st.hasThreshold()) files.add(save(sChart(st, "s_t and the AE-SAM threshold: " + name), out.resolve("s_t.png")));
        }
        return files;
    }

    /**
     * {@code s_t} (log scale: it spans orders of magnitude over a run) with {@code μ_t + c_t·σ_t} drawn on
     * it and the SAM steps marked; steps where the threshold is not positive (it cannot be drawn on a log
     * axis) are left out of that line only.
     */
    public static Charts.Chart sChart(StepSeries st, String title) {
        double[] x = asDouble(st.step());
        double[] thr = st.threshold();
        List<Double> tx = new ArrayList<>(), ty = new ArrayList<>(), sx = new ArrayList<>(), sy = new ArrayList<>();
        List<Double> px = new ArrayList<>(), py = new ArrayList<>();
        for (int i = 0; i < x.length; i++) {
            if (st.s()[i] > 0) { px.add(x[i]); py.add(st.s()[i]); }
            if (Double.isFinite(thr[i]) && thr[i] > 0) { tx.add(x[i]); ty.add(thr[i]); }
            if (st.sam()[i] && st.s()[i] > 0) { sx.add(x[i]); sy.add(st.s()[i]); }
        }
        // Small markers once there are many steps, or the SAM marks hide the line they sit on.
        Charts.Chart c = new Charts.Chart(title, "step", "s_t = ||g||^2 (log scale)").logY(true).size(1100, 560)
                .markerSize(x.length > 1000 ? 3 : x.length > 300 ? 5 : 8).integerX()
                .add(Charts.Series.line("s_t", arr(px), arr(py)));
        if (!tx.isEmpty()) c.add(Charts.Series.line("threshold mu_t + c_t*sigma_t", arr(tx), arr(ty)));
        if (!sx.isEmpty()) c.add(Charts.Series.points("SAM step", arr(sx), arr(sy)));
        return c;
    }

    private static Path save(Charts.Chart c, Path png) {
        c.savePng(png);
        return png;
    }

    static boolean allFinite(double[] v) {
        for (double d : v) if (!Double.isFinite(d)) return false;
        return true;
    }

    static double[] asDouble(long[] v) {
        double[] d = new double[v.length];
        for (int i = 0; i < v.length; i++) d[i] = v[i];
        return d;
    }

    static double[] arr(List<Double> l) {
        double[] d = new double[l.size()];
        for (int i = 0; i < d.length; i++) d[i] = l.get(i);
        return d;
    }
}
