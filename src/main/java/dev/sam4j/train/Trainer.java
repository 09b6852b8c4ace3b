package dev.sam4j.train;

import dev.sam4j.backend.Backend;
import dev.sam4j.backend.Backends;
import dev.sam4j.backend.Buffer;
import dev.sam4j.backend.cuda.CudaBackend;
import dev.sam4j.backend.cuda.StepGraph;
import dev.sam4j.data.Augment;
import dev.sam4j.data.BatchLoader;
import dev.sam4j.data.DataSpec;
import dev.sam4j.data.DataSplit;
import dev.sam4j.data.Dataset;
import dev.sam4j.data.LabelNoise;
import dev.sam4j.data.Normalization;
import dev.sam4j.data.Subset;
import dev.sam4j.nn.Mode;
import dev.sam4j.nn.Model;
import dev.sam4j.nn.SoftmaxCrossEntropy;
import dev.sam4j.nn.models.Models;
import dev.sam4j.optim.LrSchedule;
import dev.sam4j.optim.Sgd;
import dev.sam4j.optim.sam.Decision;
import dev.sam4j.optim.sam.DeviceDecidedStep;
import dev.sam4j.optim.sam.GradientClosure;
import dev.sam4j.optim.sam.Method;
import dev.sam4j.optim.sam.Perturbation;
import dev.sam4j.optim.sam.SamOptimizer;
import java.util.ArrayList;
import java.util.List;

/**
 * Runs a training run from a {@link TrainConfig}: resolves the data, chooses the backend, builds the
 * model and optimizer, then loops over epochs and steps, evaluating on the test set after each epoch
 * and reporting everything to {@link TrainListener}s (which write the run directory and print).
 *
 * <p>A step: upload the batch, forward in {@link Mode#TRAIN}, softmax cross-entropy forward+backward,
 * model backward (writes the whole gradient arena), {@code s = ‖g‖²} over the arena, SGD update.
 */
public final class Trainer implements AutoCloseable {
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
    private final DeviceDecidedStep deviceStep; // the CUDA graph step, or null
    private final boolean readback;             // device step with the decision read back each step
    private final Buffer history;               // [stepsPerEpoch · RECORD_FLOATS] device step records, or null
    private final String stepPath;
    private final Normalization normalization;
    private final boolean augment;
    private final int maxBatch;
    private final Buffer xBuf;      // [maxBatch, C, H, W]
    private final Buffer labelBuf;  // [maxBatch] class indices as floats
    private final Buffer subsetXBuf;     // [maxBatch, C, H, W] ESAM's selected examples (pass 2 only)
    private final Buffer subsetLabelBuf; // [maxBatch]
    private final float[] logitsHost; // [maxBatch, classes]

    public Trainer(TrainConfig config) {
        this.config = config;
        DataSplit data = DataSpec.parse(config.data()).load();
        Dataset tr = data.train();
        String desc = data.description();
        if (config.trainSubset() > 0) {
            // Before the label noise, so the noise rate is the stated one on the examples actually trained on.
            if (config.trainSubset() > tr.size()) {
                throw new IllegalArgumentException("--train-subset " + config.trainSubset() + ": larger than the training set ("
                        + tr.size() + " examples)");
            }
            tr = Subset.choose(tr, config.trainSubset(), config.seed());
            desc += "; training on a seeded random subset of " + config.trainSubset() + " examples";
        }
        if (config.labelNoise() > 0) {
            LabelNoise.Result noisy = LabelNoise.apply(tr, config.labelNoise(), config.seed() ^ 0x6C6162656CL);
            tr = noisy.dataset();
            desc += String.format(java.util.Locale.ROOT,
                    "; symmetric label noise %.2f: %d labels redrawn uniformly from all classes, %.4f of training labels changed",
                    config.labelNoise(), noisy.resampled(), noisy.changedFraction());
        }
        this.train = tr;
        this.test = data.test();
        this.dataDescription = desc;
        if (!train.exampleShape().equals(test.exampleShape()) || train.classes() != test.classes()) {
            throw new IllegalArgumentException("--data " + config.data() + ": train and test sets disagree on shape or classes");
        }
        this.augment = switch (config.augment()) {
            case "on" -> true;
            case "off" -> false;
            default -> train.exampleShape().dim(1) == 32 && train.exampleShape().dim(2) == 32;
        };
        this.normalization = Normalization.fit(train);
        Backends.Choice choice = Backends.choose(config.device(), config.threads());
        this.backend = choice.backend();
        this.backendReason = choice.reason();
        this.maxBatch = Math.max(config.batchSize(), config.evalBatchSize());
        this.model = new Model(Models.create(config.model(), train.exampleShape(), train.classes()), train.exampleShape(),
                train.classes(), backend, maxBatch, config.seed());
        this.loss = new SoftmaxCrossEntropy(backend, train.classes(), maxBatch);
        this.sgd = new Sgd(backend, model.paramCount(), config.momentum(), config.weightDecay(), config.nesterov());
        Method method = Method.of(config.optimizer(), config.hyper());
        this.xBuf = backend.allocate((long) maxBatch * train.exampleSize());
        this.labelBuf = backend.allocate(maxBatch);
        boolean graph = backend instanceof CudaBackend && !config.cudaStep().equals("host");
        if (graph && !DeviceDecidedStep.supports(method)) {
            throw new IllegalArgumentException("--optimizer " + method.name() + " (ESAM or per-tensor LookSAM) needs --cuda-step host on CUDA");
        }
        if (graph && train.size() < config.batchSize()) {
            throw new IllegalArgumentException("--batch-size " + config.batchSize() + " is larger than the training set ("
                    + train.size() + "); the CUDA graph step needs full batches");
        }
        this.readback = graph && config.cudaStep().equals("readback");
        if (graph) {
            this.optimizer = null;
            this.deviceStep = new DeviceDecidedStep(model, xBuf, labelBuf, config.batchSize(), method,
                    LrSchedule.parse(config.schedule(), config.lr(), config.warmupSteps(), totalSteps(true)), totalSteps(true),
                    config.momentum(), config.weightDecay(), config.nesterov(), config.seed());
            this.history = backend.allocate((long) stepsPerEpoch(true) * StepGraph.RECORD_FLOATS);
            this.stepPath = readback ? "CUDA step graph, SAM decision read back by the host each step"
                    : "CUDA step graph, SAM branch decided on the GPU (no host synchronisation in the step)";
        } else {
            this.optimizer = new SamOptimizer(backend, model.paramLayout(), model.params(), model.grads(), sgd, method, config.seed());
            this.deviceStep = null;
            this.history = null;
            this.stepPath = "host-driven step";
        }
        boolean sds = method.perturbation() instanceof Perturbation.Esam e && e.sds() && optimizer != null;
        this.subsetXBuf = sds ? backend.allocate((long) config.batchSize() * train.exampleSize()) : null;
        this.subsetLabelBuf = sds ? backend.allocate(config.batchSize()) : null;
        this.logitsHost = new float[maxBatch * train.classes()];
    }

    public Trainer addListener(TrainListener l) { listeners.add(l); return this; }

    public Model model() { return model; }
    public SamOptimizer optimizer() { return optimizer; }
    public Backend backend() { return backend; }
    public String dataDescription() { return dataDescription; }

    /** Steps per epoch: every batch, or only full batches on the CUDA graph paths (a graph has one batch size). */
    public long stepsPerEpoch() { return stepsPerEpoch(deviceStep != null); }

    private long stepsPerEpoch(boolean fullBatchesOnly) {
        return fullBatchesOnly ? train.size() / config.batchSize() : (train.size() + config.batchSize() - 1) / config.batchSize();
    }

    public long totalSteps() { return totalSteps(deviceStep != null); }

    private long totalSteps(boolean fullBatchesOnly) {
        long t = stepsPerEpoch(fullBatchesOnly) * config.epochs();
        return config.maxSteps() > 0 ? Math.min(t, config.maxSteps()) : t;
    }

    /** Which step implementation runs ({@code host-driven step}, or one of the CUDA graph paths). */
    public String stepPath() { return stepPath; }

    public RunSummary run() {
        long total = totalSteps();
        LrSchedule schedule = LrSchedule.parse(config.schedule(), config.lr(), config.warmupSteps(), total);
        RunInfo info = new RunInfo(config, dataDescription, backend.name(), backend.describe(), backendReason + "; " + stepPath,
                config.model(), model.paramCount(), stepsPerEpoch(), total, train.size(), test.size());
        listeners.forEach(l -> l.onRunStart(info));

        long startNanos = System.nanoTime();
        long trainNanos = 0; // compute time of steps only (no data loading, no evaluation)
        long step = 0, samSteps = 0, images = 0;
        double best = Double.NEGATIVE_INFINITY, lastTestAcc = Double.NaN, lastTestLoss = Double.NaN, lastTrainLoss = Double.NaN;
        BatchClosure closure = new BatchClosure();
        long[] stepNanos = new long[(int) Math.max(1, stepsPerEpoch())]; // wall time per step of the current epoch

        try (BatchLoader loader = BatchLoader.builder(train).batchSize(config.batchSize()).shuffle(config.shuffle())
                .augment(augment ? Augment.cropFlip(4) : Augment.none()).normalization(normalization).seed(config.seed())
                .dropLast(deviceStep != null).prefetch(2).build()) {
            for (int epoch = 1; epoch <= config.epochs() && step < total; epoch++) {
                long epochStart = System.nanoTime();
                long epochSteps = 0, epochSam = 0, epochImages = 0, correct = 0, epochTrainNanos = 0;
                double lossSum = 0, lr = Double.NaN;
                try (BatchLoader.Epoch it = loader.epoch(epoch - 1)) {
                BatchLoader.Batch batch;
                while (step < total && (batch = it.next()) != null) {
                    int n = batch.n();
                    long t0 = System.nanoTime();
                    lr = schedule.lr(step, total);
                    if (deviceStep != null) {
                        // The upload waits for the previous step (its staging buffer is reused), then the whole
                        // step is one graph launch; its record is copied on the device, read back per epoch.
                        backend.upload(batch.x(), 0, xBuf, n * train.exampleSize());
                        backend.upload(batch.labels(), 0, labelBuf, n);
                        if (readback) deviceStep.stepHostDecided(); else deviceStep.step();
                        deviceStep.recordStateTo(history, (int) epochSteps);
                        long dt = System.nanoTime() - t0;
                        epochTrainNanos += dt;
                        stepNanos[(int) epochSteps] = dt;
                    } else {
                        closure.load(batch.x(), batch.labels(), n);
                        SamOptimizer.StepResult r = optimizer.step(closure, step, total, lr);
                        long dt = System.nanoTime() - t0;
                        correct += closure.pass1Correct;
                        epochTrainNanos += dt;
                        Decision d = r.decision();
                        StepRecord rec = new StepRecord(step, epoch, r.loss(), r.s(), d.mu(), d.sigma(), d.c(), r.sam(), lr, dt);
                        for (TrainListener l : listeners) l.onStep(rec);
                        if (r.sam()) epochSam++;
                        lossSum += r.loss() * n;
                    }
                    epochImages += n;
                    epochSteps++;
                    step++;
                }
                }
                if (deviceStep != null) {
                    long first = step - epochSteps;
                    List<StepGraph.State> states = deviceStep.readHistory(history, (int) epochSteps);
                    for (int i = 0; i < states.size(); i++) {
                        StepGraph.State st = states.get(i);
                        StepRecord rec = new StepRecord(first + i, epoch, st.loss(), st.s(), st.mu(), Math.sqrt(st.variance()),
                                st.c(), st.sam(), schedule.lr(first + i, total), stepNanos[i]);
                        for (TrainListener l : listeners) l.onStep(rec);
                        if (st.sam()) epochSam++;
                        lossSum += st.loss() * config.batchSize();
                    }
                }
                images += epochImages;
                trainNanos += epochTrainNanos;
                double[] eval = evaluate();
                lastTestLoss = eval[0];
                lastTestAcc = eval[1];
                lastTrainLoss = lossSum / Math.max(1, epochImages);
                best = Math.max(best, lastTestAcc);
                double seconds = (System.nanoTime() - epochStart) / 1e9;
                // The graph paths do not count pass-1 hits on the host (that would read the logits back every step).
                double trainAcc = deviceStep != null ? Double.NaN : correct / (double) Math.max(1, epochImages);
                EpochRecord er = new EpochRecord(epoch, epochSteps, lastTrainLoss, trainAcc,
                        lastTestLoss, lastTestAcc, epochSteps == 0 ? 0 : epochSam / (double) epochSteps,
                        epochImages / Math.max(1e-9, epochTrainNanos / 1e9), seconds, lr);
                samSteps += epochSam;
                for (TrainListener l : listeners) l.onEpoch(er);
            }
        }
        double wall = (System.nanoTime() - startNanos) / 1e9;
        RunSummary summary = new RunSummary(lastTestAcc, best, lastTestLoss, lastTrainLoss,
                step == 0 ? 0 : samSteps / (double) step, step, samSteps, wall, images / Math.max(1e-9, trainNanos / 1e9),
                backend.name(), config.model(), config.optimizer(), config.seed(), model.paramCount(), dataDescription);
        listeners.forEach(l -> l.onRunEnd(summary));
        return summary;
    }

    /** Test loss and accuracy with BatchNorm in {@link Mode#EVAL}, in order, without augmentation. */
    public double[] evaluate() {
        int classes = test.classes();
        double lossSum = 0;
        long correct = 0;
        try (BatchLoader loader = BatchLoader.forEval(test, config.evalBatchSize(), normalization);
             BatchLoader.Epoch it = loader.epoch(0)) {
            BatchLoader.Batch batch;
            while ((batch = it.next()) != null) {
                int n = batch.n();
                backend.upload(batch.x(), 0, xBuf, n * test.exampleSize());
                backend.upload(batch.labels(), 0, labelBuf, n);
                Buffer logits = model.forward(xBuf, n, Mode.EVAL);
                lossSum += loss.forward(logits, labelBuf, n) * n;
                backend.download(logits, logitsHost, 0, n * classes);
                correct += countCorrect(logitsHost, batch.labels(), n, classes);
            }
        }
        return new double[] {lossSum / test.size(), correct / (double) test.size()};
    }

    /**
     * The current batch as a {@link GradientClosure}: pass 1 also counts correct predictions (for the
     * training accuracy) and keeps the per-example losses that ESAM's data selection compares against.
     */
    private final class BatchClosure implements GradientClosure {
        private float[] hostX;      // the loader's batch, valid for this step
        private float[] hostLabels;
        private int n;
        private float[] subX;       // gathered subset for ESAM-SDS, allocated on first use
        private float[] subLabels;
        long pass1Correct;

        void load(float[] x, float[] labels, int n) {
            this.hostX = x;
            this.hostLabels = labels;
            this.n = n;
            backend.upload(x, 0, xBuf, n * train.exampleSize());
            backend.upload(labels, 0, labelBuf, n);
        }

        @Override public double lossAndGradient(Mode mode) {
            Buffer logits = model.forward(xBuf, n, mode);
            double l = loss.forwardBackward(logits, labelBuf, n);
            if (mode == Mode.TRAIN) {
                backend.download(logits, logitsHost, 0, n * train.classes());
                pass1Correct = countCorrect(logitsHost, hostLabels, n, train.classes());
            }
            model.backward(loss.dLogits(), n);
            return l;
        }

        @Override public boolean supportsSubsets() { return true; }
        @Override public int batchSize() { return n; }
        @Override public float[] lastPerExampleLoss() { return loss.lastLosses(); }

        @Override public float[] perExampleLoss(Mode mode) {
            loss.forward(model.forward(xBuf, n, mode), labelBuf, n);
            return loss.lastLosses();
        }

        @Override public double lossAndGradient(Mode mode, int[] subset) {
            int es = train.exampleSize();
            if (subX == null) { subX = new float[config.batchSize() * es]; subLabels = new float[config.batchSize()]; }
            for (int i = 0; i < subset.length; i++) {
                System.arraycopy(hostX, subset[i] * es, subX, i * es, es);
                subLabels[i] = hostLabels[subset[i]];
            }
            int m = subset.length;
            backend.upload(subX, 0, subsetXBuf, m * es);
            backend.upload(subLabels, 0, subsetLabelBuf, m);
            Buffer logits = model.forward(subsetXBuf, m, mode);
            double l = loss.forwardBackward(logits, subsetLabelBuf, m);
            model.backward(loss.dLogits(), m);
            return l;
        }
    }

    static long countCorrect(float[] logits, float[] labels, int n, int classes) {
        long c = 0;
        for (int i = 0; i < n; i++) {
            int best = 0;
            for (int j = 1; j < classes; j++) if (logits[i * classes + j] > logits[i * classes + best]) best = j;
            if (best == (int) labels[i]) c++;
        }
        return c;
    }

    @Override public void close() {
        if (deviceStep != null) deviceStep.close();
        model.close();
        backend.close();
    }
}
