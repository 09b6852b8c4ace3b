package dev.sam4j.train;

import java.nio.file.Path;
import java.util.List;

/**
 * The bookkeeping of a run's steps, written once for every step path ({@link StepPath}): each step's record is
 * reported, skipped steps counted (and {@code --on-nonfinite stop} obeyed), the loss, pass-1 hits and SAM passes
 * added to the epoch, the divergence check made; and the messages of a stopped run, which name the last checkpoint.
 */
final class StepAccounting {
    private final TrainConfig config;
    private final List<TrainListener> listeners;
    private final Path checkpointFile;   // RUN_DIR/checkpoint.safetensors, or null (no run directory)
    private long lastCheckpointStep = -1;

    StepAccounting(TrainConfig config, List<TrainListener> listeners, Path checkpointFile) {
        this.config = config;
        this.listeners = listeners;
        this.checkpointFile = checkpointFile;
    }

    /** A checkpoint of the state after {@code step} steps was written (or resumed from). */
    void checkpointed(long step) { lastCheckpointStep = step; }

    /**
     * A step's accounting, the same on every step path: reports its record; a skipped step is counted (and with
     * {@code --on-nonfinite stop} ends the run with {@code stop}'s exception), any other adds its {@code n} images'
     * loss, its {@code correct} pass-1 predictions and its SAM pass to the epoch and goes through the divergence check.
     */
    void account(Progress p, StepRecord rec, int n, long correct, java.util.function.Supplier<TrainingStoppedException> stop) {
        for (TrainListener l : listeners) l.onStep(rec);
        if (rec.skipped()) {
            p.epochSkipped++;
            p.skippedSteps++;
            if (config.onNonFinite().equals("stop")) throw stop.get();
            return;
        }
        p.correct += correct;
        if (rec.sam()) p.epochSam++;
        p.lossSum += rec.loss() * n;
        p.lossImages += n;
        checkDivergence(p, rec.loss());
    }

    private String lastCheckpointNote() {
        if (checkpointFile == null) return "no checkpoint was written (no run directory)";
        return lastCheckpointStep < 0 ? "no checkpoint had been written yet"
                : "the last good checkpoint (after step " + lastCheckpointStep + ") is " + checkpointFile;
    }

    TrainingStoppedException nonFinite(long step, int epoch, double loss, double s, double samLoss, double samSumSquares,
                                               String extra) {
        String what = !Double.isFinite(loss) ? "the loss is " + loss
                : !Double.isFinite(s) ? "the squared gradient norm ||g||^2 is " + s
                : !Double.isFinite(samLoss) ? "the loss at the SAM perturbation is " + samLoss
                : "the squared gradient norm at the SAM perturbation is " + samSumSquares;
        return new TrainingStoppedException("step " + step + " (epoch " + epoch + "): " + what + "; the run was stopped "
                + "(--on-nonfinite stop; 'skip' skips such steps)." + extra + " " + capitalize(lastCheckpointNote()) + ".");
    }

    private void checkDivergence(Progress p, double loss) {
        if (Double.isNaN(config.divergenceLoss())) return;
        if (!(loss > config.divergenceLoss())) {
            p.divergenceRun = 0;
            return;
        }
        if (++p.divergenceRun >= config.divergenceSteps()) {
            throw new TrainingStoppedException(String.format(java.util.Locale.ROOT,
                    "step %d: the loss has been above %s for %d consecutive steps (now %.6g): the run diverged and was stopped "
                            + "(--divergence-loss, --divergence-steps). %s.", p.step, config.divergenceLoss(), p.divergenceRun, loss,
                    capitalize(lastCheckpointNote())));
        }
    }

    private static String capitalize(String s) { return Character.toUpperCase(s.charAt(0)) + s.substring(1); }
}
