package dev.sam4j.train;

import static org.junit.jupiter.api.Assertions.*;

import dev.sam4j.io.InvalidSettingException;
import dev.sam4j.parallel.SingleRank;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** {@code --ranks N} in one process: the global batch on N shards, against one rank and across ranks. */
class DataParallelTrainingTest {

    private static TrainConfig.Builder small() {
        return TrainConfig.builder().data("fashion-mnist-sample").device("cpu").threads(1).model("mlp").schedule("constant")
                .lr(0.05).batchSize(128);
    }

    record Run(List<RunSummary> summaries, List<float[]> weights, List<float[]> state, List<List<StepRecord>> records) {}

    static Run runRanks(TrainConfig cfg, Path resume) {
        try (LocalRanks ranks = new LocalRanks(cfg, resume)) {
            List<List<StepRecord>> records = new ArrayList<>();
            for (int r = 0; r < ranks.size(); r++) {
                List<StepRecord> mine = new ArrayList<>();
                records.add(mine);
                ranks.rank(r).addListener(new TrainListener() {
                    @Override public void onStep(StepRecord s) { mine.add(s); }
                });
            }
            List<RunSummary> s = ranks.run();
            List<float[]> w = new ArrayList<>(), st = new ArrayList<>();
            for (int r = 0; r < ranks.size(); r++) {
                w.add(ranks.rank(r).model().downloadParams());
                st.add(ranks.rank(r).model().downloadState());
            }
            return new Run(s, w, st, records);
        }
    }

    static float[] single(TrainConfig cfg) {
        try (Trainer t = new Trainer(cfg)) {
            t.run();
            return t.model().downloadParams();
        }
    }

    static double maxAbsDiff(float[] a, float[] b) {
        assertEquals(a.length, b.length);
        double m = 0;
        for (int i = 0; i < a.length; i++) m = Math.max(m, Math.abs((double) a[i] - b[i]));
        return m;
    }

    static double maxAbs(float[] a) {
        double m = 0;
        for (float v : a) m = Math.max(m, Math.abs(v));
        return m;
    }

    static void assertBitIdenticalAcrossRanks(Run run) {
        for (int r = 1; r < run.weights().size(); r++) {
            assertArrayEquals(run.weights().get(0), run.weights().get(r), "weights of rank " + r + " vs rank 0");
            assertArrayEquals(run.state().get(0), run.state().get(r), "BatchNorm running statistics of rank " + r + " vs rank 0");
        }
    }

    /**
     * {@code --sam-perturbation global}: two ranks at the global batch 128 take exactly the single-rank SAM steps, up to
     * the order of the sums: one rank sums 128 examples' gradients in its backward GEMM, two ranks sum 64 each and
     * average the two halves, so the last bits differ (fp32 rounding, ~1e-7 relative a step) and the runs drift apart
     * only by the accumulation of such roundings. Tolerance: 1e-5 of the largest weight after 30 steps.
     */
    @Test
    void twoRanksGlobalReproduceOneRankAtTheSameGlobalBatch() {
        TrainConfig one = small().optimizer("sam").maxSteps(30).epochs(3).build();
        float[] w1 = single(one);
        Run two = runRanks(one.toBuilder().ranks(2).samPerturbation("global").build(), null);
        assertBitIdenticalAcrossRanks(two);
        double diff = maxAbsDiff(w1, two.weights().get(0)), scale = maxAbs(w1);
        System.out.printf("global 2 ranks vs 1 rank, SAM mlp batch 128, 30 steps: max |dw| = %.3g (max |w| = %.3g)%n", diff, scale);
        assertTrue(diff <= 1e-5 * scale, "max |dw| " + diff + " vs max |w| " + scale);
        assertEquals(30, two.summaries().get(0).steps());
        assertEquals(1.0, two.summaries().get(0).samFraction());
        // and local is a different method (m-sharpness), so the same comparison must fail by far more than rounding
        Run local = runRanks(one.toBuilder().ranks(2).samPerturbation("local").build(), null);
        assertTrue(maxAbsDiff(w1, local.weights().get(0)) > 100 * Math.max(diff, 1e-9 * scale));
    }

    /** AE-SAM on 3 ranks, local perturbation: the decisions, and every reduced number of every record, bit for bit on every rank. */
    @Test
    void aeSamDecisionsAreIdenticalOnEveryRank() {
        TrainConfig cfg = small().optimizer("aesam").batchSize(96).maxSteps(60).epochs(5).ranks(3).build();
        Run run = runRanks(cfg, null);
        assertBitIdenticalAcrossRanks(run);
        List<StepRecord> r0 = run.records().get(0);
        assertEquals(60, r0.size());
        long sam = r0.stream().filter(StepRecord::sam).count();
        assertTrue(sam > 0 && sam < 60, "a run with both branches, got " + sam + " SAM steps of 60");
        for (int r = 1; r < 3; r++) {
            List<StepRecord> rr = run.records().get(r);
            assertEquals(r0.size(), rr.size());
            for (int i = 0; i < r0.size(); i++) {
                StepRecord a = r0.get(i), b = rr.get(i);
                assertEquals(a.sam(), b.sam(), "decision of step " + i + " on rank " + r);
                for (double[] pair : new double[][] {{a.loss(), b.loss()}, {a.s(), b.s()}, {a.mu(), b.mu()}, {a.sigma(), b.sigma()}, {a.c(), b.c()}}) {
                    assertEquals(Double.doubleToRawLongBits(pair[0]), Double.doubleToRawLongBits(pair[1]), "step " + i + " rank " + r);
                }
            }
        }
        Map<String, Object> s0 = run.summaries().get(0).toMap(), s2 = run.summaries().get(2).toMap();
        for (String timing : List.of("wall_seconds", "images_per_second")) { s0.remove(timing); s2.remove(timing); }
        assertEquals(s0, s2, "every rank's summary (test loss and accuracy all-reduced)");
    }

    /** BatchNorm (the cnn): every rank ends with the same weights and running statistics; rank 0 alone writes the run's files. */
    @Test
    void batchNormRanksAgreeAndRankZeroWritesTheCheckpoint(@TempDir Path dir) throws Exception {
        TrainConfig cfg = small().model("cnn").batchSize(32).maxSteps(6).ranks(2).out(dir).build();
        Run run;
        try (LocalRanks ranks = new LocalRanks(cfg, null); RunWriter w = new RunWriter(dir)) {
            ranks.rank(0).addListener(w);
            List<RunSummary> s = ranks.run();
            run = new Run(s, List.of(ranks.rank(0).model().downloadParams(), ranks.rank(1).model().downloadParams()),
                    List.of(ranks.rank(0).model().downloadState(), ranks.rank(1).model().downloadState()), List.of());
        }
        assertBitIdenticalAcrossRanks(run);
        assertTrue(Files.exists(dir.resolve(Checkpoint.FILE)));
        assertTrue(Files.readString(dir.resolve("config.json")).contains("\"ranks\": 2"));
        assertEquals(6, Files.readAllLines(dir.resolve("steps.jsonl")).size(), "one record a step, from rank 0 only");
    }

    /** A checkpoint of two ranks resumes on two ranks bit for bit, and on one rank (the batch is global). */
    @Test
    void resumeAtTheSameAndAtAnotherWorldSize(@TempDir Path dir) {
        TrainConfig full = small().optimizer("sam").maxSteps(16).epochs(2).ranks(2).samPerturbation("global").build();
        Run whole = runRanks(full, null);
        TrainConfig half = full.toBuilder().checkpointEvery(8).out(dir).build();
        // the first half: stopped on request (the ranks agree on it in the next step's all-reduce, so 8 steps in all)
        try (LocalRanks ranks = new LocalRanks(half, null)) {
            ranks.rank(0).addListener(new TrainListener() {
                @Override public void onStep(StepRecord s) { if (s.step() == 6) ranks.requestStop(); }   // agreed at the next step's all-reduce
            });
            RunSummary s = ranks.run().get(0);
            assertTrue(s.interrupted());
            assertEquals(8, s.steps());
        }
        Run resumed = runRanks(half, dir.resolve(Checkpoint.FILE));
        assertBitIdenticalAcrossRanks(resumed);
        assertArrayEquals(whole.weights().get(0), resumed.weights().get(0), "2 ranks resumed on 2 ranks");
        float[] onOne;
        try (Trainer t = new Trainer(half.toBuilder().ranks(1).build(), dir.resolve(Checkpoint.FILE))) {
            t.run();
            onOne = t.model().downloadParams();
        }
        double diff = maxAbsDiff(whole.weights().get(0), onOne);
        assertTrue(diff <= 1e-5 * maxAbs(onOne), "2 ranks resumed on 1 rank: max |dw| " + diff);
    }

    /** A rank that fails mid-run (here its listener throws) ends the others at their next collective; its failure is the run's. */
    @Test
    void aFailingRankEndsTheOthersAndItsFailureIsRethrown() {
        TrainConfig cfg = small().optimizer("sam").batchSize(96).maxSteps(40).epochs(4).ranks(3).build();
        try (LocalRanks ranks = new LocalRanks(cfg, null)) {
            ranks.rank(2).addListener(new TrainListener() {
                @Override public void onStep(StepRecord s) { if (s.step() == 3) throw new IllegalStateException("rank 2 broke at step 3"); }
            });
            IllegalStateException e = assertThrows(IllegalStateException.class, ranks::run);
            assertEquals("rank 2 broke at step 3", e.getMessage());
        }
    }

    @Test
    void aBatchThatDoesNotDivideIsOneClearError() {
        InvalidSettingException e = assertThrows(InvalidSettingException.class, () -> small().batchSize(100).ranks(3).build());
        assertEquals("TrainConfig.Builder.batchSize(100): the global batch does not divide by ranks(3) (each rank takes "
                + "batchSize / ranks examples a step)", e.getMessage());
        assertEquals("--batch-size: the global batch 100 does not divide by --ranks 3 (each rank takes batch-size / ranks "
                + "examples a step)", e.commandLineMessage());
    }

    /** One rank is today's path exactly: a trainer given a one-rank collective trains bit for bit as one given none. */
    @Test
    void oneRankIsTodaysPath() {
        TrainConfig cfg = small().optimizer("aesam").maxSteps(12).build();
        float[] plain = single(cfg);
        try (Trainer t = new Trainer(cfg, null, SingleRank.INSTANCE)) {
            t.run();
            assertArrayEquals(plain, t.model().downloadParams());
            assertEquals("host-driven step", t.stepPath());
        }
        assertArrayEquals(plain, runRanks(cfg, null).weights().get(0), "LocalRanks with --ranks 1");
    }
}
