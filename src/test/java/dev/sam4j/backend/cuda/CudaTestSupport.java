package dev.sam4j.backend.cuda;

import static org.junit.jupiter.api.Assumptions.assumeTrue;

/**
 * Shared by the {@code gpu}-tagged tests. They run wherever CUDA loads: on a real GPU, and in the
 * {@code cuda-stand-in} Surefire execution against the CPU stand-ins of {@code src/test/cuda-mock}
 * (which proves the host code, not the kernels); elsewhere they skip with the probe's reason.
 */
final class CudaTestSupport {
    private CudaTestSupport() {}

    /** Skips the calling test, with the reason, where CUDA is not available. */
    static CudaRuntime.Availability requireCuda() {
        CudaRuntime.Availability a = CudaRuntime.probe();
        assumeTrue(a.available(), () -> "no CUDA: " + a.reason());
        return a;
    }

    /** True on a real GPU; false against the CPU stand-ins. */
    static boolean realGpu() {
        return !CudaRuntime.probe().standIn();
    }
}
