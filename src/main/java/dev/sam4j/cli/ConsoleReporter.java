package dev.sam4j.cli;

import dev.sam4j.train.EpochRecord;
import dev.sam4j.train.RunInfo;
import dev.sam4j.train.RunSummary;
import dev.sam4j.train.StepRecord;
import dev.sam4j.train.TrainListener;
import java.io.PrintStream;
import java.util.Locale;

/**
 * Prints a run to the console: what is used first (data, backend and why, model size), then one line
 * per epoch; when stdout is a terminal, also a progress bar redrawn at most ten times a second.
 */
final class ConsoleReporter implements TrainListener {
    private final PrintStream out;
    private final boolean terminal;
    private long stepsPerEpoch;
    private long lastDraw;
    private double lossEma = Double.NaN;

    ConsoleReporter(PrintStream out, boolean terminal) {
        this.out = out;
        this.terminal = terminal;
    }

    @Override public void onRunStart(RunInfo info) {
        stepsPerEpoch = info.stepsPerEpoch();
        out.println(info.dataDescription());
        out.println("backend: " + info.backendName() + " (" + info.backendReason() + "; " + info.backendDescription() + ")");
        out.printf(Locale.ROOT, "model: %s, %,d parameters; optimizer: %s; %d epochs x %d steps (batch %d), %d steps in all%n",
                info.model(), info.parameters(), info.config().optimizer(), info.config().epochs(), info.stepsPerEpoch(),
                info.config().batchSize(), info.totalSteps());
        if (info.resume() != null) {
            out.printf(Locale.ROOT, "resuming at step %d (epoch %d) from the run's checkpoint%n", info.resume().step(), info.resume().epoch());
        }
        out.flush();
    }

    @Override public void onStep(StepRecord r) {
        if (!r.skipped()) lossEma = Double.isNaN(lossEma) ? r.loss() : 0.9 * lossEma + 0.1 * r.loss();
        if (!terminal) return;
        long now = System.nanoTime();
        if (now - lastDraw < 100_000_000L) return;
        lastDraw = now;
        long inEpoch = stepsPerEpoch == 0 ? 0 : r.step() % stepsPerEpoch + 1;
        int width = 30;
        int filled = (int) (width * inEpoch / Math.max(1, stepsPerEpoch));
        out.printf(Locale.ROOT, "\repoch %d [%s%s] %d/%d loss %.4f %.1f ms/step ", r.epoch(), "=".repeat(filled),
                " ".repeat(width - filled), inEpoch, stepsPerEpoch, lossEma, r.stepNanos() / 1e6);
        out.flush();
    }

    @Override public void onEpoch(EpochRecord e) {
        if (terminal) out.print("\r\033[K");
        // The CUDA graph paths do not count training hits (that would read logits back every step): "-".
        String trainAcc = Double.isNaN(e.trainAccuracy()) ? "-" : String.format(Locale.ROOT, "%.4f", e.trainAccuracy());
        out.printf(Locale.ROOT, "epoch %d: train loss %.4f acc %s | test loss %.4f acc %.4f | sam %.3f | %.0f img/s | %.1f s%n",
                e.epoch(), e.trainLoss(), trainAcc, e.testLoss(), e.testAccuracy(), e.samFraction(),
                e.imagesPerSecond(), e.seconds());
        if (e.skippedSteps() > 0) out.printf(Locale.ROOT, "epoch %d: %d steps skipped (non-finite loss or gradient)%n", e.epoch(), e.skippedSteps());
        out.flush();
    }

    @Override public void onRunEnd(RunSummary s) {
        if (terminal) out.print("\r\033[K");
        if (s.interrupted()) out.printf(Locale.ROOT, "interrupted after %d steps%n", s.steps());
        if (s.skippedSteps() > 0) out.printf(Locale.ROOT, "%d steps skipped for a non-finite loss or gradient%n", s.skippedSteps());
        out.printf(Locale.ROOT, "done: test accuracy %.4f (best %.4f), %d steps, SAM fraction %.3f, %.1f s, %.0f img/s%n",
                s.testAccuracy(), s.bestTestAccuracy(), s.steps(), s.samFraction(), s.wallSeconds(), s.imagesPerSecond());
        out.flush();
    }
}
