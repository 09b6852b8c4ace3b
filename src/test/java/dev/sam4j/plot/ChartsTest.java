package dev.sam4j.plot;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.awt.image.BufferedImage;
import java.nio.file.Path;
import javax.imageio.ImageIO;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class ChartsTest {
    @TempDir Path dir;

    @Test void writesAPngOfTheRequestedSizeWithSomethingDrawn() throws Exception {
        Path png = dir.resolve("sub/acc.png");
        new Charts.Chart("accuracy", "epoch", "test accuracy").size(640, 400)
                .add(Charts.Series.line("erm", new double[] {1, 2, 3}, new double[] {0.7, 0.8, 0.85}))
                .add(Charts.Series.points("sam", new double[] {1, 2, 3}, new double[] {0.72, 0.81, 0.86}))
                .savePng(png);
        BufferedImage img = ImageIO.read(png.toFile());
        assertEquals(640, img.getWidth());
        assertEquals(400, img.getHeight());
        int distinct = (int) java.util.stream.IntStream.range(0, 640 * 400)
                .map(i -> img.getRGB(i % 640, i / 640)).distinct().count();
        assertTrue(distinct > 5, "the image has only " + distinct + " colours");
    }

    @Test void aSeriesGivenAColourIsDrawnInIt() throws Exception {
        java.awt.Color c = new java.awt.Color(0x0072B2);
        Path png = dir.resolve("colour.png");
        new Charts.Chart("t", "x", "y").size(400, 300)
                .add(Charts.Series.points("p", new double[] {1, 2, 3}, new double[] {1, 3, 2}).withColor(c))
                .savePng(png);
        BufferedImage img = ImageIO.read(png.toFile());
        long exact = java.util.stream.IntStream.range(0, 400 * 300)
                .filter(i -> (img.getRGB(i % 400, i / 400) & 0xFFFFFF) == c.getRGB() - 0xFF000000).count();
        // Three filled markers plus the legend's: far more than a stray anti-aliased pixel or two.
        assertTrue(exact > 30, "only " + exact + " pixels in the series colour");
        assertEquals(c, Charts.Series.line("l", new double[] {1}, new double[] {1}).withColor(c).color());
    }

    @Test void rejectsEmptyMismatchedAndNonFiniteSeries() {
        assertThrows(IllegalArgumentException.class, () -> Charts.Series.line("a", new double[] {1}, new double[] {1, 2}));
        assertThrows(IllegalArgumentException.class, () -> Charts.Series.line("a", new double[0], new double[0]));
        var c = new Charts.Chart("t", "x", "y").add(Charts.Series.line("a", new double[] {1}, new double[] {Double.NaN}));
        var e = assertThrows(IllegalArgumentException.class, () -> c.savePng(dir.resolve("x.png")));
        assertTrue(e.getMessage().contains("'a'"));
        assertThrows(IllegalArgumentException.class, () -> new Charts.Chart("t", "x", "y").savePng(dir.resolve("y.png")));
    }
}
