package dev.sam4j.train;

import static org.junit.jupiter.api.Assertions.*;

import dev.sam4j.backend.Backend;
import dev.sam4j.backend.cpu.CpuBackend;
import dev.sam4j.data.DataSpec;
import dev.sam4j.data.Dataset;
import dev.sam4j.data.Normalization;
import dev.sam4j.io.FileFormatException;
import dev.sam4j.io.SafeTensors;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.Map;
import java.util.function.BiConsumer;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * Saving and loading from library code: a trained model written by {@link Trainer#saveModel} (or found in a run's
 * checkpoint, or exported from it) and read back by {@link SavedModel#load} on a new backend gives the same logits
 * bit for bit and the same normalisation; the full training state written by {@link Trainer#saveCheckpoint}
 * resumes bit-identically; damaged or mismatched files are refused naming the problem.
 */
class SavedModelTest {
    static final String DATA = "synthetic:3,8,8:4:192:48";

    private static TrainConfig.Builder tiny(String model) {
        return TrainConfig.builder().data(DATA).model(model).optimizer("aesam").epochs(1).maxSteps(4).batchSize(32).evalBatchSize(48)
                .device("cpu").threads(2);
    }

    private static Dataset testSet() { return DataSpec.parse(DATA).load().test(); }

    private static void assertSameNormalization(Normalization a, Normalization b) {
        assertEquals(a.channels(), b.channels());
        for (int c = 0; c < a.channels(); c++) {
            assertEquals(Double.doubleToRawLongBits(a.mean(c)), Double.doubleToRawLongBits(b.mean(c)), "mean of channel " + c);
            assertEquals(Double.doubleToRawLongBits(a.std(c)), Double.doubleToRawLongBits(b.std(c)), "std of channel " + c);
        }
    }

    private static void assertSameBits(float[] expected, float[] actual, String what) {
        assertEquals(expected.length, actual.length, what);
        for (int i = 0; i < expected.length; i++) {
            assertEquals(Float.floatToRawIntBits(expected[i]), Float.floatToRawIntBits(actual[i]), what + " [" + i + "]");
        }
    }

    /** mlp (no running statistics) and cnn (BatchNorm, whose running statistics the file must carry too). */
    @ParameterizedTest
    @ValueSource(strings = {"mlp:16", "cnn"})
    void aSavedModelLoadsOnANewBackendWithIdenticalLogitsAndNormalization(String modelName, @TempDir Path dir) throws Exception {
        Dataset test = testSet();
        int n = test.size();
        Path file = dir.resolve("model.safetensors"), run = dir.resolve("run"), exported = dir.resolve("exported.safetensors");
        java.nio.file.Files.createDirectories(run);
        float[] expected;
        Normalization trained;
        Evaluation evaluation;
        try (Trainer t = new Trainer(tiny(modelName).out(run).build())) {
            t.run();
            t.saveModel(file);
            trained = t.normalization();
            evaluation = t.evaluate();
            try (SavedModel view = SavedModel.of(modelName, t.model(), trained)) {
                expected = view.logits(test.pixels(), n);
            }
            assertEquals(evaluation, t.evaluate(), "closing the view left the trainer's model open");
            assertEquals(n, evaluation.examples());
        }
        assertEquals(n * 4, expected.length);
        Checkpoint.exportWeights(run, exported);
        for (Path f : new Path[] {file, run.resolve(Checkpoint.FILE), exported}) {
            try (Backend fresh = new CpuBackend(1); SavedModel loaded = SavedModel.load(f, fresh, 7)) {
                assertEquals(modelName, loaded.modelName());
                assertEquals(test.exampleShape(), loaded.inputShape());
                assertEquals(4, loaded.classes());
                assertSameNormalization(trained, loaded.normalization());
                // 48 images through a model bound for batches of 7: chunked, and still the same bits.
                assertSameBits(expected, loaded.logits(test.pixels(), n), f.getFileName() + " logits");
                try (SavedModel batch48 = SavedModel.load(f, fresh, 48)) {
                    assertEquals(evaluation, batch48.evaluate(test), "the trainer's own evaluation, from " + f.getFileName());
                }
                int[] predicted = loaded.predict(test.pixels(), n);
                for (int i = 0; i < n; i++) {
                    int best = 0;
                    for (int j = 1; j < 4; j++) if (expected[i * 4 + j] > expected[i * 4 + best]) best = j;
                    assertEquals(best, predicted[i], "prediction " + i);
                }
            }
        }
    }

    @Test
    void normalizeIsTheLoadersConversionAndFloatInputsMatchBytes(@TempDir Path dir) {
        Dataset test = testSet();
        Path file = dir.resolve("m.safetensors");
        try (Trainer t = new Trainer(tiny("mlp:16").build())) {
            t.run();
            t.saveModel(file);
        }
        try (Backend b = new CpuBackend(1); SavedModel m = SavedModel.load(file, b)) {
            byte[] px = Arrays.copyOf(test.pixels(), 2 * test.exampleSize());
            float[] x = m.normalize(px, 2);
            Normalization norm = m.normalization();
            int plane = 64;
            for (int i = 0; i < x.length; i++) assertEquals(norm.apply((i % 192) / plane, px[i] & 0xFF), x[i], "pixel " + i);
            float[] unit = new float[px.length];
            for (int i = 0; i < px.length; i++) unit[i] = (px[i] & 0xFF) / 255f;
            assertSameBits(m.logits(px, 2), m.logits(unit, 2), "floats in [0, 1] are the bytes they round to");
            assertArrayEquals(m.predict(px, 2), m.predict(unit, 2));
            assertEquals("SavedModel.normalize: 2 images of [3, 8, 8] are 384 bytes, got 383",
                    assertThrows(IllegalArgumentException.class, () -> m.normalize(Arrays.copyOf(px, 383), 2)).getMessage());
        }
    }

    /**
     * The full training state: one epoch, saved, resumed into a two-epoch run by a new trainer, gives the weights of
     * an uninterrupted two-epoch run (constant learning rate, so the first epoch is the same in both).
     */
    @Test
    void saveCheckpointResumesBitIdentically(@TempDir Path dir) {
        TrainConfig one = tiny("cnn").maxSteps(0).epochs(1).schedule("constant").build(), two = one.toBuilder().epochs(2).build();
        Path file = dir.resolve("state.safetensors");
        try (Trainer t = new Trainer(one)) {
            t.addListener(new TrainListener() {
                @Override public void onStep(StepRecord s) {
                    assertThrows(IllegalStateException.class, () -> t.saveCheckpoint(dir.resolve("mid.safetensors")), "not during a run");
                }
            });
            t.run();
            t.saveCheckpoint(file);
        }
        float[] resumed, resumedState, straight, straightState;
        RunSummary a, b;
        try (Trainer t = new Trainer(two, file)) {
            a = t.run();
            resumed = t.model().downloadParams();
            resumedState = t.model().downloadState();
        }
        try (Trainer t = new Trainer(two)) {
            b = t.run();
            straight = t.model().downloadParams();
            straightState = t.model().downloadState();
        }
        assertSameBits(straight, resumed, "weights");
        assertSameBits(straightState, resumedState, "BatchNorm running statistics");
        assertEquals(b.steps(), a.steps());
        assertEquals(b.samSteps(), a.samSteps());
        assertEquals(b.testAccuracy(), a.testAccuracy());
    }

    /** Copies {@code from} to {@code to} with {@code edit} applied to its metadata and tensors. */
    private static Path rewrite(Path from, Path to, BiConsumer<Map<String, String>, Map<String, float[]>> edit) {
        SafeTensors.Contents c = SafeTensors.read(from);
        Map<String, String> meta = new java.util.LinkedHashMap<>(c.metadata());
        Map<String, float[]> tensors = new java.util.LinkedHashMap<>();
        Map<String, long[]> shapes = new java.util.HashMap<>();
        for (SafeTensors.Entry e : c.entries().values()) {
            tensors.put(e.name(), c.floats(e.name()));
            shapes.put(e.name(), e.shape());
        }
        edit.accept(meta, tensors);
        SafeTensors.Writer w = new SafeTensors.Writer();
        meta.forEach(w::metadata);
        tensors.forEach((name, v) -> w.add(name, shapes.containsKey(name) && v.length == c.entries().get(name).elements()
                ? shapes.get(name) : new long[] {v.length}, v));
        w.write(to);
        return to;
    }

    private static String loadError(Path file) {
        try (Backend b = new CpuBackend(1)) {
            return assertThrows(FileFormatException.class, () -> SavedModel.load(file, b).close()).getMessage();
        }
    }

    @Test
    void damagedOrMismatchedFilesAreRefusedNamingTheProblem(@TempDir Path dir) {
        Path good = dir.resolve("good.safetensors");
        try (Trainer t = new Trainer(tiny("mlp:16").build())) {
            t.run();
            t.saveModel(good);
        }
        String name;
        name = loadError(rewrite(good, dir.resolve("a"), (m, t) -> t.remove("layers.3.bias")));
        assertTrue(name.endsWith("a: no tensor 'layers.3.bias', which model mlp:16 needs"), name);
        name = loadError(rewrite(good, dir.resolve("b"), (m, t) -> m.put("sam4j.model", "mlp:32")));
        assertTrue(name.endsWith("b: tensor 'layers.1.weight' has shape [16, 192], model mlp:32 needs [32, 192]"), name);
        name = loadError(rewrite(good, dir.resolve("c"), (m, t) -> m.put("sam4j.input_shape", "1,8,8")));
        assertTrue(name.contains("normalisation has 3 channels, the input shape [1, 8, 8]"), name);
        name = loadError(rewrite(good, dir.resolve("d"), (m, t) -> t.put("head.weight", new float[4])));
        assertTrue(name.endsWith("d: tensor 'head.weight' is not in model mlp:16"), name);
        name = loadError(rewrite(good, dir.resolve("e"), (m, t) -> m.keySet().removeIf(k -> k.startsWith("sam4j."))));
        assertTrue(name.contains("e: no metadata \"sam4j.model\": not a sam4j model file"), name);
        name = loadError(rewrite(good, dir.resolve("f"), (m, t) -> m.put("sam4j.normalization.std", "0.2,0,0.3")));
        assertTrue(name.contains("f: metadata \"sam4j.normalization.mean\" and \"sam4j.normalization.std\": channel 1: need finite mean and "
                + "positive std"), name);
        name = loadError(rewrite(good, dir.resolve("g"), (m, t) -> m.put("sam4j.model", "resnet99")));
        assertTrue(name.contains("g: metadata \"sam4j.model\" is 'resnet99': unknown model"), name);
        name = loadError(rewrite(good, dir.resolve("h"), (m, t) -> m.put("sam4j.input_shape", "3,8")));
        assertTrue(name.endsWith("h: metadata \"sam4j.input_shape\" must be C,H,W, got '3,8'"), name);
        name = loadError(rewrite(good, dir.resolve("i"), (m, t) -> t.get("layers.1.weight")[5] = Float.NaN));
        assertTrue(name.endsWith("i: tensor 'layers.1.weight' holds a non-finite value (NaN at index 5)"), name);
    }

    /** Plain weights into a model you built: by name, running statistics included, checked like any load. */
    @Test
    void loadWeightsFillsAModelYouBuilt(@TempDir Path dir) {
        Path file = dir.resolve("cnn.safetensors");
        float[] params, state;
        try (Trainer t = new Trainer(tiny("cnn").build())) {
            t.run();
            t.saveModel(file);
            params = t.model().downloadParams();
            state = t.model().downloadState();
        }
        try (Backend b = new CpuBackend(1); dev.sam4j.nn.Model m = dev.sam4j.nn.models.Models.build("cnn", dev.sam4j.tensor.Shape.of(3, 8, 8), 4, b, 8, 99)) {
            SavedModel.loadWeights(file, m, "cnn");
            assertSameBits(params, m.downloadParams(), "weights");
            assertSameBits(state, m.downloadState(), "running statistics");
        }
        try (Backend b = new CpuBackend(1); dev.sam4j.nn.Model m = dev.sam4j.nn.models.Models.build("mlp", dev.sam4j.tensor.Shape.of(3, 8, 8), 4, b, 8, 99)) {
            String e = assertThrows(FileFormatException.class, () -> SavedModel.loadWeights(file, m, "mlp")).getMessage();
            assertTrue(e.contains("is not in model mlp"), e);
        }
    }

    /** sam4j eval takes the stored normalisation; an older checkpoint without one gets it re-measured, with a note. */
    @Test
    void evalUsesTheStoredNormalizationAndFallsBackForOlderCheckpoints(@TempDir Path dir) throws Exception {
        Path run = java.nio.file.Files.createDirectories(dir.resolve("run"));
        try (Trainer t = new Trainer(tiny("mlp:16").out(run).build())) {
            t.run();
        }
        Path file = run.resolve(Checkpoint.FILE);
        Evaluator.Result stored = Evaluator.evaluate(file, null, "cpu", 1, 48);
        assertTrue(stored.normalization().endsWith("(stored in the checkpoint)"), stored.normalization());
        Path old = rewrite(file, dir.resolve("old.safetensors"), (m, t) -> m.keySet().removeAll(SavedModel.KEYS));
        Evaluator.Result measured = Evaluator.evaluate(old, null, "cpu", 1, 48);
        assertTrue(measured.normalization().endsWith("(re-measured on the run's training set: the checkpoint predates stored normalisation)"),
                measured.normalization());
        assertEquals(stored.normalization().substring(0, stored.normalization().indexOf(" (")),
                measured.normalization().substring(0, measured.normalization().indexOf(" (")), "the same statistics");
        assertEquals(stored.loss(), measured.loss());
        assertEquals(stored.accuracy(), measured.accuracy());
    }
}
