package dev.sam4j.cli;

import static org.junit.jupiter.api.Assertions.*;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.OutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.zip.GZIPOutputStream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/** The command line: bad input gives one line naming the option or file, a non-zero exit, no stack trace. */
class MainTest {

    record Outcome(int code, String out, String err) {}

    static Outcome run(String... args) {
        PrintStream oldOut = System.out, oldErr = System.err;
        ByteArrayOutputStream out = new ByteArrayOutputStream(), err = new ByteArrayOutputStream();
        try {
            System.setOut(new PrintStream(out, true, StandardCharsets.UTF_8));
            System.setErr(new PrintStream(err, true, StandardCharsets.UTF_8));
            int code = Main.execute(args);
            return new Outcome(code, out.toString(StandardCharsets.UTF_8), err.toString(StandardCharsets.UTF_8));
        } finally {
            System.setOut(oldOut);
            System.setErr(oldErr);
        }
    }

    static void assertOneLineError(Outcome o, String mustContain) {
        assertNotEquals(0, o.code(), "exit code");
        assertTrue(o.err().contains(mustContain), "stderr should mention '" + mustContain + "': " + o.err());
        assertFalse(o.err().contains("\tat "), "no stack trace: " + o.err());
        assertFalse(o.err().contains("Exception"), "no exception names: " + o.err());
    }

    @ParameterizedTest
    @CsvSource(delimiter = '|', value = {
        "--model=resnet99                 | resnet99",
        "--epochs=0                       | --epochs",
        "--lr=-0.1                        | --lr",
        "--batch-size=0                   | --batch-size",
        "--momentum=1.5                   | --momentum",
        "--label-noise=1.5                | --label-noise",
        "--threads=0                      | --threads",
        "--schedule=linear                | linear",
        "--optimizer=adamw                | adamw",
        "--device=tpu                     | tpu",
        "--device=cuda                    | --device cuda",
        "--data=imagenet                  | imagenet",
        "--data=fashion-mnist:/nonexistent/dir | /nonexistent/dir",
        "--epochs=many                    | --epochs",
        "--shuffle=maybe                  | --shuffle",
        "--augment=sometimes              | --augment",
        "--rho=0                          | --rho",
        "--rho=-0.05                      | --rho",
        "--ae-delta=1                     | --ae-delta",
        "--ae-delta=0                     | --ae-delta",
        "--looksam-k=0                    | --looksam-k",
        "--sssam-p=1.5                    | --sssam-p",
        "--sssam-p=-0.1                   | --sssam-p",
        "--esam-beta=0                    | --esam-beta",
        "--esam-gamma=2                   | --esam-gamma",
        "--asam-eta=-1                    | --asam-eta",
        "--looksam-alpha=-1               | --looksam-alpha",
    })
    void badOptionsGiveOneClearLine(String option, String mentioned, @TempDir Path dir) {
        String opt = option.trim();
        String data = opt.startsWith("--data") ? opt : "--data=fashion-mnist-sample";
        String other = opt.startsWith("--data") ? "--epochs=1" : opt;
        Outcome o = run("train", data, other, "--max-steps=1", "--out", dir.resolve("run").toString());
        assertOneLineError(o, mentioned.trim());
    }

    @Test
    void unknownOptionIsRejected() {
        assertOneLineError(run("train", "--learning-rate=0.1"), "--learning-rate");
    }

    private static void writeIdx(Path file, int magic, int[] dims, byte[] data, boolean truncate) throws IOException {
        try (OutputStream os = new GZIPOutputStream(Files.newOutputStream(file))) {
            java.io.DataOutputStream d = new java.io.DataOutputStream(os);
            d.writeInt(magic);
            for (int v : dims) d.writeInt(v);
            d.write(data, 0, truncate ? data.length / 2 : data.length);
            d.flush();
        }
    }

    private static Path fakeFashionMnist(Path dir, boolean truncateTrainImages, boolean badLabel, boolean badMagic) throws IOException {
        Files.createDirectories(dir);
        int n = 20;
        byte[] img = new byte[n * 28 * 28];
        byte[] lab = new byte[n];
        for (int i = 0; i < n; i++) lab[i] = (byte) (i % 10);
        if (badLabel) lab[3] = 42;
        writeIdx(dir.resolve("train-images-idx3-ubyte.gz"), badMagic ? 0x0803 + 1 : 0x0803, new int[] {n, 28, 28}, img, truncateTrainImages);
        writeIdx(dir.resolve("train-labels-idx1-ubyte.gz"), 0x0801, new int[] {n}, lab, false);
        writeIdx(dir.resolve("t10k-images-idx3-ubyte.gz"), 0x0803, new int[] {n, 28, 28}, img, false);
        writeIdx(dir.resolve("t10k-labels-idx1-ubyte.gz"), 0x0801, new int[] {n}, lab, false);
        return dir;
    }

    @Test
    void truncatedDataFileIsNamed(@TempDir Path dir) throws IOException {
        Path d = fakeFashionMnist(dir.resolve("fm"), true, false, false);
        assertOneLineError(run("train", "--data=fashion-mnist:" + d, "--max-steps=1", "--out", dir.resolve("r").toString()),
                "train-images-idx3-ubyte.gz");
    }

    @Test
    void wrongMagicIsNamed(@TempDir Path dir) throws IOException {
        Path d = fakeFashionMnist(dir.resolve("fm"), false, false, true);
        assertOneLineError(run("train", "--data=fashion-mnist:" + d, "--max-steps=1", "--out", dir.resolve("r").toString()),
                "train-images-idx3-ubyte.gz");
    }

    @Test
    void labelOutOfRangeIsNamed(@TempDir Path dir) throws IOException {
        Path d = fakeFashionMnist(dir.resolve("fm"), false, true, false);
        Outcome o = run("train", "--data=fashion-mnist:" + d, "--max-steps=1", "--out", dir.resolve("r").toString());
        assertOneLineError(o, "train-labels-idx1-ubyte.gz");
        assertTrue(o.err().contains("42"), o.err());
    }

    @Test
    void helpListsEveryOptionWithItsDefault() {
        Outcome o = run("train", "--help");
        assertEquals(0, o.code());
        for (String opt : new String[] {"--data", "--model", "--optimizer", "--epochs", "--batch-size", "--lr", "--schedule",
                "--momentum", "--weight-decay", "--seed", "--label-noise", "--device", "--threads", "--max-steps", "--shuffle",
                "--out"}) {
            assertTrue(o.out().contains(opt), opt);
        }
        assertTrue(o.out().contains("Default: 0.05"), o.out());
    }

    @Test
    void trainsAndSaysWhichDataWasUsed(@TempDir Path dir) {
        Outcome o = run("train", "--data=fashion-mnist-sample", "--max-steps=3", "--epochs=1", "--out", dir.toString());
        assertEquals(0, o.code(), o.err());
        String first = o.out().lines().findFirst().orElse("");
        assertTrue(first.startsWith("data: fashion-mnist embedded sample"), first);
        assertTrue(o.out().contains("backend: cpu"), o.out());
        assertTrue(Files.exists(dir.resolve("summary.json")));
    }

    @Test
    void infoSaysWhichBackendAndWhy() {
        Outcome o = run("info");
        assertEquals(0, o.code(), o.err());
        assertTrue(o.out().contains("backend: cpu (auto:"), o.out());
    }
}
