package dev.sam4j.cli;

import static org.junit.jupiter.api.Assertions.*;

import java.awt.image.BufferedImage;
import java.nio.file.Files;
import java.nio.file.Path;
import javax.imageio.ImageIO;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/** {@code --train-subset} on the command line, and {@code plot} / {@code compare} on real tiny runs. */
class ReportCommandsTest {

    @ParameterizedTest
    @ValueSource(strings = {"0", "-3", "2001"})
    void badTrainSubsetGivesOneClearLine(String n, @TempDir Path dir) {
        MainTest.Outcome o = MainTest.run("train", "--data=fashion-mnist-sample", "--train-subset=" + n, "--max-steps=1",
                "--out", dir.resolve("run").toString());
        MainTest.assertOneLineError(o, "--train-subset");
    }

    @Test
    void plotWritesLabelledPngsForATinyAdaptiveRun(@TempDir Path dir) throws Exception {
        Path run = dir.resolve("tiny-aesam");
        MainTest.Outcome t = MainTest.run("train", "--data=fashion-mnist-sample", "--train-subset=600", "--optimizer=aesam",
                "--epochs=2", "--device=cpu", "--out", run.toString());
        assertEquals(0, t.code(), t.err());
        MainTest.Outcome p = MainTest.run("plot", run.toString());
        assertEquals(0, p.code(), p.err());
        for (String f : new String[] {"accuracy.png", "sam_fraction.png", "loss.png", "s_t.png"}) {
            Path png = run.resolve("plots").resolve(f);
            assertTrue(p.out().contains(png.toString()), p.out());
            BufferedImage img = ImageIO.read(png.toFile());
            assertNotNull(img, f);
            assertTrue(img.getWidth() >= 640 && img.getHeight() >= 400, f);
        }
        MainTest.Outcome c = MainTest.run("compare", run.toString(), dir.toString());
        assertEquals(0, c.code(), c.err());
        long rows = c.out().lines().filter(l -> l.startsWith("tiny-aesam ")).count();
        assertEquals(2, rows, "the run named directly and again through its parent directory:\n" + c.out());
        assertTrue(c.out().contains("AE-SAM l1=-1 l2=1 d=0.9"), c.out());
        assertTrue(c.out().contains(" 600 "), c.out());
    }

    @Test
    void plotAndCompareNameAnUnfinishedRun(@TempDir Path dir) throws Exception {
        Files.createDirectories(dir.resolve("r"));
        Files.writeString(dir.resolve("r/config.json"), "{}");
        MainTest.assertOneLineError(MainTest.run("plot", dir.resolve("r").toString()), "no summary.json");
        MainTest.assertOneLineError(MainTest.run("compare", dir.resolve("r").toString()), "no summary.json");
        MainTest.assertOneLineError(MainTest.run("compare", dir.resolve("nope").toString()), "nope");
    }
}
