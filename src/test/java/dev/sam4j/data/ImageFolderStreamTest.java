package dev.sam4j.data;

import static dev.sam4j.data.ImageFolderTest.png;
import static dev.sam4j.data.ImageFolderTest.rgb;
import static org.junit.jupiter.api.Assertions.*;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Random;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Image folders streamed through the {@link BatchLoader}: decoded on its decoder threads ahead of the step,
 * with and without the cache, give the same batches as the in-memory copy; damaged images found mid-epoch;
 * the decoder threads end with the loader.
 */
class ImageFolderStreamTest {
    @TempDir Path dir;

    /** train/ and val/ of three classes, images of seeded random sizes and colours (a few grayscale). */
    private Path folder(String name, int perClass, long seed) throws IOException {
        Path r = dir.resolve(name);
        Random rnd = new Random(seed);
        for (String split : List.of("train", "val")) {
            for (String c : List.of("cat", "dog", "emu")) {
                int n = split.equals("train") ? perClass : 3;
                for (int i = 0; i < n; i++) {
                    var im = rgb(6 + rnd.nextInt(10), 6 + rnd.nextInt(10), rnd.nextInt(1000));
                    png(r.resolve(split + "/" + c + "/" + i + ".png"), im);
                }
            }
        }
        return r;
    }

    /** Every batch of {@code epochs} epochs, as (x, labels, indices) copies. */
    private static List<float[]> batches(Dataset train, Normalization norm, int epochs, int prefetch, int decodeThreads) {
        List<float[]> out = new ArrayList<>();
        try (BatchLoader l = BatchLoader.builder(train).batchSize(7).seed(42).augment(Augment.cropFlip(2)).normalization(norm)
                .prefetch(prefetch).decodeThreads(decodeThreads).build()) {
            for (int e = 0; e < epochs; e++) {
                try (BatchLoader.Epoch it = l.epoch(e)) {
                    for (BatchLoader.Batch b; (b = it.next()) != null; ) {
                        out.add(Arrays.copyOf(b.x(), b.n() * train.exampleSize()));
                        out.add(Arrays.copyOf(b.labels(), b.n()));
                        float[] idx = new float[b.n()];
                        for (int i = 0; i < b.n(); i++) idx[i] = b.indices()[i];
                        out.add(idx);
                    }
                }
            }
        }
        return out;
    }

    private static void assertSame(List<float[]> want, List<float[]> got, String what) {
        assertEquals(want.size(), got.size(), what);
        for (int i = 0; i < want.size(); i++) assertArrayEquals(want.get(i), got.get(i), what + ": array " + i);
    }

    @Test
    void streamedAndCachedGiveTheInMemoryBatchesBitForBit() throws IOException {
        Path r = folder("same", 9, 5);
        DataSplit streamed = DataSpec.parse("imagefolder[image-size=8,cache=off]:" + r).load();
        DataSplit cached = DataSpec.parse("imagefolder[image-size=8,cache=on]:" + r).load();
        DataSplit auto = DataSpec.parse("imagefolder[image-size=8]:" + r).load();
        assertTrue(streamed.train().streamed() && cached.train().streamed());
        assertTrue(streamed.description().contains("every epoch (not cached: cache=off)"), streamed.description());
        assertTrue(cached.description().contains("kept in memory"), cached.description());
        assertTrue(auto.description().contains("kept in memory"), "a small folder is cached by default: " + auto.description());
        assertTrue(streamed.description().contains("measured on all 27 training images"), streamed.description());
        Dataset inMemory = streamed.train().materialize();
        assertFalse(inMemory.streamed());
        Normalization norm = Normalization.fit(inMemory);
        for (DataSplit s : List.of(streamed, cached)) {
            Normalization n = Normalization.fit(s.train());
            for (int c = 0; c < 3; c++) {
                assertEquals(norm.mean(c), n.mean(c), 0.0, "mean, channel " + c);
                assertEquals(norm.std(c), n.std(c), 0.0, "std, channel " + c);
            }
        }
        List<float[]> want = batches(inMemory, norm, 3, 2, 1);
        assertSame(want, batches(streamed.train(), norm, 3, 2, 3), "streamed, 3 decoder threads");
        assertSame(want, batches(streamed.train(), norm, 3, 0, 2), "streamed, prepared on the caller's thread");
        assertSame(want, batches(cached.train(), norm, 3, 2, 2), "cached");
        // the cache holds every training image now: later epochs decode nothing, so they need no files
        try (Stream<Path> files = Files.walk(r.resolve("train"))) {
            for (Path p : files.filter(Files::isRegularFile).toList()) Files.delete(p);
        }
        assertSame(want, batches(cached.train(), norm, 3, 2, 2), "cached, the files gone");
        DataFileException e = assertThrows(DataFileException.class, () -> batches(streamed.train(), norm, 1, 2, 2));
        assertTrue(e.getMessage().startsWith(r.resolve("train").toString()) && !e.getMessage().contains("\n"),
                "streamed decodes every epoch: " + e.getMessage());
    }

    @Test
    void aSampleMeasuresTheStatisticsOfALargeStreamedSet() {
        // a streamed set of SAMPLE + 500 examples whose bytes are a function of the index
        int n = Normalization.SAMPLE + 500;
        int[] labels = new int[n];
        Dataset.Examples ex = new Dataset.Examples() {
            @Override public int size() { return n; }
            @Override public boolean read(int i, byte[] out, int at) { out[at] = (byte) (i % 251); return true; }
            @Override public Normalization normalization(Dataset self) { return Normalization.fitSample(self); }
        };
        Dataset d = new Dataset("ramp", dev.sam4j.tensor.Shape.of(1, 1, 1), 1, null, labels, ex);
        assertTrue(Normalization.sampled(d));
        Normalization a = Normalization.fit(d), b = Normalization.fit(d), full = Normalization.fit(d.materialize());
        assertEquals(a.mean(0), b.mean(0), 0.0, "seeded: the same sample every time");
        assertNotEquals(full.mean(0), a.mean(0), "a sample, not the whole set");
        assertEquals(full.mean(0), a.mean(0), 0.01, "close to the whole set's");
    }

    @Test
    void aDamagedImageFoundMidEpochNamesTheFileOrIsSkippedAndCounted() throws IOException {
        Path r = folder("damaged", 4, 9);
        Path bad = r.resolve("val/dog/1.png");
        byte[] whole = Files.readAllBytes(bad);
        Files.write(bad, Arrays.copyOf(whole, whole.length / 2)); // header intact: loading does not see it
        DataSplit s = DataSpec.parse("imagefolder[image-size=8,cache=off]:" + r).load();
        Normalization norm = Normalization.fit(s.train());
        DataFileException e = assertThrows(DataFileException.class, () -> batches(s.test(), norm, 1, 2, 2));
        assertTrue(e.getMessage().startsWith(bad + ": cannot decode") && !e.getMessage().contains("\n"), e.getMessage());

        for (String cache : List.of("off", "on")) {
            DataSplit k = DataSpec.parse("imagefolder[image-size=8,skip-bad-images,cache=" + cache + "]:" + r).load();
            int badIndex = 4; // val/: cat 0..2, dog 0..2, emu 0..2 -> dog/1 is example 4
            List<float[]> got = batches(k.test(), norm, 2, 2, 2);
            int images = 0;
            for (int i = 2; i < got.size(); i += 3) {
                for (float idx : got.get(i)) {
                    assertNotEquals(badIndex, (int) idx, "the damaged image is never in a batch");
                    images++;
                }
            }
            assertEquals(2 * 9, images, "its slot is filled by another image: the batches stay full");
            List<float[]> again = batches(k.test(), norm, 2, 2, 1);
            assertSame(got, again, "cache=" + cache + ": the same batches once the bad image is known");
            assertEquals(0, ImageFolderTest.readAll(new DataSplit(k.test(), k.test(), "")) - 2, "known bad: every read of it gives false");
        }
    }

    @Test
    void decoderThreadsEndWhenTheLoaderCloses() throws IOException, InterruptedException {
        Path r = folder("threads", 6, 3);
        DataSplit s = DataSpec.parse("imagefolder[image-size=8,cache=off]:" + r).load();
        Normalization norm = Normalization.fit(s.train());
        long before = decoderThreads();
        BatchLoader l = BatchLoader.builder(s.train()).batchSize(4).seed(1).normalization(norm).decodeThreads(3).build();
        try (BatchLoader.Epoch it = l.epoch(0)) {
            assertNotNull(it.next());
            assertTrue(decoderThreads() > before, "decoding on the loader's decoder threads");
        }
        // an epoch closed early, then the loader
        l.epoch(1).next();
        l.close();
        assertEquals(before, decoderThreads(), "no decoder thread outlives close()");
        assertFalse(l.worker().isAlive());
        assertEquals(0, Thread.getAllStackTraces().keySet().stream().filter(t -> t.getName().startsWith("sam4j-normalisation")).count());
    }

    private static long decoderThreads() {
        return Thread.getAllStackTraces().keySet().stream().filter(t -> t.getName().startsWith("sam4j-decoder-") && t.isAlive()).count();
    }
}
