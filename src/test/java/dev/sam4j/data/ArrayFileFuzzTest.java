package dev.sam4j.data;

import static org.junit.jupiter.api.Assertions.*;

import java.io.IOException;
import java.lang.management.ManagementFactory;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * Seeded mutation fuzzing of the {@code npy:} and {@code safetensors:} data readers, as
 * {@code DataFileFuzzTest} does for the others: small valid files are damaged by stacked mutations (bit
 * flips, forged little-endian fields with huge or boundary values, truncation, insertion, deletion,
 * appended garbage, header digits replaced). Every load must succeed (with as many labels as images,
 * each in range) or throw {@link DataFileException} with one line starting with a file of the set;
 * nothing else may escape, and no load may allocate more than a small multiple of the bytes present.
 */
class ArrayFileFuzzTest {
    @TempDir Path dir;

    static final int CASES = 400;
    static final int ALLOC_FACTOR = 8;
    static final long SLACK = 256 << 10;
    private static final com.sun.management.ThreadMXBean THREADS =
            (com.sun.management.ThreadMXBean) ManagementFactory.getThreadMXBean();

    @ParameterizedTest
    @ValueSource(strings = {"npy-images", "npy-labels", "safetensors"})
    void mutatedFilesLoadOrFailInOneLineNamingTheFile(String kind) throws IOException {
        List<String> failures = new ArrayList<>();
        int accepted = 0, rejected = 0;
        for (int c = 0; c < CASES; c++) {
            long seed = kind.hashCode() * 1_000_003L + c;
            Random r = new Random(seed);
            int n = 1 + r.nextInt(5), h = 4 + r.nextInt(3), w = 4 + r.nextInt(3); // no axis of 3 besides C: unambiguous
            boolean f32 = r.nextBoolean();
            byte[] px = new byte[n * h * w * (f32 ? 4 : 1)];
            if (f32) {
                ByteBuffer b = ByteBuffer.wrap(px).order(ByteOrder.LITTLE_ENDIAN);
                for (int i = 0; i < n * h * w; i++) b.putFloat(r.nextFloat());
            } else r.nextBytes(px);
            byte[] lab = new byte[n];
            for (int i = 0; i < n; i++) lab[i] = (byte) r.nextInt(5);
            long[] shape = {n, h, w, 1};
            Path pi = dir.resolve("i" + c + ".npy"), pl = dir.resolve("l" + c + ".npy"), ps = dir.resolve("s" + c + ".safetensors");
            String spec;
            long present;
            if (kind.equals("safetensors")) {
                byte[] st = mutate(new ArrayFiles.Safetensors().add("images", f32 ? "F32" : "U8", shape, px).add("labels", "U8", new long[] {n}, lab).bytes(), r);
                Files.write(ps, st);
                spec = "safetensors:" + ps;
                present = st.length;
            } else {
                byte[] im = ArrayFiles.npy(f32 ? "<f4" : "|u1", shape, px), lb = ArrayFiles.npy("|u1", new long[] {n}, lab);
                if (kind.equals("npy-images")) im = mutate(im, r); else lb = mutate(lb, r);
                Files.write(pi, im);
                Files.write(pl, lb);
                spec = "npy:" + pi + "," + pl + "," + pi + "," + pl;
                present = 2L * (im.length + lb.length);
            }
            long before = THREADS.getCurrentThreadAllocatedBytes();
            try {
                DataSplit s = DataSpec.parse(spec).load();
                assertEquals(s.train().size() * s.train().exampleSize(), s.train().pixels().length);
                accepted++;
            } catch (DataFileException e) {
                String m = e.getMessage();
                if (!(m.startsWith(pi + ": ") || m.startsWith(pl + ": ") || m.startsWith(ps + ": ")) || m.contains("\n")) {
                    failures.add("seed " + seed + ": " + m);
                }
                rejected++;
            } catch (Throwable t) {
                failures.add("seed " + seed + ": " + t);
            }
            long allocated = THREADS.getCurrentThreadAllocatedBytes() - before;
            if (allocated > ALLOC_FACTOR * present + SLACK) allocated = remeasure(spec);
            if (allocated > ALLOC_FACTOR * present + SLACK) failures.add("seed " + seed + ": allocated " + allocated + " for " + present + " bytes");
            Files.deleteIfExists(pi);
            Files.deleteIfExists(pl);
            Files.deleteIfExists(ps);
        }
        System.out.printf("ArrayFileFuzzTest %s: %d cases, %d accepted, %d rejected with DataFileException%n", kind, CASES, accepted, rejected);
        assertTrue(failures.isEmpty(), failures.size() + " failures, first: " + failures.subList(0, Math.min(5, failures.size())));
        assertTrue(rejected > CASES / 10 && accepted > 0, "the mutations reach both outcomes: " + accepted + " accepted, " + rejected + " rejected");
    }

    /** A load done once more: the first use of a code path loads classes, which allocates once per JVM, not per read. */
    private static long remeasure(String spec) {
        long before = THREADS.getCurrentThreadAllocatedBytes();
        try { DataSpec.parse(spec).load(); } catch (DataFileException expected) { /* as the first time */ }
        return THREADS.getCurrentThreadAllocatedBytes() - before;
    }

    static byte[] mutate(byte[] b, Random r) {
        int k = 1 + r.nextInt(3);
        for (int m = 0; m < k; m++) {
            if (b.length == 0) return b;
            switch (r.nextInt(7)) {
                case 0 -> b[r.nextInt(b.length)] ^= (byte) (1 << r.nextInt(8));
                case 1 -> { // a forged little-endian field near the start (lengths, header digits)
                    int at = r.nextInt(Math.min(b.length, 96));
                    long[] values = {0, 1, -1, Integer.MAX_VALUE, 1L << 31, 1L << 40, Long.MAX_VALUE, 255, 65535};
                    long v = values[r.nextInt(values.length)];
                    for (int i = 0; i < 8 && at + i < b.length; i++) b[at + i] = (byte) (v >>> (8 * i));
                }
                case 2 -> b = java.util.Arrays.copyOf(b, r.nextInt(b.length + 1));
                case 3 -> {
                    int at = r.nextInt(b.length + 1), len = 1 + r.nextInt(8);
                    byte[] out = new byte[b.length + len];
                    System.arraycopy(b, 0, out, 0, at);
                    for (int i = 0; i < len; i++) out[at + i] = (byte) r.nextInt(256);
                    System.arraycopy(b, at, out, at + len, b.length - at);
                    b = out;
                }
                case 4 -> {
                    int at = r.nextInt(b.length), len = Math.min(b.length - at, 1 + r.nextInt(8));
                    byte[] out = new byte[b.length - len];
                    System.arraycopy(b, 0, out, 0, at);
                    System.arraycopy(b, at + len, out, at, b.length - at - len);
                    b = out;
                }
                case 5 -> { // a digit of the textual header replaced: shapes and offsets that lie
                    List<Integer> digits = new ArrayList<>();
                    for (int i = 0; i < Math.min(b.length, 256); i++) if (b[i] >= '0' && b[i] <= '9') digits.add(i);
                    if (!digits.isEmpty()) b[digits.get(r.nextInt(digits.size()))] = (byte) ('0' + r.nextInt(10));
                }
                default -> {
                    byte[] out = java.util.Arrays.copyOf(b, b.length + 1 + r.nextInt(16));
                    for (int i = b.length; i < out.length; i++) out[i] = (byte) r.nextInt(256);
                    b = out;
                }
            }
        }
        return b;
    }
}
