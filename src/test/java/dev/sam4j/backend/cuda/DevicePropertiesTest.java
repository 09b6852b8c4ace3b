package dev.sam4j.backend.cuda;

import static org.junit.jupiter.api.Assertions.*;

import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

/**
 * What the benchmarks read from the device: L2 size, memory clock and bus width through
 * {@code cudaDeviceGetAttribute} (CUDA 13 removed the memory clock from {@code cudaDeviceProp}), and the
 * theoretical bandwidth made of them. The stand-ins report an H100's figures, so the arithmetic is checked
 * exactly there; on a GPU the figures are only checked to be plausible.
 */
@Tag("gpu")
class DevicePropertiesTest {

    @Test
    void theMemoryFiguresComeFromTheDevice() {
        CudaRuntime.Availability a = CudaTestSupport.requireCuda();
        for (CudaRuntime.DeviceInfo d : CudaRuntime.devices()) {
            if (a.standIn()) {
                assertEquals(50L << 20, d.l2Bytes());
                assertEquals(5120, d.memoryBusBits());
                assertEquals(2_619_000, d.memoryClockKHz());
                assertEquals(3.35232e12, d.peakBandwidth(), 1e6, "2 x 2619 MHz x 640 bytes");
            } else {
                assertTrue(d.l2Bytes() >= 1 << 20 && d.memoryBusBits() >= 64 && d.memoryClockKHz() > 100_000, d.describe());
                assertTrue(d.peakBandwidth() > 1e11 && d.peakBandwidth() < 3e13, d.describe());
            }
            assertTrue(d.describe().contains("GB/s peak"), d.describe());
            // The benchmark's large arrays are each at least 4x the L2 size.
            assertTrue(4 * GpuBenchmark.beyondL2(d.l2Bytes()) >= 4 * d.l2Bytes());
        }
        assertEquals(GpuBenchmark.RESNET18_FLOATS, GpuBenchmark.beyondL2(1 << 20), "never below today's size");
    }
}
