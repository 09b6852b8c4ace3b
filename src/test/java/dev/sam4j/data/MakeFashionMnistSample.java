package dev.sam4j.data;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;

/**
 * Regenerates the Fashion-MNIST sample embedded in the jar: the first {@value #TRAIN} training and first
 * {@value #TEST} test examples of the full set, as gzip'd IDX files. Taking a prefix rather than a
 * selection keeps the sample trivially checkable against the original files; the prefix is close to
 * class-balanced (194..216 per class in train, 87..115 in test).
 *
 * <p>Run from the project root after {@code mvn test-compile}:
 * <pre>
 * java -cp target/classes:target/test-classes dev.sam4j.data.MakeFashionMnistSample \
 *     /usr/share/datasets/fashion-mnist src/main/resources/dev/sam4j/data/fashion-mnist-sample
 * </pre>
 * {@code EmbeddedSampleTest} checks that the committed files decode to exactly this prefix whenever the
 * full set is installed.
 */
final class MakeFashionMnistSample {
    static final int TRAIN = 2000;
    static final int TEST = 1000;

    private MakeFashionMnistSample() { }

    public static void main(String[] args) throws IOException {
        if (args.length != 2) throw new IllegalArgumentException("usage: MakeFashionMnistSample FULL_SET_DIR OUTPUT_DIR");
        DataSplit full = FashionMnist.readFull(Path.of(args[0]));
        Path out = Path.of(args[1]);
        Files.createDirectories(out);
        write(out, "train", prefix(full.train(), TRAIN));
        write(out, "t10k", prefix(full.test(), TEST));
    }

    static Dataset prefix(Dataset d, int n) {
        int[] idx = new int[n];
        Arrays.setAll(idx, i -> i);
        return d.select(idx, d.name() + " first " + n);
    }

    private static void write(Path dir, String prefix, Dataset d) throws IOException {
        Files.write(dir.resolve(prefix + "-images-idx3-ubyte.gz"), IdxFiles.gzip(IdxFiles.images(d.size(), d.height(), d.width(), d.pixels())));
        Files.write(dir.resolve(prefix + "-labels-idx1-ubyte.gz"), IdxFiles.gzip(IdxFiles.labels(d.labels())));
    }
}
