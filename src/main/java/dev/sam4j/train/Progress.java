package dev.sam4j.train;

import dev.sam4j.io.FileFormatException;
import dev.sam4j.io.SafeTensors;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * Where a run is and what it has counted so far: the position (global step, 1-based epoch, steps done in
 * that epoch; the loader needs nothing more, since a batch is a function of (seed, epoch, step)), the run
 * totals, the accumulators of the epoch in progress (so that a run resumed mid-epoch writes the same
 * {@code metrics.csv} row as an uninterrupted one), and the divergence counter. Saved in a checkpoint's
 * metadata as {@code progress.*} strings; doubles as Java's shortest round-trip decimal, so exactly.
 */
final class Progress {
    long step, samSteps, skippedSteps, images, trainNanos;
    double best = Double.NEGATIVE_INFINITY, lastTestAcc = Double.NaN, lastTestLoss = Double.NaN, lastTrainLoss = Double.NaN;
    double wallSeconds; // of earlier processes of this run
    int epoch = 1;
    long epochSteps, epochSam, epochSkipped, epochImages, lossImages, correct, epochTrainNanos;
    double lossSum, lr = Double.NaN;
    long divergenceRun;

    /** Resets the accumulators for the start of {@code e}. */
    void startEpoch(int e) {
        epoch = e;
        epochSteps = epochSam = epochSkipped = epochImages = lossImages = correct = epochTrainNanos = 0;
        lossSum = 0;
        lr = Double.NaN;
    }

    Map<String, String> toMetadata() {
        Map<String, String> m = new LinkedHashMap<>();
        m.put("progress.step", Long.toString(step));
        m.put("progress.sam_steps", Long.toString(samSteps));
        m.put("progress.skipped_steps", Long.toString(skippedSteps));
        m.put("progress.images", Long.toString(images));
        m.put("progress.train_nanos", Long.toString(trainNanos));
        m.put("progress.best_test_accuracy", Double.toString(best));
        m.put("progress.test_accuracy", Double.toString(lastTestAcc));
        m.put("progress.test_loss", Double.toString(lastTestLoss));
        m.put("progress.train_loss", Double.toString(lastTrainLoss));
        m.put("progress.wall_seconds", Double.toString(wallSeconds));
        m.put("progress.epoch", Integer.toString(epoch));
        m.put("progress.epoch_steps", Long.toString(epochSteps));
        m.put("progress.epoch_sam_steps", Long.toString(epochSam));
        m.put("progress.epoch_skipped_steps", Long.toString(epochSkipped));
        m.put("progress.epoch_images", Long.toString(epochImages));
        m.put("progress.epoch_loss_images", Long.toString(lossImages));
        m.put("progress.epoch_correct", Long.toString(correct));
        m.put("progress.epoch_train_nanos", Long.toString(epochTrainNanos));
        m.put("progress.epoch_loss_sum", Double.toString(lossSum));
        m.put("progress.lr", Double.toString(lr));
        m.put("progress.divergence_run", Long.toString(divergenceRun));
        return m;
    }

    static Progress fromMetadata(SafeTensors.Contents c) {
        Meta m = new Meta(c);
        Progress p = new Progress();
        p.step = m.count("progress.step");
        p.samSteps = m.count("progress.sam_steps");
        p.skippedSteps = m.count("progress.skipped_steps");
        p.images = m.count("progress.images");
        p.trainNanos = m.count("progress.train_nanos");
        p.best = m.real("progress.best_test_accuracy", true);
        p.lastTestAcc = m.real("progress.test_accuracy", true);
        p.lastTestLoss = m.real("progress.test_loss", true);
        p.lastTrainLoss = m.real("progress.train_loss", true);
        p.wallSeconds = m.real("progress.wall_seconds", false);
        long e = m.count("progress.epoch");
        if (e < 1 || e > Integer.MAX_VALUE) throw m.bad("progress.epoch", "must be a 1-based epoch");
        p.epoch = (int) e;
        p.epochSteps = m.count("progress.epoch_steps");
        p.epochSam = m.count("progress.epoch_sam_steps");
        p.epochSkipped = m.count("progress.epoch_skipped_steps");
        p.epochImages = m.count("progress.epoch_images");
        p.lossImages = m.count("progress.epoch_loss_images");
        p.correct = m.count("progress.epoch_correct");
        p.epochTrainNanos = m.count("progress.epoch_train_nanos");
        p.lossSum = m.real("progress.epoch_loss_sum", false);
        p.lr = m.real("progress.lr", true);
        p.divergenceRun = m.count("progress.divergence_run");
        if (p.samSteps + p.skippedSteps > p.step || p.epochSteps > p.step) throw m.bad("progress.step", "is smaller than the steps it counts");
        return p;
    }

    /** Typed access to a checkpoint's metadata with errors naming the file and the key. */
    record Meta(SafeTensors.Contents c) {
        FileFormatException bad(String key, String problem) {
            return new FileFormatException(c.path().toString(), "metadata \"" + key + "\" " + problem);
        }

        long count(String key) {
            String v = c.meta(key);
            try {
                long x = Long.parseLong(v);
                if (x < 0) throw bad(key, "must be >= 0, got " + v);
                return x;
            } catch (NumberFormatException e) {
                throw bad(key, "is not an integer: '" + v + "'");
            }
        }

        /** A double; NaN and infinities only where {@code nonFiniteOk} (e.g. no test accuracy before the first epoch). */
        double real(String key, boolean nonFiniteOk) {
            String v = c.meta(key);
            double x;
            try {
                x = Double.parseDouble(v);
            } catch (NumberFormatException e) {
                throw bad(key, "is not a number: '" + v + "'");
            }
            if (!nonFiniteOk && !Double.isFinite(x)) throw bad(key, "must be finite, got " + v);
            return x;
        }
    }
}
