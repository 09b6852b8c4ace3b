package dev.sam4j.backend.cpu;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.junit.jupiter.api.Test;

/** The width rule of {@link VectorWidths#choose}, for hardware of every width. */
class VectorWidthsTest {


    @Test
    void defaultCapsAt256AndSaysSo() {
        VectorWidths.Choice c = VectorWidths.choose(null, 512);
        assertEquals(256, c.bits());
        assertNull(c.problem());
        assertTrue(c.how().contains("capped at 256") && c.how().contains("vectorBits=512"), c.how());
        assertEquals(256, VectorWidths.choose("", 256).bits());
        assertEquals(128, VectorWidths.choose(null, 128).bits());
    }

    @Test
    void aRequestWithinTheHardwareIsTaken() {
        assertEquals(512, VectorWidths.choose("512", 512).bits());
        assertEquals(128, VectorWidths.choose(" 128 ", 512).bits());
        assertNull(VectorWidths.choose("128", 256).problem());
    }

    @Test
    void aRequestAboveTheHardwareOrOutOfRangeIsOneClearProblem() {
        VectorWidths.Choice c = VectorWidths.choose("512", 256);
        assertEquals("-Dsam4j.cpu.vectorBits=512: this JVM's vectors are at most 256 bits on this CPU, so 512-bit vectors"
                + " would run the slow non-intrinsified fallback", c.problem());
        assertEquals("-Dsam4j.cpu.vectorBits=300: must be 128, 256 or 512", VectorWidths.choose("300", 512).problem());
        assertTrue(VectorWidths.choose(null, 64).problem().contains("at least 128 bits"));
    }

    @Test
    void theBackendReportsItsWidthAndKernel() {
        BackendHarness.assumeWidthAvailable();
        try (CpuBackend b = new CpuBackend(1)) {
            String d = b.describe();
            assertTrue(d.contains("Vector API " + VectorWidths.BITS + "-bit (" + VectorOps.L + " floats")
                    && d.contains("SGEMM micro-kernel " + Sgemm.MR + "x" + Sgemm.NR), d);
        }
    }
}
