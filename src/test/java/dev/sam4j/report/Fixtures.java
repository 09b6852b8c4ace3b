package dev.sam4j.report;

import dev.sam4j.io.Json;
import dev.sam4j.train.RunWriter;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Locale;
import java.util.Map;

/** Synthetic run directories, written the way {@link RunWriter} writes them, with chosen numbers. */
final class Fixtures {
    private Fixtures() { }

    static Path run(Path dir, String optimizer, String model, double noise, int subset, long seed, double testAcc, double samFraction,
                    double wallSeconds, int epochs) throws IOException {
        Files.createDirectories(dir);
        Map<String, Object> cfg = new LinkedHashMap<>();
        cfg.put("data", "fashion-mnist");
        cfg.put("model", model);
        cfg.put("optimizer", optimizer);
        cfg.put("epochs", epochs);
        cfg.put("batch_size", 128);
        cfg.put("lr", 0.05);
        cfg.put("schedule", "cosine");
        cfg.put("seed", seed);
        cfg.put("label_noise", noise);
        cfg.put("train_subset", subset);
        cfg.put("sssam_p", samFraction);
        cfg.put("ae_delta", 0.9);
        cfg.put("ae_lambda1", -1.0);
        cfg.put("ae_lambda2", 1.0);
        Files.writeString(dir.resolve("config.json"), Json.pretty(cfg));
        Map<String, Object> sum = new LinkedHashMap<>();
        sum.put("test_accuracy", testAcc);
        sum.put("best_test_accuracy", testAcc + 0.01);
        sum.put("sam_fraction", samFraction);
        sum.put("steps", 100L * epochs);
        sum.put("wall_seconds", wallSeconds);
        sum.put("model", model);
        sum.put("optimizer", optimizer);
        sum.put("seed", seed);
        Files.writeString(dir.resolve("summary.json"), Json.pretty(sum));
        StringBuilder m = new StringBuilder(RunWriter.METRICS_HEADER).append('\n');
        for (int e = 1; e <= epochs; e++) {
            double acc = testAcc - 0.02 * (epochs - e);
            m.append(String.format(Locale.ROOT, "%d,100,%.6f,%.6f,%.6f,%.6f,%.6f,5000.0,1.000,0.05%n", e, 1.0 / e, 0.5 + 0.05 * e, 0.9,
                    acc, samFraction));
        }
        Files.writeString(dir.resolve("metrics.csv"), m.toString());
        return dir;
    }
}
