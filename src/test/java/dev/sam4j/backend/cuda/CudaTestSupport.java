package dev.sam4j.backend.cuda;

import static org.junit.jupiter.api.Assertions.fail;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.lang.foreign.Arena;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.Linker;
import java.lang.foreign.SymbolLookup;
import java.lang.foreign.ValueLayout;
import java.lang.invoke.MethodHandle;

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

    /** True on a real GPU; false against the CPU stand-ins. */
    static boolean realGpu() {
        return !CudaRuntime.probe().standIn();
    }

    /**
     * Stand-in only: from now on every graph launch, when it runs, takes {@code bytes} more device memory and
     * never gives it back (0 stops that), so that a test can show its measurement catches a leaking launch.
     */
    @SuppressWarnings("restricted") // a downcall into the stand-in's libcuda.so.1; the JVM runs with --enable-native-access
    static void standInLeakPerGraphLaunch(long bytes) {
        if (realGpu()) throw new IllegalStateException("only the CPU stand-in can be made to leak");
        MethodHandle leak = Linker.nativeLinker().downcallHandle(
                SymbolLookup.libraryLookup("libcuda.so.1", Arena.global()).find("sam4j_stand_in_leak_per_graph_launch").orElseThrow(),
                FunctionDescriptor.ofVoid(ValueLayout.JAVA_LONG));
        try {
            leak.invokeExact(bytes);
        } catch (Throwable t) {
            throw new IllegalStateException("cannot set the stand-in's leak", t);
        }
    }
}
