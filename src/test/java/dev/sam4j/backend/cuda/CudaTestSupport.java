package dev.sam4j.backend.cuda;

import static org.junit.jupiter.api.Assertions.fail;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

/**
 * Shared by the {@code gpu}-tagged tests. They run wherever CUDA loads: on a real GPU, and in the
 * {@code cuda-stand-in} Surefire execution against the CPU stand-ins of {@code src/test/cuda-mock}
 * (which proves the host code, not the kernels); elsewhere they skip with the probe's reason. Where the
 * stand-in run is expected ({@code -Dsam4j.cuda.standIn=true}, which that execution sets), a CUDA that
 * does not load fails the test instead: a stand-in that did not build must not pass as a run of skips.
 */
public final class CudaTestSupport {
    private CudaTestSupport() {}

    /** The system property the {@code cuda-stand-in} execution sets. */
    static final String STAND_IN_PROPERTY = "sam4j.cuda.standIn";

    /** Skips the calling test, with the reason, where CUDA is not available; fails it where the stand-in run is expected. */
    public static CudaRuntime.Availability requireCuda() {
        return require(CudaRuntime.probe(), Boolean.getBoolean(STAND_IN_PROPERTY));
    }

    /** {@link #requireCuda()}'s verdict on probe result {@code a}, with or without the stand-in run expected. */
    static CudaRuntime.Availability require(CudaRuntime.Availability a, boolean standInExpected) {
        if (standInExpected) {
            if (!a.available()) fail("-D" + STAND_IN_PROPERTY + "=true but CUDA does not load: " + a.reason());
            if (!a.standIn()) fail("-D" + STAND_IN_PROPERTY + "=true but the CUDA libraries loaded are not the stand-ins");
        }
        assumeTrue(a.available(), () -> "no CUDA: " + a.reason());
        return a;
    }

    /**
     * max |got − want| ≤ tol·(scale + |want|) elementwise, scale = the largest |want| (sums cancel, so small
     * elements are held to the whole result's scale); the failure names {@code what} and the element.
     */
    static void assertCloseToReference(String what, double[] want, double[] got, double tol) {
        double scale = 0;
        for (double w : want) scale = Math.max(scale, Math.abs(w));
        for (int i = 0; i < want.length; i++) {
            if (!(Math.abs(got[i] - want[i]) <= tol * (scale + Math.abs(want[i])))) {
                fail(what + ": element " + i + " of " + want.length + " is " + got[i] + ", reference " + want[i]);
            }
        }
    }

    /** True on a real GPU; false against the CPU stand-ins. */
    static boolean realGpu() {
        return !CudaRuntime.probe().standIn();
    }

    /**
     * {@link #requireCuda()}, then skips the calling test, saying {@code why}, unless the CUDA loaded is the
     * CPU stand-ins (for tests of what only they can be made to do, or of their own schedule).
     */
    public static CudaRuntime.Availability requireStandIn(String why) {
        CudaRuntime.Availability a = requireCuda();
        assumeTrue(a.standIn(), why);
        return a;
    }

    /**
     * {@link #requireCuda()}, then skips the calling test, saying why, unless at least {@code devices} CUDA devices are
     * there and NCCL loads; in the stand-in run an NCCL stand-in that does not load fails it instead.
     */
    public static dev.sam4j.backend.DeviceCollective.Availability requireNccl(int devices) {
        CudaRuntime.Availability cuda = requireCuda();
        assumeTrue(cuda.deviceCount() >= devices, "needs " + (devices == 2 ? "two" : devices) + " CUDA devices, found " + cuda.deviceCount());
        dev.sam4j.backend.DeviceCollective.Availability a = Nccl.probe();
        if (cuda.standIn() && !a.available()) fail("the stand-in run must load the NCCL stand-in: " + a.reason());
        assumeTrue(a.available(), a.reason());
        return a;
    }

    /** The whole of {@code b} on the host (after the synchronisation {@code download} makes); empty for null. */
    public static float[] download(CudaBackend be, dev.sam4j.backend.Buffer b) {
        if (b == null) return new float[0];
        float[] out = new float[(int) b.length()];
        be.download(b, out, 0, out.length);
        return out;
    }
}
