package dev.sam4j.backend;

import java.util.Locale;

/**
 * How a backend lays out the images between layers in its buffers ({@code --image-layout}). The values are the same
 * in both; only their order in memory differs, so a run computes the same thing in either (up to the summation
 * order a library picks), and the parameter arena, checkpoints and the CPU are unaffected:
 * <ul>
 *   <li>{@link #NCHW}: channel planes, PyTorch's default and every backend's;</li>
 *   <li>{@link #NHWC}: channels innermost ("channels-last"), what cuDNN's tensor-core convolution kernels read
 *       without transposing. A CUDA backend opened with it keeps every activation and activation gradient of a
 *       convnet in NHWC; the model's input arrives in NCHW and is permuted once ({@link Backend#toImageLayout}),
 *       and {@code Flatten} permutes back, so that the {@code Linear} weights keep their order.</li>
 * </ul>
 */
public enum ImageLayout {
    NCHW("nchw"),
    NHWC("nhwc");

    private final String label;

    ImageLayout(String label) { this.label = label; }

    /** The name on the command line and in run files: {@code nchw}, {@code nhwc}. */
    public String label() { return label; }

    /** The layout named {@code s} (case-insensitive, trimmed; {@code channels-last} is NHWC); the error names the valid values. */
    public static ImageLayout parse(String s) {
        String p = s == null ? "" : s.trim().toLowerCase(Locale.ROOT);
        if (p.equals("channels-last") || p.equals("channels_last")) return NHWC;
        for (ImageLayout v : values()) if (v.label.equals(p)) return v;
        throw new IllegalArgumentException("--image-layout: must be nchw or nhwc, got '" + s + "'");
    }

    @Override public String toString() { return label; }
}
