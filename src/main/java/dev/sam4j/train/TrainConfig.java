package dev.sam4j.train;

import dev.sam4j.data.ArrayData;
import dev.sam4j.data.DataSplit;
import dev.sam4j.data.Dataset;
import dev.sam4j.io.InvalidSettingException;
import dev.sam4j.nn.models.Models;
import dev.sam4j.backend.ImageLayout;
import dev.sam4j.backend.Precision;
import dev.sam4j.optim.sam.Method;
import dev.sam4j.tensor.Shape;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Locale;
import java.util.Map;

/**
 * The full, validated configuration of a training run. Build with {@link #builder()}; {@code build()}
 * rejects nonsense, an unknown model or optimizer included, with an {@link InvalidSettingException} naming the
 * builder method (the command line prints the same problem naming its option). {@link #toMap()} is the resolved configuration
 * written to the run directory.
 */
public record TrainConfig(String data, String model, String optimizer, int epochs, int batchSize, int evalBatchSize,
                          double lr, String schedule, int warmupSteps, double momentum, double weightDecay,
                          boolean nesterov, long seed, double labelNoise, int trainSubset, String augment, String device, int threads,
                          long maxSteps, boolean shuffle, Path out, Method.Hyper hyper, String cudaStep, String input,
                          long checkpointEvery, String onNonFinite, double divergenceLoss, int divergenceSteps, Path initFrom,
                          boolean deterministic, boolean keepLastBatch, int ranks, String samPerturbation, Precision precision,
                          DataSplit inMemory, ImageLayout imageLayout) {

    public static Builder builder() { return new Builder(); }

    public Builder toBuilder() {
        Builder b = new Builder();
        b.data = data; b.model = model; b.optimizer = optimizer; b.epochs = epochs; b.batchSize = batchSize;
        b.evalBatchSize = evalBatchSize; b.lr = lr; b.schedule = schedule; b.warmupSteps = warmupSteps;
        b.momentum = momentum; b.weightDecay = weightDecay; b.nesterov = nesterov; b.seed = seed;
        b.labelNoise = labelNoise; b.trainSubset = trainSubset; b.augment = augment; b.device = device; b.threads = threads;
        b.maxSteps = maxSteps; b.shuffle = shuffle; b.out = out; b.hyper = hyper; b.cudaStep = cudaStep;
        b.input = input;
        b.checkpointEvery = checkpointEvery; b.onNonFinite = onNonFinite; b.divergenceLoss = divergenceLoss;
        b.divergenceSteps = divergenceSteps; b.initFrom = initFrom; b.deterministic = deterministic;
        b.keepLastBatch = keepLastBatch;
        b.ranks = ranks; b.samPerturbation = samPerturbation;
        if (inMemory != null) { b.trainSet = inMemory.train(); b.testSet = inMemory.test(); }
        b.precision = precision;
        b.imageLayout = imageLayout;
        return b;
    }

    public Map<String, Object> toMap() {
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("data", data);
        m.put("model", model);
        m.put("optimizer", optimizer);
        m.put("epochs", epochs);
        m.put("batch_size", batchSize);
        m.put("eval_batch_size", evalBatchSize);
        m.put("lr", lr);
        m.put("schedule", schedule);
        m.put("warmup_steps", warmupSteps);
        m.put("momentum", momentum);
        m.put("weight_decay", weightDecay);
        m.put("nesterov", nesterov);
        m.put("seed", seed);
        m.put("label_noise", labelNoise);
        m.put("train_subset", trainSubset);
        m.put("augment", augment);
        m.put("device", device);
        m.put("threads", threads);
        m.put("max_steps", maxSteps);
        m.put("shuffle", shuffle);
        m.put("out", out == null ? null : out.toString());
        m.put("cuda_step", cudaStep);
        m.put("input", input);
        m.put("rho", hyper.rho());
        m.put("asam_rho", hyper.asamRho());
        m.put("asam_eta", hyper.asamEta());
        m.put("sssam_p", hyper.sssamP());
        m.put("sssam_p_end", hyper.sssamPEnd());
        m.put("looksam_k", hyper.lookSamK());
        m.put("looksam_alpha", hyper.lookSamAlpha());
        m.put("ae_delta", hyper.aeDelta());
        m.put("ae_lambda1", hyper.aeLambda1());
        m.put("ae_lambda2", hyper.aeLambda2());
        m.put("ae_warmup", hyper.aeWarmup());
        m.put("esam_beta", hyper.esamBeta());
        m.put("esam_gamma", hyper.esamGamma());
        m.put("esam_swp", hyper.esamSwp());
        m.put("esam_sds", hyper.esamSds());
        m.put("looksam_per_tensor", hyper.lookSamPerTensor());
        m.put("looksam_max_age", hyper.lookSamMaxAge());
        m.put("msam_rho", hyper.msamRho());
        m.put("checkpoint_every", checkpointEvery);
        m.put("on_nonfinite", onNonFinite);
        m.put("divergence_loss", divergenceLoss);
        m.put("divergence_steps", divergenceSteps);
        m.put("init_from", initFrom == null ? null : initFrom.toString());
        m.put("deterministic", deterministic);
        m.put("keep_last_batch", keepLastBatch);
        m.put("ranks", ranks);
        m.put("sam_perturbation", samPerturbation);
        m.put("precision", precision.label());
        m.put("image_layout", imageLayout.label());
        return m;
    }

    /** Mutable builder with the documented defaults. */
    public static final class Builder {
        String data = "fashion-mnist";
        String model = "mlp";
        String optimizer = "erm";
        int epochs = 10;
        int batchSize = 128;
        int evalBatchSize = 500;
        double lr = 0.05;
        String schedule = "cosine";
        int warmupSteps = 0;
        double momentum = 0.9;
        double weightDecay = 5e-4;
        boolean nesterov = false;
        long seed = 42;
        double labelNoise = 0;
        int trainSubset = 0;
        String augment = "auto";
        String device = "auto";
        int threads = Runtime.getRuntime().availableProcessors();
        long maxSteps = 0;
        boolean shuffle = true;
        Path out = null;
        Method.Hyper hyper = Method.Hyper.defaults();
        String cudaStep = "graph";
        String input = "loader";
        long checkpointEvery = 0;
        String onNonFinite = "stop";
        double divergenceLoss = Double.NaN;
        int divergenceSteps = 10;
        Path initFrom = null;
        boolean deterministic = false;
        boolean keepLastBatch = false;
        int ranks = 1;
        String samPerturbation = "local";
        Dataset trainSet, testSet;   // data(train, test): in memory instead of the data string's source

        /** A data source as {@code --data} takes it ({@code fashion-mnist}, {@code cifar10:DIR}, {@code npy:...}); replaces {@link #data(Dataset, Dataset)}. */
        public Builder data(String v) { data = v; trainSet = testSet = null; return this; }

        /**
         * Train and test on data sets you made (in memory, or read on demand by your own {@link Dataset.Examples}):
         * both of the same example shape {@code [C, H, W]} and number of classes (checked by {@link #build()}),
         * pixels as unsigned bytes. Subset, label noise, augmentation and normalisation apply as to any source. The
         * run's records call it {@code memory:NAME}; resuming its checkpoint needs the same sets, so from library code
         * ({@code new Trainer(config, checkpoint)}), not from the command line.
         */
        public Builder data(Dataset train, Dataset test) {
            trainSet = train;
            testSet = test;
            data = "memory:" + (train == null ? "null" : train.name());
            return this;
        }

        /**
         * {@link #data(Dataset, Dataset)} from arrays: images as floats in [0, 1], {@code [n, C, H, W]} flattened
         * (each rounded to the 8-bit grid the loader works on, {@code round(v · 255)}, as float32 array files are
         * read), labels in {@code [0, classes)}.
         *
         * @throws InvalidSettingException naming what is wrong: an array's length for {@code exampleShape}, a pixel
         *         outside [0, 1], a label outside {@code [0, classes)}
         */
        public Builder data(Shape exampleShape, int classes, float[] trainImages, int[] trainLabels, float[] testImages, int[] testLabels) {
            String call = "data(exampleShape, classes, trainImages, trainLabels, testImages, testLabels)";
            try {
                if (exampleShape == null || exampleShape.rank() != 3) throw new IllegalArgumentException("exampleShape must be [C, H, W], got " + exampleShape);
                if (classes < 1 || classes > ArrayData.MAX_CLASSES) throw new IllegalArgumentException("classes must be in [1, " + ArrayData.MAX_CLASSES + "], got " + classes);
                for (Object a : new Object[] {trainImages, trainLabels, testImages, testLabels}) {
                    if (a == null) throw new IllegalArgumentException("an array is null");
                }
                return data(new Dataset("train", exampleShape, classes, ArrayData.pixels(trainImages, exampleShape, "trainImages"), trainLabels),
                        new Dataset("test", exampleShape, classes, ArrayData.pixels(testImages, exampleShape, "testImages"), testLabels));
            } catch (IllegalArgumentException e) {
                throw new InvalidSettingException(OWNER + "." + call + ": " + e.getMessage(), "data", "--data: " + e.getMessage());
            }
        }
        Precision precision = Precision.FP32;
        ImageLayout imageLayout = ImageLayout.NCHW;

        public Builder model(String v) { model = v; return this; }
        public Builder optimizer(String v) { optimizer = v; return this; }
        public Builder epochs(int v) { epochs = v; return this; }
        public Builder batchSize(int v) { batchSize = v; return this; }
        public Builder evalBatchSize(int v) { evalBatchSize = v; return this; }
        public Builder lr(double v) { lr = v; return this; }
        public Builder schedule(String v) { schedule = v; return this; }
        public Builder warmupSteps(int v) { warmupSteps = v; return this; }
        public Builder momentum(double v) { momentum = v; return this; }
        public Builder weightDecay(double v) { weightDecay = v; return this; }
        public Builder nesterov(boolean v) { nesterov = v; return this; }
        public Builder seed(long v) { seed = v; return this; }
        public Builder labelNoise(double v) { labelNoise = v; return this; }
        /**
         * Train on a seeded random choice of this many training examples (0 = the whole set). Small subsets
         * make a model overfit within a short run, which is where SAM's effect can be measured at all.
         */
        public Builder trainSubset(int v) { trainSubset = v; return this; }
        public Builder augment(String v) { augment = v; return this; }
        public Builder device(String v) { device = v; return this; }
        public Builder threads(int v) { threads = v; return this; }
        public Builder maxSteps(long v) { maxSteps = v; return this; }
        public Builder shuffle(boolean v) { shuffle = v; return this; }
        public Builder out(Path v) { out = v; return this; }
        /** SAM-family hyperparameters (defaults: {@link Method.Hyper#defaults()}). */
        public Builder hyper(Method.Hyper v) { hyper = v; return this; }
        /**
         * How a step runs on the CUDA backend: {@code graph} (one CUDA graph, SAM branch decided on the device),
         * {@code readback} (the same kernels, decision read back by the host each step), {@code host} (the generic
         * host-driven step, needed for ESAM and per-tensor LookSAM). Ignored on the CPU.
         */
        public Builder cudaStep(String v) { cudaStep = v; return this; }
        /**
         * Where training batches come from: {@code loader} (the data set through the background loader and,
         * on CUDA, the pinned asynchronous input pipeline) or {@code synthetic} (the first training batch is
         * put on the device once and reused by every step: no loading or copying, for pure step timing).
         */
        public Builder input(String v) { input = v; return this; }
        /** A checkpoint every this many steps (0: only at epoch ends). */
        public Builder checkpointEvery(long v) { checkpointEvery = v; return this; }
        /** {@code stop} (default) or {@code skip} a step whose loss or squared gradient norm is not finite. */
        public Builder onNonFinite(String v) { onNonFinite = v; return this; }
        /** Stop when the loss is above this for {@link #divergenceSteps} consecutive steps (NaN: off). */
        public Builder divergenceLoss(double v) { divergenceLoss = v; return this; }
        public Builder divergenceSteps(int v) { divergenceSteps = v; return this; }
        /** Start from the weights in this safetensors file instead of the seeded initialisation. */
        public Builder initFrom(Path v) { initFrom = v; return this; }
        /**
         * Deterministic algorithms only, where a library offers a choice: on CUDA, cuDNN convolutions that cuDNN
         * reports deterministic; the ones chosen are recorded in each checkpoint and reused on resume. The CPU
         * backends and sam4j's own kernels are deterministic either way.
         */
        public Builder deterministic(boolean v) { deterministic = v; return this; }
        /**
         * Also train on the partial last batch of each epoch (host step only). Off by default: its {@code s_t} is
         * not comparable with a full batch's ({@code E‖g_B‖² = ‖∇L‖² + tr(Σ)/B}), so it is always a SAM step for
         * AE-SAM and jolts the statistic, and the CUDA graph step cannot train it at all.
         */
        public Builder keepLastBatch(boolean v) { keepLastBatch = v; return this; }
        /**
         * Data-parallel ranks in this process (threads, each with its own backend and shard; CPU only); 1: today's
         * single-rank step. {@link #batchSize} stays the global batch and must divide by it.
         */
        public Builder ranks(int v) { ranks = v; return this; }
        /**
         * With more than one rank: {@code local} (each rank perturbs with its own gradient, one gradient all-reduce a
         * step) or {@code global} (the averaged gradient: the single-rank method at the global batch).
         */
        public Builder samPerturbation(String v) { samPerturbation = v; return this; }
        /**
         * What the layers compute in ({@link Precision}): {@code fp32} (default), {@code tf32} or {@code bf16}; the
         * weights, gradients, optimizer state and SAM passes stay fp32 in every precision.
         */
        public Builder precision(String v) {
            try {
                precision = Precision.parse(v);
            } catch (IllegalArgumentException e) {
                throw InvalidSettingException.of(OWNER, "precision", "precision", v, "must be fp32, tf32 or bf16");
            }
            return this;
        }
        public Builder precision(Precision v) { precision = v; return this; }
        /**
         * How images lie between layers ({@link ImageLayout}): {@code nchw} (default) or {@code nhwc} (channels-last,
         * CUDA only). Values, parameters and checkpoints are the same in both; it is a speed choice.
         */
        public Builder imageLayout(String v) {
            try {
                imageLayout = ImageLayout.parse(v);
            } catch (IllegalArgumentException e) {
                throw InvalidSettingException.of(OWNER, "imageLayout", "image-layout", v, "must be nchw or nhwc");
            }
            return this;
        }
        public Builder imageLayout(ImageLayout v) { imageLayout = v; return this; }

        private static final String OWNER = "TrainConfig.Builder";

        /**
         * {@code value}, given to builder method {@code method} (the CLI's {@code --option}), breaks {@code problem}:
         * the message names the method for library code and the option for the command line
         * ({@link InvalidSettingException}).
         */
        private static void check(boolean ok, String method, String option, Object value, String problem) {
            if (!ok) throw InvalidSettingException.of(OWNER, method, option, value, problem);
        }

        /** As above, with the problem worded for each side because it names another setting. */
        private static void check(boolean ok, String method, String option, Object value, String problem, String commandLineProblem) {
            if (!ok) throw InvalidSettingException.of(OWNER, method, option, value, problem, commandLineProblem);
        }

        /** A name that is not one: {@code model("x"): problem} for the library, {@code --model x: problem} on the command line. */
        private static InvalidSettingException unknownName(String setting, String value, String problem) {
            return new InvalidSettingException(OWNER + "." + setting + "(\"" + value + "\"): " + problem, setting,
                    "--" + setting + " " + value.trim() + ": " + problem);
        }

        public TrainConfig build() {
            check(data != null && !data.isBlank(), "data", "data", data, "must not be empty");
            DataSplit memory = inMemory();
            check(model != null && !model.isBlank(), "model", "model", model, "must not be empty");
            // The model's name now, so that a typo fails before the data is loaded.
            String modelProblem = Models.problem(model);
            if (modelProblem != null) throw unknownName("model", model, modelProblem);
            check(optimizer != null && !optimizer.isBlank(), "optimizer", "optimizer", optimizer, "must not be empty");
            String opt = optimizer.trim().toLowerCase(Locale.ROOT);
            if (!Method.NAMES.contains(opt)) throw unknownName("optimizer", optimizer, "unknown optimizer; valid: " + String.join(", ", Method.NAMES));
            check(hyper != null, "hyper", "optimizer", hyper, "must not be null");
            // The hyperparameters were validated when the Hyper was built (naming its builder's methods).
            Method.of(opt, hyper);
            // An unset max age becomes the method's default here, so the record (and config.json) holds the value run.
            Method.Hyper h = hyper.lookSamMaxAge() == Method.Hyper.UNSET_MAX_AGE
                    ? hyper.toBuilder().lookSamMaxAge(hyper.lookSamMaxAge(opt)).build() : hyper;
            check(epochs >= 1, "epochs", "epochs", epochs, "must be >= 1");
            check(batchSize >= 1 && batchSize <= 65536, "batchSize", "batch-size", batchSize, "must be in [1, 65536]");
            check(evalBatchSize >= 1 && evalBatchSize <= 65536, "evalBatchSize", "eval-batch-size", evalBatchSize, "must be in [1, 65536]");
            check(lr > 0 && Double.isFinite(lr), "lr", "lr", lr, "must be a positive number");
            check(schedule != null, "schedule", "schedule", schedule, "must not be empty");
            check(warmupSteps >= 0, "warmupSteps", "warmup-steps", warmupSteps, "must be >= 0");
            check(momentum >= 0 && momentum < 1, "momentum", "momentum", momentum, "must be in [0, 1)");
            check(weightDecay >= 0 && Double.isFinite(weightDecay), "weightDecay", "weight-decay", weightDecay, "must be >= 0");
            check(!nesterov || momentum > 0, "nesterov", "nesterov", nesterov, "needs momentum(m) with m > 0", "needs --momentum > 0");
            check(labelNoise >= 0 && labelNoise <= 1, "labelNoise", "label-noise", labelNoise, "must be a fraction in [0, 1]");
            // The upper bound depends on the data set and is checked when it is loaded.
            check(trainSubset >= 0, "trainSubset", "train-subset", trainSubset, "must be >= 0 (0 = the whole training set)");
            String aug = augment == null ? "" : augment.trim().toLowerCase(Locale.ROOT);
            check(aug.equals("auto") || aug.equals("on") || aug.equals("off"), "augment", "augment", augment, "must be auto, on or off");
            check(device != null && !device.isBlank(), "device", "device", device, "must not be empty");
            check(threads >= 1 && threads <= 1024, "threads", "threads", threads, "must be in [1, 1024]");
            check(maxSteps >= 0, "maxSteps", "max-steps", maxSteps, "must be >= 0 (0 = no limit)");
            String cs = cudaStep == null ? "" : cudaStep.trim().toLowerCase(Locale.ROOT);
            check(cs.equals("graph") || cs.equals("readback") || cs.equals("host"), "cudaStep", "cuda-step", cudaStep,
                    "must be graph, readback or host");
            String in = input == null ? "" : input.trim().toLowerCase(Locale.ROOT);
            check(in.equals("loader") || in.equals("synthetic"), "input", "input", input, "must be loader or synthetic");
            check(checkpointEvery >= 0, "checkpointEvery", "checkpoint-every", checkpointEvery, "must be >= 0 (0 = at epoch ends only)");
            String nf = onNonFinite == null ? "" : onNonFinite.trim().toLowerCase(Locale.ROOT);
            check(nf.equals("stop") || nf.equals("skip"), "onNonFinite", "on-nonfinite", onNonFinite, "must be stop or skip");
            check(Double.isNaN(divergenceLoss) || Double.isFinite(divergenceLoss), "divergenceLoss", "divergence-loss", divergenceLoss,
                    "must be a finite number");
            check(divergenceSteps >= 1, "divergenceSteps", "divergence-steps", divergenceSteps, "must be >= 1");
            check(ranks >= 1 && ranks <= 1024, "ranks", "ranks", ranks, "must be in [1, 1024]");
            if (batchSize % ranks != 0) {
                throw new InvalidSettingException(OWNER + ".batchSize(" + batchSize + "): the global batch does not divide by ranks("
                        + ranks + ") (each rank takes batchSize / ranks examples a step)", "batch-size",
                        "--batch-size: the global batch " + batchSize + " does not divide by --ranks " + ranks
                                + " (each rank takes batch-size / ranks examples a step)");
            }
            String sp = samPerturbation == null ? "" : samPerturbation.trim().toLowerCase(Locale.ROOT);
            check(sp.equals("local") || sp.equals("global"), "samPerturbation", "sam-perturbation", samPerturbation, "must be local or global");
            check(precision != null, "precision", "precision", precision, "must not be null");
            check(imageLayout != null, "imageLayout", "image-layout", imageLayout, "must not be null");
            // Validate the schedule's syntax now, so a typo fails before data is loaded.
            try {
                dev.sam4j.optim.LrSchedule.parse(schedule, lr, warmupSteps, 1);
            } catch (IllegalArgumentException e) {
                throw new InvalidSettingException(OWNER + ".schedule(\"" + schedule + "\"): " + e.getMessage(), "schedule",
                        "--schedule: " + e.getMessage());
            }
            return new TrainConfig(data, model.trim().toLowerCase(Locale.ROOT), opt, epochs, batchSize, evalBatchSize, lr,
                    schedule.trim().toLowerCase(Locale.ROOT), warmupSteps, momentum, weightDecay, nesterov, seed, labelNoise,
                    trainSubset, aug, device.trim().toLowerCase(Locale.ROOT), threads, maxSteps, shuffle, out, h, cs, in,
                    checkpointEvery, nf, divergenceLoss, divergenceSteps, initFrom, deterministic, keepLastBatch, ranks, sp, precision, memory, imageLayout);
        }

        /** The sets of {@link #data(Dataset, Dataset)}, checked against each other; null for a data string. */
        private DataSplit inMemory() {
            if (trainSet == null && testSet == null) return null;
            String problem = trainSet == null ? "train is null" : testSet == null ? "test is null"
                    : trainSet.size() == 0 ? "train has no examples" : testSet.size() == 0 ? "test has no examples"
                    : !trainSet.exampleShape().equals(testSet.exampleShape()) ? "train holds examples of " + trainSet.exampleShape()
                            + ", test of " + testSet.exampleShape()
                    : trainSet.classes() != testSet.classes() ? "train has " + trainSet.classes() + " classes, test " + testSet.classes() : null;
            if (problem != null) throw new InvalidSettingException(OWNER + ".data(train, test): " + problem, "data", "--data: " + problem);
            return new DataSplit(trainSet, testSet, String.format(Locale.ROOT, "data: in memory, %s (%d train / %d test, %d classes of %s)",
                    trainSet.name(), trainSet.size(), testSet.size(), trainSet.classes(), trainSet.exampleShape()));
        }
    }
}
