package dev.sam4j.train;

import static org.junit.jupiter.api.Assertions.*;

import dev.sam4j.backend.cuda.CudaBackend;
import dev.sam4j.backend.cuda.CudaTestSupport;
import dev.sam4j.cli.Main;
import dev.sam4j.io.FileFormatException;
import dev.sam4j.io.SafeTensors;
import dev.sam4j.tensor.ParamSpec;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/**
 * Checkpoints of the CUDA graph step: a run stopped (the request Ctrl-C makes) and resumed from its
 * checkpoint ends with the same weights, bit for bit, and the same step and epoch records as the run that
 * was never stopped; the resumed run holds no more device memory (as the driver counts it) than a fresh one; the checkpoint
 * exports by name; and a checkpoint resumes only on the kind of step that wrote it. Against the CPU
 * stand-ins this proves the host code (what is saved, restored and where the loop resumes); the stand-in is
 * deterministic, and on a GPU the same kernels on the same inputs are too.
 */
@Tag("gpu")
class CudaCheckpointTest {

    static void requireCuda() {
        CudaTestSupport.requireCuda();
    }

    /** 10 full batches per epoch, two epochs; a checkpoint every 3 steps, so stops land mid-epoch too. */
    static TrainConfig config(String optimizer, String cudaStep, Path dir) {
        return TrainConfig.builder().data("synthetic:1,8,8:4:320:64").model("mlp").optimizer(optimizer).epochs(2)
                .batchSize(32).evalBatchSize(64).device("cuda").cudaStep(cudaStep).checkpointEvery(3)
                .hyper(dev.sam4j.optim.sam.Method.Hyper.defaults().toBuilder().lookSamK(4).aeWarmup(0).build())
                .out(dir).build();
    }

    record Result(float[] weights, long bytesBuilt, long bytesResumed, long bytesEnd, RunSummary summary) {}

    /** Trains {@code cfg}, asking to stop when the record of step {@code stopAt} arrives (no stop if negative). */
    static Result train(TrainConfig cfg, long stopAt, boolean resume) {
        try (Trainer t = new Trainer(cfg); RunWriter w = new RunWriter(cfg.out())) {
            CudaBackend cuda = (CudaBackend) t.backend();
            long built = cuda.deviceMemoryInUse();
            if (resume) t.resume(cfg.out().resolve(Checkpoint.FILE));
            long resumed = cuda.deviceMemoryInUse();
            RunSummary s = run(t, w, stopAt);
            return new Result(t.model().downloadParams(), built, resumed, cuda.deviceMemoryInUse(), s);
        }
    }

    /** Runs {@code t} writing to {@code w}, asking to stop when the record of step {@code stopAt} arrives (no stop if negative). */
    static RunSummary run(Trainer t, RunWriter w, long stopAt) {
        t.addListener(w);
        if (stopAt >= 0) {
            t.addListener(new TrainListener() {
                @Override public void onStep(StepRecord s) { if (s.step() == stopAt) t.requestStop(); }
            });
        }
        RunSummary s = t.run();
        assertEquals(stopAt >= 0, s.interrupted());
        return s;
    }

    /**
     * On the graph path the step records arrive when they are read back, at the end of each epoch and of each
     * --checkpoint-every segment (after steps 3, 6, 9, 10, 12, 15, 18, 20), so a stop asked for at the record
     * of step k (0-based) takes effect at the end of the segment holding it: k=3 stops after 6 steps (mid-epoch;
     * for LookSAM with k=4 the next step is an ERM step, which reuses the stored direction and its norm), k=9
     * after 10 (the epoch's steps done, not yet evaluated), k=12 after 15. The last case resumes a graph
     * checkpoint on the read-back path, which runs the same kernels on the same device state. AE-LookSAM (with its
     * default max age) carries g_v's age across the checkpoint; Momentum-SAM only its momentum.
     */
    @ParameterizedTest(name = "{0} stopped at step {1}, resumed on {2}")
    @CsvSource({"erm, 3, graph", "sam, 9, graph", "aesam, 12, graph", "looksam, 3, graph", "aesam, 4, readback",
            "aelooksam, 3, graph", "aelooksam, 12, readback", "msam, 3, graph"})
    void resumedGraphRunIsBitIdenticalToAnUninterruptedOne(String optimizer, long k, String resumePath, @TempDir Path tmp)
            throws Exception {
        requireCuda();
        Path whole = tmp.resolve("whole"), parts = tmp.resolve("parts");
        Result expected = train(config(optimizer, "graph", whole), -1, false);
        train(config(optimizer, "graph", parts), k, false);
        TrainConfig again = ConfigFile.read(parts.resolve("config.json")).toBuilder().out(parts).cudaStep(resumePath).build();
        Result actual = train(again, -1, true);
        for (int i = 0; i < expected.weights().length; i++) {
            if (Float.floatToRawIntBits(expected.weights()[i]) != Float.floatToRawIntBits(actual.weights()[i])) {
                fail(optimizer + ": weight " + i + " differs: " + expected.weights()[i] + " vs " + actual.weights()[i]);
            }
        }
        assertEquals(ResumeTest.steps(whole), ResumeTest.steps(parts));
        assertEquals(ResumeTest.metrics(whole), ResumeTest.metrics(parts));
        assertEquals(expected.summary().samSteps(), actual.summary().samSteps());
        assertEquals(20, actual.summary().steps());
        // Resuming fills the buffers the fresh trainer already has: no device memory beyond a fresh run's.
        assertEquals(actual.bytesBuilt(), actual.bytesResumed(), "device bytes after resume()");
        assertEquals(actual.bytesBuilt(), actual.bytesEnd(), "device bytes after the resumed run");
        assertEquals(expected.bytesEnd(), actual.bytesEnd(), "device bytes: resumed vs uninterrupted run");
    }

    /** {@code sam4j export} on a graph-path run directory: every weight by its PyTorch name, equal to the model's. */
    @Test
    void graphCheckpointExportsByName(@TempDir Path tmp) {
        requireCuda();
        Path dir = tmp.resolve("run");
        Result r = train(config("looksam", "graph", dir), -1, false);
        Path out = tmp.resolve("weights.safetensors");
        assertEquals(0, Main.execute("export", dir.toString(), "--out", out.toString()));
        SafeTensors.Contents c = SafeTensors.read(out);
        try (Trainer t = new Trainer(config("looksam", "graph", tmp.resolve("layout")))) {
            for (ParamSpec s : t.model().paramLayout().specs()) {
                float[] want = Arrays.copyOfRange(r.weights(), Math.toIntExact(s.offset()), Math.toIntExact(s.end()));
                assertArrayEquals(want, c.floats(s.name()), s.name());
            }
            assertEquals(t.model().paramLayout().specs().size() + t.model().stateLayout().specs().size(), c.entries().size(),
                    "an export holds the weights and running statistics only: " + c.entries().keySet());
        }
        // And it starts another graph run by name.
        Result init = train(config("erm", "graph", tmp.resolve("b")).toBuilder().initFrom(out).epochs(1).build(), -1, false);
        assertEquals(r.weights().length, init.weights().length);
    }

    /** A graph checkpoint whose device state contradicts itself or its progress is refused, naming the key. */
    @Test
    void inconsistentDeviceStateIsRefused(@TempDir Path tmp) throws Exception {
        requireCuda();
        Path dir = tmp.resolve("run");
        train(config("aesam", "graph", dir), 2, false);   // stops after 3 steps
        Path file = dir.resolve(Checkpoint.FILE);
        SafeTensors.Contents good = SafeTensors.read(file);
        java.util.Map<String, float[]> tensors = new java.util.LinkedHashMap<>();   // read before the file is rewritten
        for (SafeTensors.Entry e : good.entries().values()) tensors.put(e.name(), good.floats(e.name()));
        for (String[] edit : new String[][] {{"optim.steps", "4", "disagrees with progress.step"},
                {"policy.observed", "7", "counters exceed the step counter"}, {"policy.variance", "-1.0", "variance >= 0"},
                {"optim.nonfinite_s", "x", "is not an integer"}, {"looksam.age", "9", "exceeds the step counter"}}) {
            SafeTensors.Writer w = new SafeTensors.Writer();
            good.metadata().forEach((k, v) -> w.metadata(k, k.equals(edit[0]) ? edit[1] : v));
            for (SafeTensors.Entry e : good.entries().values()) w.add(e.name(), e.shape(), tensors.get(e.name()));
            w.write(file);
            try (Trainer t = new Trainer(config("aesam", "graph", dir))) {
                FileFormatException e = assertThrows(FileFormatException.class, () -> t.resume(file), edit[0]);
                assertTrue(e.getMessage().contains(edit[2]) && e.getMessage().contains(file.toString()), e.getMessage());
            }
        }
    }

    /** A checkpoint resumes only on the kind of step that wrote it; the error names both. */
    @Test
    void checkpointsDoNotCrossStepPaths(@TempDir Path tmp) throws Exception {
        requireCuda();
        Path graphRun = tmp.resolve("graph");
        train(config("sam", "graph", graphRun), 2, false);
        try (Trainer t = new Trainer(config("sam", "host", graphRun))) {
            FileFormatException e = assertThrows(FileFormatException.class, () -> t.resume(graphRun.resolve(Checkpoint.FILE)));
            assertTrue(e.getMessage().contains("written by the CUDA graph step (--cuda-step graph or readback)")
                    && e.getMessage().contains("this run uses the host-driven step"), e.getMessage());
        }
        Path cpuRun = tmp.resolve("cpu");
        Files.createDirectories(cpuRun);
        try (Trainer t = new Trainer(config("sam", "graph", cpuRun).toBuilder().device("cpu").threads(1).maxSteps(2).build())) {
            t.run();
        }
        try (Trainer t = new Trainer(config("sam", "graph", cpuRun).toBuilder().maxSteps(2).build())) {
            FileFormatException e = assertThrows(FileFormatException.class, () -> t.resume(cpuRun.resolve(Checkpoint.FILE)));
            assertTrue(e.getMessage().contains("written by the host-driven step") && e.getMessage().contains("--cuda-step host"),
                    e.getMessage());
        }
    }
}
