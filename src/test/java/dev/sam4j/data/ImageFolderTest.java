package dev.sam4j.data;

import static org.junit.jupiter.api.Assertions.*;

import java.awt.image.BufferedImage;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.TimeUnit;
import javax.imageio.ImageIO;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** {@code imagefolder:} against torchvision's conventions, with images the test makes itself. */
class ImageFolderTest {
    @TempDir Path dir;

    /** An RGB image whose pixels are a function of (seed, x, y). */
    static BufferedImage rgb(int w, int h, int seed) {
        BufferedImage im = new BufferedImage(w, h, BufferedImage.TYPE_INT_RGB);
        for (int y = 0; y < h; y++) for (int x = 0; x < w; x++) {
            im.setRGB(x, y, ((seed * 31 + x * 7) & 0xFF) << 16 | ((seed * 17 + y * 11) & 0xFF) << 8 | ((x * y + seed) & 0xFF));
        }
        return im;
    }

    static BufferedImage gray(int w, int h, int seed) {
        BufferedImage im = new BufferedImage(w, h, BufferedImage.TYPE_BYTE_GRAY);
        for (int y = 0; y < h; y++) for (int x = 0; x < w; x++) im.getRaster().setSample(x, y, 0, (seed * 13 + x * 5 + y * 3) & 0xFF);
        return im;
    }

    static Path png(Path file, BufferedImage im) throws IOException {
        Files.createDirectories(file.getParent());
        assertTrue(ImageIO.write(im, "png", file.toFile()));
        return file;
    }

    @Test
    void codePointOrderIsPythonsNotJavas() {
        String pua = "\uE000", emoji = new String(Character.toChars(0x1F600));
        List<String> names = new ArrayList<>(List.of(emoji, pua, "b", "B", "a", "a10", "a9", "é"));
        List<String> java = new ArrayList<>(names);
        java.sort(null);
        names.sort(ImageFolder.CODE_POINT_ORDER);
        // by code point: B (42) < a < a10 < a9 < b < é (E9) < U+E000 < U+1F600
        assertEquals(List.of("B", "a", "a10", "a9", "b", "é", pua, emoji), names);
        // String.compareTo compares UTF-16 units: the emoji's surrogates (D83D) come before U+E000
        assertNotEquals(names, java, "the case the comparator exists for");
        assertTrue(java.indexOf(emoji) < java.indexOf(pua));
    }

    private List<String> classNames() {
        String pua = "\uE000", emoji = new String(Character.toChars(0x1F600));
        return List.of("cat", "Cat", "dog", "a10", "a9", emoji, pua, "é", "z");
    }

    @Test
    void classesAndSampleOrderAsTorchvision() throws Exception {
        Path root = dir.resolve("tv");
        int k = 0;
        for (String c : classNames()) {
            png(root.resolve(c).resolve("b.png"), rgb(4, 4, k++));
            png(root.resolve(c).resolve("A.PNG"), rgb(4, 4, k++));
            png(root.resolve(c).resolve("sub").resolve("x.png"), rgb(4, 4, k++));
            Files.writeString(root.resolve(c).resolve("notes.txt"), "not an image");
        }
        ImageFolder.Tree t = ImageFolder.scan(root, null);
        List<String> sorted = new ArrayList<>(classNames());
        sorted.sort(ImageFolder.CODE_POINT_ORDER);
        assertEquals(sorted, t.classes());
        assertEquals(3 * classNames().size(), t.samples().size(), "txt files are not images; A.PNG is (case-insensitive)");
        assertEquals("A.PNG", t.samples().get(0).file().getFileName().toString(), "files in code point order: 'A' < 'b'");
        assertEquals("sub", t.samples().get(2).file().getParent().getFileName().toString(), "a directory's files before its sub-directories");

        Path python = Path.of("/usr/bin/python3");
        Assumptions.assumeTrue(Files.isExecutable(python), "no /usr/bin/python3");
        Process probe = new ProcessBuilder(python.toString(), "-c", "import torchvision").redirectErrorStream(true).start();
        Assumptions.assumeTrue(probe.waitFor(60, TimeUnit.SECONDS) && probe.exitValue() == 0, "torchvision is not installed for /usr/bin/python3");
        String script = """
                import sys, torchvision
                d = torchvision.datasets.ImageFolder(sys.argv[1])
                out = [str(len(d.classes))] + d.classes + [p + '\\t' + str(c) for p, c in d.samples]
                sys.stdout.buffer.write(('\\n'.join(out) + '\\n').encode('utf-8'))
                """;
        Process p = new ProcessBuilder(python.toString(), "-c", script, root.toString()).redirectErrorStream(false).start();
        byte[] out = p.getInputStream().readAllBytes();
        assertTrue(p.waitFor(120, TimeUnit.SECONDS));
        assertEquals(0, p.exitValue(), new String(p.getErrorStream().readAllBytes(), StandardCharsets.UTF_8));
        List<String> lines = Arrays.asList(new String(out, StandardCharsets.UTF_8).split("\n"));
        int n = Integer.parseInt(lines.get(0));
        assertEquals(t.classes(), lines.subList(1, 1 + n), "class names and order as torchvision's ImageFolder");
        List<String> ours = new ArrayList<>();
        for (ImageFolder.Sample s : t.samples()) ours.add(s.file() + "\t" + s.label());
        assertEquals(ours, lines.subList(1 + n, lines.size()), "samples, their order and their labels as torchvision's");
    }

    @Test
    void trainAndValTreesDecodeToTheImagesPixels() throws IOException {
        Path root = dir.resolve("tv2");
        BufferedImage a = rgb(5, 3, 1), b = rgb(5, 3, 2), c = rgb(5, 3, 3);
        png(root.resolve("train/x/1.png"), a);
        png(root.resolve("train/y/1.png"), b);
        png(root.resolve("val/x/1.png"), c);
        png(root.resolve("val/y/1.png"), a);
        DataSplit s = DataSpec.parse("imagefolder:" + root).load();
        assertEquals(dev.sam4j.tensor.Shape.of(3, 3, 5), s.train().exampleShape(), "one size everywhere: kept as it is");
        assertArrayEquals(new int[] {0, 1}, s.train().labels());
        byte[] expected = new byte[2 * 45];
        ImageFolder.toChw(a, 3, expected, 0);
        ImageFolder.toChw(b, 3, expected, 45);
        assertArrayEquals(expected, s.train().materialize().pixels());
        assertEquals((byte) (a.getRGB(2, 1) >> 16), s.train().materialize().pixels()[5 + 2], "red plane, row 1, column 2");
        assertTrue(s.description().contains("normalisation (training split"), s.description());
        // the description's statistics are the ones Normalization.fit measures on the training split
        Normalization n = Normalization.fit(s.train());
        assertTrue(s.description().contains(String.format(java.util.Locale.ROOT, "%.4f/%.4f", n.mean(0), n.std(0))), s.description());
    }

    @Test
    void grayscaleAloneIsOneChannelAndMixedIsExpanded() throws IOException {
        Path g = dir.resolve("g");
        BufferedImage g1 = gray(4, 4, 1), g2 = gray(4, 4, 2);
        png(g.resolve("a/1.png"), g1);
        png(g.resolve("b/1.png"), g2);
        png(g.resolve("a/2.png"), g2);
        png(g.resolve("b/2.png"), g1);
        DataSplit s = DataSpec.parse("imagefolder[val-fraction=0.5]:" + g).load();
        assertEquals(1, s.train().channels());
        assertTrue(s.description().contains("all grayscale"));
        int want = g1.getRaster().getSample(1, 2, 0);
        boolean found = false;
        for (int i = 0; i < s.train().size(); i++) found |= (s.train().materialize().pixels()[i * 16 + 2 * 4 + 1] & 0xFF) == want;
        for (int i = 0; i < s.test().size(); i++) found |= (s.test().materialize().pixels()[i * 16 + 2 * 4 + 1] & 0xFF) == want;
        assertTrue(found, "gray levels kept as they are (no colour-space conversion)");

        Path m = dir.resolve("m");
        png(m.resolve("train/a/1.png"), g1);
        png(m.resolve("train/b/1.png"), rgb(4, 4, 5));
        png(m.resolve("val/a/1.png"), g1);
        png(m.resolve("val/b/1.png"), rgb(4, 4, 6));
        DataSplit mixed = DataSpec.parse("imagefolder:" + m).load();
        assertEquals(3, mixed.train().channels());
        byte[] px = mixed.train().materialize().pixels();
        for (int p = 0; p < 16; p++) {
            int v = g1.getRaster().getSample(p % 4, p / 4, 0);
            assertEquals(v, px[p] & 0xFF);
            assertEquals(v, px[16 + p] & 0xFF);
            assertEquals(v, px[32 + p] & 0xFF);
        }
    }

    @Test
    void mixedSizesNeedImageSizeThenResizeAndCentreCrop() throws IOException {
        Path r = dir.resolve("sizes");
        png(r.resolve("a/1.png"), rgb(8, 4, 1));
        png(r.resolve("a/2.png"), rgb(6, 6, 2));
        png(r.resolve("b/1.png"), rgb(4, 10, 3));
        png(r.resolve("b/2.png"), rgb(4, 4, 4));
        DataFileException e = assertThrows(DataFileException.class, () -> DataSpec.parse("imagefolder:" + r).load());
        assertTrue(e.getMessage().startsWith(r + ": ") && e.getMessage().contains("--image-size"), e.getMessage());
        DataSplit s = DataSpec.parse("imagefolder[image-size=4,val-fraction=0.25]:" + r).load();
        assertEquals(dev.sam4j.tensor.Shape.of(3, 4, 4), s.train().exampleShape());
        assertEquals(3, s.train().size());
        // torchvision's geometry: 8x4 -> shorter side 4 already, crop columns 2..5
        BufferedImage wide = rgb(8, 4, 1);
        BufferedImage cropped = ImageFolder.resizeCrop(wide, 4);
        for (int y = 0; y < 4; y++) for (int x = 0; x < 4; x++) assertEquals(wide.getRGB(x + 2, y), cropped.getRGB(x, y));
        // 4x10 -> crop rows round(3.0) = 3..6
        BufferedImage tall = rgb(4, 10, 3);
        BufferedImage c2 = ImageFolder.resizeCrop(tall, 4);
        for (int y = 0; y < 4; y++) for (int x = 0; x < 4; x++) assertEquals(tall.getRGB(x, y + 3), c2.getRGB(x, y));
        assertEquals(8, ImageFolder.resizeCrop(rgb(6, 12, 1), 8).getWidth());
    }

    @Test
    void corruptAndTruncatedImagesNameTheFileOrAreSkippedAndCounted() throws IOException {
        Path r = dir.resolve("bad");
        for (int i = 0; i < 3; i++) { png(r.resolve("a/" + i + ".png"), rgb(4, 4, i)); png(r.resolve("b/" + i + ".png"), rgb(4, 4, 10 + i)); }
        Path garbage = Files.writeString(r.resolve("a/garbage.png"), "this is not a png");
        byte[] good = Files.readAllBytes(r.resolve("b/0.png"));
        Path truncated = Files.write(r.resolve("b/truncated.png"), Arrays.copyOf(good, good.length / 2));
        ByteArrayOutputStreamJpeg.write(rgb(16, 16, 7), r.resolve("b/whole.jpg"));
        byte[] jpg = Files.readAllBytes(r.resolve("b/whole.jpg"));
        Path truncJpg = Files.write(r.resolve("b/trunc.jpg"), Arrays.copyOf(jpg, jpg.length * 2 / 3));
        // A header the JDK cannot read is found when loading; a damaged image when it is decoded (the
        // training images measured for the statistics at load, others when the loader reaches them).
        DataFileException e = assertThrows(DataFileException.class, () -> DataSpec.parse("imagefolder:" + r).load());
        assertTrue(e.getMessage().startsWith(garbage + ": ") && !e.getMessage().contains("\n"), e.getMessage());
        Files.delete(garbage);
        e = assertThrows(DataFileException.class, () -> readAll(DataSpec.parse("imagefolder:" + r).load()));
        assertTrue(e.getMessage().startsWith(truncJpg + ": ") || e.getMessage().startsWith(truncated + ": "), e.getMessage());
        assertFalse(e.getMessage().contains("\n"), e.getMessage());
        Files.delete(truncated);
        e = assertThrows(DataFileException.class, () -> readAll(DataSpec.parse("imagefolder:" + r).load()));
        assertTrue(e.getMessage().startsWith(truncJpg + ": "), "a truncated JPEG decodes with a warning, and is bad: " + e.getMessage());
        Files.write(truncated, Arrays.copyOf(good, good.length / 2));
        Files.writeString(garbage, "this is not a png");
        DataSplit s = DataSpec.parse("imagefolder[skip-bad-images,image-size=4]:" + r).load();
        assertTrue(s.train().size() + s.test().size() <= 9, "the unreadable header left out at load");
        assertTrue(s.description().contains("undecodable image"), s.description());
        int skipped = readAll(s);
        assertTrue(skipped >= 1, "the truncated JPEG skipped when decoded");
        assertEquals(7, s.train().size() + s.test().size() - skipped, "the 7 good images read");
        assertEquals(skipped, readAll(s), "the same ones, known bad from then on");
    }

    /** Reads every example of both sets; how many the source skipped. */
    static int readAll(DataSplit s) {
        int skipped = 0;
        for (Dataset d : List.of(s.train(), s.test())) {
            byte[] buf = new byte[d.exampleSize()];
            for (int i = 0; i < d.size(); i++) if (!d.read(i, buf, 0)) skipped++;
        }
        return skipped;
    }

    /** JPEG writing through ImageIO, for the truncated-JPEG case. */
    static final class ByteArrayOutputStreamJpeg {
        static void write(BufferedImage im, Path file) throws IOException {
            Files.createDirectories(file.getParent());
            assertTrue(ImageIO.write(im, "jpg", file.toFile()));
        }
    }

    @Test
    void decodedImagesThatDoNotFitTheHeapAreRefusedInOneLine() {
        ImageFolder.checkFits("d", 1000, 3, 32, 32, 8L << 20); // 3 MiB of 8: fits
        DataFileException e = assertThrows(DataFileException.class, () -> ImageFolder.checkFits("d", 1000, 3, 64, 64, 8L << 20));
        assertTrue(e.getMessage().startsWith("d: cache=on (--cache): 1000 images of 3x64x64 need 11 MiB") && e.getMessage().contains("-Xmx")
                && e.getMessage().contains("drop --cache"), e.getMessage());
        assertTrue(ImageFolder.fits(1000, 3, 32, 32, 8L << 20));
        assertFalse(ImageFolder.fits(1000, 3, 64, 64, 8L << 20), "the default (cache=auto) streams instead of refusing");
    }

    @Test
    void emptyClassIsAnErrorAsInTorchvision() throws IOException {
        Path r = dir.resolve("empty");
        png(r.resolve("a/1.png"), rgb(4, 4, 1));
        png(r.resolve("a/2.png"), rgb(4, 4, 2));
        Files.createDirectories(r.resolve("b"));
        Files.writeString(r.resolve("b/readme.txt"), "no images here");
        DataFileException e = assertThrows(DataFileException.class, () -> DataSpec.parse("imagefolder:" + r).load());
        assertTrue(e.getMessage().startsWith(r + ": ") && e.getMessage().contains("found no valid file for the classes [b]"), e.getMessage());
        DataFileException none = assertThrows(DataFileException.class, () -> DataSpec.parse("imagefolder:" + dir.resolve("absent")).load());
        assertTrue(none.getMessage().contains("no such directory"));
    }

    @Test
    void symbolicLinkLoopsEndAndValTreeMustHaveTheSameClasses() throws IOException {
        Path r = dir.resolve("loop");
        png(r.resolve("train/a/1.png"), rgb(4, 4, 1));
        png(r.resolve("train/b/1.png"), rgb(4, 4, 2));
        png(r.resolve("val/a/1.png"), rgb(4, 4, 3));
        png(r.resolve("val/b/1.png"), rgb(4, 4, 4));
        try {
            Files.createSymbolicLink(r.resolve("train/a/again"), r.resolve("train/a"));
            Files.createSymbolicLink(r.resolve("train/b/up"), r.resolve("train"));
        } catch (UnsupportedOperationException | IOException e) {
            Assumptions.abort("no symbolic links here: " + e);
        }
        DataSplit s = DataSpec.parse("imagefolder:" + r).load();
        // train/b/up -> train reaches a/1.png and b/1.png once more each (other paths, other directories), then stops
        assertTrue(s.train().size() >= 2 && s.train().size() <= 4, "size " + s.train().size());
        png(r.resolve("val/c/1.png"), rgb(4, 4, 5));
        DataFileException e = assertThrows(DataFileException.class, () -> DataSpec.parse("imagefolder:" + r).load());
        assertTrue(e.getMessage().startsWith(r.resolve("val") + ": ") && e.getMessage().contains("differ"), e.getMessage());
    }
}
