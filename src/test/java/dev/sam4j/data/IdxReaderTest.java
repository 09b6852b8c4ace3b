package dev.sam4j.data;

import static org.junit.jupiter.api.Assertions.*;

import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.lang.management.ManagementFactory;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.Random;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

class IdxReaderTest {
    @TempDir Path dir;

    private static final int N = 5, ROWS = 4, COLS = 3;

    private static byte[] pixels(long seed) {
        byte[] px = new byte[N * ROWS * COLS];
        new Random(seed).nextBytes(px);
        return px;
    }

    private static final int[] LABELS = {0, 9, 3, 3, 7};

    private Path write(String name, byte[] content) throws IOException {
        Path p = dir.resolve(name);
        Files.write(p, content);
        return p;
    }

    private static DataFileException fails(Runnable r) {
        return assertThrows(DataFileException.class, r::run);
    }

    @ParameterizedTest
    @ValueSource(booleans = {false, true})
    void roundTripsFromFilesAndStreams(boolean gzip) throws IOException {
        byte[] px = pixels(1);
        byte[] img = IdxFiles.images(N, ROWS, COLS, px), lab = IdxFiles.labels(LABELS);
        if (gzip) { img = IdxFiles.gzip(img); lab = IdxFiles.gzip(lab); }
        Path pi = write("img", img), pl = write("lab", lab);

        Dataset d = IdxReader.readDataset(pi, pl, 10, "t");
        assertEquals(dev.sam4j.tensor.Shape.of(1, ROWS, COLS), d.exampleShape());
        assertArrayEquals(px, d.pixels());
        assertArrayEquals(LABELS, d.labels());
        assertEquals(10, d.classes());

        Dataset s = IdxReader.readDataset(new ByteArrayInputStream(img), "img", new ByteArrayInputStream(lab), "lab", 10, "t");
        assertArrayEquals(px, s.pixels());
        assertArrayEquals(LABELS, s.labels());

        IdxReader.Images im = IdxReader.readImages(pi);
        assertEquals(N, im.count());
        assertEquals(ROWS, im.rows());
        assertEquals(COLS, im.cols());
    }

    @Test
    void labelsKeepTheirUnsignedValue() {
        int[] l = IdxReader.readLabels(new ByteArrayInputStream(IdxFiles.labels(new int[] {255, 128, 0})), "l");
        assertArrayEquals(new int[] {255, 128, 0}, l);
    }

    @ParameterizedTest
    @ValueSource(booleans = {false, true})
    void truncationAtAnyPointIsReportedAsTruncation(boolean gzip) throws IOException {
        byte[] full = IdxFiles.images(N, ROWS, COLS, pixels(2));
        if (gzip) full = IdxFiles.gzip(full);
        int[] cuts = {0, 1, 2, 3, 4, 5, 9, 15, 16, 17, full.length / 2, full.length - 9, full.length - 1};
        for (int cut : cuts) {
            byte[] part = Arrays.copyOf(full, cut);
            Path p = write("cut" + cut, part);
            for (Runnable r : new Runnable[] {
                    () -> IdxReader.readImages(p),
                    () -> IdxReader.readImages(new ByteArrayInputStream(part), p.toString())}) {
                DataFileException e = fails(r);
                assertTrue(e.getMessage().startsWith(p.toString() + ": "), e.getMessage());
                assertTrue(e.getMessage().contains("truncated"), "cut at " + cut + ": " + e.getMessage());
            }
        }
    }

    @Test
    void wrongMagicIsNamed() throws IOException {
        Path zip = write("x.zip", new byte[] {'P', 'K', 3, 4, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0});
        assertTrue(fails(() -> IdxReader.readImages(zip)).getMessage().contains("not an IDX file"));

        Path swapped = write("labels-as-images", IdxFiles.labels(LABELS));
        String m = fails(() -> IdxReader.readImages(swapped)).getMessage();
        assertTrue(m.contains("is an IDX label file") && m.contains("swapped"), m);

        Path rank2 = write("rank2", IdxFiles.idx(0x00000802, new int[] {2, 2}, new byte[4]));
        assertTrue(fails(() -> IdxReader.readImages(rank2)).getMessage().contains("2 dimensions"));
    }

    @Test
    void wrongDataTypeIsNamed() throws IOException {
        Path floats = write("floats", IdxFiles.idx(0x00000D03, new int[] {1, 1, 1}, new byte[4]));
        String m = fails(() -> IdxReader.readImages(floats)).getMessage();
        assertTrue(m.contains("0x0D") && m.contains("32-bit float") && m.contains("unsigned byte"), m);
    }

    @Test
    void dimensionsThatDisagreeWithTheFileLength() throws IOException {
        byte[] px = pixels(3);
        Path tooFew = write("short", IdxFiles.idx(IdxReader.IMAGES_MAGIC, new int[] {N + 1, ROWS, COLS}, px));
        String m = fails(() -> IdxReader.readImages(tooFew)).getMessage();
        assertTrue(m.contains("declare") && m.contains("truncated"), m);

        Path tooMany = write("long", IdxFiles.idx(IdxReader.IMAGES_MAGIC, new int[] {N - 1, ROWS, COLS}, px));
        m = fails(() -> IdxReader.readImages(tooMany)).getMessage();
        assertTrue(m.contains("trailing"), m);
        byte[] longBytes = Files.readAllBytes(tooMany);
        m = fails(() -> IdxReader.readImages(new ByteArrayInputStream(IdxFiles.gzip(longBytes)), "gz")).getMessage();
        assertTrue(m.contains("trailing"), m);

        Path zero = write("zero", IdxFiles.idx(IdxReader.IMAGES_MAGIC, new int[] {0, ROWS, COLS}, new byte[0]));
        assertTrue(fails(() -> IdxReader.readImages(zero)).getMessage().contains("zero"));
    }

    /** Declared sizes up to 2^31·2^32·2^32 must fail fast, without allocating for the declaration. */
    @ParameterizedTest
    @ValueSource(ints = {0, 1, 2})
    void absurdDimensionsAllocateNothingBig(int source) throws IOException {
        int[][] forged = {
                {0x80000000, 1, 1},            // 2^31 images: past the array limit
                {-1, -1, -1},                  // 2^32-1 each: the product overflows a long
                {0x40000000, 1, 1},            // 2^30 bytes: allowed, but the file holds none of them
                {60000, 28 * 28, 28 * 28},
        };
        var mx = (com.sun.management.ThreadMXBean) ManagementFactory.getThreadMXBean();
        for (int[] dims : forged) {
            byte[] header = IdxFiles.idx(IdxReader.IMAGES_MAGIC, dims, new byte[100]);
            byte[] bytes = source == 2 ? IdxFiles.gzip(header) : header;
            Path p = write("forged", bytes);
            long before = mx.getCurrentThreadAllocatedBytes();
            DataFileException e = fails(() -> {
                if (source == 0) IdxReader.readImages(p);
                else IdxReader.readImages(new ByteArrayInputStream(bytes), "forged");
            });
            long allocated = mx.getCurrentThreadAllocatedBytes() - before;
            assertTrue(allocated < 8 << 20, Arrays.toString(dims) + " allocated " + allocated + " bytes: " + e.getMessage());
            assertTrue(e.getMessage().contains("absurd") || e.getMessage().contains("truncated"), e.getMessage());
        }
    }

    @Test
    void labelsOutOfRangeAndCountMismatch() throws IOException {
        Path img = write("img", IdxFiles.images(N, ROWS, COLS, pixels(4)));
        Path bad = write("bad-labels", IdxFiles.labels(new int[] {0, 1, 10, 2, 3}));
        String m = fails(() -> IdxReader.readDataset(img, bad, 10, "t")).getMessage();
        assertTrue(m.startsWith(bad.toString()) && m.contains("label 10 of example 2") && m.contains("0..9"), m);

        Path four = write("four-labels", IdxFiles.labels(new int[] {0, 1, 2, 3}));
        m = fails(() -> IdxReader.readDataset(img, four, 10, "t")).getMessage();
        assertTrue(m.contains("4 labels") && m.contains("5 images"), m);
    }

    @Test
    void missingFilesAndDirectoriesAreNamed() {
        Path missing = dir.resolve("nope.gz");
        assertEquals(missing + ": file not found", fails(() -> IdxReader.readImages(missing)).getMessage());
        assertTrue(fails(() -> IdxReader.readLabels(dir)).getMessage().contains("is a directory"));
    }

    @Test
    void corruptGzipIsReported() {
        byte[] gz = IdxFiles.gzip(IdxFiles.images(N, ROWS, COLS, pixels(5)));
        gz[12] ^= (byte) 0xFF; // inside the deflate stream
        gz[14] ^= (byte) 0x5A;
        DataFileException e = fails(() -> IdxReader.readImages(new ByteArrayInputStream(gz), "c.gz"));
        assertTrue(e.getMessage().startsWith("c.gz: "), e.getMessage());
    }

    /**
     * Seeded mutations of valid files (raw and gzip, images and labels, from a path and from a stream):
     * each must either read consistently or throw DataFileException; no other exception, no OOM.
     */
    @Test
    void mutationFuzzOnlyEverSeesDataFileException() throws IOException {
        byte[] rawImages = IdxFiles.images(N, ROWS, COLS, pixels(6));
        byte[] rawLabels = IdxFiles.labels(LABELS);
        byte[][] originals = {rawImages, rawLabels, IdxFiles.gzip(rawImages), IdxFiles.gzip(rawLabels)};
        int accepted = 0, rejected = 0;
        for (int seed = 0; seed < 600; seed++) {
            Random r = new Random(seed);
            int which = seed % originals.length;
            boolean images = which % 2 == 0;
            byte[] m = mutate(originals[which], r);
            Path p = write("fuzz", m);
            for (int via = 0; via < 2; via++) {
                try {
                    if (images) {
                        IdxReader.Images im = via == 0 ? IdxReader.readImages(p) : IdxReader.readImages(new ByteArrayInputStream(m), "fuzz");
                        assertEquals((long) im.count() * im.rows() * im.cols(), im.pixels().length);
                    } else {
                        int[] l = via == 0 ? IdxReader.readLabels(p) : IdxReader.readLabels(new ByteArrayInputStream(m), "fuzz");
                        for (int v : l) assertTrue(v >= 0 && v < 256);
                    }
                    accepted++;
                } catch (DataFileException e) {
                    assertTrue(e.getMessage().startsWith(via == 0 ? p.toString() : "fuzz"), e.getMessage());
                    rejected++;
                } catch (Throwable t) {
                    fail("seed " + seed + " via " + (via == 0 ? "path" : "stream") + ": " + t, t);
                }
            }
        }
        assertTrue(rejected > 600, "the mutations should mostly break the files: " + rejected);
        assertTrue(accepted > 0, "some mutations (pixel flips) leave a valid file");
    }

    private static byte[] mutate(byte[] in, Random r) {
        byte[] b = in.clone();
        switch (r.nextInt(6)) {
            case 0 -> { // flip a few bytes anywhere
                for (int k = 1 + r.nextInt(3); k > 0; k--) b[r.nextInt(b.length)] ^= (byte) (1 + r.nextInt(255));
            }
            case 1 -> b = Arrays.copyOf(b, r.nextInt(b.length)); // truncate
            case 2 -> { // append garbage
                int extra = 1 + r.nextInt(40);
                b = Arrays.copyOf(b, b.length + extra);
                for (int i = b.length - extra; i < b.length; i++) b[i] = (byte) r.nextInt();
            }
            case 3 -> { // forge a header word (only meaningful for raw files; gzip gets a corrupt header)
                int at = 4 * r.nextInt(Math.min(4, b.length / 4));
                int v = switch (r.nextInt(4)) {
                    case 0 -> r.nextInt();
                    case 1 -> Integer.MAX_VALUE;
                    case 2 -> -1;
                    default -> r.nextInt(100);
                };
                b[at] = (byte) (v >>> 24); b[at + 1] = (byte) (v >>> 16); b[at + 2] = (byte) (v >>> 8); b[at + 3] = (byte) v;
            }
            case 4 -> { // insert bytes in the middle
                int at = r.nextInt(b.length), k = 1 + r.nextInt(8);
                byte[] c = new byte[b.length + k];
                System.arraycopy(b, 0, c, 0, at);
                for (int i = 0; i < k; i++) c[at + i] = (byte) r.nextInt();
                System.arraycopy(b, at, c, at + k, b.length - at);
                b = c;
            }
            default -> { // random bytes of a random length
                b = new byte[r.nextInt(64)];
                r.nextBytes(b);
                if (b.length > 2 && r.nextBoolean()) { b[0] = 0x1f; b[1] = (byte) 0x8b; }
            }
        }
        return b;
    }
}
