package dev.sam4j.train;

import static org.junit.jupiter.api.Assertions.*;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.stream.Collectors;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/**
 * A run stopped after k steps (the same request Ctrl-C makes) and resumed from its checkpoint ends with
 * the same weights, bit for bit, as the run that was never stopped, and its records continue without
 * duplicated or missing rows.
 */
class ResumeTest {

    /** 5 steps per epoch of a small mlp on seeded synthetic data; a periodic checkpoint every 3 steps. */
    static TrainConfig config(String optimizer, Path dir) {
        return TrainConfig.builder().data("synthetic:1,8,8:4:80:32").model("mlp").optimizer(optimizer).epochs(2)
                .batchSize(16).evalBatchSize(32).device("cpu").threads(2).checkpointEvery(3)
                .hyper(dev.sam4j.optim.sam.Method.Hyper.defaults().toBuilder().lookSamK(3).aeWarmup(0).build())
                .out(dir).build();
    }

    static float[] train(TrainConfig cfg, long stopAfter, boolean resume) {
        try (Trainer t = new Trainer(cfg); RunWriter w = new RunWriter(cfg.out())) {
            if (resume) t.resume(cfg.out().resolve(Checkpoint.FILE));
            t.addListener(w);
            if (stopAfter > 0) {
                t.addListener(new TrainListener() {
                    @Override public void onStep(StepRecord s) { if (s.step() == stopAfter - 1) t.requestStop(); }
                });
            }
            RunSummary s = t.run();
            assertEquals(stopAfter > 0, s.interrupted());
            return t.model().downloadParams();
        }
    }

    /** steps.jsonl without the wall time of each step. */
    static List<String> steps(Path dir) throws Exception {
        return Files.readAllLines(dir.resolve("steps.jsonl")).stream().map(l -> l.replaceAll("\"step_ms\":[^,}]*", "")).toList();
    }

    /** metrics.csv without the timing columns (images per second, seconds). */
    static List<String> metrics(Path dir) throws Exception {
        return Files.readAllLines(dir.resolve("metrics.csv")).stream().map(l -> {
            String[] f = l.split(",");
            return java.util.stream.IntStream.range(0, f.length).filter(i -> i != 7 && i != 8).mapToObj(i -> f[i])
                    .collect(Collectors.joining(","));
        }).toList();
    }

    @ParameterizedTest(name = "{0} stopped after {1} steps")
    @CsvSource({"erm, 3", "sam, 5", "sssam, 7", "looksam, 4", "aesam, 6", "esam, 2", "msam, 4", "aelooksam, 7"})
    void resumedRunIsBitIdenticalToAnUninterruptedOne(String optimizer, long k, @TempDir Path tmp) throws Exception {
        Path whole = tmp.resolve("whole"), parts = tmp.resolve("parts");
        float[] expected = train(config(optimizer, whole), 0, false);
        train(config(optimizer, parts), k, false);
        List<String> cut = steps(parts);
        assertEquals(k, cut.size(), "an interrupted run records exactly its steps");
        // Resume as the command line does: the configuration comes back from config.json.
        float[] actual = train(ConfigFile.read(parts.resolve("config.json")).toBuilder().out(parts).build(), 0, true);
        assertEquals(expected.length, actual.length);
        for (int i = 0; i < expected.length; i++) {
            if (Float.floatToRawIntBits(expected[i]) != Float.floatToRawIntBits(actual[i])) {
                fail(optimizer + ": weight " + i + " differs: " + expected[i] + " vs " + actual[i]);
            }
        }
        assertEquals(steps(whole), steps(parts));
        assertEquals(metrics(whole), metrics(parts));
        String summary = Files.readString(parts.resolve("summary.json"));
        assertTrue(summary.contains("\"interrupted\": false") && summary.contains("\"steps\": 10"), summary);
    }
}
