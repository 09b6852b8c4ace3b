package dev.sam4j.data;

import static org.junit.jupiter.api.Assertions.*;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.Random;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** {@code npy:} and {@code safetensors:} data sets: layouts, dtypes, splits, and hostile files. */
class ArraySourceTest {
    @TempDir Path dir;

    /** n images of c×h×w with pixel value = a function of (image, channel, y, x), as CHW bytes. */
    static byte[] chw(int n, int c, int h, int w) {
        byte[] b = new byte[n * c * h * w];
        for (int i = 0, k = 0; i < n; i++) for (int ch = 0; ch < c; ch++) for (int y = 0; y < h; y++) for (int x = 0; x < w; x++) {
            b[k++] = (byte) (i * 37 + ch * 71 + y * 5 + x * 3);
        }
        return b;
    }

    static byte[] toNhwc(byte[] chw, int n, int c, int h, int w) {
        byte[] out = new byte[chw.length];
        for (int i = 0; i < n; i++) for (int ch = 0; ch < c; ch++) for (int p = 0; p < h * w; p++) {
            out[i * c * h * w + p * c + ch] = chw[i * c * h * w + ch * h * w + p];
        }
        return out;
    }

    private Path write(String name, byte[] bytes) throws IOException { return Files.write(dir.resolve(name), bytes); }

    private DataSplit load(String spec) { return DataSpec.parse(spec).load(); }

    @Test
    void nhwcAndNchwUint8GiveTheSameChwPixels() throws IOException {
        int n = 10, c = 3, h = 4, w = 5;
        byte[] px = chw(n, c, h, w);
        long[] labels = new long[n];
        for (int i = 0; i < n; i++) labels[i] = i % 4;
        Path l = write("l.npy", ArrayFiles.npy("<i8", new long[] {n}, ArrayFiles.i64(labels)));
        Path a = write("nchw.npy", ArrayFiles.npy("|u1", new long[] {n, c, h, w}, px));
        Path b = write("nhwc.npy", ArrayFiles.npy("|u1", new long[] {n, h, w, c}, toNhwc(px, n, c, h, w)));
        // the same two files as train and test, so nothing is held out and the order is the files'
        DataSplit s1 = load("npy:" + a + "," + l + "," + a + "," + l), s2 = load("npy:" + b + "," + l + "," + b + "," + l);
        assertArrayEquals(px, s1.train().pixels());
        assertArrayEquals(px, s2.train().pixels());
        assertEquals(dev.sam4j.tensor.Shape.of(3, 4, 5), s2.train().exampleShape());
        assertEquals(4, s2.train().classes());
        assertArrayEquals(new int[] {0, 1, 2, 3, 0, 1, 2, 3, 0, 1}, s2.test().labels());
    }

    @Test
    void float32InUnitRangeIsScaledAndRoundedAndOutOfRangeIsRefused() throws IOException {
        float[] v = {0f, 1f, 0.5f, 1 / 255f, 0.999f, 0.002f};
        Path im = write("f.npy", ArrayFiles.npy("<f4", new long[] {6, 1, 1}, ArrayFiles.f32(v)));
        Path l = write("l.npy", ArrayFiles.npy("|u1", new long[] {6}, new byte[] {0, 1, 0, 1, 0, 1}));
        DataSplit s = load("npy:" + im + "," + l + "," + im + "," + l);
        byte[] expected = new byte[6];
        for (int i = 0; i < 6; i++) expected[i] = (byte) Math.round(v[i] * 255f);
        assertArrayEquals(expected, s.train().pixels());
        assertEquals(new byte[] {0, (byte) 255, (byte) 128, 1, (byte) 255, 1}.length, expected.length);
        assertEquals((byte) 128, expected[2]);
        Path bad = write("f255.npy", ArrayFiles.npy("<f4", new long[] {6, 1, 1}, ArrayFiles.f32(0, 255, 3, 4, 5, 6)));
        DataFileException e = assertThrows(DataFileException.class, () -> load("npy:" + bad + "," + l));
        assertTrue(e.getMessage().startsWith(bad + ": ") && e.getMessage().contains("outside [0, 1]"), e.getMessage());
        Path nan = write("nan.npy", ArrayFiles.npy("<f4", new long[] {6, 1, 1}, ArrayFiles.f32(0, Float.NaN, 0, 0, 0, 0)));
        assertThrows(DataFileException.class, () -> load("npy:" + nan + "," + l));
    }

    @Test
    void ambiguousLayoutIsRefusedUnlessTheOptionSays() throws IOException {
        int n = 4;
        byte[] px = chw(n, 3, 2, 3);
        Path im = write("amb.npy", ArrayFiles.npy("|u1", new long[] {n, 3, 2, 3}, px));
        Path l = write("l.npy", ArrayFiles.npy("<i4", new long[] {n}, ArrayFiles.i32(0, 1, 0, 1)));
        DataFileException e = assertThrows(DataFileException.class, () -> load("npy:" + im + "," + l));
        assertTrue(e.getMessage().startsWith(im + ": ") && e.getMessage().contains("layout=nchw"), e.getMessage());
        assertFalse(e.getMessage().contains("\n"));
        DataSplit nchw = load("npy[layout=nchw]:" + im + "," + l + "," + im + "," + l);
        assertEquals(dev.sam4j.tensor.Shape.of(3, 2, 3), nchw.train().exampleShape());
        assertArrayEquals(px, nchw.train().pixels());
        DataSplit nhwc = load("npy[layout=nhwc]:" + im + "," + l + "," + im + "," + l);
        assertEquals(dev.sam4j.tensor.Shape.of(3, 3, 2), nhwc.train().exampleShape());
        assertEquals("npy[layout=nhwc]:" + im + "," + l + "," + im + "," + l, DataSpec.parse("npy[layout=nhwc]:" + im + "," + l + "," + im + "," + l).spec());
    }

    @Test
    void oneSetIsSplitBySeededHoldOutDisjointAndComplete() throws IOException {
        int n = 50;
        byte[] px = new byte[n];
        byte[] lab = new byte[n];
        for (int i = 0; i < n; i++) { px[i] = (byte) i; lab[i] = (byte) (i % 3); }
        Path im = write("i.npy", ArrayFiles.npy("|u1", new long[] {n, 1, 1}, px));
        Path l = write("l.npy", ArrayFiles.npy("|u1", new long[] {n}, lab));
        DataSplit a = load("npy[val-fraction=0.2,split-seed=7]:" + im + "," + l);
        DataSplit b = load("npy[val-fraction=0.2,split-seed=7]:" + im + "," + l);
        DataSplit c = load("npy[val-fraction=0.2,split-seed=8]:" + im + "," + l);
        assertEquals(40, a.train().size());
        assertEquals(10, a.test().size());
        assertArrayEquals(a.test().pixels(), b.test().pixels());
        assertFalse(Arrays.equals(a.test().pixels(), c.test().pixels()), "another seed, another hold-out");
        boolean[] seen = new boolean[n];
        for (byte p : a.train().pixels()) { assertFalse(seen[p]); seen[p] = true; }
        for (byte p : a.test().pixels()) { assertFalse(seen[p]); seen[p] = true; }
        for (int i = 0; i < n; i++) assertTrue(seen[i]);
        for (int i = 0; i < a.test().size(); i++) assertEquals(a.test().pixels()[i] % 3, a.test().labels()[i], "labels follow their images");
        assertEquals(45, load("npy:" + im + "," + l).train().size(), "default val-fraction 0.1");
    }

    @Test
    void safetensorsWithAndWithoutTestTensors() throws IOException {
        int n = 6;
        byte[] px = chw(n, 1, 4, 4);
        Path f = write("d.safetensors", new ArrayFiles.Safetensors().add("images", "U8", new long[] {n, 4, 4, 1}, toNhwc(px, n, 1, 4, 4))
                .add("labels", "I64", new long[] {n}, ArrayFiles.i64(0, 1, 2, 0, 1, 2))
                .add("test_images", "F32", new long[] {2, 1, 4, 4}, ArrayFiles.f32(new float[32]))
                .add("test_labels", "U8", new long[] {2}, new byte[] {2, 1}).bytes());
        DataSplit s = load("safetensors:" + f);
        assertArrayEquals(px, s.train().pixels());
        assertEquals(3, s.train().classes());
        assertArrayEquals(new int[] {2, 1}, s.test().labels());
        Path g = write("e.safetensors", new ArrayFiles.Safetensors().add("images", "U8", new long[] {n, 4, 4}, px)
                .add("labels", "U8", new long[] {n}, new byte[] {0, 1, 0, 1, 0, 1}).bytes());
        DataSplit t = load("safetensors[val-fraction=0.5]:" + g);
        assertEquals(3, t.train().size());
        assertEquals(3, t.test().size());
    }

    /** Each hostile input: one line, starting with the file at fault, saying what is wrong. */
    @Test
    void hostileFilesAreOneLineNamingTheFile() throws IOException {
        byte[] px = chw(4, 1, 2, 2);
        byte[] good = ArrayFiles.npy("|u1", new long[] {4, 2, 2}, px);
        Path l = write("l.npy", ArrayFiles.npy("|u1", new long[] {4}, new byte[] {0, 1, 0, 1}));
        Path im = write("good.npy", good);
        expect(write("trunc.npy", Arrays.copyOf(good, good.length - 3)), l, "truncated");
        expect(write("trunc-header.npy", Arrays.copyOf(good, 30)), l, "truncated");
        expect(write("tiny.npy", new byte[] {(byte) 0x93, 'N'}), l, "truncated");
        expect(write("huge.npy", ArrayFiles.npy("|u1", new long[] {1L << 40, 1L << 20, 1L << 20}, px)), l, "overflows");
        expect(write("big.npy", ArrayFiles.npy("|u1", new long[] {1L << 30, 1 << 10, 1 << 10}, px)), l, "needs");
        expect(write("f64.npy", ArrayFiles.npy("<f8", new long[] {2, 2, 1}, new byte[32])), l, "float64");
        expect(write("be.npy", ArrayFiles.npy(">f4", new long[] {4, 1, 1}, new byte[16])), l, "big-endian");
        expect(write("obj.npy", ArrayFiles.npy("|O", new long[] {4}, new byte[32])), l, "dtype");
        expect(write("fortran.npy", new String(ArrayFiles.npy("|u1", new long[] {4, 2, 2}, px), java.nio.charset.StandardCharsets.ISO_8859_1)
                .replace("False", "True ").getBytes(java.nio.charset.StandardCharsets.ISO_8859_1)), l, "Fortran");
        expect(write("notnpy.npy", "hello, this is not numpy".getBytes()), l, "magic");
        expect(write("5d.npy", ArrayFiles.npy("|u1", new long[] {1, 1, 1, 4, 4}, new byte[16])), l, "shape");
        expect(write("4ch.npy", ArrayFiles.npy("|u1", new long[] {1, 4, 2, 4}, new byte[32])), l, "neither");
        // labels at fault
        expect(im, write("neg.npy", ArrayFiles.npy("<i4", new long[] {4}, ArrayFiles.i32(0, -1, 0, 1))), "label -1");
        expect(im, write("far.npy", ArrayFiles.npy("<i8", new long[] {4}, ArrayFiles.i64(0, 1L << 40, 0, 1))), "outside");
        expect(im, write("lf.npy", ArrayFiles.npy("<f4", new long[] {4}, new byte[16])), "labels must be");
        expect(im, write("l2d.npy", ArrayFiles.npy("|u1", new long[] {2, 2}, new byte[4])), "one-dimensional");
        expect(im, write("three.npy", ArrayFiles.npy("|u1", new long[] {3}, new byte[3])), "3 labels");
        expect(im, dir.resolve("absent.npy"), "no such file");
        // safetensors
        Path st = write("wrong.safetensors", new ArrayFiles.Safetensors().add("images", "BF16", new long[] {2, 1, 1}, new byte[4])
                .add("labels", "U8", new long[] {2}, new byte[2]).bytes());
        expectSt(st, "BF16");
        expectSt(write("nolabels.safetensors", new ArrayFiles.Safetensors().add("images", "U8", new long[] {2, 1, 1}, new byte[2]).bytes()), "labels");
        expectSt(write("count.safetensors", new ArrayFiles.Safetensors().add("images", "U8", new long[] {2, 1, 1}, new byte[2])
                .add("labels", "U8", new long[] {3}, new byte[3]).bytes()), "2 images but 3 labels");
        byte[] ok = new ArrayFiles.Safetensors().add("images", "U8", new long[] {2, 1, 1}, new byte[2]).add("labels", "U8", new long[] {2}, new byte[] {0, 1}).bytes();
        expectSt(write("trunc.safetensors", Arrays.copyOf(ok, ok.length - 1)), "");
        expectSt(write("extra.safetensors", new ArrayFiles.Safetensors().add("images", "U8", new long[] {2, 1, 1}, new byte[2])
                .add("labels", "U8", new long[] {2}, new byte[2]).add("weights", "F32", new long[] {1}, new byte[4]).bytes()), "unexpected tensor");
    }

    private void expect(Path images, Path labels, String says) {
        DataFileException e = assertThrows(DataFileException.class, () -> load("npy:" + images + "," + labels));
        String m = e.getMessage();
        boolean names = m.startsWith(images + ": ") || m.startsWith(labels + ": ");
        assertTrue(names && m.contains(says) && !m.contains("\n"), m);
    }

    private void expectSt(Path f, String says) {
        DataFileException e = assertThrows(DataFileException.class, () -> load("safetensors:" + f));
        assertTrue(e.getMessage().startsWith(f + ": ") && e.getMessage().contains(says) && !e.getMessage().contains("\n"), e.getMessage());
    }

    @Test
    void badOptionsAreRefusedAtParse() {
        for (String s : new String[] {"npy[val-fraction=1]:a,b", "npy[layout=chw]:a,b", "npy[bogus]:a,b", "cifar10[cache]:d", "npy:a", "npy:a,b,c",
                "npy[val-fraction]:a,b", "npy[skip-bad-images=1]:a,b", "npy[image-size=0]:a,b"}) {
            IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> DataSpec.parse(s), s);
            assertTrue(e.getMessage().startsWith("invalid --data"), e.getMessage());
        }
    }

    @Test
    void holdOutIsDeterministicAndBounded() {
        Random r = new Random(3);
        for (int t = 0; t < 200; t++) {
            int n = 2 + r.nextInt(100);
            double f = 0.01 + 0.98 * r.nextDouble();
            int[][] s = SourceOptions.holdOut(n, f, t, "x");
            assertEquals(n, s[0].length + s[1].length);
            assertTrue(s[0].length >= 1 && s[1].length >= 1);
            assertArrayEquals(s[1], SourceOptions.holdOut(n, f, t, "x")[1]);
        }
        assertThrows(DataFileException.class, () -> SourceOptions.holdOut(1, 0.5, 0, "x"));
    }
}
