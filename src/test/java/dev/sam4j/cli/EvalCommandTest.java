package dev.sam4j.cli;

import static dev.sam4j.cli.MainTest.assertOneLineError;
import static dev.sam4j.cli.MainTest.run;
import static org.junit.jupiter.api.Assertions.*;

import dev.sam4j.io.JsonReader;
import java.awt.image.BufferedImage;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.Random;
import javax.imageio.ImageIO;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** {@code sam4j train} on the user's own data, then {@code sam4j eval}, through the command line. */
class EvalCommandTest {

    /** Two easy classes: reddish and bluish noise. */
    static void folder(Path root, String split, int perClass, Random r) throws Exception {
        for (int c = 0; c < 2; c++) {
            Path d = Files.createDirectories(root.resolve(split).resolve(c == 0 ? "red" : "blue"));
            for (int i = 0; i < perClass; i++) {
                BufferedImage im = new BufferedImage(6, 6, BufferedImage.TYPE_INT_RGB);
                for (int y = 0; y < 6; y++) for (int x = 0; x < 6; x++) {
                    int hi = 150 + r.nextInt(100), lo = r.nextInt(100), mid = r.nextInt(256);
                    im.setRGB(x, y, c == 0 ? hi << 16 | mid << 8 | lo : lo << 16 | mid << 8 | hi);
                }
                assertTrue(ImageIO.write(im, "png", d.resolve(i + ".png").toFile()));
            }
        }
    }

    @SuppressWarnings("unchecked")
    @Test
    void trainOnAnImageFolderThenEvalAgreesWithTheRunsTestAccuracy(@TempDir Path tmp) throws Exception {
        Path data = tmp.resolve("images");
        Random r = new Random(5);
        folder(data, "train", 24, r);
        folder(data, "val", 10, r);
        Path runDir = tmp.resolve("run");
        MainTest.Outcome o = run("train", "--data", "imagefolder:" + data, "--image-size", "4", "--model", "mlp:16", "--epochs", "2",
                "--batch-size", "8", "--device", "cpu", "--threads", "1", "--out", runDir.toString());
        assertEquals(0, o.code(), o.err());
        assertTrue(o.out().contains("normalisation (training split"), o.out());
        String config = Files.readString(runDir.resolve("config.json"));
        assertTrue(config.contains("imagefolder[image-size=4]:" + data), "the flag is recorded in --data: " + config);

        Path evalDir = tmp.resolve("eval");
        o = run("eval", runDir.toString(), "--device", "cpu", "--threads", "1", "--out", evalDir.toString());
        assertEquals(0, o.code(), o.err());
        assertTrue(o.out().contains("confusion matrix"), o.out());
        Map<String, Object> ev = (Map<String, Object>) JsonReader.parse(Files.readString(evalDir.resolve("eval.json")), "eval.json");
        Map<String, Object> summary = (Map<String, Object>) JsonReader.parse(Files.readString(runDir.resolve("summary.json")), "summary.json");
        double acc = ((Number) ev.get("accuracy")).doubleValue();
        assertEquals(((Number) summary.get("test_accuracy")).doubleValue(), acc, 1e-12,
                "the same model, data and normalisation as the run's own last evaluation");
        assertTrue(acc > 0.8, "two easy classes: " + acc);
        List<List<Object>> confusion = (List<List<Object>>) ev.get("confusion");
        long total = 0, diag = 0;
        for (int t = 0; t < 2; t++) for (int p = 0; p < 2; p++) {
            long v = ((Number) confusion.get(t).get(p)).longValue();
            total += v;
            if (t == p) diag += v;
        }
        assertEquals(20, total);
        assertEquals(acc, diag / 20.0, 1e-12);
        List<String> csv = Files.readAllLines(evalDir.resolve("confusion.csv"));
        assertEquals(3, csv.size());
        BufferedImage png = ImageIO.read(evalDir.resolve("confusion.png").toFile());
        assertNotNull(png);
        // the checkpoint file works as well as the run directory
        o = run("eval", runDir.resolve("checkpoint.safetensors").toString(), "--device", "cpu", "--threads", "1", "--out", tmp.resolve("e2").toString());
        assertEquals(0, o.code(), o.err());
    }

    static byte[] npy(String descr, long[] shape, byte[] data) {
        StringBuilder sh = new StringBuilder("(");
        for (int i = 0; i < shape.length; i++) sh.append(i > 0 ? ", " : "").append(shape[i]);
        if (shape.length == 1) sh.append(',');
        String h = "{'descr': '" + descr + "', 'fortran_order': False, 'shape': " + sh + "), }\n";
        byte[] hb = h.getBytes(StandardCharsets.ISO_8859_1);
        ByteBuffer b = ByteBuffer.allocate(10 + hb.length + data.length).order(ByteOrder.LITTLE_ENDIAN);
        b.put(new byte[] {(byte) 0x93, 'N', 'U', 'M', 'P', 'Y', 1, 0}).putShort((short) hb.length).put(hb).put(data);
        return b.array();
    }

    @Test
    void npyTrainAndAMismatchedEvalSetIsOneLine(@TempDir Path tmp) throws Exception {
        Random r = new Random(9);
        int n = 64;
        byte[] px = new byte[n * 8 * 8];
        byte[] lab = new byte[n];
        for (int i = 0; i < n; i++) {
            lab[i] = (byte) (i % 2);
            for (int p = 0; p < 64; p++) px[i * 64 + p] = (byte) (lab[i] == 0 ? r.nextInt(100) : 150 + r.nextInt(100));
        }
        Path im = Files.write(tmp.resolve("x.npy"), npy("|u1", new long[] {n, 8, 8, 1}, px));
        Path lb = Files.write(tmp.resolve("y.npy"), npy("|u1", new long[] {n}, lab));
        Path runDir = tmp.resolve("run");
        MainTest.Outcome o = run("train", "--data", "npy:" + im + "," + lb, "--val-fraction", "0.25", "--model", "mlp:8", "--epochs", "1",
                "--batch-size", "16", "--device", "cpu", "--threads", "1", "--out", runDir.toString());
        assertEquals(0, o.code(), o.err());
        assertTrue(o.out().contains("16 test"), o.out());
        Path im3 = Files.write(tmp.resolve("x3.npy"), npy("|u1", new long[] {n, 3, 8, 8}, new byte[n * 192]));
        assertOneLineError(run("eval", runDir.toString(), "--device", "cpu", "--data", "npy:" + im3 + "," + lb, "--out", tmp.resolve("e").toString()),
                "but the model in");
        byte[] many = lab.clone();
        many[0] = 5;
        Path lb6 = Files.write(tmp.resolve("y6.npy"), npy("|u1", new long[] {n}, many));
        assertOneLineError(run("eval", runDir.toString(), "--device", "cpu", "--data", "npy[val-fraction=0.9]:" + im + "," + lb6, "--out", tmp.resolve("e").toString()),
                "in 6 classes, but the model");
        assertOneLineError(run("eval", tmp.resolve("nothing").toString()), "no such checkpoint");
        assertOneLineError(run("train", "--data", "synthetic", "--image-size", "32"), "--image-size: only for --data npy:, safetensors: and imagefolder:");
    }
}
