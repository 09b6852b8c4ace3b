package dev.sam4j.train;

import static org.junit.jupiter.api.Assertions.*;

import dev.sam4j.backend.cuda.CudaBackend;
import dev.sam4j.backend.cuda.CudaTestSupport;
import dev.sam4j.backend.cuda.Nccl;
import dev.sam4j.parallel.LaunchEnv;
import dev.sam4j.parallel.NcclCollective;
import dev.sam4j.parallel.TcpCollective;
import java.net.ServerSocket;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

/**
 * One rank on NCCL against the single-GPU step on the same device: the data-parallel step with a communicator of one
 * rank (an all-reduce that adds nothing, a mean that multiplies by 1) must end with the single-GPU host step's weights
 * bit for bit; the time per step of both (and of the graph step) is printed, one line starting {@code NCCL one rank:},
 * which {@code scripts/gpu-check.sh} reports. A rough figure: whole runs of a small model, evaluation included.
 */
@Tag("gpu")
class NcclOneRankTest {

    @Test
    void oneRankOnNcclEndsWithTheSingleGpuHostStepsWeights() throws Exception {
        var a = CudaTestSupport.requireNccl(1);
        TrainConfig host = TrainConfig.builder().data("synthetic:1,8,8:4:640:32").model("mlp").epochs(2).batchSize(32)
                .evalBatchSize(32).device("cuda:0").cudaStep("host").optimizer("aesam").build();
        float[] single, nccl;
        long t0, steps;
        double singleMs, ncclMs, graphMs;
        // Each time is of t.run() alone: the trainer's construction (cuBLAS, NCCL's communicator) is not per step; timed
        // with it, the first GPU run (H200, 2026-12-04) put 23 ms "per step" on NCCL over 40 steps.
        try (Trainer t = new Trainer(host, null)) {
            t0 = System.nanoTime();
            t.run();
            steps = t.totalSteps();
            singleMs = (System.nanoTime() - t0) / 1e6 / steps;
            single = t.model().downloadParams();
        }
        int port;
        try (ServerSocket s = new ServerSocket(0)) { port = s.getLocalPort(); }
        String path;
        try (TcpCollective tcp = TcpCollective.join(new LaunchEnv(0, 1, 0, "127.0.0.1", port, "test"), 10_000, 0, Nccl::uniqueId);
             Trainer t = new Trainer(host, null, b -> NcclCollective.join(tcp, (CudaBackend) b, 0))) {
            path = t.stepPath();
            t0 = System.nanoTime();
            t.run();
            ncclMs = (System.nanoTime() - t0) / 1e6 / steps;
            nccl = t.model().downloadParams();
        }
        assertTrue(path.contains("over NCCL"), path);
        try (Trainer t = new Trainer(host.toBuilder().cudaStep("graph").build(), null)) {
            t0 = System.nanoTime();
            t.run();
            graphMs = (System.nanoTime() - t0) / 1e6 / steps;
        }
        System.out.printf("NCCL one rank: %.3f ms/step over %s vs %.3f ms/step on the single-GPU host step (%+.3f ms/step) "
                + "and %.3f ms/step on the graph step; weights %s%n", ncclMs, a.reason(), singleMs, ncclMs - singleMs, graphMs,
                java.util.Arrays.equals(single, nccl) ? "bit for bit the same" : "DIFFERENT");
        assertArrayEquals(single, nccl, "one rank over NCCL and the single-GPU host step");
    }
}
