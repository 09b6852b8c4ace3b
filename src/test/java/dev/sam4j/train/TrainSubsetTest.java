package dev.sam4j.train;

import static org.junit.jupiter.api.Assertions.*;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/** {@code --train-subset N}: a seeded choice of N training examples, applied before the label noise. */
class TrainSubsetTest {

    private static TrainConfig.Builder small() {
        return TrainConfig.builder().data("fashion-mnist-sample").device("cpu").threads(2).model("mlp").epochs(1);
    }

    private static List<String> run(TrainConfig cfg, Path dir) throws Exception {
        try (Trainer t = new Trainer(cfg); RunWriter w = new RunWriter(dir)) {
            t.addListener(w);
            t.run();
            assertTrue(t.dataDescription().contains("subset of " + cfg.trainSubset()), t.dataDescription());
        }
        return Files.readAllLines(dir.resolve("steps.jsonl"));
    }

    @Test
    void trainsOnExactlyNExamplesAndTheChoiceIsSeeded(@TempDir Path dir) throws Exception {
        // With the partial last batch kept, every one of the 300 examples is trained on: 3 steps of 128, 128, 44.
        TrainConfig cfg = small().trainSubset(300).labelNoise(0.2).seed(7).keepLastBatch(true).build();
        List<String> a = run(cfg, dir.resolve("a"));
        assertEquals(3, a.size());
        // By default the partial batch is dropped: 2 steps.
        assertEquals(2, run(cfg.toBuilder().keepLastBatch(false).build(), dir.resolve("d")).size());
        String prov = Files.readString(dir.resolve("a/provenance.json"));
        assertTrue(prov.contains("\"train_size\": 300"), prov);
        assertTrue(Files.readString(dir.resolve("a/config.json")).contains("\"train_subset\": 300"));
        List<String> b = run(cfg, dir.resolve("b"));
        assertEquals(strip(a), strip(b), "same seed, same subset, same steps");
        List<String> c = run(cfg.toBuilder().seed(8).build(), dir.resolve("c"));
        assertNotEquals(strip(a), strip(c), "another seed chooses other examples");
    }

    /** Step records without their wall time, which differs between identical runs. */
    private static List<String> strip(List<String> steps) {
        return steps.stream().map(s -> s.replaceAll(",\"step_ms\":[^,}]*", "")).toList();
    }

    @ParameterizedTest
    @ValueSource(ints = {2001, 100_000})
    void largerThanTheTrainingSetIsANamedError(int n) {
        TrainConfig cfg = small().trainSubset(n).build();
        var e = assertThrows(IllegalArgumentException.class, () -> new Trainer(cfg).close());
        assertTrue(e.getMessage().startsWith("TrainConfig.Builder.trainSubset(" + n + "): larger than the training set"), e.getMessage());
        assertTrue(e.getMessage().contains("2000"), e.getMessage());
    }

    @Test
    void negativeIsRejectedByTheConfig() {
        var e = assertThrows(IllegalArgumentException.class, () -> small().trainSubset(-1).build());
        assertEquals("TrainConfig.Builder.trainSubset(-1): must be >= 0 (0 = the whole training set)", e.getMessage());
        assertEquals(0, small().build().trainSubset(), "0 (the default) is the whole set");
    }
}
