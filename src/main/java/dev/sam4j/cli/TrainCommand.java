package dev.sam4j.cli;

import dev.sam4j.train.RunSummary;
import dev.sam4j.train.RunWriter;
import dev.sam4j.train.TrainConfig;
import dev.sam4j.train.Trainer;
import java.nio.file.Path;
import java.time.LocalDateTime;
import java.time.format.DateTimeFormatter;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/** {@code sam4j train}: one training run, written to a run directory. */
@Command(name = "train", mixinStandardHelpOptions = true, sortOptions = false, showDefaultValues = true,
        description = "Train a model and write a run directory (config.json, provenance.json, metrics.csv, steps.jsonl, summary.json).")
final class TrainCommand implements Callable<Integer> {
    /** Option defaults come from the config's builder, so the CLI and the library cannot disagree. */
    private static final TrainConfig D = TrainConfig.builder().build();

    @Option(names = "--data", description = "fashion-mnist (full set if installed, else the embedded sample), "
            + "fashion-mnist:DIR, fashion-mnist-sample, cifar10:DIR, cifar100:DIR, synthetic[:C,H,W[:CLASSES[:TRAIN[:TEST]]]]")
    String data = D.data();

    @Option(names = "--model", description = "mlp, cnn, resnet18, wrn-28-10 (or wrn-DEPTH-WIDTH)")
    String model = D.model();

    @Option(names = "--optimizer", description = "erm")
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

    @Override public Integer call() {
        TrainConfig cfg = TrainConfig.builder().data(data).model(model).optimizer(optimizer).epochs(epochs)
                .batchSize(batchSize).evalBatchSize(evalBatchSize).lr(lr).schedule(schedule).warmupSteps(warmupSteps)
                .momentum(momentum).nesterov(nesterov).weightDecay(weightDecay).seed(seed).labelNoise(labelNoise)
                .augment(augment).device(device).threads(threads).maxSteps(maxSteps).shuffle(shuffle).out(out).build();
        Path dir = cfg.out() != null ? cfg.out() : Path.of("runs",
                LocalDateTime.now().format(DateTimeFormatter.ofPattern("yyyyMMdd-HHmmss")) + "-" + cfg.model() + "-" + cfg.optimizer());
        cfg = cfg.toBuilder().out(dir).build();
        boolean terminal = System.console() != null && System.console().isTerminal();
        try (Trainer trainer = new Trainer(cfg); RunWriter writer = new RunWriter(dir)) {
            trainer.addListener(new ConsoleReporter(System.out, terminal)).addListener(writer);
            RunSummary s = trainer.run();
            System.out.println("run directory: " + dir);
            return s.steps() > 0 ? 0 : 1;
        }
    }
}
