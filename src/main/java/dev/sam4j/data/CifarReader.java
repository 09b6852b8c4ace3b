package dev.sam4j.data;

import dev.sam4j.tensor.Shape;
import java.io.BufferedInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/**
 * Reads the CIFAR "binary version" files. Each record is the label byte(s) followed by 3072 pixel
 * bytes: the 32×32 red plane, then green, then blue, each row-major; that is already CHW, so pixels are
 * copied as they are.
 * <ul>
 *   <li>CIFAR-10: 1 label byte (0..9); {@code data_batch_1.bin} … {@code data_batch_5.bin} (train) and
 *       {@code test_batch.bin} (test), 10,000 records each.</li>
 *   <li>CIFAR-100: 2 label bytes, coarse (0..19) then fine (0..99); {@code train.bin} and
 *       {@code test.bin}. The fine label is used (100 classes); the coarse one is still range-checked
 *       because a bad one means the file is not what it claims to be.</li>
 * </ul>
 * The directory may be the one holding the files or its parent, as unpacked from the official archives
 * ({@code cifar-10-batches-bin/}, {@code cifar-100-binary/}). Every file is checked: its length must be
 * a whole number of records and every label in range, else {@link DataFileException} names the file.
 */
public final class CifarReader {
    public static final int SIDE = 32;
    public static final int PIXELS_PER_IMAGE = 3 * SIDE * SIDE;
    public static final Shape EXAMPLE_SHAPE = Shape.of(3, SIDE, SIDE);

    /** The two CIFAR variants: file names, label layout and class count. */
    public enum Variant {
        CIFAR10("cifar-10", "cifar-10-batches-bin", 1, 10,
                List.of("data_batch_1.bin", "data_batch_2.bin", "data_batch_3.bin", "data_batch_4.bin", "data_batch_5.bin"),
                List.of("test_batch.bin")),
        CIFAR100("cifar-100", "cifar-100-binary", 2, 100, List.of("train.bin"), List.of("test.bin"));

        private final String displayName;
        private final String archiveDir;
        private final int labelBytes;
        private final int classes;
        private final List<String> trainFiles;
        private final List<String> testFiles;

        Variant(String displayName, String archiveDir, int labelBytes, int classes, List<String> trainFiles, List<String> testFiles) {
            this.displayName = displayName;
            this.archiveDir = archiveDir;
            this.labelBytes = labelBytes;
            this.classes = classes;
            this.trainFiles = trainFiles;
            this.testFiles = testFiles;
        }

        public String displayName() { return displayName; }

        public int classes() { return classes; }

        /** Bytes per record: label bytes + 3072 pixels. */
        public int recordBytes() { return labelBytes + PIXELS_PER_IMAGE; }

        public List<String> trainFiles() { return trainFiles; }

        public List<String> testFiles() { return testFiles; }
    }

    /** CIFAR-100 coarse labels (superclasses), checked but not used. */
    private static final int CIFAR100_COARSE_CLASSES = 20;

    private CifarReader() { }

    /** Reads the training split (all training files, concatenated in order). */
    public static Dataset readTrain(Variant v, Path dir) {
        return readFiles(v, resolve(v, dir, v.trainFiles), v.displayName + " train");
    }

    public static Dataset readTest(Variant v, Path dir) {
        return readFiles(v, resolve(v, dir, v.testFiles), v.displayName + " test");
    }

    /**
     * The directory that holds the variant's files: {@code dir} itself, or the archive's own
     * subdirectory under it. If neither holds every file, the error names the first missing one.
     */
    public static Path locate(Variant v, Path dir) {
        if (!Files.isDirectory(dir)) throw new DataFileException(dir.toString(), "not a directory (expected the " + v.displayName + " binary files)");
        Path nested = dir.resolve(v.archiveDir);
        if (!allPresent(v, dir) && Files.isDirectory(nested) && allPresent(v, nested)) return nested;
        for (String f : allFiles(v)) {
            if (!Files.isRegularFile(dir.resolve(f))) {
                throw new DataFileException(dir.resolve(f).toString(), "missing: the " + v.displayName + " binary version needs "
                        + String.join(", ", allFiles(v)) + " in " + dir + " (or in " + nested + ")");
            }
        }
        return dir;
    }

    private static List<String> allFiles(Variant v) {
        List<String> all = new ArrayList<>(v.trainFiles);
        all.addAll(v.testFiles);
        return all;
    }

    private static boolean allPresent(Variant v, Path dir) {
        for (String f : allFiles(v)) if (!Files.isRegularFile(dir.resolve(f))) return false;
        return true;
    }

    private static List<Path> resolve(Variant v, Path dir, List<String> names) {
        Path d = locate(v, dir);
        return names.stream().map(d::resolve).toList();
    }

    /** Reads and concatenates record files of one variant. Sizes are checked before anything is allocated. */
    public static Dataset readFiles(Variant v, List<Path> files, String name) {
        int rec = v.recordBytes();
        long[] counts = new long[files.size()];
        long total = 0;
        for (int i = 0; i < files.size(); i++) {
            Path f = files.get(i);
            long len = size(f);
            if (len == 0) throw new DataFileException(f.toString(), "empty file (expected " + v.displayName + " records of " + rec + " bytes)");
            if (len % rec != 0) {
                throw new DataFileException(f.toString(), "length " + len + " is not a multiple of the " + rec + "-byte "
                        + v.displayName + " record (" + len / rec + " whole records + " + len % rec + " bytes): truncated, or not a "
                        + v.displayName + " binary file");
            }
            counts[i] = len / rec;
            total += counts[i];
        }
        if (total * PIXELS_PER_IMAGE > IdxReader.MAX_PAYLOAD_BYTES) {
            throw new DataFileException(files.getFirst().toString(), total + " records together exceed the " + IdxReader.MAX_PAYLOAD_BYTES
                    + "-byte limit of one array");
        }
        IdxReader.requireHeap(files.getFirst().toString(), files.size() + " file(s) hold " + total + " records",
                total * (PIXELS_PER_IMAGE + 4));
        byte[] pixels = new byte[(int) (total * PIXELS_PER_IMAGE)];
        int[] labels = new int[(int) total];
        int at = 0;
        for (int i = 0; i < files.size(); i++) {
            readRecords(v, files.get(i), (int) counts[i], counts[i] * rec, pixels, labels, at);
            at += (int) counts[i];
        }
        return new Dataset(name, EXAMPLE_SHAPE, v.classes, pixels, labels);
    }

    private static void readRecords(Variant v, Path f, int count, long length, byte[] pixels, int[] labels, int first) {
        byte[] label = new byte[v.labelBytes];
        // A buffer no larger than the file: reading a small (or hostile) file costs what it holds.
        try (InputStream in = new BufferedInputStream(IdxReader.open(f), (int) Math.clamp(length, 512, 1 << 20))) {
            for (int r = 0; r < count; r++) {
                int i = first + r;
                // The file was measured before reading; a short read means it shrank meanwhile.
                if (in.readNBytes(label, 0, label.length) != label.length
                        || in.readNBytes(pixels, i * PIXELS_PER_IMAGE, PIXELS_PER_IMAGE) != PIXELS_PER_IMAGE) {
                    throw new DataFileException(f.toString(), "truncated while reading record " + r + " of " + count);
                }
                int fine = label[label.length - 1] & 0xFF;
                if (v == Variant.CIFAR100 && (label[0] & 0xFF) >= CIFAR100_COARSE_CLASSES) {
                    throw new DataFileException(f.toString(), "record " + r + " (byte offset " + (long) r * v.recordBytes()
                            + ") has coarse label " + (label[0] & 0xFF) + ", outside 0.." + (CIFAR100_COARSE_CLASSES - 1));
                }
                if (fine >= v.classes) {
                    throw new DataFileException(f.toString(), "record " + r + " (byte offset " + (long) r * v.recordBytes()
                            + ") has " + (v == Variant.CIFAR100 ? "fine " : "") + "label " + fine + ", outside 0.." + (v.classes - 1));
                }
                labels[i] = fine;
            }
            if (in.read() >= 0) throw new DataFileException(f.toString(), "grew while being read (more than " + count + " records)");
        } catch (IOException e) {
            throw IdxReader.ioFailure(f.toString(), e);
        }
    }

    private static long size(Path f) {
        try {
            if (!Files.isRegularFile(f)) {
                throw new DataFileException(f.toString(), Files.exists(f) ? "not a regular file" : "file not found");
            }
            return Files.size(f);
        } catch (IOException e) {
            throw IdxReader.ioFailure(f.toString(), e);
        }
    }
}
