package dev.sam4j.data;

import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;

/**
 * Fashion-MNIST (Zalando, MIT licence): 28×28 grey images of 10 clothing classes, 60,000 train /
 * 10,000 test. Two sources: the full set in a directory (as installed by Debian's
 * {@code dataset-fashion-mnist} into {@link #SYSTEM_DIR}), or a small sample embedded in the jar so that
 * the program runs out of the box without downloading anything.
 */
public final class FashionMnist {
    /** Where Debian's {@code dataset-fashion-mnist} package installs the four files. */
    public static final Path SYSTEM_DIR = Path.of("/usr/share/datasets/fashion-mnist");

    /** The four files, without the {@code .gz} that the distributed copies carry; either form is accepted. */
    public static final String TRAIN_IMAGES = "train-images-idx3-ubyte";
    public static final String TRAIN_LABELS = "train-labels-idx1-ubyte";
    public static final String TEST_IMAGES = "t10k-images-idx3-ubyte";
    public static final String TEST_LABELS = "t10k-labels-idx1-ubyte";
    private static final List<String> FILES = List.of(TRAIN_IMAGES, TRAIN_LABELS, TEST_IMAGES, TEST_LABELS);

    public static final int CLASSES = 10;
    public static final List<String> CLASS_NAMES = List.of(
            "T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot");

    /** Classpath folder of the embedded sample, relative to this class. */
    static final String SAMPLE_RESOURCE_DIR = "fashion-mnist-sample/";

    private FashionMnist() { }

    /** Whether {@code dir} holds all four files (gzip'd or not). */
    public static boolean isInstalled(Path dir) {
        for (String f : FILES) if (find(dir, f) == null) return false;
        return true;
    }

    /** The full set from {@code dir}; a missing file is named in the error. */
    public static DataSplit readFull(Path dir) {
        if (!Files.isDirectory(dir)) throw new DataFileException(dir.toString(), "not a directory (expected the four Fashion-MNIST IDX files)");
        Path[] p = new Path[FILES.size()];
        for (int i = 0; i < p.length; i++) {
            p[i] = find(dir, FILES.get(i));
            if (p[i] == null) {
                throw new DataFileException(dir.resolve(FILES.get(i) + ".gz").toString(), "missing: the Fashion-MNIST full set needs "
                        + String.join(".gz, ", FILES) + ".gz (gzip'd or not) in " + dir);
            }
        }
        Dataset train = IdxReader.readDataset(p[0], p[1], CLASSES, "fashion-mnist train (full set)");
        Dataset test = IdxReader.readDataset(p[2], p[3], CLASSES, "fashion-mnist test (full set)");
        if (!train.exampleShape().equals(test.exampleShape())) {
            // Each file is fine on its own; say which two disagree rather than leave it to DataSplit.
            throw new DataFileException(p[2].toString(), "holds " + test.height() + "×" + test.width() + " images but "
                    + p[0] + " holds " + train.height() + "×" + train.width() + "; train and test must have one image size");
        }
        return new DataSplit(train, test, "data: fashion-mnist full set from " + dir + " (" + counts(train, test) + ")");
    }

    /**
     * The embedded sample: the first 2,000 training and first 1,000 test examples of the full set
     * (see the README next to the files in the jar).
     *
     * @param hint appended to the description, e.g. how to get the full set
     */
    public static DataSplit embeddedSample(String hint) {
        Dataset train = readResource("train", "fashion-mnist train (embedded sample)");
        Dataset test = readResource("t10k", "fashion-mnist test (embedded sample)");
        return new DataSplit(train, test, "data: fashion-mnist embedded sample (" + counts(train, test)
                + (hint.isEmpty() ? "" : "; " + hint) + ")");
    }

    private static Dataset readResource(String prefix, String name) {
        String images = SAMPLE_RESOURCE_DIR + prefix + "-images-idx3-ubyte.gz";
        String labels = SAMPLE_RESOURCE_DIR + prefix + "-labels-idx1-ubyte.gz";
        try (InputStream i = resource(images); InputStream l = resource(labels)) {
            return IdxReader.readDataset(i, "embedded " + images, l, "embedded " + labels, CLASSES, name);
        } catch (IOException e) {
            throw IdxReader.ioFailure("embedded " + images, e);
        }
    }

    private static InputStream resource(String name) {
        InputStream in = FashionMnist.class.getResourceAsStream(name);
        if (in == null) throw new DataFileException("embedded " + name, "resource missing from the class path (a broken build?)");
        return in;
    }

    private static Path find(Path dir, String base) {
        for (String candidate : new String[] {base + ".gz", base}) {
            Path p = dir.resolve(candidate);
            if (Files.isRegularFile(p)) return p;
        }
        return null;
    }

    static String counts(Dataset train, Dataset test) {
        return train.size() + " train / " + test.size() + " test";
    }
}
