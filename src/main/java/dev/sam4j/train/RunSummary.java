package dev.sam4j.train;

import java.util.LinkedHashMap;
import java.util.Map;

/**
 * The outcome of a run ({@code summary.json}). {@code skippedSteps}: steps skipped for a non-finite loss
 * or gradient; {@code interrupted}: the run was stopped on request (Ctrl-C) after writing a checkpoint;
 * {@code precision}: what the layers computed in ({@code fp32}, {@code tf32}, {@code bf16}); {@code imageLayout}: how the
 * backend laid out images between layers ({@code nchw}, or {@code nhwc} on CUDA channels-last).
 */
public record RunSummary(double testAccuracy, double bestTestAccuracy, double testLoss, double finalTrainLoss,
                         double samFraction, long steps, long samSteps, double wallSeconds, double imagesPerSecond,
                         String backend, String model, String optimizer, long seed, long parameters, String data,
                         long skippedSteps, boolean interrupted, String precision, String imageLayout) {

    public Map<String, Object> toMap() {
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("test_accuracy", testAccuracy);
        m.put("best_test_accuracy", bestTestAccuracy);
        m.put("test_loss", testLoss);
        m.put("final_train_loss", finalTrainLoss);
        m.put("sam_fraction", samFraction);
        m.put("steps", steps);
        m.put("sam_steps", samSteps);
        m.put("wall_seconds", wallSeconds);
        m.put("images_per_second", imagesPerSecond);
        m.put("backend", backend);
        m.put("model", model);
        m.put("optimizer", optimizer);
        m.put("seed", seed);
        m.put("parameters", parameters);
        m.put("data", data);
        m.put("skipped_steps", skippedSteps);
        m.put("interrupted", interrupted);
        m.put("precision", precision);
        m.put("image_layout", imageLayout);
        return m;
    }
}
