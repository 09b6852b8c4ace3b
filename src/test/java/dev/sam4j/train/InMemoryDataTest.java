package dev.sam4j.train;

import static org.junit.jupiter.api.Assertions.*;

import dev.sam4j.data.DataSpec;
import dev.sam4j.data.DataSplit;
import dev.sam4j.data.Dataset;
import dev.sam4j.io.InvalidSettingException;
import dev.sam4j.tensor.Shape;
import java.nio.file.Path;
import java.util.Arrays;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * {@code TrainConfig.Builder.data(train, test)} and its array form: the same examples in memory train exactly as the
 * same examples read from a data string (the whole run's digest, a stop-and-resume included), and bad sets are
 * refused naming the builder method and the problem.
 */
class InMemoryDataTest {
    /** RunDigest.small's data. */
    static final String DATA = "synthetic:1,8,8:4:192:48";

    private static float[] unit(Dataset d) {
        float[] f = new float[d.pixels().length];
        for (int i = 0; i < f.length; i++) f[i] = (d.pixels()[i] & 0xFF) / 255f;
        return f;
    }

    @ParameterizedTest
    @ValueSource(strings = {"aesam", "looksam"})
    void inMemoryDataTrainsBitIdenticallyToTheStringSource(String optimizer, @TempDir Path dir) throws Exception {
        DataSplit split = DataSpec.parse(DATA).load();
        String fromString = RunDigest.of(RunDigest.small(optimizer).out(mkdir(dir, "s")).build(), 7);
        String fromDatasets = RunDigest.of(RunDigest.small(optimizer).data(split.train(), split.test()).out(mkdir(dir, "d")).build(), 7);
        String fromArrays = RunDigest.of(RunDigest.small(optimizer).data(Shape.of(1, 8, 8), 4, unit(split.train()), split.train().labels(),
                unit(split.test()), split.test().labels()).out(mkdir(dir, "a")).build(), 7);
        assertEquals(fromString, fromDatasets, "Dataset objects");
        assertEquals(fromString, fromArrays, "float/int arrays");
        // The subset and the label noise apply to in-memory sets as to any source.
        assertEquals(RunDigest.of(RunDigest.small(optimizer).trainSubset(100).labelNoise(0.3).out(mkdir(dir, "s2")).build(), 0),
                RunDigest.of(RunDigest.small(optimizer).trainSubset(100).labelNoise(0.3).data(split.train(), split.test())
                        .out(mkdir(dir, "d2")).build(), 0));
        // ...and a different set trains differently (the digest sees the data).
        int[] other = split.train().labels().clone();
        other[0] = (other[0] + 1) % 4;
        assertNotEquals(fromString, RunDigest.of(RunDigest.small(optimizer).data(split.train().withLabels(other, "other"), split.test())
                .out(mkdir(dir, "o")).build(), 0));
    }

    private static Path mkdir(Path dir, String name) throws Exception { return java.nio.file.Files.createDirectories(dir.resolve(name)); }

    @Test
    void theRunIsDescribedAsInMemoryAndItsConfigSaysSo() {
        DataSplit split = DataSpec.parse(DATA).load();
        TrainConfig cfg = TrainConfig.builder().data(split.train(), split.test()).device("cpu").threads(1).maxSteps(1).build();
        assertEquals("memory:" + split.train().name(), cfg.toMap().get("data"));
        try (Trainer t = new Trainer(cfg)) {
            assertEquals("data: in memory, " + split.train().name() + " (192 train / 48 test, 4 classes of [1, 8, 8])", t.dataDescription());
        }
        // A data string afterwards replaces the sets; a run directory's config.json cannot bring them back.
        assertNull(cfg.toBuilder().data(DATA).build().inMemory());
        TrainConfig again = TrainConfig.builder().data(cfg.data()).device("cpu").build();
        var e = assertThrows(IllegalArgumentException.class, () -> new Trainer(again).close());
        assertTrue(e.getMessage().contains("the run trained on data sets in memory, which only library code can give again"), e.getMessage());
    }

    private static String rejected(Runnable r) { return assertThrows(InvalidSettingException.class, r::run).getMessage(); }

    @Test
    void badSetsAreRefusedNamingTheBuilderMethod() {
        DataSplit split = DataSpec.parse(DATA).load();
        Dataset train = split.train(), test = split.test();
        Dataset small = DataSpec.parse("synthetic:1,4,4:4:16:8").load().test();
        Dataset fiveClasses = DataSpec.parse("synthetic:1,8,8:5:16:8").load().test();
        assertEquals("TrainConfig.Builder.data(train, test): train holds examples of [1, 8, 8], test of [1, 4, 4]",
                rejected(() -> TrainConfig.builder().data(train, small).build()));
        assertEquals("TrainConfig.Builder.data(train, test): train has 4 classes, test 5",
                rejected(() -> TrainConfig.builder().data(train, fiveClasses).build()));
        assertEquals("TrainConfig.Builder.data(train, test): test is null", rejected(() -> TrainConfig.builder().data(train, null).build()));
        Dataset empty = new Dataset("empty", Shape.of(1, 8, 8), 4, new byte[0], new int[0]);
        assertEquals("TrainConfig.Builder.data(train, test): train has no examples", rejected(() -> TrainConfig.builder().data(empty, test).build()));

        Shape s = Shape.of(1, 2, 2);
        float[] two = new float[8];
        String call = "TrainConfig.Builder.data(exampleShape, classes, trainImages, trainLabels, testImages, testLabels): ";
        assertEquals(call + "trainImages holds 7 floats, not a whole number of [1, 2, 2] images (4 each)",
                rejected(() -> TrainConfig.builder().data(s, 3, new float[7], new int[2], two, new int[2])));
        float[] bright = two.clone();
        bright[5] = 1.5f;
        assertEquals(call + "testImages: pixel 1.5 of image 1 is outside [0, 1] (scale images to [0, 1])",
                rejected(() -> TrainConfig.builder().data(s, 3, two, new int[2], bright, new int[2])));
        assertEquals(call + "train: label 3 of example 1 is outside [0, 3)",
                rejected(() -> TrainConfig.builder().data(s, 3, two, new int[] {0, 3}, two, new int[2])));
        assertEquals(call + "train: 3 labels but 8 pixel bytes for examples of [1, 2, 2]",
                rejected(() -> TrainConfig.builder().data(s, 3, two, new int[3], two, new int[2])));
        assertEquals(call + "exampleShape must be [C, H, W], got [4, 4]",
                rejected(() -> TrainConfig.builder().data(Shape.of(4, 4), 3, two, new int[2], two, new int[2])));
        float[] nan = two.clone();
        nan[0] = Float.NaN;
        assertTrue(rejected(() -> TrainConfig.builder().data(s, 3, nan, new int[2], two, new int[2])).contains("pixel NaN of image 0"));
        // Each accepted array is taken at its 8-bit value.
        TrainConfig ok = TrainConfig.builder().data(s, 3, new float[] {0, 1, 0.5f, 1 / 255f, 0, 0, 0, 0}, new int[] {2, 0}, two, new int[2]).build();
        assertArrayEquals(new byte[] {0, (byte) 255, (byte) 128, 1, 0, 0, 0, 0}, ok.inMemory().train().pixels());
        assertTrue(Arrays.equals(new int[] {2, 0}, ok.inMemory().train().labels()));
    }
}
