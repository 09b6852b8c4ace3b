package dev.sam4j.train;

import dev.sam4j.backend.Precision;
import dev.sam4j.optim.sam.Method;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Locale;
import java.util.Map;

/**
 * The full, validated configuration of a training run. Build with {@link #builder()}; {@code build()}
 * rejects nonsense with a message naming the option. {@link #toMap()} is the resolved configuration
 * written to the run directory.
 */
public record TrainConfig(String data, String model, String optimizer, int epochs, int batchSize, int evalBatchSize,
                          double lr, String schedule, int warmupSteps, double momentum, double weightDecay,
                          boolean nesterov, long seed, double labelNoise, int trainSubset, String augment, String device, int threads,
                          long maxSteps, boolean shuffle, Path out, Method.Hyper hyper, String cudaStep, String input,
                          long checkpointEvery, String onNonFinite, double divergenceLoss, int divergenceSteps, Path initFrom,
                          boolean deterministic, boolean keepLastBatch, Precision precision) {

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
        b.precision = precision;
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
        m.put("precision", precision.label());
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
        Precision precision = Precision.FP32;

        public Builder data(String v) { data = v; return this; }
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
         * What the layers compute in ({@link Precision}): {@code fp32} (default), {@code tf32} or {@code bf16}; the
         * weights, gradients, optimizer state and SAM passes stay fp32 in every precision.
         */
        public Builder precision(String v) { precision = Precision.parse(v); return this; }
        public Builder precision(Precision v) { precision = v; return this; }

        private static void require(boolean ok, String option, String message) {
            if (!ok) throw new IllegalArgumentException("--" + option + ": " + message);
        }

        public TrainConfig build() {
            require(data != null && !data.isBlank(), "data", "must not be empty");
            require(model != null && !model.isBlank(), "model", "must not be empty");
            require(optimizer != null, "optimizer", "must not be empty");
            String opt = optimizer.trim().toLowerCase(Locale.ROOT);
            require(hyper != null, "optimizer", "hyperparameters must not be null");
            // Validates the method and every hyperparameter it uses, with messages naming the option.
            Method.of(opt, hyper);
            // An unset max age becomes the method's default here, so the record (and config.json) holds the value run.
            Method.Hyper h = hyper.lookSamMaxAge() == Method.Hyper.UNSET_MAX_AGE
                    ? hyper.toBuilder().lookSamMaxAge(hyper.lookSamMaxAge(opt)).build() : hyper;
            require(epochs >= 1, "epochs", "must be >= 1, got " + epochs);
            require(batchSize >= 1 && batchSize <= 65536, "batch-size", "must be in [1, 65536], got " + batchSize);
            require(evalBatchSize >= 1 && evalBatchSize <= 65536, "eval-batch-size", "must be in [1, 65536], got " + evalBatchSize);
            require(lr > 0 && Double.isFinite(lr), "lr", "must be a positive number, got " + lr);
            require(schedule != null, "schedule", "must not be empty");
            require(warmupSteps >= 0, "warmup-steps", "must be >= 0, got " + warmupSteps);
            require(momentum >= 0 && momentum < 1, "momentum", "must be in [0, 1), got " + momentum);
            require(weightDecay >= 0 && Double.isFinite(weightDecay), "weight-decay", "must be >= 0, got " + weightDecay);
            require(!nesterov || momentum > 0, "nesterov", "needs --momentum > 0");
            require(labelNoise >= 0 && labelNoise <= 1, "label-noise", "must be a fraction in [0, 1], got " + labelNoise);
            // The upper bound depends on the data set and is checked when it is loaded.
            require(trainSubset >= 0, "train-subset", "must be >= 0 (0 = the whole training set), got " + trainSubset);
            String aug = augment == null ? "" : augment.trim().toLowerCase(Locale.ROOT);
            require(aug.equals("auto") || aug.equals("on") || aug.equals("off"), "augment", "must be auto, on or off, got '" + augment + "'");
            require(device != null && !device.isBlank(), "device", "must not be empty");
            require(threads >= 1 && threads <= 1024, "threads", "must be in [1, 1024], got " + threads);
            require(maxSteps >= 0, "max-steps", "must be >= 0 (0 = no limit), got " + maxSteps);
            String cs = cudaStep == null ? "" : cudaStep.trim().toLowerCase(Locale.ROOT);
            require(cs.equals("graph") || cs.equals("readback") || cs.equals("host"), "cuda-step",
                    "must be graph, readback or host, got '" + cudaStep + "'");
            String in = input == null ? "" : input.trim().toLowerCase(Locale.ROOT);
            require(in.equals("loader") || in.equals("synthetic"), "input", "must be loader or synthetic, got '" + input + "'");
            require(checkpointEvery >= 0, "checkpoint-every", "must be >= 0 (0 = at epoch ends only), got " + checkpointEvery);
            String nf = onNonFinite == null ? "" : onNonFinite.trim().toLowerCase(Locale.ROOT);
            require(nf.equals("stop") || nf.equals("skip"), "on-nonfinite", "must be stop or skip, got '" + onNonFinite + "'");
            require(Double.isNaN(divergenceLoss) || Double.isFinite(divergenceLoss), "divergence-loss", "must be a finite number, got " + divergenceLoss);
            require(precision != null, "precision", "must not be empty");
            require(divergenceSteps >= 1, "divergence-steps", "must be >= 1, got " + divergenceSteps);
            // Validate the schedule's syntax now, so a typo fails before data is loaded.
            dev.sam4j.optim.LrSchedule.parse(schedule, lr, warmupSteps, 1);
            return new TrainConfig(data, model.trim().toLowerCase(Locale.ROOT), opt, epochs, batchSize, evalBatchSize, lr,
                    schedule.trim().toLowerCase(Locale.ROOT), warmupSteps, momentum, weightDecay, nesterov, seed, labelNoise,
                    trainSubset, aug, device.trim().toLowerCase(Locale.ROOT), threads, maxSteps, shuffle, out, h, cs, in,
                    checkpointEvery, nf, divergenceLoss, divergenceSteps, initFrom, deterministic, keepLastBatch, precision);
        }
    }
}
