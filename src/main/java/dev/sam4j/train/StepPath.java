package dev.sam4j.train;

import dev.sam4j.backend.Buffer;
import dev.sam4j.backend.DeviceStepGraph;
import dev.sam4j.data.BatchLoader;
import dev.sam4j.data.Normalization;
import dev.sam4j.nn.Model;
import dev.sam4j.optim.LrSchedule;
import dev.sam4j.optim.Sgd;
import dev.sam4j.optim.sam.Decision;
import dev.sam4j.optim.sam.DeviceDecidedStep;
import dev.sam4j.optim.sam.SamOptimizer;
import java.nio.file.Path;
import java.util.List;

/**
 * What differs between the step paths inside {@link Trainer#run}'s one loop: how a step runs and when its record is
 * known. The loop, the batches and the checkpoints are the trainer's, the accounting {@link StepAccounting}'s.
 * Another path (data-parallel, another precision) is another implementation.
 */
interface StepPath {
    /** A segment of steps starts (epoch start, after a mid-epoch checkpoint). */
    void startSegment(Progress p);

    /** Runs or queues step {@code p.step} on the batch in place ({@code batch}: the loader's, to load first; or null). */
    void step(Progress p, int epoch, BatchLoader.Batch batch, int n, long total, double lr);

    /** Accounts the segment's steps whose records are not yet known (before a checkpoint, at the segment's end). */
    void drain(Progress p, int epoch, LrSchedule schedule, long total);

    /**
     * Whether every step takes a full batch (the last short batch of an epoch dropped): a graph has one batch size,
     * and the host drops it too unless --keep-last-batch (a short batch's {@code s_t} is not comparable).
     */
    boolean fullBatchesOnly();

    /** Whether the path counts pass-1 hits, for the training accuracy (the graph paths would have to read logits back). */
    boolean countsTrainAccuracy();

    /**
     * Writes the checkpoint of the state after {@code p.step} steps: the model (with the input normalisation it is
     * trained with), the optimizer's and the path's own state.
     */
    void save(Path file, TrainConfig config, Model model, Normalization norm, Progress p);

    /** Restores a checkpoint that {@link #save} of the same kind of path wrote; the file's error says which kind otherwise. */
    Progress restore(Path file, TrainConfig config, Model model);

    /** The host-driven step ({@link SamOptimizer}): each step's record is known when it returns. */
    final class Host implements StepPath {
        private final SamOptimizer optimizer;
        private final Sgd sgd;
        private final BatchClosure closure;
        private final StepAccounting accounting;
        private final boolean fullBatchesOnly;

        /** {@code fullBatchesOnly}: drop the short last batch (the default; {@code --keep-last-batch} keeps it). */
        Host(SamOptimizer optimizer, Sgd sgd, BatchClosure closure, StepAccounting accounting, boolean fullBatchesOnly) {
            this.fullBatchesOnly = fullBatchesOnly;
            this.optimizer = optimizer;
            this.sgd = sgd;
            this.closure = closure;
            this.accounting = accounting;
        }

        @Override public void startSegment(Progress p) {}

        @Override public void step(Progress p, int epoch, BatchLoader.Batch batch, int n, long total, double lr) {
            long t0 = System.nanoTime();
            if (batch != null) closure.load(batch.x(), batch.labels(), n);
            SamOptimizer.StepResult r = optimizer.step(closure, p.step, total, lr);
            long dt = System.nanoTime() - t0;
            p.epochTrainNanos += dt;
            Decision d = r.decision();
            StepRecord rec = new StepRecord(p.step, epoch, r.loss(), r.s(), d.mu(), d.sigma(), d.c(), r.sam(), lr, dt, r.skipped());
            long step = p.step;
            accounting.account(p, rec, n, closure.pass1Correct,
                    () -> accounting.nonFinite(step, epoch, r.loss(), r.s(), r.samLoss(), r.samSumSquares(), ""));
        }

        @Override public void drain(Progress p, int epoch, LrSchedule schedule, long total) {}

        @Override public boolean fullBatchesOnly() { return fullBatchesOnly; }

        @Override public boolean countsTrainAccuracy() { return true; }

        @Override public void save(Path file, TrainConfig config, Model model, Normalization norm, Progress p) {
            Checkpoint.save(file, config, model, norm, sgd, optimizer, p);
        }

        @Override public Progress restore(Path file, TrainConfig config, Model model) {
            return Checkpoint.restore(file, config, model, sgd, optimizer);
        }
    }

    /**
     * The CUDA graph step ({@link DeviceDecidedStep}): steps are queued without waiting, their records written on the
     * device and read back at the segment's end; the segment's time, first launch to read-back, is its steps' time.
     */
    final class Graph implements StepPath {
        private final DeviceDecidedStep deviceStep;
        private final Buffer history;   // [stepsPerEpoch · RECORD_FLOATS] device step records
        private final boolean readback; // the decision read back by the host each step
        private final int batchSize;
        private final StepAccounting accounting;
        private long t0;
        private int from;

        Graph(DeviceDecidedStep deviceStep, Buffer history, boolean readback, int batchSize, StepAccounting accounting) {
            this.deviceStep = deviceStep;
            this.history = history;
            this.readback = readback;
            this.batchSize = batchSize;
            this.accounting = accounting;
        }

        @Override public boolean fullBatchesOnly() { return true; }

        @Override public boolean countsTrainAccuracy() { return false; }

        @Override public void save(Path file, TrainConfig config, Model model, Normalization norm, Progress p) {
            Checkpoint.save(file, config, model, norm, deviceStep, p);
        }

        @Override public Progress restore(Path file, TrainConfig config, Model model) {
            return Checkpoint.restore(file, config, model, deviceStep);
        }

        @Override public void startSegment(Progress p) {
            t0 = System.nanoTime();
            from = (int) p.epochSteps;
        }

        @Override public void step(Progress p, int epoch, BatchLoader.Batch batch, int n, long total, double lr) {
            if (readback) deviceStep.stepHostDecided(); else deviceStep.step();
            deviceStep.recordStateTo(history, (int) p.epochSteps);
        }

        /**
         * Reads back the device step records of slots {@code [from, p.epochSteps)} (one synchronisation: every queued
         * step has finished when it returns) and accounts them; the segment's time, from its start to here, is added
         * to the epoch's training time.
         */
        @Override public void drain(Progress p, int epoch, LrSchedule schedule, long total) {
            int count = (int) p.epochSteps - from;
            long first = p.step - count;
            List<DeviceStepGraph.State> states = deviceStep.readHistory(history, from, count);
            long dt = System.nanoTime() - t0;
            p.epochTrainNanos += dt;
            long perStep = count == 0 ? 0 : dt / count;
            for (int i = 0; i < states.size(); i++) {
                DeviceStepGraph.State st = states.get(i);
                StepRecord rec = new StepRecord(first + i, epoch, st.loss(), st.s(), st.mu(), st.sigma(),
                        st.c(), st.sam(), schedule.lr(first + i, total), perStep, st.skipped());
                // A skipped step: the device already skipped its update, and the later steps of the epoch ran on.
                long faulty = first + i, last = p.step - 1;
                accounting.account(p, rec, batchSize, 0, () -> {
                    // The GPU ran every queued step: those after the faulty one trained on, and are not saved.
                    String after = last == faulty ? "" : " and had already run the queued steps " + (faulty + 1)
                            + (last > faulty + 1 ? " to " + last : "") + " after it when the host read the step records back";
                    return accounting.nonFinite(faulty, epoch, st.loss(), st.s(), st.samLoss(), st.samSumSquares(),
                            " The GPU skipped step " + faulty + "'s update" + after + "; the weights now on the GPU are not saved.");
                });
            }
        }
    }
}
