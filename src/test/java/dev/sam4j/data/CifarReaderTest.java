package dev.sam4j.data;

import static org.junit.jupiter.api.Assertions.*;

import dev.sam4j.data.CifarReader.Variant;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.Random;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** CIFAR files are not available offline, so each test writes small files in the binary layout. */
class CifarReaderTest {
    @TempDir Path dir;

    /** Records whose pixels encode (file, record, channel, position) so a mis-copy shows. */
    static byte[] records(Variant v, int count, int fileTag, int[] labelsOut, int labelOffset) {
        int rec = v.recordBytes();
        byte[] b = new byte[count * rec];
        for (int r = 0; r < count; r++) {
            int fine = (fileTag * 7 + r * 3) % v.classes();
            labelsOut[labelOffset + r] = fine;
            int at = r * rec;
            if (v == Variant.CIFAR100) b[at++] = (byte) (fine / 5); // coarse 0..19
            b[at++] = (byte) fine;
            for (int p = 0; p < CifarReader.PIXELS_PER_IMAGE; p++) b[at + p] = pixel(fileTag, r, p);
        }
        return b;
    }

    static byte pixel(int fileTag, int record, int p) { return (byte) (fileTag * 31 + record * 17 + p * 7 + p / 1024); }

    /** Writes a complete small set; returns the expected train labels followed by test labels. */
    static int[] writeSet(Path d, Variant v, int perFile) throws IOException {
        Files.createDirectories(d);
        int files = v.trainFiles().size() + v.testFiles().size();
        int[] labels = new int[files * perFile];
        int tag = 0;
        for (String f : v.trainFiles()) { Files.write(d.resolve(f), records(v, perFile, tag, labels, tag * perFile)); tag++; }
        for (String f : v.testFiles()) { Files.write(d.resolve(f), records(v, perFile, tag, labels, tag * perFile)); tag++; }
        return labels;
    }

    @Test
    void readsCifar10TrainAndTestInFileOrder() throws IOException {
        int[] expected = writeSet(dir, Variant.CIFAR10, 3);
        Dataset train = CifarReader.readTrain(Variant.CIFAR10, dir);
        Dataset test = CifarReader.readTest(Variant.CIFAR10, dir);
        assertEquals(15, train.size());
        assertEquals(3, test.size());
        assertEquals(dev.sam4j.tensor.Shape.of(3, 32, 32), train.exampleShape());
        assertEquals(10, train.classes());
        assertArrayEquals(Arrays.copyOf(expected, 15), train.labels());
        assertArrayEquals(Arrays.copyOfRange(expected, 15, 18), test.labels());
        // example 4 = file 1, record 1; its R, G and B planes are copied unchanged (already CHW)
        for (int p = 0; p < 3072; p++) assertEquals(pixel(1, 1, p), train.pixels()[4 * 3072 + p]);
        for (int p = 0; p < 3072; p++) assertEquals(pixel(5, 2, p), test.pixels()[2 * 3072 + p]);
    }

    @Test
    void readsCifar100FineLabels() throws IOException {
        int[] expected = writeSet(dir, Variant.CIFAR100, 4);
        Dataset train = CifarReader.readTrain(Variant.CIFAR100, dir);
        assertEquals(100, train.classes());
        assertArrayEquals(Arrays.copyOf(expected, 4), train.labels());
        for (int p = 0; p < 3072; p++) assertEquals(pixel(0, 3, p), train.pixels()[3 * 3072 + p]);
        assertArrayEquals(Arrays.copyOfRange(expected, 4, 8), CifarReader.readTest(Variant.CIFAR100, dir).labels());
    }

    @Test
    void acceptsTheArchiveDirectoryUnderTheGivenOne() throws IOException {
        writeSet(dir.resolve("cifar-10-batches-bin"), Variant.CIFAR10, 1);
        DataSplit s = DataSpec.parse("cifar10:" + dir).load();
        assertEquals(5, s.train().size());
        assertTrue(s.description().contains("cifar-10-batches-bin") && s.description().contains("5 train / 1 test"), s.description());
    }

    @Test
    void missingFileIsNamed() throws IOException {
        writeSet(dir, Variant.CIFAR10, 1);
        Files.delete(dir.resolve("data_batch_3.bin"));
        DataFileException e = assertThrows(DataFileException.class, () -> CifarReader.readTrain(Variant.CIFAR10, dir));
        assertTrue(e.getMessage().startsWith(dir.resolve("data_batch_3.bin").toString()) && e.getMessage().contains("missing"), e.getMessage());
        assertThrows(DataFileException.class, () -> CifarReader.readTrain(Variant.CIFAR100, dir.resolve("absent")));
    }

    @Test
    void lengthNotAWholeNumberOfRecords() throws IOException {
        writeSet(dir, Variant.CIFAR10, 2);
        Path f = dir.resolve("test_batch.bin");
        byte[] b = Files.readAllBytes(f);
        for (int cut : new int[] {1, 3072, 3074, b.length - 1}) {
            Files.write(f, Arrays.copyOf(b, cut));
            String m = assertThrows(DataFileException.class, () -> CifarReader.readTest(Variant.CIFAR10, dir)).getMessage();
            assertTrue(m.startsWith(f.toString()) && m.contains("not a multiple of the 3073-byte"), m);
        }
        Files.write(f, new byte[0]);
        assertTrue(assertThrows(DataFileException.class, () -> CifarReader.readTest(Variant.CIFAR10, dir)).getMessage().contains("empty"));
        // a CIFAR-100 file read as CIFAR-10 (3074-byte records) is caught by the length
        Files.write(f, records(Variant.CIFAR100, 3, 0, new int[3], 0));
        assertThrows(DataFileException.class, () -> CifarReader.readTest(Variant.CIFAR10, dir));
    }

    @Test
    void labelsOutOfRange() throws IOException {
        writeSet(dir, Variant.CIFAR10, 2);
        Path f = dir.resolve("data_batch_2.bin");
        byte[] b = Files.readAllBytes(f);
        b[3073] = 10; // record 1's label
        Files.write(f, b);
        String m = assertThrows(DataFileException.class, () -> CifarReader.readTrain(Variant.CIFAR10, dir)).getMessage();
        assertTrue(m.startsWith(f.toString()) && m.contains("record 1") && m.contains("label 10"), m);

        Path c = dir.resolve("c100");
        writeSet(c, Variant.CIFAR100, 2);
        Path t = c.resolve("train.bin");
        byte[] tb = Files.readAllBytes(t);
        tb[1] = 100; // fine label of record 0
        Files.write(t, tb);
        m = assertThrows(DataFileException.class, () -> CifarReader.readTrain(Variant.CIFAR100, c)).getMessage();
        assertTrue(m.contains("fine label 100"), m);
        tb[1] = 5;
        tb[3074] = 20; // coarse label of record 1
        Files.write(t, tb);
        m = assertThrows(DataFileException.class, () -> CifarReader.readTrain(Variant.CIFAR100, c)).getMessage();
        assertTrue(m.contains("coarse label 20"), m);
    }

    @Test
    void randomGarbageIsOnlyEverADataFileException() throws IOException {
        writeSet(dir, Variant.CIFAR10, 1);
        Random r = new Random(7);
        for (int i = 0; i < 100; i++) {
            byte[] g = new byte[r.nextBoolean() ? 3073 * (1 + r.nextInt(3)) : r.nextInt(8000)];
            r.nextBytes(g);
            Files.write(dir.resolve("test_batch.bin"), g);
            try {
                Dataset d = CifarReader.readTest(Variant.CIFAR10, dir);
                for (int l : d.labels()) assertTrue(l >= 0 && l < 10);
            } catch (DataFileException expected) {
                assertTrue(expected.getMessage().contains("test_batch.bin"));
            }
        }
    }
}
