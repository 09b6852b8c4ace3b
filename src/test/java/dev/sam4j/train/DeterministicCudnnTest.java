package dev.sam4j.train;

import static org.junit.jupiter.api.Assertions.*;

import dev.sam4j.backend.cuda.CudaBackend;
import dev.sam4j.backend.cuda.CudaTestSupport;
import dev.sam4j.backend.cuda.StandIn;
import dev.sam4j.io.FileFormatException;
import dev.sam4j.io.SafeTensors;
import java.nio.file.Path;
import java.util.Arrays;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/**
 * {@code --deterministic} on CUDA convnets. cuDNN's Find times the candidate convolution algorithms and takes
 * the fastest, so a resumed process may take other ones than the run it continues (other last bits, then
 * other weights), and the fastest may add with atomics. With {@code --deterministic} only algorithms cuDNN
 * reports deterministic are used, the ones chosen are recorded in the checkpoint, and the resumed run takes
 * them again. Against the CPU stand-ins, whose Find ranking a test sets ({@code cudnn.fastest}), whose
 * algorithms differ in their last bits, and whose non-deterministic algorithm can be made to add in another
 * order at every call ({@code cudnn.noise}). On a GPU the same tests run with the GPU's own timing and
 * algorithms, and check what must hold there: a resumed {@code --deterministic} run and two identical
 * {@code --deterministic} runs are equal bit for bit.
 */
@Tag("gpu")
class DeterministicCudnnTest {

    /** 3 full batches of 16 per epoch (and a short one of 8 on the host path), two epochs, a checkpoint every 2 steps. */
    static TrainConfig config(String cudaStep, boolean deterministic, Path dir) {
        return TrainConfig.builder().data("synthetic:1,8,8:4:56:24").model("cnn").optimizer("sam").device("cuda")
                .cudaStep(cudaStep).threads(1).epochs(2).batchSize(16).evalBatchSize(16).checkpointEvery(2)
                .deterministic(deterministic).out(dir).build();
    }

    /** Trains {@code cfg} (resuming from its run directory's checkpoint if {@code resume}), stopping after step {@code stopAt} if >= 0. */
    static float[] train(TrainConfig cfg, long stopAt, boolean resume) {
        try (Trainer t = new Trainer(cfg, resume ? cfg.out().resolve(Checkpoint.FILE) : null); RunWriter w = new RunWriter(cfg.out())) {
            CudaCheckpointTest.run(t, w, stopAt);
            return t.model().downloadParams();
        }
    }

    static boolean sameBits(float[] a, float[] b) {
        for (int i = 0; i < a.length; i++) if (Float.floatToRawIntBits(a[i]) != Float.floatToRawIntBits(b[i])) return false;
        return a.length == b.length;
    }

    /**
     * The run and its first part rank algorithm 0 fastest, the process that resumes it ranks algorithm 2
     * fastest (the same deterministic algorithms, other timing). With {@code --deterministic} the resumed run
     * takes the checkpoint's algorithms and ends bit for bit where the uninterrupted run ends; without it,
     * it takes algorithm 2 and does not (which shows the test can tell).
     */
    @ParameterizedTest(name = "{0} step path, deterministic {1}, stopped after step {2}, {3}")
    @CsvSource({"graph, true, 1, nchw", "host, true, 1, nchw", "host, false, 1, nchw", "graph, true, 1, nhwc"})
    void aResumedRunTakesTheCheckpointsAlgorithms(String cudaStep, boolean deterministic, long stopAt, String layout, @TempDir Path tmp)
            throws Exception {
        CudaTestSupport.requireCuda();
        Path whole = tmp.resolve("whole"), parts = tmp.resolve("parts");
        float[] expected, actual;
        try (StandIn.Setting s = StandIn.setIfActive("cudnn.fastest", 0)) {
            expected = train(config(cudaStep, deterministic, whole).toBuilder().imageLayout(layout).build(), -1, false);
            train(config(cudaStep, deterministic, parts).toBuilder().imageLayout(layout).build(), stopAt, false);
        }
        try (StandIn.Setting s = StandIn.setIfActive("cudnn.fastest", 2)) {
            actual = train(ConfigFile.read(parts.resolve("config.json")).toBuilder().out(parts).build(), -1, true);
        }
        if (deterministic) {
            assertTrue(sameBits(expected, actual), "the resumed --deterministic run differs from the uninterrupted one");
            assertEquals(ResumeTest.steps(whole), ResumeTest.steps(parts));
            assertEquals(ResumeTest.metrics(whole), ResumeTest.metrics(parts));
            String recorded = SafeTensors.read(parts.resolve(Checkpoint.FILE)).meta(Checkpoint.CUDNN_ALGORITHMS);
            // Both convolutions at every batch size the run uses (16; 8: the host path's short batch, the evaluation's last),
            // recorded although the run stopped before either batch of 8 ran: all algorithm 0.
            assertEquals(4, recorded.split(";").length, recorded);
            assertEquals(layout.equals("nhwc"), Arrays.stream(recorded.split(";")).allMatch(e -> e.contains("/nhwc=")), recorded);
            if (StandIn.active()) assertTrue(Arrays.stream(recorded.split(";")).allMatch(e -> e.endsWith("=0,0,0")), recorded);
        } else if (StandIn.active()) {
            assertFalse(sameBits(expected, actual), "without --deterministic the resumed process takes its own fastest algorithms");
            assertFalse(SafeTensors.read(parts.resolve(Checkpoint.FILE)).metadata().containsKey(Checkpoint.CUDNN_ALGORITHMS));
        }
    }

    /**
     * The fastest algorithm adds with atomics (the stand-in: in another order at every call), so two identical
     * runs differ in their last bits; with {@code --deterministic} it is never chosen and they are equal.
     */
    @ParameterizedTest(name = "deterministic {0}")
    @CsvSource({"true", "false"})
    void aNonDeterministicAlgorithmIsNeverChosen(boolean deterministic, @TempDir Path tmp) {
        CudaTestSupport.requireCuda();
        try (StandIn.Setting noise = StandIn.setIfActive("cudnn.noise", 1)) {
            TrainConfig cfg = config("graph", deterministic, tmp.resolve("a")).toBuilder().epochs(1).checkpointEvery(0).build();
            float[] a = train(cfg, -1, false), b = train(cfg.toBuilder().out(tmp.resolve("b")).build(), -1, false);
            if (deterministic || StandIn.active()) assertEquals(deterministic, sameBits(a, b));
            try (Trainer t = new Trainer(cfg)) {
                CudaBackend cuda = (CudaBackend) t.backend();
                assertEquals(deterministic, cuda.describe().contains("deterministic cuDNN algorithms only"), cuda.describe());
                if (StandIn.active()) {  // the stand-in's algorithm 1 is its non-deterministic one
                    assertEquals(deterministic, Arrays.stream(cuda.convolutionAlgorithms().split(";")).noneMatch(x -> x.matches(".*=.*1.*")),
                            cuda.convolutionAlgorithms());
                }
            }
        }
    }

    @Test
    void aCorruptRecordIsRefusedNamingTheKey(@TempDir Path tmp) throws Exception {
        CudaTestSupport.requireCuda();
        Path dir = tmp.resolve("run");
        train(config("graph", true, dir), 2, false);
        Path file = dir.resolve(Checkpoint.FILE);
        SafeTensors.Contents good = SafeTensors.read(file);
        java.util.Map<String, float[]> tensors = new java.util.LinkedHashMap<>();
        for (SafeTensors.Entry e : good.entries().values()) tensors.put(e.name(), good.floats(e.name()));
        SafeTensors.Writer w = new SafeTensors.Writer();
        good.metadata().forEach((k, v) -> w.metadata(k, k.equals(Checkpoint.CUDNN_ALGORITHMS) ? v + ";16/1,8,8=0,0" : v));
        for (SafeTensors.Entry e : good.entries().values()) w.add(e.name(), e.shape(), tensors.get(e.name()));
        w.write(file);
        FileFormatException e = assertThrows(FileFormatException.class, () -> new Trainer(config("graph", true, dir), file).close());
        assertTrue(e.getMessage().contains(file.toString()) && e.getMessage().contains("cudnn.algorithms")
                && e.getMessage().contains("'16/1,8,8=0,0'"), e.getMessage());
        // And the two-step API cannot take them too late.
        try (Trainer t = new Trainer(config("graph", true, dir))) {
            assertThrows(IllegalStateException.class, () -> t.resume(file));
        }
    }
}
