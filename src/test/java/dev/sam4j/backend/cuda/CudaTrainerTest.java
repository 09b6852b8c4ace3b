package dev.sam4j.backend.cuda;

import static org.junit.jupiter.api.Assertions.*;

import dev.sam4j.train.RunSummary;
import dev.sam4j.train.StepRecord;
import dev.sam4j.train.TrainConfig;
import dev.sam4j.train.TrainListener;
import dev.sam4j.train.Trainer;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/**
 * The trainer on the CUDA backend, each step path (graph decided on the device, graph with the decision
 * read back, host-driven) against the same run on the CPU: the same SAM decisions and close weights
 * over the steps of one epoch's full batches.
 */
@Tag("gpu")
class CudaTrainerTest {

    record Run(RunSummary summary, List<StepRecord> steps, float[] weights, String path) {}

    static Run train(String device, String optimizer, String cudaStep) {
        return train(device, "mlp", optimizer, cudaStep, 64, 10);
    }

    static Run train(String device, String model, String optimizer, String cudaStep, int batch, int maxSteps) {
        return train(TrainConfig.builder().data("fashion-mnist-sample").model(model).optimizer(optimizer)
                .device(device).threads(2).epochs(1).batchSize(batch).maxSteps(maxSteps).lr(0.05).cudaStep(cudaStep).build());
    }

    static Run train(TrainConfig cfg) {
        List<StepRecord> steps = new ArrayList<>();
        try (Trainer t = new Trainer(cfg)) {
            t.addListener(new TrainListener() { @Override public void onStep(StepRecord s) { steps.add(s); } });
            RunSummary s = t.run();
            return new Run(s, steps, t.model().downloadParams(), t.stepPath());
        }
    }

    @ParameterizedTest
    @CsvSource({"aesam, graph", "aesam, readback", "aesam, host", "looksam, graph", "sam, graph"})
    void cudaStepPathsAgreeWithTheCpu(String optimizer, String path) {
        CudaTestSupport.requireCuda();
        Run cpu = train("cpu", optimizer, "graph");
        Run gpu = train("cuda", optimizer, path);
        assertEquals(10, gpu.steps().size());
        assertTrue(gpu.path().contains(path.equals("host") ? "host-driven" : "graph"), gpu.path());
        for (int i = 0; i < 10; i++) {
            StepRecord a = cpu.steps().get(i), b = gpu.steps().get(i);
            assertEquals(a.step(), b.step());
            assertEquals(a.sam(), b.sam(), "SAM decision at step " + i);
            assertEquals(a.s(), b.s(), 1e-3 * a.s(), "s at step " + i);
            assertEquals(a.loss(), b.loss(), 1e-4 * (1 + a.loss()), "loss at step " + i);
            if (optimizer.equals("aesam")) assertEquals(a.mu(), b.mu(), 1e-3 * a.mu(), "mu at step " + i);
        }
        // Whole-model relative L2 distance of the weights. LookSAM's g_v = g_s − (⟨g,g_s⟩/‖g‖²)·g cancels most
        // of g_s and is then scaled up to α·‖g‖, so fp32 rounding differences between the backends grow
        // faster there (seen: 3% on single small weights after 12 steps at batch 128); the other methods stay near 1e-5.
        double diff = 0, norm = 0;
        for (int i = 0; i < cpu.weights().length; i++) {
            double d = cpu.weights()[i] - gpu.weights()[i];
            diff += d * d;
            norm += (double) cpu.weights()[i] * cpu.weights()[i];
        }
        double rel = Math.sqrt(diff / norm);
        assertTrue(rel < (optimizer.contains("looksam") ? 2e-3 : 1e-4), "relative L2 weight difference " + rel);
        assertEquals(cpu.summary().samFraction(), gpu.summary().samFraction(), 0.0);
    }

    /**
     * {@code sam4j train --device cuda --model cnn}: the zoo's cnn (cuDNN convolution, batch norm, max pooling)
     * through the trainer's default step path, the device-decided graph, against the same run on the CPU.
     * A small batch and few steps: against the stand-in every convolution is a double loop in C.
     */
    @ParameterizedTest
    @CsvSource({"aesam, graph"})  // one case: the end-of-epoch evaluation through the stand-in's C convolutions costs ~20 s
    void cnnTrainsOnTheGpu(String optimizer, String path) {
        CudaTestSupport.requireCuda();
        Run cpu = train("cpu", "cnn", optimizer, "graph", 8, 4);
        Run gpu = train("cuda", "cnn", optimizer, path, 8, 4);
        assertEquals(4, gpu.steps().size());
        for (int i = 0; i < 4; i++) {
            StepRecord a = cpu.steps().get(i), b = gpu.steps().get(i);
            assertEquals(a.sam(), b.sam(), "SAM decision at step " + i);
            assertEquals(a.loss(), b.loss(), 1e-3 * (1 + a.loss()), "loss at step " + i);
        }
        double diff = 0, norm = 0;
        for (int i = 0; i < cpu.weights().length; i++) {
            double d = cpu.weights()[i] - gpu.weights()[i];
            diff += d * d;
            norm += (double) cpu.weights()[i] * cpu.weights()[i];
        }
        assertTrue(Math.sqrt(diff / norm) < 1e-3, "relative L2 weight difference " + Math.sqrt(diff / norm));
    }

    /**
     * Two epochs through the asynchronous input pipeline with the step budget ending inside the second:
     * the feeder is stopped mid-epoch, and every batch still arrives in the loader's order (the same
     * decisions and losses as the CPU run, which reads the loader directly). Then {@code --input synthetic}:
     * one batch put on the device once and reused, the same on both backends.
     */
    @ParameterizedTest
    @CsvSource({"loader", "synthetic"})
    void inputPathsFeedTheGraphStepTheCpusBatches(String input) {
        CudaTestSupport.requireCuda();
        TrainConfig.Builder b = TrainConfig.builder().data("synthetic:1,8,8:4:320:64").model("mlp").optimizer("aesam")
                .threads(2).epochs(2).batchSize(32).maxSteps(13).lr(0.05).input(input).hyper(
                        dev.sam4j.optim.sam.Method.Hyper.defaults().toBuilder().aeWarmup(2).build());
        Run cpu = train(b.device("cpu").build());
        Run gpu = train(b.device("cuda").cudaStep("graph").build());
        assertEquals(13, gpu.steps().size());
        for (int i = 0; i < 13; i++) {
            StepRecord a = cpu.steps().get(i), g = gpu.steps().get(i);
            assertEquals(a.epoch(), g.epoch(), "epoch of step " + i);
            assertEquals(a.sam(), g.sam(), "SAM decision at step " + i);
            assertEquals(a.loss(), g.loss(), 1e-4 * (1 + a.loss()), "loss at step " + i);
        }
        if (input.equals("synthetic")) {
            assertTrue(gpu.steps().get(12).loss() < gpu.steps().get(0).loss(), "one repeated batch is fitted");
        }
    }

    /**
     * A learning rate of 1e30 blows the weights up after the first step, so every later step has a
     * non-finite loss: on the graph path the device skips those updates, and the trainer counts them
     * from the epoch's records, in the run and the epoch row ({@code skip}), or stops there ({@code stop}), with finite
     * weights either way.
     */
    /**
     * The graph path's stop names the checkpoint it leaves: with a checkpoint every step, step 0's is written
     * before step 1 is found non-finite, and nothing ran after step 1.
     */
    @org.junit.jupiter.api.Test
    void theGraphStepsStopNamesTheFaultyStepAndTheCheckpointItLeft(@org.junit.jupiter.api.io.TempDir java.nio.file.Path dir) {
        CudaTestSupport.requireCuda();
        TrainConfig cfg = TrainConfig.builder().data("synthetic:1,8,8:4:320:64").model("mlp").optimizer("sam")
                .threads(2).epochs(1).batchSize(32).lr(1e30).schedule("constant").device("cuda").cudaStep("graph")
                .onNonFinite("stop").checkpointEvery(1).out(dir).build();
        try (Trainer t = new Trainer(cfg)) {
            String m = assertThrows(dev.sam4j.train.TrainingStoppedException.class, t::run).getMessage();
            assertTrue(m.startsWith("step 1 (epoch 1): "), m);
            assertTrue(m.contains("The GPU skipped step 1's update;"), m);
            assertFalse(m.contains("queued steps"), m);
            assertTrue(m.contains("The last good checkpoint (after step 1) is " + dir.resolve("checkpoint.safetensors")), m);
        }
    }

    @ParameterizedTest
    @CsvSource({"skip", "stop"})
    void theGraphStepSkipsNonFiniteStepsOnTheDevice(String onNonFinite) {
        CudaTestSupport.requireCuda();
        TrainConfig cfg = TrainConfig.builder().data("synthetic:1,8,8:4:320:64").model("mlp").optimizer("aesam")
                .threads(2).epochs(1).batchSize(32).lr(1e30).schedule("constant").device("cuda").cudaStep("graph")
                .onNonFinite(onNonFinite).build();
        try (Trainer t = new Trainer(cfg)) {
            if (onNonFinite.equals("stop")) {
                // Step 0 is finite, step 1 is the first non-finite one; the GPU ran the epoch's 10 steps before the
                // records were read back, so the message names step 1 and the steps that ran after it.
                var e = assertThrows(dev.sam4j.train.TrainingStoppedException.class, t::run);
                String m = e.getMessage();
                assertTrue(m.startsWith("step 1 (epoch 1): "), m);
                assertTrue(m.contains("The GPU skipped step 1's update and had already run the queued steps 2 to 9 after it"), m);
                assertTrue(m.contains("No checkpoint was written (no run directory)"), m);
                assertFalse(m.contains("last finite step"), m);
            } else {
                List<dev.sam4j.train.EpochRecord> epochs = new ArrayList<>();
                t.addListener(new TrainListener() { @Override public void onEpoch(dev.sam4j.train.EpochRecord e) { epochs.add(e); } });
                RunSummary s = t.run();
                assertTrue(s.skippedSteps() > 0 && s.skippedSteps() < s.steps(), "skipped " + s.skippedSteps() + " of " + s.steps());
                assertEquals(s.skippedSteps(), epochs.get(0).skippedSteps(), "the epoch's row (metrics.csv) counts them too");
            }
            for (float w : t.model().downloadParams()) assertTrue(Float.isFinite(w), "a weight became " + w);
        }
    }

    /**
     * The host and graph steps train the same full batches (90 examples, batches of 16: five steps an epoch on both,
     * the partial batch of 10 dropped); the graph step refuses --keep-last-batch with one line, and trains Momentum-SAM
     * and AE-LookSAM with its default (expiring) g_v.
     */
    @org.junit.jupiter.api.Test
    void graphAndHostStepsAgreeOnTheStepsOfAnEpoch() {
        CudaTestSupport.requireCuda();
        TrainConfig.Builder b = TrainConfig.builder().data("synthetic:1,8,8:4:90:32").model("mlp").optimizer("erm").device("cuda")
                .threads(2).epochs(1).batchSize(16).evalBatchSize(32);
        Run graph = train(b.cudaStep("graph").build()), host = train(b.cudaStep("host").build());
        assertEquals(5, graph.steps().size());
        assertEquals(5, host.steps().size());
        assertEquals(graph.summary().steps(), host.summary().steps());
        IllegalArgumentException keep = assertThrows(IllegalArgumentException.class,
                () -> new Trainer(b.cudaStep("graph").keepLastBatch(true).build()).close());
        assertEquals("TrainConfig.Builder.keepLastBatch(true): the CUDA graph step trains on full batches only; use cudaStep(\"host\") on CUDA",
                keep.getMessage());
        assertEquals("--keep-last-batch: the CUDA graph step trains on full batches only; use --cuda-step host on CUDA",
                ((dev.sam4j.io.InvalidSettingException) keep).commandLineMessage());
        for (String o : new String[] {"msam", "aelooksam"}) {
            Run g = train(b.keepLastBatch(false).optimizer(o).cudaStep("graph").build());
            assertEquals(5, g.steps().size(), o + " on the graph step");
            assertTrue(Double.isFinite(g.summary().testLoss()) && g.summary().skippedSteps() == 0, o + " trained on the graph step");
            if (o.equals("msam")) assertEquals(0, g.summary().samSteps(), "Momentum-SAM: one pass per step");
        }
        assertEquals(6, train(b.optimizer("erm").cudaStep("host").keepLastBatch(true).build()).steps().size());
    }
}
