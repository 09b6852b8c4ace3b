package dev.sam4j.train;

import java.io.BufferedWriter;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Locale;
import java.util.Map;

/**
 * Writes a run directory: {@code config.json} (resolved configuration), {@code provenance.json}
 * (versions, backend, machine, data), {@code metrics.csv} (one row per epoch), {@code steps.jsonl}
 * (one JSON object per step) and {@code summary.json}. Files are flushed at every epoch so that a
 * killed run leaves readable records.
 */
public final class RunWriter implements TrainListener, AutoCloseable {
    public static final String METRICS_HEADER =
            "epoch,steps,train_loss,train_accuracy,test_loss,test_accuracy,sam_fraction,images_per_second,seconds,lr";

    private final Path dir;
    private BufferedWriter steps;
    private BufferedWriter metrics;

    public RunWriter(Path dir) {
        this.dir = dir;
        try {
            Files.createDirectories(dir);
        } catch (IOException e) {
            throw new UncheckedIOException("cannot create run directory " + dir + ": " + e.getMessage(), e);
        }
    }

    public Path dir() { return dir; }

    @Override public void onRunStart(RunInfo info) {
        try {
            Files.writeString(dir.resolve("config.json"), Json.pretty(info.config().toMap()));
            Map<String, Object> p = new LinkedHashMap<>();
            p.put("sam4j_version", Version.get());
            p.put("java_version", System.getProperty("java.version"));
            p.put("java_vm", System.getProperty("java.vm.name") + " " + System.getProperty("java.vm.version"));
            p.put("os", System.getProperty("os.name") + " " + System.getProperty("os.version") + " " + System.getProperty("os.arch"));
            p.put("available_processors", Runtime.getRuntime().availableProcessors());
            p.put("backend", info.backendName());
            p.put("backend_description", info.backendDescription());
            p.put("backend_reason", info.backendReason());
            p.put("data", info.dataDescription());
            p.put("model", info.model());
            p.put("parameters", info.parameters());
            p.put("train_size", info.trainSize());
            p.put("test_size", info.testSize());
            p.put("steps_per_epoch", info.stepsPerEpoch());
            p.put("total_steps", info.totalSteps());
            p.put("seed", info.config().seed());
            p.put("started", java.time.Instant.now().toString());
            Files.writeString(dir.resolve("provenance.json"), Json.pretty(p));
            steps = Files.newBufferedWriter(dir.resolve("steps.jsonl"), StandardCharsets.UTF_8);
            metrics = Files.newBufferedWriter(dir.resolve("metrics.csv"), StandardCharsets.UTF_8);
            metrics.write(METRICS_HEADER);
            metrics.newLine();
            metrics.flush();
        } catch (IOException e) {
            throw new UncheckedIOException("cannot write run directory " + dir + ": " + e.getMessage(), e);
        }
    }

    @Override public void onStep(StepRecord r) {
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("step", r.step());
        m.put("epoch", r.epoch());
        m.put("loss", r.loss());
        m.put("s", r.s());
        m.put("mu", r.mu());
        m.put("sigma", r.sigma());
        m.put("c", r.c());
        m.put("sam", r.sam());
        m.put("lr", r.lr());
        m.put("step_ms", r.stepNanos() / 1e6);
        try {
            steps.write(Json.write(m));
            steps.newLine();
        } catch (IOException e) {
            throw new UncheckedIOException("cannot write " + dir.resolve("steps.jsonl") + ": " + e.getMessage(), e);
        }
    }

    @Override public void onEpoch(EpochRecord e) {
        try {
            metrics.write(String.format(Locale.ROOT, "%d,%d,%.6f,%.6f,%.6f,%.6f,%.6f,%.1f,%.3f,%.6g", e.epoch(), e.steps(),
                    e.trainLoss(), e.trainAccuracy(), e.testLoss(), e.testAccuracy(), e.samFraction(), e.imagesPerSecond(),
                    e.seconds(), e.lr()));
            metrics.newLine();
            metrics.flush();
            steps.flush();
        } catch (IOException ex) {
            throw new UncheckedIOException("cannot write " + dir.resolve("metrics.csv") + ": " + ex.getMessage(), ex);
        }
    }

    @Override public void onRunEnd(RunSummary s) {
        try {
            Files.writeString(dir.resolve("summary.json"), Json.pretty(s.toMap()));
        } catch (IOException e) {
            throw new UncheckedIOException("cannot write " + dir.resolve("summary.json") + ": " + e.getMessage(), e);
        }
        close();
    }

    @Override public void close() {
        try {
            if (steps != null) steps.close();
            if (metrics != null) metrics.close();
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        } finally {
            steps = null;
            metrics = null;
        }
    }
}
