package dev.sam4j.cli;

import dev.sam4j.optim.sam.Method;
import dev.sam4j.train.Checkpoint;
import dev.sam4j.train.ConfigFile;
import dev.sam4j.train.LocalRanks;
import dev.sam4j.train.RunSummary;
import dev.sam4j.train.RunWriter;
import dev.sam4j.train.TrainConfig;
import dev.sam4j.train.Trainer;
import java.nio.file.Path;
import java.time.LocalDateTime;
import java.time.format.DateTimeFormatter;
import java.util.Set;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Model.OptionSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.ParseResult;
import picocli.CommandLine.Spec;

/** {@code sam4j train}: one training run, written to a run directory. */
@Command(name = "train", mixinStandardHelpOptions = true, sortOptions = false, showDefaultValues = true,
        description = "Train a model and write a run directory (config.json, provenance.json, metrics.csv, steps.jsonl, summary.json).")
final class TrainCommand implements Callable<Integer> {
    /** Option defaults come from the config's builder, so the CLI and the library cannot disagree. */
    private static final TrainConfig D = TrainConfig.builder().build();

    @Option(names = "--data", description = "fashion-mnist (full set if installed, else the embedded sample), "
            + "fashion-mnist:DIR, fashion-mnist-sample, cifar10:DIR, cifar100:DIR, synthetic[:C,H,W[:CLASSES[:TRAIN[:TEST]]]], "
            + "npy:IMAGES.npy,LABELS.npy[,TEST_IMAGES.npy,TEST_LABELS.npy], safetensors:FILE, imagefolder:DIR")
    String data = D.data();

    @Option(names = "--image-size", description = "imagefolder: resize (shorter side) and centre-crop every image to N x N "
            + "(default: the images' own size, when they all share one)")
    Integer imageSize;

    @Option(names = "--val-fraction", description = "npy, safetensors, imagefolder with no test set: share held out as the test set (default 0.1)")
    Double valFraction;

    @Option(names = "--split-seed", description = "seed of the --val-fraction hold-out (default 0)")
    Long splitSeed;

    @Option(names = "--layout", description = "npy, safetensors: nchw or nhwc, where the shape leaves it open (e.g. [N,3,32,3])")
    String layout;

    @Option(names = "--skip-bad-images", description = "imagefolder: skip images that do not decode (counted and reported) instead of failing")
    boolean skipBadImages;

    @Option(names = "--cache", negatable = true, description = "imagefolder: keep decoded images in memory after the first decode (refused in one "
            + "line when they do not fit; --no-cache decodes every epoch); default: kept when they fit in half of the heap, else decoded every epoch")
    Boolean cache;

    @Option(names = "--model", description = "mlp, mlp:WIDTH, cnn, resnet18, wrn-28-10 (or wrn-DEPTH-WIDTH)")
    String model = D.model();

    @Option(names = "--optimizer", description = "erm, sam, asam, esam, sssam, looksam, aesam, aelooksam, msam")
    String optimizer = D.optimizer();

    @Option(names = "--epochs", description = "passes over the training set")
    int epochs = D.epochs();

    @Option(names = "--batch-size", description = "training batch size")
    int batchSize = D.batchSize();

    @Option(names = "--eval-batch-size", description = "batch size for evaluation on the test set")
    int evalBatchSize = D.evalBatchSize();

    @Option(names = "--lr", description = "base learning rate")
    double lr = D.lr();

    @Option(names = "--schedule", description = "constant, cosine (per step, to 0 at the end), step (x0.1 every 30%% of the run), step:EVERY_STEPS:GAMMA")
    String schedule = D.schedule();

    @Option(names = "--warmup-steps", description = "linear learning-rate warm-up steps")
    int warmupSteps = D.warmupSteps();

    @Option(names = "--momentum", description = "SGD momentum (PyTorch convention, dampening 0)")
    double momentum = D.momentum();

    @Option(names = "--nesterov", description = "Nesterov momentum")
    boolean nesterov = D.nesterov();

    @Option(names = "--weight-decay", description = "L2 weight decay added to the gradient (PyTorch convention)")
    double weightDecay = D.weightDecay();

    @Option(names = "--seed", description = "seed for initialisation, shuffling, label noise and augmentation")
    long seed = D.seed();

    @Option(names = "--label-noise", description = "fraction of training labels replaced by a uniformly random class")
    double labelNoise = D.labelNoise();

    @Option(names = "--train-subset", paramLabel = "N", description = "train on a seeded random choice of N training examples (default: all)")
    Integer trainSubset;

    @Option(names = "--augment", description = "auto (random crop + flip for 32x32 images only), on, off")
    String augment = D.augment();

    @Option(names = "--device", description = "auto, cpu, cpu-reference, cuda[:N] (also -Dsam4j.device, SAM4J_DEVICE)")
    String device = D.device();

    @Option(names = "--threads", description = "CPU threads (default: available processors)")
    int threads = D.threads();

    @Option(names = "--max-steps", description = "stop after this many steps in all (0 = no limit)")
    long maxSteps = D.maxSteps();

    @Option(names = "--shuffle", arity = "1", description = "shuffle the training set every epoch (true|false)")
    boolean shuffle = D.shuffle();

    @Option(names = "--out", description = "run directory (default: runs/<time>-<model>-<optimizer>)")
    Path out;

    @Option(names = "--resume", paramLabel = "RUN_DIR", description = "continue the run in RUN_DIR from its checkpoint, "
            + "with its config.json (only --threads, --device, --cuda-step, --checkpoint-every, --on-nonfinite and --divergence-* may be given)")
    Path resume;

    @Option(names = "--checkpoint-every", paramLabel = "N", description = "also write a checkpoint every N steps (0: at epoch ends only)")
    long checkpointEvery = D.checkpointEvery();

    @Option(names = "--init-from", paramLabel = "FILE", description = "start from the weights in this safetensors file (names and shapes checked)")
    Path initFrom;

    @Option(names = "--on-nonfinite", description = "stop or skip a step whose loss or squared gradient norm is not finite")
    String onNonFinite = D.onNonFinite();

    @Option(names = "--divergence-loss", paramLabel = "X", description = "stop when the loss stays above X for --divergence-steps steps (default: off)")
    Double divergenceLoss;

    @Option(names = "--divergence-steps", paramLabel = "N", description = "consecutive steps above --divergence-loss that stop the run")
    int divergenceSteps = D.divergenceSteps();

    @Option(names = "--cuda-step", description = "on CUDA: graph (one CUDA graph per step, SAM branch decided on the GPU), "
            + "readback (decision read back each step), host (generic host-driven step; ESAM, per-tensor LookSAM)")
    String cudaStep = D.cudaStep();

    @Option(names = "--input", description = "loader (batches from the data set, staged and copied in the background), "
            + "synthetic (the first batch reused by every step: no loading or copying, for pure step timing)")
    String input = D.input();

    @Option(names = "--precision", description = "fp32 (default); tf32: GEMM/convolution inputs rounded to TF32 (tensor cores); "
            + "bf16: layers on bf16 weights, activations and gradients, fp32 master weights, BatchNorm, loss and SAM passes "
            + "(on CUDA stored natively in 16 bits, cuBLAS and cuDNN on bf16; on the CPU emulated in fp32 buffers: slow)")
    String precision = D.precision().label();

    @Option(names = "--image-layout", description = "nchw (default) or nhwc: on CUDA, images between layers channels-last (cuDNN's "
            + "tensor-core convolutions read NHWC); the same values, weights and checkpoints either way; the CPU keeps nchw")
    String imageLayout = D.imageLayout().label();

    @Option(names = "--deterministic", description = "on CUDA: only cuDNN convolution algorithms that cuDNN reports deterministic; "
            + "the chosen ones are recorded in the checkpoint and reused on resume (the CPU is deterministic either way)")
    boolean deterministic = D.deterministic();

    @Option(names = "--ranks", paramLabel = "N", description = "data-parallel ranks in this process (threads, each with its own "
            + "backend of --threads threads and its shard; --device cpu); --batch-size is the global batch and must divide by N")
    int ranks = D.ranks();

    @Option(names = "--sam-perturbation", description = "with --ranks > 1: local (each rank perturbs with its own gradient; one "
            + "gradient all-reduce a step) or global (the averaged gradient: the one-rank method at the global batch)")
    String samPerturbation = D.samPerturbation();

    private static final Method.Hyper H = Method.Hyper.defaults();

    @Option(names = "--keep-last-batch", description = "host step: also train on each epoch's partial last batch "
            + "(default: dropped, as on the CUDA graph step; its ||g||^2 is not comparable with a full batch's)")
    boolean keepLastBatch = D.keepLastBatch();

    @Option(names = "--rho", description = "perturbation radius rho (default 0.05; 0.5 for asam, 0.3 for msam)")
    Double rho;

    @Option(names = "--asam-eta", description = "ASAM's eta in T_w = |w| + eta")
    double asamEta = H.asamEta();

    @Option(names = "--sssam-p", description = "SS-SAM's probability of a SAM step")
    double sssamP = H.sssamP();

    @Option(names = "--sssam-p-end", description = "SS-SAM: move p linearly to this value at the last step (default: constant p)")
    Double sssamPEnd;

    @Option(names = "--looksam-k", description = "LookSAM: a SAM step every k steps")
    int lookSamK = H.lookSamK();

    @Option(names = "--looksam-alpha", description = "LookSAM / AE-LookSAM: weight of the reused direction g_v")
    double lookSamAlpha = H.lookSamAlpha();

    @Option(names = "--looksam-per-tensor", description = "LookSAM: project and scale g_v per parameter tensor (default: whole model)")
    boolean lookSamPerTensor = H.lookSamPerTensor();

    @Option(names = "--looksam-max-age", paramLabel = "N", description = "LookSAM / AE-LookSAM: reuse g_v for at most N steps "
            + "after the SAM step that stored it (0: for ever, the spec; default 4 for aelooksam, 0 for looksam)")
    Integer lookSamMaxAge;

    @Option(names = "--ae-delta", description = "AE-SAM: EMA decay of the mean and variance of ||g||^2")
    double aeDelta = H.aeDelta();

    @Option(names = "--ae-lambda1", description = "AE-SAM: c_t at the end of the run (c_t = l1*t/T + l2*(1-t/T))")
    double aeLambda1 = H.aeLambda1();

    @Option(names = "--ae-lambda2", description = "AE-SAM: c_t at the start of the run")
    double aeLambda2 = H.aeLambda2();

    @Option(names = "--ae-warmup", description = "AE-SAM: first steps that only update the statistic (ERM steps)")
    int aeWarmup = H.aeWarmup();

    @Option(names = "--esam-beta", description = "ESAM SWP: probability of perturbing each parameter tensor")
    double esamBeta = H.esamBeta();

    @Option(names = "--esam-gamma", description = "ESAM SDS: fraction of the batch used in the second pass")
    double esamGamma = H.esamGamma();

    @Option(names = "--esam-swp", arity = "1", description = "ESAM: stochastic weight perturbation on (true|false)")
    boolean esamSwp = H.esamSwp();

    @Option(names = "--esam-sds", arity = "1", description = "ESAM: sharpness-sensitive data selection on (true|false)")
    boolean esamSds = H.esamSds();

    /** The SAM-family hyperparameters from the options; {@code --rho} sets ASAM's radius too when given. */
    Method.Hyper hyper() {
        double r = rho == null ? H.rho() : rho;
        double ar = rho == null ? H.asamRho() : rho;
        double mr = rho == null ? H.msamRho() : rho;
        if (lookSamMaxAge != null && lookSamMaxAge < 0) {
            throw new IllegalArgumentException("--looksam-max-age: must be >= 0, got " + lookSamMaxAge);
        }
        return new Method.Hyper(r, ar, asamEta, sssamP, sssamPEnd == null ? Double.NaN : sssamPEnd, lookSamK, lookSamAlpha,
                aeDelta, aeLambda1, aeLambda2, aeWarmup, esamBeta, esamGamma, esamSwp, esamSds, lookSamPerTensor,
                lookSamMaxAge == null ? Method.Hyper.UNSET_MAX_AGE : lookSamMaxAge, mr);
    }

    @Spec CommandSpec spec;

    /** Options a resumed run may change: they do not change what the run computes on the CPU. */
    private static final Set<String> RESUMABLE = Set.of("--resume", "--threads", "--device", "--cuda-step", "--checkpoint-every",
            "--on-nonfinite", "--divergence-loss", "--divergence-steps", "--ranks");

    @Override public Integer call() {
        if (resume != null) return resumeRun();
        if (trainSubset != null && trainSubset < 1) {
            throw new IllegalArgumentException("--train-subset: must be >= 1 (omit it to train on the whole set), got " + trainSubset);
        }
        String dataSpec = data;
        if (imageSize != null || valFraction != null || splitSeed != null || layout != null || skipBadImages || cache != null) {
            String flag = imageSize != null ? "--image-size" : valFraction != null ? "--val-fraction" : splitSeed != null ? "--split-seed"
                    : layout != null ? "--layout" : skipBadImages ? "--skip-bad-images" : cache ? "--cache" : "--no-cache";
            // written into --data, so that config.json, --resume and sam4j eval read the data as this run does
            dataSpec = dev.sam4j.data.DataSpec.withOptions(data, flag, imageSize, valFraction, splitSeed, layout, skipBadImages,
                    cache == null ? null : cache ? "on" : "off");
        }
        TrainConfig cfg = TrainConfig.builder().data(dataSpec).model(model).optimizer(optimizer).epochs(epochs)
                .batchSize(batchSize).evalBatchSize(evalBatchSize).lr(lr).schedule(schedule).warmupSteps(warmupSteps)
                .momentum(momentum).nesterov(nesterov).weightDecay(weightDecay).seed(seed).labelNoise(labelNoise)
                .trainSubset(trainSubset == null ? 0 : trainSubset)
                .augment(augment).device(device).threads(threads).maxSteps(maxSteps).shuffle(shuffle).out(out).hyper(hyper()).cudaStep(cudaStep).input(input)
                .checkpointEvery(checkpointEvery).onNonFinite(onNonFinite).divergenceLoss(divergenceLoss == null ? Double.NaN : divergenceLoss)
                .divergenceSteps(divergenceSteps).initFrom(initFrom).deterministic(deterministic).keepLastBatch(keepLastBatch)
                .ranks(ranks).samPerturbation(samPerturbation).precision(precision).imageLayout(imageLayout).build();
        Path dir = cfg.out() != null ? cfg.out() : Path.of("runs",
                LocalDateTime.now().format(DateTimeFormatter.ofPattern("yyyyMMdd-HHmmss")) + "-" + cfg.model() + "-" + cfg.optimizer());
        return train(cfg.toBuilder().out(dir).build(), false);
    }

    /** {@code --resume RUN_DIR}: the run's own configuration, a few options changed, continued from its checkpoint. */
    private Integer resumeRun() {
        for (OptionSpec o : spec.commandLine().getParseResult().matchedOptions()) {
            if (!RESUMABLE.contains(o.longestName())) {
                throw new IllegalArgumentException("--resume: " + o.longestName() + " cannot be changed when resuming (the run's "
                        + "config.json fixes it); allowed: --threads, --device, --cuda-step, --checkpoint-every, --on-nonfinite, --divergence-*, --ranks");
            }
        }
        TrainConfig.Builder b = ConfigFile.read(resume.resolve("config.json")).toBuilder().out(resume);
        ParseResult pr = spec.commandLine().getParseResult();
        if (pr.hasMatchedOption("--threads")) b.threads(threads);
        if (pr.hasMatchedOption("--device")) b.device(device);
        if (pr.hasMatchedOption("--cuda-step")) b.cudaStep(cudaStep);
        if (pr.hasMatchedOption("--checkpoint-every")) b.checkpointEvery(checkpointEvery);
        if (pr.hasMatchedOption("--on-nonfinite")) b.onNonFinite(onNonFinite);
        if (pr.hasMatchedOption("--divergence-loss")) b.divergenceLoss(divergenceLoss);
        if (pr.hasMatchedOption("--divergence-steps")) b.divergenceSteps(divergenceSteps);
        if (pr.hasMatchedOption("--ranks")) b.ranks(ranks);   // the batch is global: another world size runs the same experiment
        return train(b.build(), true);
    }

    /**
     * One rank of a launched job (torchrun, Slurm, {@code sam4j launch}): the rendezvous, then the data-parallel trainer
     * over TCP. Rank 0 reports and writes the run directory; a failure here is told to every rank (one line naming
     * this rank), and a failure elsewhere ends this rank with the line naming that one.
     */
    private Integer trainAsRank(TrainConfig cfg, boolean resuming, dev.sam4j.parallel.LaunchEnv env, boolean terminal) {
        if (cfg.ranks() > 1) {
            throw new IllegalArgumentException("--ranks " + cfg.ranks() + ": this process is rank " + env.rank() + " of a job of "
                    + env.worldSize() + " launched by " + env.source() + "; use one or the other");
        }
        if (cfg.batchSize() % env.worldSize() != 0) {
            throw new IllegalArgumentException("--batch-size: the global batch " + cfg.batchSize() + " does not divide by the world size "
                    + env.worldSize() + " (each rank takes batch-size / world size examples a step)");
        }
        long timeout = seconds("SAM4J_RENDEZVOUS_TIMEOUT_S", 120), opTimeout = seconds("SAM4J_COLLECTIVE_TIMEOUT_S", 0);
        // One process per GPU: --device cuda means this rank's GPU, cuda:LOCAL_RANK (torchrun's and Slurm's convention).
        String device = dev.sam4j.backend.Backends.resolveDevice(cfg.device()).trim().toLowerCase(java.util.Locale.ROOT);
        if (device.equals("cuda")) cfg = cfg.toBuilder().device("cuda:" + env.localRank()).build();
        // Rank 0 hands out an ncclUniqueId as the shared id wherever NCCL loads (a CPU job ignores it); CUDA ranks then
        // join the NCCL communicator with it once their backend is open.
        boolean maybeCuda = !device.startsWith("cpu");
        java.util.function.Supplier<byte[]> makeId = () -> maybeCuda && dev.sam4j.backend.Backends.deviceCollectives().available()
                ? dev.sam4j.backend.Backends.deviceCollectiveId() : randomId();
        try (dev.sam4j.parallel.TcpCollective group = dev.sam4j.parallel.TcpCollective.join(env, timeout * 1000, opTimeout * 1000, makeId)) {
            java.util.function.Function<dev.sam4j.backend.Backend, dev.sam4j.parallel.Collective> join = backend ->
                    backend.supportsDeviceCollectives() ? dev.sam4j.parallel.NcclCollective.join(group, backend, opTimeout * 1000) : group;
            try (Trainer trainer = new Trainer(cfg, resuming ? cfg.out().resolve(Checkpoint.FILE) : null, join);
                 RunWriter writer = env.rank() == 0 ? new RunWriter(cfg.out()) : null;
                 Interrupts interrupts = Interrupts.install(trainer::requestStop)) {
                if (writer != null) trainer.addListener(new ConsoleReporter(System.out, terminal)).addListener(writer);
                Decisions decisions = new Decisions();
                trainer.addListener(decisions);
                RunSummary s = trainer.run();
                // Every rank's own line: the ranks' weights and SAM decisions must be the same bits, and this shows that
                // they are; and the step it ran (rank 0's header alone would not show another rank's).
                System.out.println("rank " + env.rank() + " of " + env.worldSize() + ": final weights digest " + digest(trainer.model().downloadParams())
                        + ", SAM decisions " + decisions.summary());
                System.out.println("rank " + env.rank() + " of " + env.worldSize() + ": step: " + trainer.stepPath());
                if (env.rank() == 0) {
                    System.out.println("run directory: " + cfg.out());
                    if (s.interrupted()) System.out.println("checkpoint written; continue with the same launch and train --resume " + cfg.out());
                }
                return s.interrupted() ? 130 : s.steps() > 0 ? 0 : 1;
            } catch (RuntimeException | Error e) {
                if (!(e instanceof dev.sam4j.parallel.CollectiveException)) group.abort(e);
                throw e;
            }
        }
    }

    /**
     * A rank's SAM decisions and skips, step by step, as one digest: ranks that decided alike print the same line.
     * Listeners see the steps in order on the training thread.
     */
    static final class Decisions implements dev.sam4j.train.TrainListener {
        private final java.security.MessageDigest md;
        private long steps, sam, skipped;

        Decisions() {
            try {
                md = java.security.MessageDigest.getInstance("SHA-256");
            } catch (java.security.NoSuchAlgorithmException e) {
                throw new IllegalStateException(e);
            }
        }

        @Override public void onStep(dev.sam4j.train.StepRecord r) {
            steps++;
            if (r.sam()) sam++;
            if (r.skipped()) skipped++;
            md.update((byte) ((r.sam() ? 1 : 0) | (r.skipped() ? 2 : 0)));
        }

        String summary() {
            return sam + " of " + steps + " steps (" + skipped + " skipped), digest "
                    + java.util.HexFormat.of().formatHex(md.digest()).substring(0, 16);
        }
    }

    private static byte[] randomId() {
        byte[] id = new byte[dev.sam4j.parallel.TcpCollective.SHARED_ID_BYTES];
        new java.security.SecureRandom().nextBytes(id);
        return id;
    }

    /** SHA-256 of the weights' float bits, in hex (the first 16 digits). */
    static String digest(float[] w) {
        try {
            java.security.MessageDigest md = java.security.MessageDigest.getInstance("SHA-256");
            java.nio.ByteBuffer b = java.nio.ByteBuffer.allocate(4 * w.length).order(java.nio.ByteOrder.LITTLE_ENDIAN);
            b.asFloatBuffer().put(w);
            return java.util.HexFormat.of().formatHex(md.digest(b.array())).substring(0, 16);
        } catch (java.security.NoSuchAlgorithmException e) {
            throw new IllegalStateException(e);
        }
    }

    private static long seconds(String variable, long otherwise) {
        String v = System.getenv(variable);
        if (v == null) return otherwise;
        try {
            long s = Long.parseLong(v.trim());
            if (s < 0) throw new NumberFormatException();
            return s;
        } catch (NumberFormatException e) {
            throw new IllegalArgumentException(variable + "=" + v + ": must be a whole number of seconds >= 0");
        }
    }

    /**
     * Runs {@code cfg} with Ctrl-C handling: the first interrupt finishes the current step, writes a checkpoint
     * and exits 130; a second one exits at once (the checkpoint on disk is the previous, complete one, since
     * checkpoints are replaced atomically). Exit codes: 0 done, 130 interrupted, 1 no step ran.
     */
    private Integer train(TrainConfig cfg, boolean resuming) {
        boolean terminal = System.console() != null && System.console().isTerminal();
        dev.sam4j.parallel.LaunchEnv launched = dev.sam4j.parallel.LaunchEnv.from(System.getenv());
        if (launched != null && launched.worldSize() > 1) return trainAsRank(cfg, resuming, launched, terminal);
        if (cfg.ranks() > 1) {
            try (LocalRanks ranks = new LocalRanks(cfg, resuming ? cfg.out().resolve(Checkpoint.FILE) : null);
                 RunWriter writer = new RunWriter(cfg.out()); Interrupts interrupts = Interrupts.install(ranks::requestStop)) {
                ranks.rank(0).addListener(new ConsoleReporter(System.out, terminal)).addListener(writer);
                RunSummary s = ranks.run().get(0);
                System.out.println("run directory: " + cfg.out());
                if (s.interrupted()) System.out.println("checkpoint written; continue with: sam4j train --resume " + cfg.out());
                return s.interrupted() ? 130 : s.steps() > 0 ? 0 : 1;
            }
        }
        try (Trainer trainer = new Trainer(cfg, resuming ? cfg.out().resolve(Checkpoint.FILE) : null);
             RunWriter writer = new RunWriter(cfg.out()); Interrupts interrupts = Interrupts.install(trainer::requestStop)) {
            trainer.addListener(new ConsoleReporter(System.out, terminal)).addListener(writer);
            RunSummary s = trainer.run();
            System.out.println("run directory: " + cfg.out());
            if (s.interrupted()) {
                System.out.println(trainer.checkpointFile() != null
                        ? "checkpoint written; continue with: sam4j train --resume " + cfg.out()
                        : "no checkpoint: the run has no run directory");
                return 130;
            }
            return s.steps() > 0 ? 0 : 1;
        }
    }
}
