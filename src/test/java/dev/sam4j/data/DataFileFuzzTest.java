package dev.sam4j.data;

import static org.junit.jupiter.api.Assertions.*;

import dev.sam4j.data.CifarReader.Variant;
import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.lang.management.ManagementFactory;
import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import java.util.function.Supplier;
import java.util.zip.GZIPInputStream;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

/**
 * Seeded mutation fuzzing of every data file reader. Small valid files are generated, then broken by
 * stacked mutations (bit flips, header fields forged with huge or boundary values, truncations,
 * insertions, deletions, splices, appended garbage; for gzip both "forge the IDX header, then compress"
 * and "compress, then damage the gzip stream"). Every read must end in one of two ways:
 * <ul>
 *   <li>it succeeds, and what it returns is exactly what the bytes say (checked against an independent
 *       decoding of the mutated file);</li>
 *   <li>it throws {@link DataFileException} with a one-line message that starts with the file's name.</li>
 * </ul>
 * Nothing else may escape (no OutOfMemoryError, NegativeArraySizeException, EOFException, raw
 * ZipException, ...), and no read may allocate more than a small multiple of the bytes the file really
 * holds (decompressed, for gzip) plus a constant, however large the sizes its header claims.
 *
 * <p>The case counts are printed so that a run shows how much was exercised; the seeds are fixed so a
 * failure names a case that can be replayed.
 */
class DataFileFuzzTest {
    @TempDir static Path dir;

    /** Reads may allocate this many times the bytes present, plus {@link #SLACK} (buffers, exceptions). */
    static final int ALLOC_FACTOR = 8;
    static final long SLACK = 256 << 10;

    private static final com.sun.management.ThreadMXBean THREADS =
            (com.sun.management.ThreadMXBean) ManagementFactory.getThreadMXBean();

    enum Format {
        IDX_IMAGES(false), IDX_LABELS(false), IDX_IMAGES_GZ(true), IDX_LABELS_GZ(true), CIFAR10(false), CIFAR100(false);

        final boolean gzip;

        Format(boolean gzip) { this.gzip = gzip; }

        boolean images() { return this == IDX_IMAGES || this == IDX_IMAGES_GZ; }

        boolean cifar() { return this == CIFAR10 || this == CIFAR100; }

        Variant variant() { return this == CIFAR10 ? Variant.CIFAR10 : Variant.CIFAR100; }
    }

    static final int CASES_PER_FORMAT = 500;

    /** Outcome counts across the whole class, printed once at the end. */
    private static final long[] tally = new long[4]; // reads, accepted, rejected, other throwables
    private static long maxAllocated;
    private static String maxWhere;
    /** Rejections by the first words of their message, to show what the mutations reached. */
    private static final java.util.Map<String, Integer> kinds = new java.util.TreeMap<>();

    @AfterAll
    static void report() {
        System.out.printf("DataFileFuzzTest: %d reads, %d accepted, %d rejected with DataFileException, %d other throwables; "
                + "largest allocation by one read %d bytes%n", tally[0], tally[1], tally[2], tally[3], maxAllocated);
        System.out.println("  (the largest: " + maxWhere + "; a first read also pays for loading classes)");
        kinds.forEach((k, n) -> System.out.printf("  %6d  %s%n", n, k));
    }

    @ParameterizedTest
    @EnumSource(Format.class)
    void mutatedFilesAreReadExactlyOrRejectedClearly(Format format) throws IOException {
        List<String> failures = new ArrayList<>();
        for (int c = 0; c < CASES_PER_FORMAT; c++) {
            long seed = format.ordinal() * 1_000_003L + c;
            Random r = new Random(seed);
            byte[] bytes = mutatedFile(format, r);
            Path p = dir.resolve(format.name().toLowerCase(java.util.Locale.ROOT) + "-" + c + (format.gzip ? ".gz" : ".bin"));
            Files.write(p, bytes);
            String where = format + " seed " + seed;
            if (format.cifar()) {
                check(failures, where, p.toString(), bytes, () -> CifarReader.readFiles(format.variant(), List.of(p), "fuzz"),
                        d -> verifyCifar(format.variant(), bytes, (Dataset) d));
            } else {
                byte[] decoded = format.gzip ? jdkGunzip(bytes) : bytes;
                check(failures, where + " (path)", p.toString(), bytes,
                        () -> format.images() ? IdxReader.readImages(p) : IdxReader.readLabels(p),
                        v -> verifyIdx(format, decoded, v));
                String name = "stream-" + c;
                long trickleSeed = r.nextLong();
                check(failures, where + " (stream)", name, bytes, () -> format.images()
                                ? IdxReader.readImages(new Trickle(bytes, trickleSeed), name)
                                : IdxReader.readLabels(new Trickle(bytes, trickleSeed), name),
                        v -> verifyIdx(format, decoded, v));
            }
            Files.delete(p);
        }
        assertNoFailures(format.toString(), CASES_PER_FORMAT, failures);
    }

    /** Image and label files read as a pair: count mismatches and out-of-range labels name the file at fault. */
    @ParameterizedTest
    @EnumSource(value = Format.class, names = {"IDX_IMAGES", "IDX_IMAGES_GZ"})
    void mutatedPairsNameTheFileAtFault(Format format) throws IOException {
        List<String> failures = new ArrayList<>();
        int cases = CASES_PER_FORMAT / 2;
        for (int c = 0; c < cases; c++) {
            long seed = 77_000_000L + format.ordinal() * 1_000_003L + c;
            Random r = new Random(seed);
            int n = 1 + r.nextInt(6);
            byte[] images = idxImages(r, n), labels = idxLabels(r, n, 10);
            int damage = r.nextInt(4);
            switch (damage) {
                case 0 -> images = mutate(images, r, false);
                case 1 -> labels = mutate(labels, r, false);
                case 2 -> labels = idxLabels(r, n + (r.nextBoolean() ? 1 : -1), 10); // count mismatch
                default -> labels[8 + r.nextInt(n)] = (byte) (10 + r.nextInt(246)); // out of range for 10 classes
            }
            if (format.gzip) { images = IdxFiles.gzip(images); labels = IdxFiles.gzip(labels); }
            Path pi = dir.resolve("pair-images-" + c), pl = dir.resolve("pair-labels-" + c);
            Files.write(pi, images);
            Files.write(pl, labels);
            String faulty = (damage == 0 ? pi : pl).toString();
            long present = Math.max(images.length, inflatedLength(images)) + Math.max(labels.length, inflatedLength(labels));
            Runnable read = () -> IdxReader.readDataset(pi, pl, 10, "pair");
            long before = THREADS.getCurrentThreadAllocatedBytes();
            try {
                Dataset d = IdxReader.readDataset(pi, pl, 10, "pair");
                assertEquals(d.labels().length * d.exampleSize(), d.pixels().length);
                if (damage >= 2) failures.add("seed " + seed + ": a mismatched pair was accepted");
                tally[1]++;
            } catch (DataFileException e) {
                String m = e.getMessage();
                // a count mismatch is reported on the labels file but names both
                if (!(m.startsWith(pi + ": ") || m.startsWith(pl + ": ")) || !m.contains(faulty) || m.contains("\n")) {
                    failures.add("seed " + seed + ": damaged " + faulty + " but: " + m);
                }
                tally[2]++;
            } catch (Throwable t) {
                failures.add("seed " + seed + ": " + t);
            }
            tally[0]++;
            long allocated = THREADS.getCurrentThreadAllocatedBytes() - before;
            if (allocated > ALLOC_FACTOR * present + SLACK) allocated = remeasure(read);
            if (allocated > ALLOC_FACTOR * present + SLACK) failures.add("seed " + seed + ": allocated " + allocated + " for " + present);
            Files.delete(pi);
            Files.delete(pl);
        }
        assertNoFailures(format + " pair", cases, failures);
    }

    /**
     * The allocation of a read done once more: the first use of a code path loads classes (a message's
     * formatter, say), which allocates once per JVM, not once per read.
     */
    private static long remeasure(Runnable read) {
        long before = THREADS.getCurrentThreadAllocatedBytes();
        try { read.run(); } catch (DataFileException expected) { /* as the first time */ }
        return THREADS.getCurrentThreadAllocatedBytes() - before;
    }

    /**
     * Whole data sets through {@code --data}: one file of a valid Fashion-MNIST directory (four IDX
     * files, each gzip'd or not) or CIFAR directory (six or two record files) is replaced by a mutated
     * copy. Loading succeeds or names a file of the set, and the message mentions the damaged one.
     */
    @ParameterizedTest
    @EnumSource(value = Format.class, names = {"IDX_IMAGES", "CIFAR10", "CIFAR100"})
    void mutatedDirectoriesThroughDataSpecNameTheDamagedFile(Format format) throws IOException {
        List<String> failures = new ArrayList<>();
        int cases = CASES_PER_FORMAT / 4;
        for (int c = 0; c < cases; c++) {
            long seed = 91_000_000L + format.ordinal() * 1_000_003L + c;
            Random r = new Random(seed);
            Path d = Files.createDirectories(dir.resolve("set-" + format + "-" + c));
            List<Path> files = new ArrayList<>();
            String spec;
            if (format.cifar()) {
                Variant v = format.variant();
                for (String f : concat(v.trainFiles(), v.testFiles())) files.add(Files.write(d.resolve(f), cifar(v, r)));
                spec = (v == Variant.CIFAR10 ? "cifar10:" : "cifar100:") + d;
            } else {
                int nTrain = 1 + r.nextInt(4), nTest = 1 + r.nextInt(4), rows = 1 + r.nextInt(6), cols = 1 + r.nextInt(6);
                byte[][] content = {idxImages(r, nTrain, rows, cols), idxLabels(r, nTrain, 10), idxImages(r, nTest, rows, cols),
                        idxLabels(r, nTest, 10)};
                String[] names = {FashionMnist.TRAIN_IMAGES, FashionMnist.TRAIN_LABELS, FashionMnist.TEST_IMAGES, FashionMnist.TEST_LABELS};
                for (int i = 0; i < 4; i++) {
                    boolean gz = r.nextBoolean();
                    files.add(Files.write(d.resolve(names[i] + (gz ? ".gz" : "")), gz ? IdxFiles.gzip(content[i]) : content[i]));
                }
                spec = "fashion-mnist:" + d;
            }
            Path damaged = files.get(r.nextInt(files.size()));
            byte[] original = Files.readAllBytes(damaged);
            Files.write(damaged, damaged.toString().endsWith(".gz") && r.nextBoolean()
                    ? IdxFiles.gzip(mutate(jdkGunzip(original), r, false)) : mutate(original, r, damaged.toString().endsWith(".gz")));
            long present = 0;
            for (Path f : files) present += Math.max(Files.size(f), inflatedLength(Files.readAllBytes(f)));
            long before = THREADS.getCurrentThreadAllocatedBytes();
            try {
                DataSplit split = DataSpec.parse(spec).load();
                assertEquals(split.train().labels().length * split.train().exampleSize(), split.train().pixels().length);
                tally[1]++;
            } catch (DataFileException e) {
                String m = e.getMessage();
                if (files.stream().noneMatch(f -> f.toString().equals(e.source())) || !m.contains(damaged.toString()) || m.contains("\n")) {
                    failures.add("seed " + seed + ": damaged " + damaged.getFileName() + " but: " + m);
                }
                tally[2]++;
            } catch (Throwable t) {
                failures.add("seed " + seed + ": " + t);
            }
            tally[0]++;
            long allocated = THREADS.getCurrentThreadAllocatedBytes() - before;
            String theSpec = spec;
            if (allocated > ALLOC_FACTOR * present + SLACK) allocated = remeasure(() -> DataSpec.parse(theSpec).load());
            if (allocated > ALLOC_FACTOR * present + SLACK) failures.add("seed " + seed + ": allocated " + allocated + " for " + present);
            for (Path f : files) Files.delete(f);
            Files.delete(d);
        }
        assertNoFailures(format + " directory", cases, failures);
    }

    private static List<String> concat(List<String> a, List<String> b) {
        List<String> all = new ArrayList<>(a);
        all.addAll(b);
        return all;
    }

    // ---- one read ----------------------------------------------------------------------------------

    interface Verifier { void verify(Object result); }

    /**
     * Runs one read, with the allocation it causes measured on this thread; accepts a result only if the
     * verifier agrees with it, and an exception only if it is the clear one.
     */
    private static void check(List<String> failures, String where, String name, byte[] file, Supplier<Object> read,
                              Verifier verify) {
        try {
            checkOne(where, name, file, read, verify);
        } catch (AssertionError e) {
            failures.add(e.getMessage());
        }
    }

    private static void checkOne(String where, String name, byte[] file, Supplier<Object> read, Verifier verify) {
        long present = Math.max(file.length, inflatedLength(file));
        long bound = ALLOC_FACTOR * present + SLACK;
        long before = THREADS.getCurrentThreadAllocatedBytes();
        Object result = null;
        DataFileException rejected = null;
        try {
            result = read.get();
        } catch (DataFileException e) {
            rejected = e;
        } catch (Throwable t) {
            tally[3]++;
            throw new AssertionError(where + ": " + t + (t.getCause() != null ? " caused by " + t.getCause() : ""), t);
        }
        long allocated = THREADS.getCurrentThreadAllocatedBytes() - before;
        if (allocated > bound) allocated = remeasure(read::get);
        tally[0]++;
        if (allocated > maxAllocated) { maxAllocated = allocated; maxWhere = where + " len " + file.length + " present " + present; }
        assertTrue(allocated <= bound,
                where + ": allocated " + allocated + " bytes for a file of " + file.length + " (" + present + " decoded)"
                + (rejected != null ? " and threw " + rejected.getMessage() : ""));
        if (rejected != null) {
            String m = rejected.getMessage();
            assertTrue(m.startsWith(name + ": ") && m.length() > name.length() + 4, where + ": message must start with the name: " + m);
            assertFalse(m.contains("\n"), where + ": one line: " + m);
            assertEquals(name, rejected.source(), where);
            tally[2]++;
            kinds.merge(kind(m.substring(name.length() + 2)), 1, Integer::sum);
        } else {
            try {
                verify.verify(result);
            } catch (AssertionError e) {
                throw new AssertionError(where + ": accepted, but " + e.getMessage(), e);
            }
            tally[1]++;
        }
    }

    private static String kind(String problem) {
        String k = problem.split("[0-9(\\[:]", 2)[0].strip();
        return k.length() > 60 ? k.substring(0, 60) : k;
    }

    private static void assertNoFailures(String what, int cases, List<String> failures) {
        if (failures.isEmpty()) return;
        throw new AssertionError(failures.size() + " of " + cases + " " + what + " cases failed; the first:\n  "
                + String.join("\n  ", failures.subList(0, Math.min(12, failures.size()))));
    }

    /** An accepted IDX file: the header is consistent with the length and the data is the bytes after it. */
    private static void verifyIdx(Format f, byte[] decoded, Object v) {
        assertNotNull(decoded, "the reader accepted a stream that the JDK's gzip cannot decode");
        ByteBuffer bb = ByteBuffer.wrap(decoded);
        int magic = bb.getInt();
        assertEquals(f.images() ? IdxReader.IMAGES_MAGIC : IdxReader.LABELS_MAGIC, magic);
        if (f.images()) {
            IdxReader.Images im = (IdxReader.Images) v;
            assertEquals(im.count(), bb.getInt());
            assertEquals(im.rows(), bb.getInt());
            assertEquals(im.cols(), bb.getInt());
            assertArrayEquals(Arrays.copyOfRange(decoded, 16, decoded.length), im.pixels());
        } else {
            int[] labels = (int[]) v;
            assertEquals(labels.length, bb.getInt());
            assertEquals(decoded.length - 8, labels.length);
            for (int i = 0; i < labels.length; i++) assertEquals(decoded[8 + i] & 0xFF, labels[i]);
        }
    }

    /** An accepted CIFAR file: whole records, labels in range, pixels copied from the right offsets. */
    private static void verifyCifar(Variant v, byte[] file, Dataset d) {
        int rec = v.recordBytes();
        assertEquals(0, file.length % rec);
        assertEquals(file.length / rec, d.size());
        for (int i = 0; i < d.size(); i++) {
            int fine = file[i * rec + rec - CifarReader.PIXELS_PER_IMAGE - 1] & 0xFF;
            assertEquals(fine, d.labels()[i]);
            assertTrue(fine < v.classes());
            if (v == Variant.CIFAR100) assertTrue((file[i * rec] & 0xFF) < 20, "coarse label");
            assertTrue(Arrays.equals(file, i * rec + rec - CifarReader.PIXELS_PER_IMAGE, (i + 1) * rec,
                    d.pixels(), i * CifarReader.PIXELS_PER_IMAGE, (i + 1) * CifarReader.PIXELS_PER_IMAGE), "pixels of record " + i);
        }
    }

    /**
     * A stream that hands out its bytes a few at a time (1 to 7 per call, seeded), as a pipe or a slow
     * disk may: every boundary in the readers' buffering (a gzip trailer split across reads, say) gets hit.
     */
    static final class Trickle extends ByteArrayInputStream {
        private final Random r;

        Trickle(byte[] b, long seed) {
            super(b);
            r = new Random(seed);
        }

        @Override public synchronized int read(byte[] b, int off, int len) {
            return super.read(b, off, Math.min(len, 1 + r.nextInt(7)));
        }
    }

    // ---- valid files and their mutations ---------------------------------------------------------

    private static byte[] idxImages(Random r, int n) {
        return idxImages(r, n, 1 + r.nextInt(6), 1 + r.nextInt(6));
    }

    private static byte[] idxImages(Random r, int n, int rows, int cols) {
        byte[] px = new byte[n * rows * cols];
        r.nextBytes(px);
        return IdxFiles.images(n, rows, cols, px);
    }

    private static byte[] idxLabels(Random r, int n, int classes) {
        int[] l = new int[n];
        for (int i = 0; i < n; i++) l[i] = r.nextInt(classes);
        return IdxFiles.labels(l);
    }

    private static byte[] cifar(Variant v, Random r) {
        int n = 1 + r.nextInt(3), rec = v.recordBytes();
        byte[] b = new byte[n * rec];
        r.nextBytes(b);
        for (int i = 0; i < n; i++) {
            int fine = r.nextInt(v.classes());
            if (v == Variant.CIFAR100) { b[i * rec] = (byte) (fine / 5); b[i * rec + 1] = (byte) fine; }
            else b[i * rec] = (byte) fine;
        }
        return b;
    }

    private static byte[] mutatedFile(Format f, Random r) {
        if (f.cifar()) return mutate(cifar(f.variant(), r), r, false);
        int n = 1 + r.nextInt(6);
        byte[] raw = f.images() ? idxImages(r, n) : idxLabels(r, n, 256);
        if (!f.gzip) return mutate(raw, r, false);
        return switch (r.nextInt(3)) {
            case 0 -> IdxFiles.gzip(mutate(raw, r, false));      // a forged IDX file, honestly compressed
            case 1 -> mutate(IdxFiles.gzip(raw), r, true);        // a valid IDX file in a damaged gzip stream
            default -> mutate(IdxFiles.gzip(mutate(raw, r, false)), r, true);
        };
    }

    /** The values a forged length field takes: boundaries, huge, and plausible-but-wrong. */
    private static int forgedInt(Random r, int original) {
        return switch (r.nextInt(10)) {
            case 0 -> 0;
            case 1 -> -1;
            case 2 -> Integer.MAX_VALUE;
            case 3 -> Integer.MIN_VALUE;
            case 4 -> 1 << (20 + r.nextInt(11));
            case 5 -> original + 1;
            case 6 -> original - 1;
            case 7 -> original * (2 + r.nextInt(1000));
            case 8 -> r.nextInt(100);
            default -> r.nextInt();
        };
    }

    /** One to three stacked mutations; {@code gz} aims header/trailer forgeries at the gzip framing. */
    static byte[] mutate(byte[] in, Random r, boolean gz) {
        byte[] b = in.clone();
        for (int k = 1 + r.nextInt(3); k > 0; k--) {
            if (b.length == 0) b = new byte[] {(byte) r.nextInt()};
            switch (r.nextInt(9)) {
                case 0 -> { // flip a few bits
                    for (int j = 1 + r.nextInt(4); j > 0; j--) b[r.nextInt(b.length)] ^= (byte) (1 << r.nextInt(8));
                }
                case 1 -> { // overwrite a few bytes
                    for (int j = 1 + r.nextInt(4); j > 0; j--) b[r.nextInt(b.length)] = (byte) r.nextInt();
                }
                case 2 -> { // forge a 32-bit field: an IDX header word, or the gzip header/trailer words
                    if (b.length < 4) break;
                    int at;
                    if (gz) at = r.nextBoolean() ? r.nextInt(Math.min(7, b.length - 3)) : b.length - 4 * (1 + r.nextInt(2));
                    else at = r.nextInt(4) == 0 ? r.nextInt(b.length - 3) : 4 * r.nextInt(Math.min(4, b.length / 4));
                    int v = forgedInt(r, ByteBuffer.wrap(b, at, 4).getInt());
                    if (gz && at >= b.length - 8) v = Integer.reverseBytes(v); // gzip's trailer is little-endian
                    ByteBuffer.wrap(b).putInt(at, v);
                }
                case 3 -> b = Arrays.copyOf(b, r.nextInt(b.length + 1)); // truncate anywhere, even to nothing
                case 4 -> { // insert random bytes
                    int at = r.nextInt(b.length + 1), n = 1 + r.nextInt(16);
                    byte[] ins = new byte[n];
                    r.nextBytes(ins);
                    b = splice(b, at, at, ins);
                }
                case 5 -> { // delete a range
                    int at = r.nextInt(b.length), n = 1 + r.nextInt(Math.min(16, b.length - at));
                    b = splice(b, at, at + n, new byte[0]);
                }
                case 6 -> { // append garbage, or a second copy of the file
                    byte[] tail = r.nextBoolean() ? in.clone() : new byte[1 + r.nextInt(32)];
                    if (tail.length != in.length) r.nextBytes(tail);
                    b = splice(b, b.length, b.length, tail);
                }
                case 7 -> { // splice: this file's head on another part of itself
                    int cut = r.nextInt(b.length + 1), from = r.nextInt(b.length + 1);
                    b = splice(Arrays.copyOf(b, cut), cut, cut, Arrays.copyOfRange(b, from, b.length));
                }
                default -> { // duplicate a chunk in place
                    int at = r.nextInt(b.length), n = 1 + r.nextInt(Math.min(64, b.length - at));
                    b = splice(b, at, at, Arrays.copyOfRange(b, at, at + n));
                }
            }
        }
        return b;
    }

    private static byte[] splice(byte[] b, int from, int to, byte[] ins) {
        byte[] out = new byte[b.length - (to - from) + ins.length];
        System.arraycopy(b, 0, out, 0, from);
        System.arraycopy(ins, 0, out, from, ins.length);
        System.arraycopy(b, to, out, from + ins.length, b.length - to);
        return out;
    }

    // ---- independent decoding, for the oracle and the allocation bound ---------------------------

    /** The JDK's reading of a gzip file, or null if it fails; the JDK is laxer than the reader, never stricter. */
    static byte[] jdkGunzip(byte[] gz) {
        try (InputStream in = new GZIPInputStream(new ByteArrayInputStream(gz))) {
            return in.readNBytes(1 << 24);
        } catch (IOException | RuntimeException e) {
            return null;
        }
    }

    /** How many bytes a (possibly damaged) gzip file inflates to before the JDK gives up; 0 if not gzip. */
    static long inflatedLength(byte[] file) {
        if (file.length < 2 || file[0] != 0x1f || file[1] != (byte) 0x8b) return 0;
        long n = 0;
        try (InputStream in = new GZIPInputStream(new ByteArrayInputStream(file))) {
            byte[] buf = new byte[8192];
            for (int r; (r = in.read(buf)) > 0 && n < 1 << 24; ) n += r;
        } catch (IOException | RuntimeException e) {
            // the bytes counted so far are what a reader could have seen
        }
        return n;
    }
}
