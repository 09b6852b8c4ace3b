package dev.sam4j.data;

import static org.junit.jupiter.api.Assertions.*;

import dev.sam4j.tensor.Shape;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

class DataSpecTest {
    @TempDir Path dir;

    @Test
    void parsesEveryForm() {
        assertEquals(new DataSpec.FashionMnistAuto(FashionMnist.SYSTEM_DIR), DataSpec.parse("fashion-mnist"));
        assertEquals(new DataSpec.FashionMnistDir(Path.of("/x/y")), DataSpec.parse("fashion-mnist:/x/y"));
        assertEquals(new DataSpec.FashionMnistSample(), DataSpec.parse(" fashion-mnist-sample "));
        assertEquals(new DataSpec.Cifar(CifarReader.Variant.CIFAR10, Path.of("c:d")), DataSpec.parse("cifar10:c:d"), "only the first colon splits");
        assertEquals(new DataSpec.Cifar(CifarReader.Variant.CIFAR100, Path.of("rel/dir")), DataSpec.parse("cifar100:rel/dir"));
        long seed = Synthetic.DEFAULT_SEED;
        assertEquals(new DataSpec.SyntheticData(Shape.of(1, 28, 28), 10, 2048, 512, seed), DataSpec.parse("synthetic"));
        assertEquals(new DataSpec.SyntheticData(Shape.of(3, 32, 32), 10, 2048, 512, seed), DataSpec.parse("synthetic:3,32,32"));
        assertEquals(new DataSpec.SyntheticData(Shape.of(3, 8, 8), 5, 2048, 512, seed), DataSpec.parse("synthetic:3,8,8:5"));
        assertEquals(new DataSpec.SyntheticData(Shape.of(3, 8, 8), 5, 100, 512, seed), DataSpec.parse("synthetic:3,8,8:5:100"));
        assertEquals(new DataSpec.SyntheticData(Shape.of(3, 8, 8), 5, 100, 20, seed), DataSpec.parse("synthetic:3,8,8:5:100:20"));
    }

    @ParameterizedTest
    @ValueSource(strings = {"fashion-mnist", "fashion-mnist:/data/fm", "fashion-mnist-sample", "cifar10:/d", "cifar100:/d",
            "synthetic:1,28,28:10:2048:512", "synthetic:3,4,5:2:7:3"})
    void specStringsRoundTrip(String spec) {
        assertEquals(spec, DataSpec.parse(spec).spec());
        assertEquals(DataSpec.parse(spec), DataSpec.parse(DataSpec.parse(spec).spec()));
    }

    @ParameterizedTest
    @ValueSource(strings = {"", "  ", "mnist", "cifar", "cifar10", "cifar10:", "fashion-mnist:", "fashion-mnist-sample:x",
            "synthetic:", "synthetic:1,28", "synthetic:1,28,28,3", "synthetic:a,28,28", "synthetic:0,28,28", "synthetic:1,28,28:1",
            "synthetic:1,28,28:10:0", "synthetic:1,28,28:10:5:-1", "synthetic:1,28,28:10:5:5:5", "synthetic:64,1024,1024:10:1000"})
    void invalidSpecsListTheValidForms(String spec) {
        String m = assertThrows(IllegalArgumentException.class, () -> DataSpec.parse(spec)).getMessage();
        assertTrue(m.startsWith("invalid --data '" + spec + "': "), m);
        assertTrue(m.contains("cifar100:DIR") && m.contains("synthetic[:C,H,W") && m.contains("fashion-mnist-sample"), m);
    }

    /** Hostile sizes: products that wrap a long, data larger than the heap, digits of other scripts, NUL in a path. */
    @Test
    void sizesAndCharactersPastTheLimitsAreRefusedClearly() {
        String m = assertThrows(IllegalArgumentException.class, () -> DataSpec.parse("synthetic:4096,65536,65536:10:1048576")).getMessage();
        assertTrue(m.contains("more than one array can hold"), m); // 2^44 · 2^20 wraps to 0 in a long
        m = assertThrows(IllegalArgumentException.class, () -> DataSpec.parse("synthetic:1,28,28:10:\u0665")).getMessage();
        assertTrue(m.contains("TRAIN_N must be a whole number"), m);
        m = assertThrows(IllegalArgumentException.class, () -> DataSpec.parse("synthetic:1,28,28:10:99999999999")).getMessage();
        assertTrue(m.contains("below 2^31"), m);
        m = assertThrows(IllegalArgumentException.class, () -> DataSpec.parse("cifar10:a\0b")).getMessage();
        assertTrue(m.startsWith("invalid --data 'cifar10:a\\u0000b': 'a\\u0000b' is not a usable directory path"), m);

        // Every array fits, the whole does not: refused before generating, not an OutOfMemoryError later.
        DataSpec huge = DataSpec.parse("synthetic:1,1,1:65536:2147483000:2147483000");
        org.junit.jupiter.api.Assumptions.assumeTrue(Runtime.getRuntime().maxMemory() < 20L << 30, "a heap of 20 GiB or more");
        var mx = (com.sun.management.ThreadMXBean) java.lang.management.ManagementFactory.getThreadMXBean();
        long before = mx.getCurrentThreadAllocatedBytes();
        m = assertThrows(IllegalArgumentException.class, huge::load).getMessage();
        assertTrue(mx.getCurrentThreadAllocatedBytes() - before < 1 << 20, "refused without allocating");
        assertTrue(m.contains("needs about 20480 MiB, more than the JVM's heap limit"), m);
    }

    @Test
    void defaultFallsBackToTheSampleAndSaysHowToGetTheFullSet() {
        DataSplit s = DataSpec.parse("fashion-mnist", dir.resolve("absent")).load();
        assertEquals(2000, s.train().size());
        assertTrue(s.description().startsWith("data: fashion-mnist embedded sample (2000 train / 1000 test; full set not found in "
                + dir.resolve("absent")), s.description());
        assertTrue(s.description().contains("--data fashion-mnist:DIR"), s.description());
        String explicit = DataSpec.parse("fashion-mnist-sample").load().description();
        assertEquals("data: fashion-mnist embedded sample (2000 train / 1000 test; chosen by --data fashion-mnist-sample)", explicit);
    }

    /** A tiny stand-in "full set" in IDX layout, mixing gzip'd and plain files. */
    private void writeFakeFullSet(Path d) throws IOException {
        Files.createDirectories(d);
        byte[] px = new byte[6 * 28 * 28];
        Files.write(d.resolve("train-images-idx3-ubyte.gz"), IdxFiles.gzip(IdxFiles.images(6, 28, 28, px)));
        Files.write(d.resolve("train-labels-idx1-ubyte"), IdxFiles.labels(new int[] {0, 1, 2, 3, 4, 9}));
        Files.write(d.resolve("t10k-images-idx3-ubyte"), IdxFiles.images(2, 28, 28, new byte[2 * 28 * 28]));
        Files.write(d.resolve("t10k-labels-idx1-ubyte.gz"), IdxFiles.gzip(IdxFiles.labels(new int[] {5, 6})));
    }

    @Test
    void defaultUsesTheInstalledFullSetAndDirectoryFormsReadIt() throws IOException {
        writeFakeFullSet(dir);
        DataSplit auto = DataSpec.parse("fashion-mnist", dir).load();
        assertEquals("data: fashion-mnist full set from " + dir + " (6 train / 2 test)", auto.description());
        DataSplit explicit = DataSpec.parse("fashion-mnist:" + dir).load();
        assertArrayEquals(auto.train().labels(), explicit.train().labels());
        assertEquals(10, explicit.test().classes());
    }

    @Test
    void directoryFormNamesTheMissingFile() throws IOException {
        writeFakeFullSet(dir);
        Files.delete(dir.resolve("t10k-labels-idx1-ubyte.gz"));
        DataFileException e = assertThrows(DataFileException.class, () -> DataSpec.parse("fashion-mnist:" + dir).load());
        assertTrue(e.getMessage().startsWith(dir.resolve("t10k-labels-idx1-ubyte.gz") + ": missing"), e.getMessage());
        // an incomplete system directory is not "installed": the default quietly uses the sample, and says so
        assertTrue(DataSpec.parse("fashion-mnist", dir).load().description().contains("embedded sample"));
        assertThrows(DataFileException.class, () -> DataSpec.parse("fashion-mnist:" + dir.resolve("nope")).load());
        assertThrows(DataFileException.class, () -> DataSpec.parse("cifar10:" + dir).load());
    }

    @Test
    void trainAndTestImagesOfDifferentSizesNameBothFiles() throws IOException {
        writeFakeFullSet(dir);
        Files.write(dir.resolve("t10k-images-idx3-ubyte"), IdxFiles.images(2, 28, 27, new byte[2 * 28 * 27]));
        DataFileException e = assertThrows(DataFileException.class, () -> DataSpec.parse("fashion-mnist:" + dir).load());
        assertEquals(dir.resolve("t10k-images-idx3-ubyte") + ": holds 28×27 images but " + dir.resolve("train-images-idx3-ubyte.gz")
                + " holds 28×28; train and test must have one image size", e.getMessage());
    }

    @Test
    void syntheticLoads() {
        DataSplit s = DataSpec.parse("synthetic:3,8,8:4:64:16").load();
        assertEquals(64, s.train().size());
        assertEquals(16, s.test().size());
        assertEquals(Shape.of(3, 8, 8), s.test().exampleShape());
        assertEquals("data: synthetic 3x8x8, 4 classes, seed " + Synthetic.DEFAULT_SEED + " (64 train / 16 test)", s.description());
    }
}
