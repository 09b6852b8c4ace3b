package dev.sam4j.backend;

import static org.junit.jupiter.api.Assertions.*;

import dev.sam4j.backend.cpu.CpuBackend;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.Test;

/**
 * {@code auto} on a host whose probe finds a GPU but whose CUDA backend cannot be opened falls back to the
 * CPU and says why, whether opening fails with a CUDA error or because JavaCPP or its natives are missing
 * (a {@link LinkageError}, which a library user without the optional dependencies gets).
 */
class BackendsFallbackTest {

    private static void assertCpuFallback(Backends.Choice c, String... reasonParts) {
        try (Backend b = c.backend()) {
            assertInstanceOf(CpuBackend.class, b);
            assertTrue(c.reason().startsWith("auto: no usable GPU (opening cuda:0 failed: "), c.reason());
            assertTrue(c.reason().endsWith("), using the CPU"), c.reason());
            for (String part : reasonParts) assertTrue(c.reason().contains(part), part + " in " + c.reason());
        }
    }

    @Test
    void missingJavaCppFallsBackToTheCpuWithTheReason() {
        assertCpuFallback(Backends.auto(1, Backends.Needs.DENSE, null, i -> {
            throw new NoClassDefFoundError("org/bytedeco/javacpp/Pointer");
        }), "NoClassDefFoundError: org/bytedeco/javacpp/Pointer", "org.bytedeco:javacpp", "org.bytedeco:cuda");
    }

    @Test
    void nativeLibraryThatDoesNotLoadFallsBackToTheCpu() {
        assertCpuFallback(Backends.auto(1, Backends.Needs.DENSE, null, i -> {
            throw new UnsatisfiedLinkError("no jnicudart in java.library.path");
        }), "UnsatisfiedLinkError: no jnicudart in java.library.path");
    }

    @Test
    void cudaErrorFallsBackToTheCpu() {
        assertCpuFallback(Backends.auto(1, Backends.Needs.DENSE, null, i -> {
            throw new IllegalStateException("cudaSetDevice(0) -> cudaErrorDevicesUnavailable");
        }), "cudaSetDevice(0) -> cudaErrorDevicesUnavailable");
    }

    @Test
    void unusableGpuIsNotOpened() {
        AtomicInteger opened = new AtomicInteger();
        Backends.Choice c = Backends.auto(1, Backends.Needs.DENSE, "no driver", i -> {
            opened.incrementAndGet();
            throw new AssertionError("must not be opened");
        });
        try (Backend b = c.backend()) {
            assertInstanceOf(CpuBackend.class, b);
            assertEquals("auto: no usable GPU (no driver), using the CPU", c.reason());
        }
        assertEquals(0, opened.get());
    }
}
