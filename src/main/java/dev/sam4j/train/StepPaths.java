package dev.sam4j.train;

import dev.sam4j.backend.Backend;
import dev.sam4j.backend.Buffer;
import dev.sam4j.backend.DeviceStepGraph;
import dev.sam4j.data.Dataset;
import dev.sam4j.io.InvalidSettingException;
import dev.sam4j.nn.Mode;
import dev.sam4j.nn.Model;
import dev.sam4j.nn.SoftmaxCrossEntropy;
import dev.sam4j.optim.LrSchedule;
import dev.sam4j.optim.Sgd;
import dev.sam4j.optim.sam.DeviceDecidedStep;
import dev.sam4j.optim.sam.Method;
import dev.sam4j.optim.sam.Perturbation;
import dev.sam4j.optim.sam.SamOptimizer;

/**
 * Chooses and builds the {@link StepPath} a run trains on: refuses, in one line each, the choices a path cannot run
 * (a method the graph step does not support, --keep-last-batch on the graph step, a batch larger than the training
 * set), then builds the host step ({@link SamOptimizer} and its {@link BatchClosure}) or the CUDA graph step
 * ({@link DeviceDecidedStep} and its record history), with the one-line description the run's header shows.
 */
final class StepPaths {
    private StepPaths() {}

    /**
     * The chosen path and what {@link Trainer} keeps of it: the host step's optimizer and closure (null on the graph
     * paths), the graph step (null on the host path) and the description.
     */
    record Built(StepPath path, SamOptimizer optimizer, DeviceDecidedStep deviceStep, BatchClosure closure, String description) {}

    /** Steps per epoch: full batches only, or every batch (the last one partial) with --keep-last-batch on the host. */
    static long stepsPerEpoch(TrainConfig config, int trainSize, boolean fullBatchesOnly) {
        return fullBatchesOnly ? trainSize / config.batchSize() : (trainSize + config.batchSize() - 1) / config.batchSize();
    }

    static long totalSteps(TrainConfig config, int trainSize, boolean fullBatchesOnly) {
        long t = stepsPerEpoch(config, trainSize, fullBatchesOnly) * config.epochs();
        return config.maxSteps() > 0 ? Math.min(t, config.maxSteps()) : t;
    }

    /**
     * Validates the choice and builds the path. Allocates on {@code backend} (the graph step's history, ESAM's subset
     * buffers) in the order the trainer always did, so that runs stay bit-identical.
     */
    static Built create(TrainConfig config, Dataset train, Backend backend, Model model, SoftmaxCrossEntropy loss, Sgd sgd,
                        Method method, Buffer xBuf, Buffer labelBuf, float[] logitsHost, StepAccounting accounting) {
        return create(config, train, backend, model, loss, sgd, method, xBuf, labelBuf, logitsHost, accounting, null);
    }

    /** {@code collective}: this rank's group with more than one rank (a {@link ReplicatedStep}), else null. */
    static Built create(TrainConfig config, Dataset train, Backend backend, Model model, SoftmaxCrossEntropy loss, Sgd sgd,
                        Method method, Buffer xBuf, Buffer labelBuf, float[] logitsHost, StepAccounting accounting,
                        dev.sam4j.parallel.Collective collective) {
        if (collective != null) checkReplicated(config, backend, method, collective);
        // Ranks on CUDA take the graph step where it can record their collectives (local perturbation: all in the main
        // body, none inside the conditional node's body), else the host-driven step, saying why in the description.
        String noGraphWithRanks = collective == null || !backend.runsDeviceDecidedSteps() || config.cudaStep().equals("host") ? null
                : graphWithRanksUnsupported(config, method, collective);
        boolean graph = backend.runsDeviceDecidedSteps() && !config.cudaStep().equals("host")
                && (collective == null || noGraphWithRanks == null);
        // Named by builder method for library code and by option for the command line (InvalidSettingException).
        if (graph && !DeviceDecidedStep.supports(method)) {
            String why = DeviceDecidedStep.unsupported(method);
            throw new InvalidSettingException("TrainConfig.Builder.optimizer(\"" + method.name() + "\"): " + why + "; use cudaStep(\"host\") on CUDA",
                    "optimizer", "--optimizer " + method.name() + ": " + why + "; use --cuda-step host on CUDA");
        }
        if (graph && config.keepLastBatch()) {
            String why = "the CUDA graph step trains on full batches only; use ";
            throw new InvalidSettingException("TrainConfig.Builder.keepLastBatch(true): " + why + "cudaStep(\"host\") on CUDA",
                    "keep-last-batch", "--keep-last-batch: " + why + "--cuda-step host on CUDA");
        }
        if (train.size() < config.batchSize() && (graph || !config.keepLastBatch())) {
            String why = " is larger than the training set (" + train.size() + ")" + (graph ? "; the CUDA graph step needs full batches"
                    : ", and the partial last batch is dropped: lower it or add ");
            throw new InvalidSettingException("TrainConfig.Builder.batchSize(" + config.batchSize() + ")" + why + (graph ? "" : "keepLastBatch(true)"),
                    "batch-size", "--batch-size " + config.batchSize() + why + (graph ? "" : "--keep-last-batch"));
        }
        if (graph) {
            boolean readback = config.cudaStep().equals("readback");
            long total = totalSteps(config, train.size(), true);
            dev.sam4j.parallel.NcclCollective nccl = collective instanceof dev.sam4j.parallel.NcclCollective c ? c : null;
            // Each rank's graph runs its shard of the global batch (the batch size divides evenly: checked with the ranks).
            int shard = config.batchSize() / (collective == null ? 1 : collective.worldSize());
            DeviceDecidedStep deviceStep = new DeviceDecidedStep(model, xBuf, labelBuf, shard, method,
                    LrSchedule.parse(config.schedule(), config.lr(), config.warmupSteps(), total), total,
                    config.momentum(), config.weightDecay(), config.nesterov(), config.seed(), nccl == null ? null : nccl.device());
            Buffer history = backend.allocate(stepsPerEpoch(config, train.size(), true) * DeviceStepGraph.RECORD_FLOATS);
            String description = readback ? "CUDA step graph, SAM decision read back by the host each step"
                    : "CUDA step graph, SAM branch decided on the GPU (no host synchronisation in the step)";
            StepPath.Graph path = new StepPath.Graph(deviceStep, history, readback, config.batchSize(), accounting);
            if (nccl == null) return new Built(path, null, deviceStep, null, description);
            return new Built(new ReplicatedStep(nccl, path, model), null, deviceStep, null, description + ", on " + nccl.describe()
                    + ", --sam-perturbation local: s and the loss averaged before the decision, one gradient all-reduce after "
                    + "the conditional node, all in the graph");
        }
        // keepShadowOf: in bf16 the optimizer's passes write the layers' bf16 shadow with the weights (no extra pass)
        SamOptimizer optimizer = new SamOptimizer(backend, model.paramLayout(), model.params(), model.grads(), sgd, method, config.seed())
                .keepShadowOf(model);
        boolean sds = method.perturbation() instanceof Perturbation.Esam e && e.sds();
        Buffer subsetXBuf = sds ? backend.allocate((long) config.batchSize() * train.exampleSize()) : null;   // ESAM's selected examples (pass 2 only)
        Buffer subsetLabelBuf = sds ? backend.allocate(config.batchSize()) : null;
        BatchClosure closure = new BatchClosure(backend, model, loss, xBuf, labelBuf, subsetXBuf,
                subsetLabelBuf, logitsHost, train.exampleSize(), train.classes(), config.batchSize());
        if (collective != null) {
            boolean global = config.samPerturbation().equals("global") || method.perturbation() instanceof Perturbation.Momentum;
            dev.sam4j.optim.sam.GradientClosure stepClosure = closure;
            if (global) stepClosure = new dev.sam4j.optim.sam.AveragedClosure(closure, collective, backend, model.grads(), model.paramCount());
            else optimizer.perturbLocally(collective);
            String onCuda = noGraphWithRanks != null ? "; not the CUDA graph step: " + noGraphWithRanks : "";
            return new Built(new ReplicatedStep(collective, optimizer, sgd, closure, stepClosure, accounting, model), optimizer, null,
                    closure, "host-driven step on " + collective.describe() + ", --sam-perturbation "
                    + config.samPerturbation() + (global && !config.samPerturbation().equals("global") ? " (Momentum-SAM: the same in both modes)" : "") + onCuda);
        }
        return new Built(new StepPath.Host(optimizer, sgd, closure, accounting, !config.keepLastBatch()),
                optimizer, null, closure, "host-driven step");
    }

    /**
     * Why this rank's CUDA run cannot take the graph step, or null when it can: only local perturbation keeps every
     * collective out of the conditional node's body.
     */
    private static String graphWithRanksUnsupported(TrainConfig config, Method method, dev.sam4j.parallel.Collective collective) {
        if (!(collective instanceof dev.sam4j.parallel.NcclCollective nccl)) return "its ranks are not joined over NCCL";
        if (!config.samPerturbation().equals("local")) {
            return "--sam-perturbation " + config.samPerturbation() + " all-reduces g before the decision and g_sam inside the SAM "
                    + "branch, which would put a collective in the conditional node's body (NCCL's fail to instantiate there)";
        }
        String why = DeviceDecidedStep.unsupportedWithRanks(method);
        if (why != null) return why;
        return nccl.device().graphCaptureUnsupported();
    }

    /** What more than one rank cannot run yet, refused in one line each. */
    private static void checkReplicated(TrainConfig config, Backend backend, Method method, dev.sam4j.parallel.Collective collective) {
        int ranks = collective.worldSize();
        if (backend.runsDeviceDecidedSteps() && !(collective instanceof dev.sam4j.parallel.NcclCollective)) {
            throw new IllegalArgumentException("--ranks " + ranks + ": ranks in one process run on the CPU only (--device cpu); on "
                    + backend.name() + " run one process per GPU: sam4j launch --nproc-per-node " + ranks + " train --device cuda ... "
                    + "(or torchrun / srun), which joins them over NCCL");
        }
        if (config.keepLastBatch()) {
            throw new IllegalArgumentException("--keep-last-batch: with --ranks " + ranks + " every step takes a full global batch");
        }
        if (method.perturbation() instanceof Perturbation.Esam e && e.sds()) {
            throw new IllegalArgumentException("--optimizer " + method.name() + ": ESAM's data selection (--esam-sds) is not supported "
                    + "with --ranks " + ranks + " (a per-rank top fraction is not the global batch's); use --esam-sds false");
        }
    }

    /**
     * With {@code --deterministic}: has cuDNN choose the convolution algorithms of every batch size the run will
     * use now (one evaluation-mode forward pass each, which changes no state), so that every checkpoint records
     * all of them, even one written before the first short batch or the first evaluation, and a resumed run
     * takes them all from it instead of timing some afresh. The graph step chose its batch's when it was built.
     */
    static void chooseEveryAlgorithm(TrainConfig config, Dataset train, Dataset test, Built built, Method method, Model model, Buffer xBuf) {
        java.util.TreeSet<Integer> sizes = new java.util.TreeSet<>();
        int b = config.batchSize(), e = config.evalBatchSize(), rest = (int) (train.size() % b);
        sizes.add(Math.min(b, train.size()));
        if (!built.path().fullBatchesOnly() && rest > 0) sizes.add(rest);
        if (built.optimizer() != null && method.perturbation() instanceof Perturbation.Esam es && es.sds()) {
            for (int n : new int[] {b, rest}) if (n > 0) sizes.add(Math.max(1, (int) Math.ceil(es.gamma() * n)));
        }
        sizes.add(Math.min(e, test.size()));
        if (test.size() % e > 0) sizes.add(test.size() % e);
        for (int n : sizes) model.forward(xBuf, n, Mode.EVAL);
    }
}
