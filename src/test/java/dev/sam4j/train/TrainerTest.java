package dev.sam4j.train;

import static org.junit.jupiter.api.Assertions.*;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class TrainerTest {

    private static TrainConfig.Builder small() {
        return TrainConfig.builder().data("fashion-mnist-sample").device("cpu").threads(2);
    }

    /** The README's promise: one epoch of the mlp on the embedded sample beats 70% test accuracy. */
    @Test
    void mlpOneEpochOnTheEmbeddedSampleBeats70Percent(@TempDir Path dir) {
        TrainConfig cfg = small().model("mlp").epochs(1).out(dir).build();
        List<StepRecord> steps = new ArrayList<>();
        try (Trainer t = new Trainer(cfg); RunWriter w = new RunWriter(dir)) {
            t.addListener(w).addListener(new TrainListener() {
                @Override public void onStep(StepRecord s) { steps.add(s); }
            });
            RunSummary s = t.run();
            assertTrue(s.testAccuracy() > 0.70, "test accuracy " + s.testAccuracy());
            assertEquals(t.stepsPerEpoch(), s.steps());
            assertEquals(0.0, s.samFraction());
        }
        assertFalse(steps.isEmpty());
        for (StepRecord r : steps) {
            assertTrue(r.s() > 0 && Double.isFinite(r.s()), "s must be a positive finite ||g||^2");
            assertFalse(r.sam());
        }
        for (String f : List.of("config.json", "provenance.json", "metrics.csv", "steps.jsonl", "summary.json")) {
            assertTrue(Files.exists(dir.resolve(f)), f);
        }
    }

    @Test
    void runDirectoryRecordsAreComplete(@TempDir Path dir) throws Exception {
        TrainConfig cfg = small().model("mlp").epochs(2).maxSteps(24).out(dir).build();
        try (Trainer t = new Trainer(cfg); RunWriter w = new RunWriter(dir)) {
            t.addListener(w);
            t.run();
        }
        List<String> metrics = Files.readAllLines(dir.resolve("metrics.csv"));
        assertEquals(RunWriter.METRICS_HEADER, metrics.get(0));
        assertEquals(3, metrics.size(), "header + one row per epoch");
        List<String> steps = Files.readAllLines(dir.resolve("steps.jsonl"));
        assertEquals(24, steps.size());
        assertTrue(steps.get(0).startsWith("{\"step\":0,\"epoch\":1,\"loss\":"), steps.get(0));
        assertTrue(steps.get(0).contains("\"sam\":false"));
        String summary = Files.readString(dir.resolve("summary.json"));
        for (String key : List.of("test_accuracy", "best_test_accuracy", "sam_fraction", "steps", "wall_seconds",
                "images_per_second", "backend", "model", "optimizer", "seed")) {
            assertTrue(summary.contains("\"" + key + "\""), key);
        }
        assertTrue(Files.readString(dir.resolve("provenance.json")).contains("embedded sample"));
    }

    /** Same seed and configuration: identical numbers and bit-identical weights, for a model with BatchNorm too. */
    @Test
    void sameSeedSameConfigGivesIdenticalResults() {
        for (String model : List.of("mlp", "cnn")) {
            TrainConfig cfg = small().model(model).epochs(1).maxSteps(model.equals("cnn") ? 6 : 20).labelNoise(0.2).build();
            RunSummary a, b;
            float[] wa, wb, sa, sb;
            try (Trainer t = new Trainer(cfg)) { a = t.run(); wa = t.model().downloadParams(); sa = t.model().downloadState(); }
            try (Trainer t = new Trainer(cfg)) { b = t.run(); wb = t.model().downloadParams(); sb = t.model().downloadState(); }
            Map<String, Object> ma = a.toMap(), mb = b.toMap();
            for (String timing : List.of("wall_seconds", "images_per_second")) { ma.remove(timing); mb.remove(timing); }
            assertEquals(ma, mb, model);
            assertArrayEquals(wa, wb, model + " weights");
            assertArrayEquals(sa, sb, model + " BatchNorm state");
        }
    }

    @Test
    void differentSeedsGiveDifferentWeights() {
        float[] a, b;
        try (Trainer t = new Trainer(small().maxSteps(3).seed(1).build())) { t.run(); a = t.model().downloadParams(); }
        try (Trainer t = new Trainer(small().maxSteps(3).seed(2).build())) { t.run(); b = t.model().downloadParams(); }
        assertFalse(java.util.Arrays.equals(a, b));
    }

    /**
     * {@code --input synthetic}: the first training batch is reused by every step (no loading or copying),
     * so the step count per epoch is unchanged and the one batch is fitted quickly; a bad value names the option.
     */
    @Test
    void syntheticInputReusesTheFirstBatch() {
        // Plain gradient descent with a small constant step on one fixed batch: every step's loss is lower
        // than the last, across the epoch boundary too (where the evaluation has used the input buffers).
        TrainConfig cfg = TrainConfig.builder().data("synthetic:1,8,8:4:320:64").device("cpu").threads(2).model("mlp")
                .epochs(2).batchSize(32).input("synthetic").lr(0.01).momentum(0).weightDecay(0).schedule("constant").build();
        List<StepRecord> steps = new ArrayList<>();
        try (Trainer t = new Trainer(cfg)) {
            t.addListener(new TrainListener() { @Override public void onStep(StepRecord s) { steps.add(s); } });
            RunSummary s = t.run();
            assertEquals(20, s.steps());
        }
        for (int i = 1; i < 20; i++) {
            assertTrue(steps.get(i).loss() < steps.get(i - 1).loss(), "loss rose at step " + i + ": " + steps.get(i - 1).loss()
                    + " -> " + steps.get(i).loss());
        }
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> TrainConfig.builder().input("disk").build());
        assertEquals("TrainConfig.Builder.input(\"disk\"): must be loader or synthetic", e.getMessage());
    }

    /**
     * 90 examples in batches of 16: five full batches and one of 10. By default the host step drops the partial one,
     * as the CUDA graph step must; --keep-last-batch trains it; a batch larger than the set then needs the flag.
     */
    @Test
    void thePartialLastBatchIsDroppedUnlessKept() {
        TrainConfig.Builder b = TrainConfig.builder().data("synthetic:1,8,8:4:90:32").model("mlp").optimizer("aesam").epochs(2)
                .batchSize(16).evalBatchSize(32).device("cpu").threads(2);
        for (boolean keep : new boolean[] {false, true}) {
            List<StepRecord> steps = new ArrayList<>();
            try (Trainer t = new Trainer(b.keepLastBatch(keep).build())) {
                t.addListener(new TrainListener() { @Override public void onStep(StepRecord s) { steps.add(s); } });
                assertEquals(keep ? 6 : 5, t.stepsPerEpoch());
                assertEquals(keep ? 12 : 10, t.totalSteps());
                RunSummary s = t.run();
                assertEquals(keep ? 12 : 10, s.steps());
            }
            assertEquals(keep ? 12 : 10, steps.size());
            assertEquals(2, steps.get(steps.size() - 1).epoch());
        }
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> new Trainer(b.keepLastBatch(false).batchSize(128).build()));
        assertEquals("TrainConfig.Builder.batchSize(128) is larger than the training set (90), and the partial last batch is dropped: "
                + "lower it or add keepLastBatch(true)", e.getMessage());
        assertEquals("--batch-size 128 is larger than the training set (90), and the partial last batch is dropped: lower it or add "
                + "--keep-last-batch", ((dev.sam4j.io.InvalidSettingException) e).commandLineMessage());
        try (Trainer t = new Trainer(b.keepLastBatch(true).batchSize(128).build())) {
            assertEquals(1, t.stepsPerEpoch());
        }
    }
}
