package dev.sam4j.train;

import dev.sam4j.io.AtomicFiles;
import dev.sam4j.io.FileFormatException;
import dev.sam4j.io.Json;
import dev.sam4j.io.JsonReader;
import java.io.BufferedWriter;
import java.io.FileOutputStream;
import java.io.OutputStreamWriter;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;

/**
 * Writes a run directory: {@code config.json} (resolved configuration), {@code provenance.json}
 * (versions, backend, machine, data), {@code metrics.csv} (one row per epoch), {@code steps.jsonl}
 * (one JSON object per step) and {@code summary.json}. Files are flushed at every epoch so that a
 * killed run leaves readable records, and flushed and synced before every checkpoint.
 *
 * <p>A resumed run ({@link RunInfo#resume()}) keeps {@code config.json} and {@code provenance.json}, cuts
 * {@code steps.jsonl} and {@code metrics.csv} back to the rows before the checkpoint (a killed run may have
 * recorded steps after it), and appends from there, so the records have no duplicated or missing rows.
 */
public final class RunWriter implements TrainListener, AutoCloseable {
    public static final String METRICS_HEADER =
            "epoch,steps,train_loss,train_accuracy,test_loss,test_accuracy,sam_fraction,images_per_second,seconds,lr,skipped_steps";

    private final Path dir;
    private BufferedWriter steps;
    private BufferedWriter metrics;
    private FileOutputStream stepsFile;   // for syncing before a checkpoint
    private FileOutputStream metricsFile;

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
        if (info.resume() != null) {
            resumeRecords(info);
            return;
        }
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
            p.put("precision", info.config().precision().label());
            p.put("image_layout", info.config().imageLayout().label());
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
            openRecords(false);
            metrics.write(METRICS_HEADER);
            metrics.newLine();
            metrics.flush();
        } catch (IOException e) {
            throw new UncheckedIOException("cannot write run directory " + dir + ": " + e.getMessage(), e);
        }
    }

    private void openRecords(boolean append) throws IOException {
        stepsFile = new FileOutputStream(dir.resolve("steps.jsonl").toFile(), append);
        steps = new BufferedWriter(new OutputStreamWriter(stepsFile, StandardCharsets.UTF_8));
        metricsFile = new FileOutputStream(dir.resolve("metrics.csv").toFile(), append);
        metrics = new BufferedWriter(new OutputStreamWriter(metricsFile, StandardCharsets.UTF_8));
    }

    /** Keeps the rows before {@code at} (steps before its step, epochs before its epoch), then appends. */
    private void resumeRecords(RunInfo info) {
        RunInfo.ResumePoint at = info.resume();
        Path stepsPath = dir.resolve("steps.jsonl"), metricsPath = dir.resolve("metrics.csv");
        try {
            // The options a resume may change (threads, fault handling) go into the configuration for the next resume.
            AtomicFiles.write(dir.resolve("config.json"), Json.pretty(info.config().toMap()).getBytes(StandardCharsets.UTF_8));
            recordResume(info);
            StringBuilder kept = new StringBuilder();
            long n = 0;
            for (String line : Files.exists(stepsPath) ? Files.readAllLines(stepsPath, StandardCharsets.UTF_8) : List.<String>of()) {
                if (n == at.step()) break;
                Object row;
                try {
                    row = JsonReader.parse(line, stepsPath.toString());
                } catch (FileFormatException torn) {
                    break; // the last line of a killed run may be cut short
                }
                if (!(row instanceof Map<?, ?> m) || !(m.get("step") instanceof Long s) || s != n) break;
                kept.append(line).append('\n');
                n++;
            }
            if (n != at.step()) {
                throw new FileFormatException(stepsPath.toString(), "has rows for the first " + n + " steps, the checkpoint is at step "
                        + at.step() + ": the records cannot be continued");
            }
            AtomicFiles.write(stepsPath, kept.toString().getBytes(StandardCharsets.UTF_8));
            List<String> rows = Files.exists(metricsPath) ? Files.readAllLines(metricsPath, StandardCharsets.UTF_8) : List.of();
            if (rows.isEmpty() || !rows.get(0).equals(METRICS_HEADER)) {
                throw new FileFormatException(metricsPath.toString(), "missing or has an unexpected header line");
            }
            StringBuilder m = new StringBuilder(METRICS_HEADER).append('\n');
            for (int i = 1; i < rows.size(); i++) {
                String row = rows.get(i);
                int comma = row.indexOf(',');
                int epoch;
                try {
                    epoch = Integer.parseInt(comma < 0 ? row : row.substring(0, comma));
                } catch (NumberFormatException torn) {
                    break;
                }
                if (epoch != i || epoch >= at.epoch()) break;
                m.append(row).append('\n');
            }
            AtomicFiles.write(metricsPath, m.toString().getBytes(StandardCharsets.UTF_8));
            openRecords(true);
        } catch (IOException e) {
            throw new UncheckedIOException("cannot continue the records in " + dir + ": " + e.getMessage(), e);
        }
    }

    /**
     * Adds this resume to {@code provenance.json} ({@code resumes}: step, time, versions, backend), since the
     * rest of the run may have run on another machine or JDK. A provenance file that is not ours is left alone.
     */
    @SuppressWarnings("unchecked")
    private void recordResume(RunInfo info) throws IOException {
        Path f = dir.resolve("provenance.json");
        if (!Files.exists(f)) return;
        Object p;
        try {
            p = JsonReader.parse(Files.readString(f, StandardCharsets.UTF_8), f.toString());
        } catch (FileFormatException | java.nio.charset.CharacterCodingException e) {
            return;
        }
        if (!(p instanceof Map<?, ?> m)) return;
        Map<String, Object> prov = (Map<String, Object>) m;
        Map<String, Object> r = new LinkedHashMap<>();
        r.put("step", info.resume().step());
        r.put("time", java.time.Instant.now().toString());
        r.put("sam4j_version", Version.get());
        r.put("java_version", System.getProperty("java.version"));
        r.put("backend", info.backendName());
        r.put("backend_description", info.backendDescription());
        List<Object> resumes = prov.get("resumes") instanceof List<?> l ? new java.util.ArrayList<>(l) : new java.util.ArrayList<>();
        resumes.add(r);
        prov.put("resumes", resumes);
        AtomicFiles.write(f, Json.pretty(prov).getBytes(StandardCharsets.UTF_8));
    }

    @Override public void beforeCheckpoint(long stepsDone) {
        try {
            if (steps == null) return;
            steps.flush();
            metrics.flush();
            stepsFile.getFD().sync();
            metricsFile.getFD().sync();
        } catch (IOException e) {
            throw new UncheckedIOException("cannot write the records in " + dir + ": " + e.getMessage(), e);
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
        m.put("skipped", r.skipped());
        try {
            steps.write(Json.write(m));
            steps.newLine();
        } catch (IOException e) {
            throw new UncheckedIOException("cannot write " + dir.resolve("steps.jsonl") + ": " + e.getMessage(), e);
        }
    }

    @Override public void onEpoch(EpochRecord e) {
        try {
            metrics.write(String.format(Locale.ROOT, "%d,%d,%.6f,%.6f,%.6f,%.6f,%.6f,%.1f,%.3f,%.6g,%d", e.epoch(), e.steps(),
                    e.trainLoss(), e.trainAccuracy(), e.testLoss(), e.testAccuracy(), e.samFraction(), e.imagesPerSecond(),
                    e.seconds(), e.lr(), e.skippedSteps()));
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
            stepsFile = null;
            metricsFile = null;
        }
    }
}
