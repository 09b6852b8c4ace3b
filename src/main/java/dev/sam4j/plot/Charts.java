package dev.sam4j.plot;

import java.awt.BasicStroke;
import java.awt.Color;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Objects;
import org.knowm.xchart.BitmapEncoder;
import org.knowm.xchart.XYChart;
import org.knowm.xchart.XYChartBuilder;
import org.knowm.xchart.XYSeries;
import org.knowm.xchart.style.Styler;
import org.knowm.xchart.style.markers.SeriesMarkers;

/**
 * Line and scatter charts written as PNG. Every chart has a title, both axis labels and a legend outside
 * the plot area (so no series is hidden under it); empty or mismatched series are rejected with a message
 * naming the series, because a silently empty plot is worse than none.
 */
public final class Charts {
    static {
        // Plots are drawn on servers and in CI: never try to open a display.
        System.setProperty("java.awt.headless", "true");
    }

    private Charts() { }

    /** How a series is drawn. */
    public enum Style { LINE, LINE_MARKERS, MARKERS }

    /**
     * One named series; {@code x} and {@code y} have the same length, at least 1. {@code color} is null for
     * the chart's default palette; a fixed colour lets a method keep its colour across every chart of a report.
     */
    public record Series(String name, double[] x, double[] y, Style style, Color color) {
        public Series(String name, double[] x, double[] y, Style style) { this(name, x, y, style, null); }

        public Series {
            Objects.requireNonNull(name, "series name");
            if (x.length != y.length) {
                throw new IllegalArgumentException("series '" + name + "': " + x.length + " x values but " + y.length + " y values");
            }
            if (x.length == 0) throw new IllegalArgumentException("series '" + name + "' is empty");
        }

        public static Series line(String name, double[] x, double[] y) { return new Series(name, x, y, Style.LINE); }
        public static Series points(String name, double[] x, double[] y) { return new Series(name, x, y, Style.MARKERS); }
        /** This series drawn in {@code c} (null: the palette's next colour). */
        public Series withColor(Color c) { return new Series(name, x, y, style, c); }
    }

    /** A chart: title, axis labels, optional log axes, size in pixels, and its series. */
    public static final class Chart {
        private final String title;
        private final String xLabel;
        private final String yLabel;
        private final List<Series> series = new ArrayList<>();
        private boolean logX, logY;
        private int width = 900, height = 540;
        private Double yMin, yMax;
        private Integer markerSize;
        private String xPattern;

        public Chart(String title, String xLabel, String yLabel) {
            this.title = Objects.requireNonNull(title);
            this.xLabel = Objects.requireNonNull(xLabel);
            this.yLabel = Objects.requireNonNull(yLabel);
        }

        public Chart add(Series s) { series.add(s); return this; }
        public Chart logX(boolean v) { logX = v; return this; }
        public Chart logY(boolean v) { logY = v; return this; }
        public Chart size(int w, int h) { width = w; height = h; return this; }
        public Chart yRange(double min, double max) { yMin = min; yMax = max; return this; }
        /** Marker size in pixels (XChart's default is 8: too large when thousands of points are marked). */
        public Chart markerSize(int px) { markerSize = px; return this; }
        /**
         * Integer x tick labels without grouping, spaced apart: XChart's default labels for step counts
         * ("1,000", "1,125", ...) run into each other.
         */
        public Chart integerX() { xPattern = "#"; return this; }
        public List<Series> series() { return List.copyOf(series); }

        /** Writes the chart as PNG to {@code png} (its parent directories are created). */
        public void savePng(Path png) {
            if (series.isEmpty()) throw new IllegalArgumentException("chart '" + title + "' has no series");
            XYChart c = new XYChartBuilder().width(width).height(height).title(title).xAxisTitle(xLabel).yAxisTitle(yLabel).build();
            var st = c.getStyler();
            st.setLegendPosition(Styler.LegendPosition.OutsideE);
            st.setChartBackgroundColor(Color.WHITE);
            st.setPlotBackgroundColor(Color.WHITE);
            st.setPlotGridLinesColor(new Color(225, 225, 225));
            c.getStyler().setXAxisLogarithmic(logX);
            c.getStyler().setYAxisLogarithmic(logY);
            if (yMin != null) { c.getStyler().setYAxisMin(yMin); c.getStyler().setYAxisMax(yMax); }
            if (markerSize != null) st.setMarkerSize(markerSize);
            if (xPattern != null) {
                st.setXAxisDecimalPattern(xPattern);
                st.setXAxisTickMarkSpacingHint(90);
            }
            for (Series s : series) {
                for (int i = 0; i < s.x().length; i++) {
                    if (!Double.isFinite(s.x()[i]) || !Double.isFinite(s.y()[i])) {
                        throw new IllegalArgumentException("series '" + s.name() + "' has a non-finite point at index " + i);
                    }
                }
                XYSeries xs = c.addSeries(s.name(), s.x(), s.y());
                switch (s.style()) {
                    case LINE -> xs.setMarker(SeriesMarkers.NONE);
                    case LINE_MARKERS -> { }
                    case MARKERS -> xs.setXYSeriesRenderStyle(XYSeries.XYSeriesRenderStyle.Scatter);
                }
                xs.setLineStyle(new BasicStroke(1.6f));
                if (s.color() != null) { xs.setLineColor(s.color()); xs.setMarkerColor(s.color()); }
            }
            try {
                Path parent = png.toAbsolutePath().getParent();
                if (parent != null) Files.createDirectories(parent);
                String name = png.toString();
                String base = name.endsWith(".png") ? name.substring(0, name.length() - 4) : name;
                BitmapEncoder.saveBitmap(c, base, BitmapEncoder.BitmapFormat.PNG);
            } catch (IOException e) {
                throw new UncheckedIOException("could not write plot " + png + ": " + e.getMessage(), e);
            }
        }
    }
}
