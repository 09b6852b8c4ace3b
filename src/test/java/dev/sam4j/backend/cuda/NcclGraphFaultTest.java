package dev.sam4j.backend.cuda;

import static org.junit.jupiter.api.Assertions.*;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import dev.sam4j.backend.Buffer;
import dev.sam4j.backend.DeviceStepGraph;
import dev.sam4j.backend.Precision;
import dev.sam4j.nn.Model;
import dev.sam4j.nn.ScriptedLayer;
import dev.sam4j.optim.LrSchedule;
import dev.sam4j.optim.sam.DeviceDecidedStep;
import dev.sam4j.optim.sam.Method;
import dev.sam4j.parallel.LaunchEnv;
import dev.sam4j.parallel.NcclCollective;
import dev.sam4j.parallel.TcpCollective;
import dev.sam4j.tensor.Shape;
import java.net.ServerSocket;
import java.util.ArrayList;
import java.util.List;
import java.util.SplittableRandom;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/**
 * The CUDA graph step on two ranks (two threads, cuda:0 and cuda:1, over NCCL) with a fault on rank 1 alone: in pass 1
 * (the mean {@code s} or loss is then not finite, so both ranks skip before deciding) or in pass 2 alone (found by the
 * second-pass check after the conditional node, on the all-reduced loss and {@code ‖g_sam‖²}). Both ranks must skip
 * that step, leave their weights and AE-SAM statistic as they were, and keep step records identical bit for bit: a
 * skip decided from one rank's own values would let the ranks' weights part. A {@link ScriptedLayer} gives each rank
 * its own logits and gradients.
 */
@Tag("gpu")
class NcclGraphFaultTest {
    static final int CLASSES = DeviceSkipTest.SCRIPT_CLASSES, BATCH = DeviceSkipTest.SCRIPT_BATCH;

    /** One rank's view: weights before, after the faulty step and at the end; carried state before and after; records. */
    private record Seen(float[] w0, float[] w1, float[] wEnd, DeviceStepGraph.CarriedState s0, DeviceStepGraph.CarriedState s1,
                        List<DeviceStepGraph.State> states) {}

    @ParameterizedTest
    @CsvSource({"aesam, loss", "aesam, pass2-loss", "aesam, pass2-gradient", "sam, pass2-gradient", "sam, nan"})
    void aFaultOnOneRankSkipsTheStepOnBothAlike(String method, String fault) throws Exception {
        var a = CudaTestSupport.requireNccl(2);
        assumeTrue(a.version() >= Nccl.Comm.AVG_SINCE, "ncclAvg needs NCCL 2.10");
        int port;
        try (ServerSocket s = new ServerSocket(0)) { port = s.getLocalPort(); }
        ExecutorService ex = Executors.newFixedThreadPool(2);
        List<Seen> seen = new ArrayList<>();
        try {
            List<Future<Seen>> futures = new ArrayList<>();
            for (int r = 0; r < 2; r++) {
                int rank = r;
                futures.add(ex.submit(() -> rank(rank, port, method, fault)));
            }
            for (Future<Seen> f : futures) seen.add(f.get(120, TimeUnit.SECONDS));
        } finally {
            ex.shutdownNow();
        }
        String what = method + ", " + fault + " on rank 1: ";
        for (int r = 0; r < 2; r++) {
            Seen s = seen.get(r);
            String at = what + "rank " + r + ": ";
            assertArrayEquals(s.w0(), s.w1(), at + "weights after the faulty step");
            assertEquals(s.s0().step() + 1, s.s1().step(), at + "step counter");
            assertEquals(s.s0().observed(), s.s1().observed(), at + "the AE statistic did not observe the faulty step");
            assertEquals(s.s0().mu(), s.s1().mu(), 0.0, at + "AE mean");
            assertEquals(s.s0().variance(), s.s1().variance(), 0.0, at + "AE variance");
            assertEquals(s.s0().samSteps(), s.s1().samSteps(), at + "a skipped step is not a SAM step");
            assertEquals(s.s0().nonFiniteSteps() + 1, s.s1().nonFiniteSteps(), at + "skipped steps counted");
            DeviceStepGraph.State bad = s.states().get(2);
            assertTrue(bad.skipped() && !bad.sam(), at + "the faulty step's record: " + bad);
            boolean secondPass = fault.startsWith("pass2");
            // A pass-2 fault is met only on a step decided a SAM step, from finite means.
            assertEquals(secondPass, Double.isFinite(bad.s()) && Double.isFinite(bad.loss()), at + "pass 1's means: " + bad);
            if (secondPass) assertFalse(Double.isFinite(bad.samLoss()) && Double.isFinite(bad.samSumSquares()), at + "pass 2's means: " + bad);
            assertFalse(s.states().get(3).skipped(), at + "the next step trains");
            assertFalse(java.util.Arrays.equals(s.w1(), s.wEnd()), at + "a good step after the faulty one trains again");
        }
        assertEquals(seen.get(0).states(), seen.get(1).states(), what + "both ranks' step records");
        assertArrayEquals(seen.get(0).wEnd(), seen.get(1).wEnd(), what + "both ranks' final weights");
    }

    private static Seen rank(int rank, int port, String method, String fault) throws Exception {
        ScriptedLayer net = new ScriptedLayer(CLASSES, 5, 3);
        try (TcpCollective tcp = TcpCollective.join(new LaunchEnv(rank, 2, rank, "127.0.0.1", port, "test"), 30_000, 0, Nccl::uniqueId);
             CudaBackend be = new CudaBackend(rank, Precision.FP32, false);
             NcclCollective c = NcclCollective.join(tcp, be, 0);
             Model model = new Model(net, Shape.of(2), CLASSES, be, BATCH, 3)) {
            Buffer x = be.allocate(2L * BATCH), y = be.allocate(BATCH);
            be.upload(StepScript.labels(BATCH, CLASSES), 0, y, BATCH);
            Method m = Method.of(method, Method.Hyper.defaults());
            try (DeviceDecidedStep step = new DeviceDecidedStep(model, x, y, BATCH, m, LrSchedule.parse("constant", 0.05, 0, 10),
                    10, 0.9, 5e-4, false, 1, c.device())) {
                // Sizes the pinned staging now: growing it later frees pinned memory, which waits for every device, and so
                // for the other rank's collective, which waits for this rank (two ranks in one process only).
                CudaTestSupport.download(be, step.momentum());
                SplittableRandom r = new SplittableRandom(11 + rank);   // each rank its own gradients
                Buffer history = be.allocate(4L * StepGraph.RECORD_FLOATS);
                for (int k = 0; k < 2; k++) {
                    StepScript.good(r, BATCH, CLASSES, net.size(), 0.1).applyTo(net);
                    step.step();
                    step.recordStateTo(history, k);
                }
                float[] w0 = model.downloadParams();
                DeviceStepGraph.CarriedState s0 = step.exportState();
                // A large gradient: AE-SAM's statistic calls it sharp, so the step is a SAM step where the fault allows it.
                StepScript.good(r, BATCH, CLASSES, net.size(), 2.0).with(rank == 1 ? fault : "none", CLASSES).applyTo(net);
                step.step();
                step.recordStateTo(history, 2);
                float[] w1 = model.downloadParams();
                DeviceStepGraph.CarriedState s1 = step.exportState();
                StepScript.good(r, BATCH, CLASSES, net.size(), 0.1).applyTo(net);
                step.step();
                step.recordStateTo(history, 3);
                List<DeviceStepGraph.State> states = step.readHistory(history, 4);
                return new Seen(w0, w1, model.downloadParams(), s0, s1, states);
            }
        }
    }
}
