package dev.sam4j.plot;

import java.awt.Color;
import java.awt.Font;
import java.awt.FontMetrics;
import java.awt.Graphics2D;
import java.awt.RenderingHints;
import java.awt.image.BufferedImage;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Path;
import javax.imageio.ImageIO;

/**
 * A confusion matrix as a PNG: true class down, predicted class across, each cell shaded by its share of
 * the true class's examples (so a small class's errors are as visible as a large one's) and labelled
 * with its count where the cells are large enough to hold it.
 */
public final class ConfusionPlot {
    static {
        System.setProperty("java.awt.headless", "true");
    }

    private ConfusionPlot() {}

    public static void savePng(long[][] confusion, String title, Path png) {
        int k = confusion.length;
        if (k == 0) throw new IllegalArgumentException("confusion matrix '" + title + "' is empty");
        int cell = Math.max(4, Math.min(48, 720 / k)), margin = 70, top = 50;
        int w = margin + k * cell + 20, h = top + k * cell + margin;
        BufferedImage im = new BufferedImage(w, h, BufferedImage.TYPE_INT_RGB);
        Graphics2D g = im.createGraphics();
        g.setRenderingHint(RenderingHints.KEY_TEXT_ANTIALIASING, RenderingHints.VALUE_TEXT_ANTIALIAS_ON);
        g.setColor(Color.WHITE);
        g.fillRect(0, 0, w, h);
        g.setColor(Color.BLACK);
        g.setFont(new Font(Font.SANS_SERIF, Font.BOLD, 14));
        g.drawString(title, 10, 20);
        g.setFont(new Font(Font.SANS_SERIF, Font.PLAIN, 12));
        g.drawString("predicted class →", margin, top - 8);
        g.drawString("true class ↓", 4, top - 8);
        Font small = new Font(Font.SANS_SERIF, Font.PLAIN, Math.max(8, Math.min(12, cell / 3)));
        g.setFont(small);
        FontMetrics fm = g.getFontMetrics();
        for (int t = 0; t < k; t++) {
            long row = 0;
            for (long v : confusion[t]) row += v;
            for (int p = 0; p < k; p++) {
                double share = row == 0 ? 0 : confusion[t][p] / (double) row;
                int shade = (int) Math.round(255 * (1 - share));
                g.setColor(t == p ? new Color(shade, shade, 255) : new Color(255, shade, shade));
                g.fillRect(margin + p * cell, top + t * cell, cell, cell);
                g.setColor(Color.LIGHT_GRAY);
                g.drawRect(margin + p * cell, top + t * cell, cell, cell);
                String s = Long.toString(confusion[t][p]);
                if (fm.stringWidth(s) + 2 < cell && fm.getHeight() < cell) {
                    g.setColor(share > 0.6 ? Color.WHITE : Color.BLACK);
                    g.drawString(s, margin + p * cell + (cell - fm.stringWidth(s)) / 2, top + t * cell + (cell + fm.getAscent()) / 2 - 2);
                }
            }
            if (cell >= 12) {
                g.setColor(Color.BLACK);
                g.drawString(Integer.toString(t), margin - 6 - fm.stringWidth(Integer.toString(t)), top + t * cell + (cell + fm.getAscent()) / 2 - 2);
                g.drawString(Integer.toString(t), margin + t * cell + (cell - fm.stringWidth(Integer.toString(t))) / 2, top + k * cell + 16);
            }
        }
        g.dispose();
        try {
            if (!ImageIO.write(im, "png", png.toFile())) throw new IOException("no PNG writer");
        } catch (IOException e) {
            throw new UncheckedIOException(png + ": cannot write: " + e.getMessage(), e);
        }
    }
}
