package dev.sam4j.train;

import dev.sam4j.backend.Backend;
import dev.sam4j.backend.Backends;
import dev.sam4j.backend.Buffer;
import dev.sam4j.backend.InputPipeline;
import dev.sam4j.backend.DeviceStepGraph;
import dev.sam4j.data.Augment;
import dev.sam4j.data.BatchLoader;
import dev.sam4j.data.Dataset;
import dev.sam4j.data.Normalization;
import dev.sam4j.io.FileFormatException;
import dev.sam4j.nn.Layer;
import dev.sam4j.nn.Mode;
import dev.sam4j.nn.Model;
import dev.sam4j.nn.SoftmaxCrossEntropy;
import dev.sam4j.nn.models.Models;
import dev.sam4j.optim.LrSchedule;
import dev.sam4j.optim.Sgd;
import dev.sam4j.optim.sam.DeviceDecidedStep;
import dev.sam4j.optim.sam.Method;
import dev.sam4j.optim.sam.SamOptimizer;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/**
 * Runs a training run from a {@link TrainConfig}: resolves the data, chooses the backend, builds the
 * model and optimizer, then loops over epochs and steps, evaluating on the test set after each epoch
 * and reporting everything to {@link TrainListener}s (which write the run directory and print).
 *
 * <p>A step: upload the batch, forward in {@link Mode#TRAIN}, softmax cross-entropy forward+backward,
 * model backward (writes the whole gradient arena), {@code s = ‖g‖²} over the arena, SGD update.
 *
 * <p>Faults and interruptions: with a run directory, the host-driven step writes a {@link Checkpoint} at
 * every epoch end and every {@code --checkpoint-every} steps, and {@link #resume} continues from one
 * bit-identically; a non-finite loss or {@code ‖g‖²} skips the step or stops the run
 * ({@code --on-nonfinite}); a loss above {@code --divergence-loss} for {@code --divergence-steps}
 * consecutive steps stops it, and no checkpoint is written while the loss is above the threshold, so the
 * last one predates the divergence; {@link #requestStop()} ends the run after the current step with a
 * checkpoint. The CUDA graph steps checkpoint too, but only where the host already waits for the device:
 * they queue steps without synchronising and read the step records back at the end of each epoch, and
 * also every {@code --checkpoint-every} steps and when a stop is requested (the launch loop stops queueing,
 * the queued steps finish, the records are read back, and the checkpoint holds exactly the steps counted).
 * Their checkpoint adds the device step's own counters and statistic ({@link DeviceStepGraph.CarriedState}); it
 * resumes on a graph path only, as a host-step checkpoint resumes on the host step only. They skip a step
 * whose loss or squared gradient norm, of either pass, is non-finite on the device itself (the decide kernel and
 * the second-pass check set a flag that the update kernel reads), and the host learns of it when it reads the
 * records back: it counts the skipped steps, and with {@code stop} ends the run there, naming the skipped step,
 * the queued steps the GPU ran after it (not saved) and the last checkpoint.
 */
public final class Trainer implements AutoCloseable {
    /** Pinned staging slots of the CUDA input pipeline: enough for the loader to stay a couple of steps ahead. */
    private static final int INPUT_SLOTS = 3;
    private final TrainConfig config;
    private final List<TrainListener> listeners = new ArrayList<>();
    private final Backend backend;
    private final String backendReason;
    private final Dataset train;
    private final Dataset test;
    private final String dataDescription;
    private final Model model;
    private final SoftmaxCrossEntropy loss;
    private final Sgd sgd;
    private final SamOptimizer optimizer;      // the host-driven step; null on the CUDA graph paths
    private dev.sam4j.parallel.NcclCollective owned;   // the NCCL communicator made on this rank's backend, or null
    private final DeviceDecidedStep deviceStep; // the CUDA graph step, or null
    private final String stepPath;
    private final Normalization normalization;
    private final boolean augment;
    private final int maxBatch;
    private final Buffer xBuf;      // [maxBatch, C, H, W]
    private final Buffer labelBuf;  // [maxBatch] class indices as floats
    private final float[] logitsHost; // [maxBatch, classes]
    private final Path checkpointFile;   // RUN_DIR/checkpoint.safetensors, or null (no run directory)
    private volatile boolean stopRequested;
    private Progress resumed;            // set by resume()
    private final Path algorithmsFrom;   // the checkpoint whose cuDNN algorithms this trainer took, or null
    private final StepAccounting accounting;
    private final BatchClosure closure;         // the host step's batch, or null on the graph paths
    private final StepPath path;                // what the step paths do differently
    private final ReplicatedStep replicated;    // this rank's data-parallel step (more than one rank), else null

    public Trainer(TrainConfig config) { this(config, null); }

    /**
     * A trainer that continues the run whose checkpoint is {@code resumeFrom} (null: a fresh run), as
     * {@link #resume} does; with {@code --deterministic} on CUDA it also takes the cuDNN convolution algorithms
     * the checkpoint recorded, which must be known before the model is bound (its workspace and any captured
     * step graph are made for them).
     */
    public Trainer(TrainConfig config, Path resumeFrom) { this(config, resumeFrom, (dev.sam4j.parallel.Collective) null); }

    /**
     * Rank {@code collective.rank()} of a data-parallel run ({@link LocalRanks}): its shard of every global batch, the
     * gradient averaged over the ranks ({@link ReplicatedStep}). Null, or a collective of one rank, is the single-rank
     * trainer, exactly. Every rank is built with the same configuration; only rank 0 should get listeners.
     */
    public Trainer(TrainConfig config, Path resumeFrom, dev.sam4j.parallel.Collective collective) {
        this(config, resumeFrom, collective == null ? null : backend -> collective);
    }

    /**
     * Rank {@code r} of a data-parallel run whose collective depends on the backend: {@code join} is called once, with
     * this rank's backend, before anything is allocated for the step (on CUDA, {@code NcclCollective.join} over the
     * job's TCP group). A {@link dev.sam4j.parallel.NcclCollective} it returns is this trainer's, closed before the
     * backend, and taken even with one rank (to measure NCCL against the single-GPU step); any other collective stays
     * its caller's, and one of one rank is the single-rank trainer, exactly.
     */
    public Trainer(TrainConfig config, Path resumeFrom, java.util.function.Function<Backend, dev.sam4j.parallel.Collective> join) {
        this.config = config;
        TrainingData data = TrainingData.load(config);
        this.train = data.train();
        this.test = data.test();
        this.dataDescription = data.description();
        this.augment = switch (config.augment()) {
            case "on" -> true;
            case "off" -> false;
            default -> train.exampleShape().dim(1) == 32 && train.exampleShape().dim(2) == 32;
        };
        this.normalization = Normalization.fit(train);
        // The network first: whether it uses convolution, pooling or batch norm decides whether the GPU needs cuDNN.
        Layer net = Models.create(config.model(), train.exampleShape(), train.classes());
        Backends.Choice choice = Backends.choose(config.device(), config.threads(),
                new Backends.Needs(net.usesSpatialOps() ? "model " + config.model() : null, config.deterministic(), config.precision(),
                        config.imageLayout()));
        this.backend = choice.backend();
        dev.sam4j.parallel.Collective collective = null;
        try {
            collective = join == null ? null : join.apply(backend);
            if (collective instanceof dev.sam4j.parallel.NcclCollective n) owned = n;
            else if (collective != null && collective.worldSize() == 1) collective = null;
            if (!backend.supports(config.precision())) {
                throw new IllegalArgumentException("--precision " + config.precision() + ": " + backend.unsupportedReason(config.precision()));
            }
            String recorded = resumeFrom != null && config.deterministic() && backend.algorithmChoices() != null
                    ? Checkpoint.recordedAlgorithms(resumeFrom) : null;
            if (recorded != null) {
                try {
                    backend.algorithmChoices().reuse(recorded);
                } catch (IllegalArgumentException e) {
                    throw new FileFormatException(resumeFrom.toString(), "metadata \"" + Checkpoint.CUDNN_ALGORITHMS + "\": " + e.getMessage(), e);
                }
            }
            this.backendReason = choice.reason();
            this.maxBatch = Math.max(config.batchSize(), config.evalBatchSize());
            this.model = new Model(net, train.exampleShape(), train.classes(), backend, maxBatch, config.seed(), config.precision());
            if (config.initFrom() != null) Checkpoint.loadWeights(config.initFrom(), model, config.model());
            this.loss = new SoftmaxCrossEntropy(backend, train.classes(), maxBatch);
            this.sgd = new Sgd(backend, model.paramCount(), config.momentum(), config.weightDecay(), config.nesterov());
            Method method = Method.of(config.optimizer(), config.hyper());
            this.xBuf = backend.allocate((long) maxBatch * train.exampleSize());
            this.labelBuf = backend.allocate(maxBatch);
            this.logitsHost = new float[maxBatch * train.classes()];
            this.checkpointFile = config.out() != null ? config.out().resolve(Checkpoint.FILE) : null;
            this.accounting = new StepAccounting(config, listeners, checkpointFile);
            StepPaths.Built built = StepPaths.create(config, train, backend, model, loss, sgd, method, xBuf, labelBuf,
                    logitsHost, accounting, collective);
            this.path = built.path();
            this.replicated = path instanceof ReplicatedStep r ? r : null;
            if (replicated != null) replicated.onStop(() -> stopRequested = true);
            this.optimizer = built.optimizer();
            this.deviceStep = built.deviceStep();
            this.closure = built.closure();
            this.stepPath = built.description();
            if (config.deterministic() && backend.algorithmChoices() != null && net.usesSpatialOps()) {
                StepPaths.chooseEveryAlgorithm(config, train, test, built, method, model, xBuf);
            }
            this.algorithmsFrom = recorded != null ? resumeFrom : null;
        } catch (RuntimeException | Error e) {
            // Native memory (CUDA) must not outlive a failed construction: nobody else can close it.
            try {
                if (owned != null) owned.abort(e);
            } catch (RuntimeException suppressed) {
                e.addSuppressed(suppressed);
            }
            try {
                backend.close();
            } catch (RuntimeException suppressed) {
                e.addSuppressed(suppressed);
            }
            throw e;
        }
        if (resumeFrom != null) {
            try {
                resume(resumeFrom);
            } catch (RuntimeException | Error e) {
                try {
                    close();
                } catch (RuntimeException suppressed) {
                    e.addSuppressed(suppressed);
                }
                throw e;
            }
        }
    }

    public Trainer addListener(TrainListener l) { listeners.add(l); return this; }

    public Model model() { return model; }
    public SamOptimizer optimizer() { return optimizer; }
    public Backend backend() { return backend; }
    public String dataDescription() { return dataDescription; }

    /**
     * Steps per epoch: full batches only (a graph has one batch size, and a partial batch's {@code s_t} is not
     * comparable with a full one's, so the host drops it too), or every batch on the host with --keep-last-batch.
     */
    public long stepsPerEpoch() { return StepPaths.stepsPerEpoch(config, train.size(), path.fullBatchesOnly()); }

    public long totalSteps() { return StepPaths.totalSteps(config, train.size(), path.fullBatchesOnly()); }

    /** Which step implementation runs ({@code host-driven step}, or one of the CUDA graph paths). */
    public String stepPath() { return stepPath; }

    /**
     * Asks the run to stop after the current step, write a checkpoint and return a summary marked
     * interrupted (Ctrl-C). Safe to call from any thread.
     */
    public void requestStop() {
        if (replicated != null) replicated.requestStop(); else stopRequested = true;   // ranks stop after the same step
    }

    /**
     * Continues the run whose checkpoint is {@code file} (call before {@link #run()}): weights, running
     * statistics, momentum, policy state and position are restored, so the rest of the run is the same as
     * if it had not stopped. The checkpoint must come from the same kind of step (host-driven, or one of the
     * CUDA graph paths); the file's error says which to use otherwise.
     */
    public Trainer resume(Path file) {
        if (algorithmsFrom == null && config.deterministic() && backend.algorithmChoices() != null
                && Checkpoint.recordedAlgorithms(file) != null) {
            // Too late to take them: the workspace and the step graph were made for the algorithms chosen afresh.
            throw new IllegalStateException("--deterministic: the checkpoint " + file + " records cuDNN algorithms, which must be "
                    + "taken before the model is built: resume with new Trainer(config, checkpoint)");
        }
        resumed = path.restore(file, config, model);
        accounting.checkpointed(resumed.step);
        return this;
    }

    private Progress progress;           // the state run() last reached (or the resumed one); null before either
    private volatile boolean running;    // inside run(), or run() ended in an exception

    /**
     * The input normalisation this run trains with: per-channel mean and standard deviation fitted on the
     * training set ({@link Normalization#fit}). Checkpoints and {@link #saveModel} files store it, so that
     * {@link SavedModel} applies the model to new images as it was trained.
     */
    public Normalization normalization() { return normalization; }

    /**
     * Writes the model's weights, running statistics, name, input shape and {@link #normalization()} to the
     * safetensors file {@code file} (PyTorch names, {@code format=pt}), for {@link SavedModel#load} or PyTorch.
     */
    public void saveModel(Path file) { SavedModel.save(file, config.model(), model, normalization); }

    /**
     * Writes the full training state (what {@code RUN_DIR/checkpoint.safetensors} holds: weights, momentum, the
     * optimizer's state, the run's position) to {@code file}, from which {@code new Trainer(config, file)} or
     * {@link #resume} continues bit-identically. Call it before {@link #run()} or after it returned: during a run
     * the state is between steps only where the trainer itself checkpoints.
     */
    public void saveCheckpoint(Path file) {
        if (running) throw new IllegalStateException("Trainer.saveCheckpoint: a run is in progress (or ended in an exception)");
        path.save(file, config, model, normalization, progress != null ? progress : resumed != null ? resumed : new Progress());
    }

    /** Where checkpoints go ({@code RUN_DIR/checkpoint.safetensors}), or null when this run writes none. */
    public Path checkpointFile() { return checkpointFile; }

    public RunSummary run() {
        try {
            return runSteps();
        } catch (RuntimeException e) {
            // On the graph step a failed collective surfaces at whatever next waits for the device (an input copy, the
            // read-back): the ranks' links then say which rank ended the job.
            throw replicated == null ? e : replicated.explain(e);
        }
    }

    private RunSummary runSteps() {
        long total = totalSteps();
        LrSchedule schedule = LrSchedule.parse(config.schedule(), config.lr(), config.warmupSteps(), total);
        Progress p = resumed != null ? resumed : new Progress();
        progress = p;
        running = true;
        RunInfo info = new RunInfo(config, dataDescription, backend.name(), backend.describe(), backendReason + "; " + stepPath
                + algorithmsNote(),
                config.model(), model.paramCount(), stepsPerEpoch(), total, train.size(), test.size(),
                resumed == null ? null : new RunInfo.ResumePoint(p.step, p.epoch));
        listeners.forEach(l -> l.onRunStart(info));

        long startNanos = System.nanoTime();
        double wallBefore = p.wallSeconds;
        boolean interrupted = false, midEpoch = resumed != null;

        int es = train.exampleSize();
        boolean synthetic = config.input().equals("synthetic");
        try (BatchLoader loader = BatchLoader.builder(train).batchSize(config.batchSize()).shuffle(config.shuffle())
                .augment(augment ? Augment.cropFlip(4) : Augment.none()).normalization(normalization).seed(config.seed())
                .dropLast(path.fullBatchesOnly()).prefetch(synthetic ? 0 : 2)
                .shard(replicated == null ? 0 : replicated.rank(), replicated == null ? 1 : replicated.worldSize()).build();
             InputFeeder feeder = deviceStep != null && !synthetic ? new InputFeeder(loader,
                     new InputPipeline(backend.inputTransfer(), INPUT_SLOTS, (long) config.batchSize() * es, config.batchSize()), es)
                     : null) {
            InputFeeder.Synthetic syn = synthetic ? InputFeeder.Synthetic.firstBatch(loader, es) : null;
            for (int epoch = p.epoch; epoch <= config.epochs() && p.step < total; epoch++) {
                if (synthetic) syn.put(backend, xBuf, labelBuf, closure, es);
                if (!midEpoch) p.startEpoch(epoch);
                midEpoch = false;
                long epochStart = System.nanoTime();
                // One loop for every step path: the batch comes from the loader, from the input pipeline (graph
                // paths) or is the synthetic one already in place; the path runs or queues the step, and every
                // step is accounted once its record is known (at once on the host, at a read-back on the graph).
                // The graph paths' host only queues work here: the batch's copy (overlapping the previous step) and
                // one graph launch per step. Nothing waits for the GPU until the records are read back, at the end of
                // the epoch, at a stop request, or before a --checkpoint-every checkpoint.
                if (feeder != null) feeder.start(epoch - 1, (int) p.epochSteps);
                int firstStep = (int) Math.min(p.epochSteps, loader.stepsPerEpoch());
                path.startSegment(p);
                boolean drained = false;
                try (BatchLoader.Epoch it = synthetic || feeder != null ? null : loader.epoch(epoch - 1, firstStep)) {
                    while (p.step < total && !stopRequested) {
                        BatchLoader.Batch batch = null;
                        int n;
                        if (synthetic) {
                            if (p.epochSteps >= stepsPerEpoch()) break;
                            n = syn.n();
                        } else if (feeder != null) {
                            InputPipeline.Slot slot = feeder.next();
                            if (slot == null) break;
                            n = slot.n();   // read first: once submitted, the slot is the producer's again
                            feeder.submit(slot, xBuf, labelBuf);
                        } else {
                            if ((batch = it.next()) == null) break;
                            n = batch.n();
                        }
                        p.lr = schedule.lr(p.step, total);
                        path.step(p, epoch, batch, n, total, p.lr);
                        drained = false;
                        p.epochImages += n;
                        p.epochSteps++;
                        p.step++;
                        if (config.checkpointEvery() > 0 && p.step % config.checkpointEvery() == 0 && p.step < total
                                && p.epochSteps < stepsPerEpoch()) {
                            path.drain(p, epoch, schedule, total);
                            drained = true;
                            // Not while the loss is above the divergence threshold, so the last one predates a divergence.
                            if (!stopRequested && p.divergenceRun == 0) saveCheckpoint(p, wallBefore, startNanos);
                            path.startSegment(p);
                        }
                    }
                    if (!drained) path.drain(p, epoch, schedule, total);
                } finally {
                    if (feeder != null) feeder.finishEpoch();
                }
                if (stopRequested) {
                    interrupted = true;
                    break;
                }
                p.images += p.epochImages;
                p.trainNanos += p.epochTrainNanos;
                Evaluation eval = evaluate();
                p.lastTestLoss = eval.loss();
                p.lastTestAcc = eval.accuracy();
                p.lastTrainLoss = p.lossSum / Math.max(1, p.lossImages);
                p.best = Math.max(p.best, p.lastTestAcc);
                double seconds = (System.nanoTime() - epochStart) / 1e9;
                // The graph paths do not count pass-1 hits on the host (that would read the logits back every step).
                double trainAcc = !path.countsTrainAccuracy() ? Double.NaN : p.correct / (double) Math.max(1, p.lossImages);
                EpochRecord er = new EpochRecord(epoch, p.epochSteps, p.lastTrainLoss, trainAcc,
                        p.lastTestLoss, p.lastTestAcc, p.epochSteps == 0 ? 0 : p.epochSam / (double) p.epochSteps,
                        p.epochImages / Math.max(1e-9, p.epochTrainNanos / 1e9), seconds, p.lr, p.epochSkipped);
                p.samSteps += p.epochSam;
                for (TrainListener l : listeners) l.onEpoch(er);
                p.startEpoch(epoch + 1);
                if (p.divergenceRun == 0) saveCheckpoint(p, wallBefore, startNanos);
            }
            if (interrupted) saveCheckpoint(p, wallBefore, startNanos);
        }
        double wall = wallBefore + (System.nanoTime() - startNanos) / 1e9;
        long samSteps = p.samSteps + p.epochSam, images = p.images + p.epochImages, trainNanos = p.trainNanos + p.epochTrainNanos;
        RunSummary summary = new RunSummary(p.lastTestAcc, p.best, p.lastTestLoss, p.lastTrainLoss,
                p.step == 0 ? 0 : samSteps / (double) p.step, p.step, samSteps, wall, images / Math.max(1e-9, trainNanos / 1e9),
                backend.name(), config.model(), config.optimizer(), config.seed(), model.paramCount(), dataDescription,
                p.skippedSteps, interrupted, config.precision().label(), backend.imageLayout().label());
        listeners.forEach(l -> l.onRunEnd(summary));
        running = false;
        return summary;
    }

    /** Where the cuDNN algorithms came from, when a resumed run took them from its checkpoint. */
    private String algorithmsNote() {
        if (algorithmsFrom == null) return "";
        java.util.Set<String> fresh = backend.algorithmChoices().notReused();
        return "; cuDNN convolution algorithms as recorded in the checkpoint"
                + (fresh.isEmpty() ? "" : ", except for " + fresh + ", which cuDNN does not offer here (chosen afresh)");
    }

    /** Writes a checkpoint of the state after {@code p.step} steps (with a run directory only). */
    private void saveCheckpoint(Progress p, double wallBefore, long startNanos) {
        if (checkpointFile == null) return;
        p.wallSeconds = wallBefore + (System.nanoTime() - startNanos) / 1e9;
        for (TrainListener l : listeners) l.beforeCheckpoint(p.step);
        path.save(checkpointFile, config, model, normalization, p);
        accounting.checkpointed(p.step);
    }

    /** Test loss and accuracy with BatchNorm in {@link Mode#EVAL}, in order, without augmentation. */
    public Evaluation evaluate() {
        if (replicated != null) {
            return replicated.evaluate(backend, loss, test, config.evalBatchSize(), normalization, xBuf, labelBuf, logitsHost);
        }
        return Evaluator.testLossAndAccuracy(backend, model, loss, test, config.evalBatchSize(), normalization, xBuf, labelBuf, logitsHost);
    }

    /** Releases the step graph, the model's buffers and the backend, each even when an earlier one fails. */
    @Override public void close() {
        try {
            if (deviceStep != null) deviceStep.close();
        } finally {
            try {
                model.close();
            } finally {
                try {
                    if (owned != null) owned.close();   // the communicator uses the backend's device and stream
                } finally {
                    backend.close();
                }
            }
        }
    }
}
