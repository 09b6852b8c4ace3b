package dev.sam4j.backend.cuda;

import static org.junit.jupiter.api.Assertions.*;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/**
 * The fatbin reader and the compute-capability check (no GPU needed): the jar's kernels hold machine code
 * for every architecture {@code scripts/build-kernels.sh} lists, sm_75 (T4, RTX 20xx) included, so that
 * every GPU CUDA 13 supports runs them; the driver's rule for which image runs where; the one-line refusal;
 * and malformed images refused with a reason.
 */
class FatbinTest {

    /** An entry: 64-byte header (kind, version, header size, payload size, arch at byte 28), then the payload. */
    static byte[] entry(boolean ptx, int arch, int payload) {
        ByteBuffer b = ByteBuffer.allocate(64 + payload).order(ByteOrder.LITTLE_ENDIAN);
        b.putShort(0, (short) (ptx ? 1 : 2)).putShort(2, (short) 0x0101).putInt(4, 64).putLong(8, payload).putInt(28, arch);
        return b.array();
    }

    /** A fatbin of the given entries. */
    static byte[] fatbin(byte[]... entries) {
        ByteArrayOutputStream body = new ByteArrayOutputStream();
        for (byte[] e : entries) body.writeBytes(e);
        ByteBuffer h = ByteBuffer.allocate(16).order(ByteOrder.LITTLE_ENDIAN);
        h.putInt(0, Fatbin.MAGIC).putShort(4, (short) 1).putShort(6, (short) 16).putLong(8, body.size());
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        out.writeBytes(h.array());
        out.writeBytes(body.toByteArray());
        return out.toByteArray();
    }

    /** The jar's fatbin with only the entries whose index is in {@code keep}. */
    static byte[] subset(byte[] image, List<Fatbin.Entry> entries, int... keep) {
        List<byte[]> parts = new ArrayList<>();
        for (int k : keep) {
            Fatbin.Entry e = entries.get(k);
            parts.add(Arrays.copyOfRange(image, e.offset(), e.offset() + e.length()));
        }
        return fatbin(parts.toArray(byte[][]::new));
    }

    static byte[] jarImage() throws IOException {
        try (InputStream in = FatbinTest.class.getResourceAsStream(CudaModule.RESOURCE)) {
            assumeTrue(in != null, "this build has no GPU kernels (no nvcc)");
            return in.readAllBytes();
        }
    }

    @Test
    void readsTheTargetsOfAFatbin() {
        byte[] image = fatbin(entry(false, 75, 10), entry(true, 80, 3), entry(false, 90, 0));
        assertEquals(List.of(new Fatbin.Target(false, 75), new Fatbin.Target(true, 80), new Fatbin.Target(false, 90)),
                Fatbin.targets(image));
        assertEquals("sm_75 sm_90 + compute_80 PTX", Fatbin.describe(Fatbin.targets(image)));
        List<Fatbin.Entry> e = Fatbin.entries(image);
        assertEquals(16, e.get(0).offset());
        assertEquals(74, e.get(0).length());
        assertEquals(16 + 74 + 67, e.get(2).offset());
    }

    /** The jar's kernels: every SASS architecture of build-kernels.sh, sm_75 among them, and compute_80 PTX. */
    @Test
    void theJarsKernelsHoldEveryArchitectureOfTheBuildScript() throws IOException {
        byte[] image = jarImage();
        List<Fatbin.Target> targets = Fatbin.targets(image);
        Matcher m = Pattern.compile("(?m)^SASS_ARCHS=\\(([0-9 ]+)\\)$").matcher(Files.readString(Path.of("scripts/build-kernels.sh")));
        assertTrue(m.find(), "SASS_ARCHS in scripts/build-kernels.sh");
        List<Fatbin.Target> want = new ArrayList<>();
        for (String a : m.group(1).trim().split(" +")) want.add(new Fatbin.Target(false, Integer.parseInt(a)));
        want.add(new Fatbin.Target(true, 80));
        assertEquals(new java.util.HashSet<>(want), new java.util.HashSet<>(targets), Fatbin.describe(targets));  // nvcc's order is its own
        assertTrue(targets.contains(new Fatbin.Target(false, 75)), "sm_75 (T4, RTX 20xx): " + Fatbin.describe(targets));
        // Every compute capability CUDA 13 supports has an image: SASS of its own major version, else the PTX.
        for (int cc : new int[] {75, 80, 86, 87, 89, 90, 100, 103, 110, 120, 121}) {
            assertDoesNotThrow(() -> Fatbin.check(targets, "cuda:0", cc / 10, cc % 10), "compute capability " + cc);
        }
    }

    /** The driver's rule: SASS runs on its major version at the same or a higher minor; PTX on its version and newer. */
    @ParameterizedTest(name = "{0} on {1}.{2}: {3}")
    @CsvSource({"sm_80, 8, 0, true", "sm_80, 8, 6, true", "sm_80, 8, 9, true", "sm_80, 9, 0, false", "sm_86, 8, 0, false",
            "sm_75, 7, 5, true", "sm_75, 8, 0, false", "sm_120, 12, 1, true", "sm_100, 10, 3, true", "sm_100, 12, 0, false",
            "compute_80, 8, 0, true", "compute_80, 12, 0, true", "compute_80, 7, 5, false", "compute_75, 7, 5, true"})
    void whichImageRunsWhere(String target, int major, int minor, boolean runs) {
        boolean ptx = target.startsWith("compute_");
        Fatbin.Target t = new Fatbin.Target(ptx, Integer.parseInt(target.substring(target.indexOf('_') + 1)));
        assertEquals(runs, t.runsOn(major, minor));
    }

    @Test
    void aDeviceWithoutAnImageIsRefusedInOneLineNamingBoth() {
        // What the jar held before sm_75 was added.
        List<Fatbin.Target> old = List.of(new Fatbin.Target(false, 80), new Fatbin.Target(false, 86), new Fatbin.Target(false, 89),
                new Fatbin.Target(false, 90), new Fatbin.Target(false, 100), new Fatbin.Target(false, 120), new Fatbin.Target(true, 80));
        CudaException e = assertThrows(CudaException.class, () -> Fatbin.check(old, "cuda:0 (Tesla T4)", 7, 5));
        assertEquals("cuda:0 (Tesla T4) has compute capability 7.5, and the GPU kernels in this sam4j jar are built for "
                + "sm_80 sm_86 sm_89 sm_90 sm_100 sm_120 + compute_80 PTX, none of which runs on it (rebuild the jar with an "
                + "nvcc that targets sm_75)", e.getMessage());
        e = assertThrows(CudaException.class, () -> Fatbin.check(old, "cuda:1 (Tesla V100)", 7, 0));
        assertTrue(e.getMessage().contains("compute capability 7.0") && e.getMessage().contains("CUDA 13 supports compute capability 7.5"),
                e.getMessage());
        assertFalse(e.getMessage().contains("\n"));
    }

    @ParameterizedTest(name = "{0}")
    @CsvSource(delimiter = '|', value = {
            "wrong magic | 0 | it does not start with the fatbin magic",
            "entries longer than the image | 1 | bytes of entries after 16, but the image has",
            "entry past the end | 2 | runs past the end",
            "unknown kind | 3 | unknown kind 7",
            "empty | 4 | holds no image"})
    void malformedImagesAreRefusedWithTheReason(String what, int which, String message) {
        byte[] good = fatbin(entry(false, 90, 8));
        byte[] bad = good.clone();
        ByteBuffer b = ByteBuffer.wrap(bad).order(ByteOrder.LITTLE_ENDIAN);
        switch (which) {
            case 0 -> b.putInt(0, 0x12345678);
            case 1 -> b.putLong(8, 1000);
            case 2 -> b.putLong(16 + 8, 9);
            case 3 -> b.putShort(16, (short) 7);
            default -> bad = fatbin();
        }
        byte[] image = bad;
        CudaException e = assertThrows(CudaException.class, () -> Fatbin.entries(image));
        assertTrue(e.getMessage().startsWith("the GPU kernels' fatbin is corrupt: ") && e.getMessage().contains(message), e.getMessage());
    }
}
