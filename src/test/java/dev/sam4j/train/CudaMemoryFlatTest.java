package dev.sam4j.train;

import static org.junit.jupiter.api.Assertions.*;

import dev.sam4j.backend.cuda.CudaBackend;
import dev.sam4j.backend.cuda.CudaTestSupport;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

/**
 * {@link MemoryFlatTest}'s check for the device: the trainer on the CUDA graph path, fed through the input
 * pipeline, for four epochs (each with its evaluation, a fresh feeder thread and a fresh segment of graph
 * launches), with device memory in use read from the driver ({@code cudaMemGetInfo}) after every epoch. After
 * the first epoch it may not grow at all, and once the trainer is closed everything it took is given back:
 * buffers, executable graphs, cuBLAS's handle, the kernels' module, the input pipeline's staging areas. The
 * driver's count sees all of that, where the backend's tally of its own buffers sees only the first.
 *
 * <p>A short run of the same configuration goes first, closed before the count is read: on an H200 the
 * first trainer of a process left 4 MiB in use after closing (2026-12-04), what CUDA's lazy loading keeps of
 * the library kernels it loaded on first use until the process ends. A trainer that kept something of its
 * own would still show here, since the measured run is the second one.
 */
@Tag("gpu")
class CudaMemoryFlatTest {

    @Test
    void deviceMemoryStaysFlatOverEpochsAndIsGivenBackOnClose() {
        CudaTestSupport.requireCuda();
        int epochs = 4;
        TrainConfig cfg = TrainConfig.builder().data("synthetic:1,8,8:10:320:64").model("mlp").optimizer("aesam")
                .batchSize(32).evalBatchSize(64).epochs(epochs).device("cuda").cudaStep("graph").seed(3).build();
        List<Long> afterEpoch = new ArrayList<>();
        // A backend of its own, open across the run, to read the driver's count before and after it.
        try (CudaBackend probe = new CudaBackend(0, false)) {
            long first = probe.deviceMemoryInUse();
            try (Trainer warmUp = new Trainer(cfg.toBuilder().epochs(1).build())) {
                warmUp.run();
            }
            long before = probe.deviceMemoryInUse();
            System.out.println("CudaMemoryFlatTest: device memory in use " + first + " before the warm-up run, " + before + " after it");
            try (Trainer t = new Trainer(cfg)) {
                CudaBackend cuda = (CudaBackend) t.backend();
                t.addListener(new TrainListener() {
                    @Override public void onEpoch(EpochRecord e) { afterEpoch.add(cuda.deviceMemoryInUse()); }
                });
                RunSummary s = t.run();
                assertEquals(epochs * 10, s.steps());
                assertTrue(t.stepPath().contains("graph"), t.stepPath());
            }
            long after = probe.deviceMemoryInUse();
            assertEquals(epochs, afterEpoch.size());
            for (int e = 1; e < epochs; e++) {
                assertEquals(afterEpoch.get(0), afterEpoch.get(e), "device memory in use after epoch " + (e + 1) + " vs epoch 1: " + afterEpoch);
            }
            assertTrue(afterEpoch.get(0) > before, "the run holds device memory while it trains: " + before + " -> " + afterEpoch);
            assertEquals(before, after, "device memory the closed trainer kept (bytes in use before the run -> after close)");
        }
    }
}
