package dev.sam4j.train;

import static org.junit.jupiter.api.Assertions.*;

import dev.sam4j.io.InvalidSettingException;
import dev.sam4j.optim.sam.Method;
import java.util.function.UnaryOperator;
import org.junit.jupiter.api.Test;

/**
 * Validation messages name what the caller wrote: the builder method for library code
 * ({@code TrainConfig.Builder.batchSize(0): must be in [1, 65536]}), the option on the command line
 * ({@code --batch-size: must be in [1, 65536], got 0}); an unknown model is refused by {@code build()}.
 */
class SettingMessagesTest {
    private static void rejects(UnaryOperator<TrainConfig.Builder> configure, String library, String commandLine) {
        InvalidSettingException e = assertThrows(InvalidSettingException.class,
                () -> configure.apply(TrainConfig.builder().device("cpu")).build());
        assertEquals(library, e.getMessage());
        assertEquals(commandLine, e.commandLineMessage());
    }

    @Test
    void trainConfigNamesTheBuilderMethodAndTheOption() {
        rejects(b -> b.batchSize(0), "TrainConfig.Builder.batchSize(0): must be in [1, 65536]", "--batch-size: must be in [1, 65536], got 0");
        rejects(b -> b.evalBatchSize(70000), "TrainConfig.Builder.evalBatchSize(70000): must be in [1, 65536]",
                "--eval-batch-size: must be in [1, 65536], got 70000");
        rejects(b -> b.epochs(0), "TrainConfig.Builder.epochs(0): must be >= 1", "--epochs: must be >= 1, got 0");
        rejects(b -> b.lr(-0.1), "TrainConfig.Builder.lr(-0.1): must be a positive number", "--lr: must be a positive number, got -0.1");
        rejects(b -> b.momentum(1), "TrainConfig.Builder.momentum(1.0): must be in [0, 1)", "--momentum: must be in [0, 1), got 1.0");
        rejects(b -> b.momentum(0).nesterov(true), "TrainConfig.Builder.nesterov(true): needs momentum(m) with m > 0",
                "--nesterov: needs --momentum > 0");
        rejects(b -> b.augment("maybe"), "TrainConfig.Builder.augment(\"maybe\"): must be auto, on or off",
                "--augment: must be auto, on or off, got 'maybe'");
        rejects(b -> b.onNonFinite("ignore"), "TrainConfig.Builder.onNonFinite(\"ignore\"): must be stop or skip",
                "--on-nonfinite: must be stop or skip, got 'ignore'");
        rejects(b -> b.maxSteps(-1), "TrainConfig.Builder.maxSteps(-1): must be >= 0 (0 = no limit)",
                "--max-steps: must be >= 0 (0 = no limit), got -1");
        rejects(b -> b.schedule("linear"), "TrainConfig.Builder.schedule(\"linear\"): unknown schedule 'linear'; valid: constant, cosine, step, "
                + "step:EVERY_STEPS:GAMMA", "--schedule: unknown schedule 'linear'; valid: constant, cosine, step, step:EVERY_STEPS:GAMMA");
        rejects(b -> b.optimizer("adamw"), "TrainConfig.Builder.optimizer(\"adamw\"): unknown optimizer; valid: " + String.join(", ", Method.NAMES),
                "--optimizer adamw: unknown optimizer; valid: " + String.join(", ", Method.NAMES));
    }

    /** A typo in the model fails in build(), before any data is read (the data source here does not even exist). */
    @Test
    void anUnknownModelIsRefusedByBuild() {
        UnaryOperator<TrainConfig.Builder> nowhere = b -> b.data("cifar10:/nonexistent/dir");
        rejects(b -> nowhere.apply(b).model("resnet99"), "TrainConfig.Builder.model(\"resnet99\"): unknown model; valid names: mlp, mlp:WIDTH "
                + "(hidden width, e.g. mlp:4096), cnn, resnet18, wrn-D-K (Wide ResNet of depth D with (D - 4) % 6 == 0 and width K, e.g. "
                + "wrn-16-4, wrn-28-10)", "--model resnet99: unknown model; valid names: mlp, mlp:WIDTH (hidden width, e.g. mlp:4096), cnn, resnet18, "
                + "wrn-D-K (Wide ResNet of depth D with (D - 4) % 6 == 0 and width K, e.g. wrn-16-4, wrn-28-10)");
        rejects(b -> nowhere.apply(b).model("wrn-15-2"), "TrainConfig.Builder.model(\"wrn-15-2\"): Wide ResNet depth must be 6·n + 4 with n ≥ 1 "
                + "(10, 16, 22, 28, ...), got 15", "--model wrn-15-2: Wide ResNet depth must be 6·n + 4 with n ≥ 1 (10, 16, 22, 28, ...), got 15");
        rejects(b -> nowhere.apply(b).model("mlp:0"), "TrainConfig.Builder.model(\"mlp:0\"): mlp:WIDTH needs a positive width",
                "--model mlp:0: mlp:WIDTH needs a positive width");
        rejects(b -> nowhere.apply(b).model("wrn-99999999999-1"), "TrainConfig.Builder.model(\"wrn-99999999999-1\"): a number in the name is out of range",
                "--model wrn-99999999999-1: a number in the name is out of range");
        for (String ok : new String[] {"mlp", "MLP", " cnn ", "resnet18", "wrn-16-4", "wrn-28-10", "mlp:4096"}) {
            assertEquals(ok.trim().toLowerCase(java.util.Locale.ROOT), TrainConfig.builder().model(ok).build().model());
        }
    }

    @Test
    void hyperparametersNameTheHyperBuildersMethod() {
        Method.Hyper d = Method.Hyper.defaults();
        InvalidSettingException e = assertThrows(InvalidSettingException.class, () -> d.toBuilder().rho(0).build());
        assertEquals("Method.Hyper.Builder.rho(0.0): must be > 0", e.getMessage());
        assertEquals("--rho: must be > 0, got 0.0", e.commandLineMessage());
        e = assertThrows(InvalidSettingException.class, () -> d.toBuilder().lookSamK(0).build());
        assertEquals("Method.Hyper.Builder.lookSamK(0): must be >= 1", e.getMessage());
        assertEquals("--looksam-k: must be >= 1, got 0", e.commandLineMessage());
        e = assertThrows(InvalidSettingException.class, () -> d.toBuilder().aeDelta(1).build());
        assertEquals("Method.Hyper.Builder.aeDelta(1.0): must be in (0, 1)", e.getMessage());
        assertEquals("--ae-delta: must be in (0, 1), got 1.0", e.commandLineMessage());
        e = assertThrows(InvalidSettingException.class, () -> d.toBuilder().msamRho(-1).build());
        assertEquals("Method.Hyper.Builder.msamRho(-1.0): must be > 0", e.getMessage());
        assertEquals("--rho: must be > 0, got -1.0", e.commandLineMessage(), "the CLI sets MSAM's radius with --rho");
    }

    @Test
    void anUnknownDeviceIsNamedForEachSide() {
        InvalidSettingException e = assertThrows(InvalidSettingException.class, () -> dev.sam4j.backend.Backends.choose("tpu", 1));
        assertEquals("device(\"tpu\"): unknown device; valid: auto, cpu, cpu-reference, cuda[:N]", e.getMessage());
        assertEquals("--device: unknown device 'tpu'; valid: auto, cpu, cpu-reference, cuda[:N]", e.commandLineMessage());
    }

    @Test
    void evaluateReturnsANamedRecord() {
        TrainConfig cfg = RunDigest.small("sam").epochs(1).checkpointEvery(0).build();
        try (Trainer t = new Trainer(cfg)) {
            RunSummary s = t.run();
            Evaluation e = t.evaluate();
            assertEquals(s.testLoss(), e.loss());
            assertEquals(s.testAccuracy(), e.accuracy());
            assertEquals(48, e.examples());
        }
    }
}
