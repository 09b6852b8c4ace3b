package dev.sam4j.train;

import static org.junit.jupiter.api.Assertions.*;

import dev.sam4j.io.FileFormatException;
import dev.sam4j.io.SafeTensors;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Checkpoint contents, export and --init-from, and the numerical-fault and divergence stops. */
class CheckpointTest {

    static TrainConfig.Builder small(Path dir) {
        return TrainConfig.builder().data("synthetic:1,8,8:4:64:32").model("mlp").epochs(1).batchSize(16).evalBatchSize(32)
                .device("cpu").threads(2).out(dir);
    }

    static RunSummary run(TrainConfig cfg) {
        try (Trainer t = new Trainer(cfg); RunWriter w = new RunWriter(cfg.out())) {
            return t.addListener(w).run();
        }
    }

    @Test
    void checkpointHoldsPyTorchNamesOptimizerStateAndProgress(@TempDir Path dir) {
        run(small(dir).optimizer("looksam").build());
        SafeTensors.Contents c = SafeTensors.read(dir.resolve(Checkpoint.FILE));
        assertEquals(List.of("layers.1.weight", "layers.1.bias", "layers.3.weight", "layers.3.bias", "layers.5.weight",
                "layers.5.bias", "optim.momentum", "policy.g_v"), List.copyOf(c.entries().keySet()));
        assertArrayEquals(new long[] {512, 64}, c.entries().get("layers.1.weight").shape());
        assertEquals("pt", c.meta("format"));
        assertEquals("4", c.meta("progress.step"));
        assertEquals("2", c.meta("progress.epoch"), "an epoch-end checkpoint points at the next epoch");
        assertEquals("4", c.meta("optim.steps"));
    }

    @Test
    void exportedWeightsStartAnotherRunAndHostileOnesAreRejected(@TempDir Path tmp) throws Exception {
        Path a = tmp.resolve("a"), b = tmp.resolve("b"), w = tmp.resolve("w.safetensors");
        float[] trained;
        try (Trainer t = new Trainer(small(a).build()); RunWriter rw = new RunWriter(a)) {
            t.addListener(rw).run();
            trained = t.model().downloadParams();
        }
        Checkpoint.exportWeights(a, w);
        SafeTensors.Contents c = SafeTensors.read(w);
        assertFalse(c.has("optim.momentum"));
        assertEquals("pt", c.meta("format"));
        try (Trainer t = new Trainer(small(b).maxSteps(1).initFrom(w).build())) {
            assertArrayEquals(trained, t.model().downloadParams(), "--init-from loads the exported weights");
        }
        // Wrong shape (another input size), an unknown tensor, a non-finite weight.
        FileFormatException e = assertThrows(FileFormatException.class,
                () -> new Trainer(small(b).data("synthetic:1,9,9:4:64:32").initFrom(w).build()).close());
        assertTrue(e.getMessage().contains("'layers.1.weight' has shape [512, 64], model mlp needs [512, 81]"), e.getMessage());
        Path odd = tmp.resolve("odd.safetensors");
        new SafeTensors.Writer().add("conv9.weight", new long[] {1}, new float[] {1}).write(odd);
        e = assertThrows(FileFormatException.class, () -> new Trainer(small(b).initFrom(odd).build()).close());
        assertTrue(e.getMessage().contains("'conv9.weight' is not in model mlp"), e.getMessage());
        SafeTensors.Writer nan = new SafeTensors.Writer();
        for (var en : c.entries().values()) {
            float[] v = c.floats(en.name());
            if (en.name().equals("layers.3.bias")) v[7] = Float.NaN;
            nan.add(en.name(), en.shape(), v);
        }
        nan.write(odd);
        e = assertThrows(FileFormatException.class, () -> new Trainer(small(b).initFrom(odd).build()).close());
        assertTrue(e.getMessage().contains("'layers.3.bias' holds a non-finite value (NaN at index 7)"), e.getMessage());
    }

    /** Weights so large that the logits overflow: every step's loss is not finite. */
    static Path hugeWeights(Path tmp) {
        Path a = tmp.resolve("seed"), w = tmp.resolve("huge.safetensors");
        run(small(a).maxSteps(1).build());
        SafeTensors.Contents c = SafeTensors.read(a.resolve(Checkpoint.FILE));
        SafeTensors.Writer out = new SafeTensors.Writer();
        for (var en : c.entries().values()) {
            if (en.name().startsWith("optim.")) continue;
            float[] v = c.floats(en.name());
            for (int i = 0; i < v.length; i++) v[i] = v[i] * 1e30f + 1e30f;
            out.add(en.name(), en.shape(), v);
        }
        out.write(w);
        return w;
    }

    @Test
    void nonFiniteStepsAreSkippedWithoutChangingAnything(@TempDir Path tmp) throws Exception {
        Path w = hugeWeights(tmp), dir = tmp.resolve("skip");
        TrainConfig cfg = small(dir).optimizer("sam").initFrom(w).onNonFinite("skip").build();
        float[] before, after;
        RunSummary s;
        try (Trainer t = new Trainer(cfg); RunWriter rw = new RunWriter(dir)) {
            before = t.model().downloadParams();
            s = t.addListener(rw).run();
            after = t.model().downloadParams();
        }
        assertEquals(4, s.skippedSteps());
        assertArrayEquals(before, after, "skipped steps leave the weights unchanged");
        assertTrue(Files.readString(dir.resolve("summary.json")).contains("\"skipped_steps\": 4"));
        assertTrue(Files.readAllLines(dir.resolve("metrics.csv")).get(1).endsWith(",4"));
        assertTrue(Files.readAllLines(dir.resolve("steps.jsonl")).get(0).endsWith("\"skipped\":true}"));
    }

    @Test
    void nonFiniteStepStopsTheRunByDefault(@TempDir Path tmp) {
        Path w = hugeWeights(tmp);
        TrainingStoppedException e = assertThrows(TrainingStoppedException.class,
                () -> run(small(tmp.resolve("stop")).initFrom(w).build()));
        assertTrue(e.getMessage().startsWith("step 0 (epoch 1): the loss is"), e.getMessage());
        assertTrue(e.getMessage().contains("No checkpoint had been written yet"), e.getMessage());
    }

    @Test
    void divergenceStopsTheRunAndKeepsTheLastGoodCheckpoint(@TempDir Path dir) throws Exception {
        run(small(dir).epochs(3).maxSteps(4).build());
        Path ckpt = dir.resolve(Checkpoint.FILE);
        byte[] good = Files.readAllBytes(ckpt);
        // Every loss is above 0: the third step in a row stops the run; no checkpoint is written meanwhile.
        TrainConfig cfg = ConfigFile.read(dir.resolve("config.json")).toBuilder().out(dir).maxSteps(0).checkpointEvery(1)
                .divergenceLoss(0).divergenceSteps(3).build();
        TrainingStoppedException e = assertThrows(TrainingStoppedException.class, () -> {
            try (Trainer t = new Trainer(cfg)) {
                t.run();
            }
        });
        assertTrue(e.getMessage().contains("above 0.0 for 3 consecutive steps"), e.getMessage());
        assertTrue(e.getMessage().contains("no checkpoint had been written yet") || e.getMessage().contains("No checkpoint"), e.getMessage());
        assertArrayEquals(good, Files.readAllBytes(ckpt), "the diverging run wrote no checkpoint");
    }
}
