package dev.sam4j.data;

import java.util.ArrayList;
import java.util.List;
import java.util.Locale;

/**
 * The options of the user's own data sources ({@code npy}, {@code safetensors}, {@code imagefolder}),
 * written in the {@code --data} string between brackets after the kind, e.g.
 * {@code imagefolder[image-size=64,val-fraction=0.1,skip-bad-images]:DIR}. In the string, so that the
 * run's recorded configuration (and {@code --resume}, and {@code sam4j eval}) read the data exactly as the
 * run did; {@code sam4j train}'s {@code --image-size}, {@code --val-fraction}, ... options are written into
 * it for the user.
 *
 * @param valFraction   share of a single tree / array pair held out as the test set; NaN: not given (the
 *                      source's default applies where it needs one)
 * @param splitSeed     seed of that hold-out choice
 * @param layout        image array layout (arrays only)
 * @param imageSize     square side images are resized and cropped to; 0: not given (image folders only)
 * @param skipBadImages skip undecodable images and count them instead of failing (image folders only)
 * @param cache         keep decoded images in memory (image folders only; {@link Cache})
 */
public record SourceOptions(double valFraction, long splitSeed, ArrayData.Layout layout, int imageSize, boolean skipBadImages, Cache cache) {
    public static final SourceOptions NONE = new SourceOptions(Double.NaN, 0, ArrayData.Layout.AUTO, 0, false, Cache.AUTO);

    /**
     * Whether an image folder's decoded images are kept in memory after they are first decoded. AUTO (the
     * default): kept when they fit (half of the heap left at load), else decoded every epoch, so that a
     * large folder trains instead of being refused; ON: kept, and refused in one line when they do not fit;
     * OFF: decoded every epoch.
     */
    public enum Cache { AUTO, ON, OFF }
    /** The hold-out share when a single set is given and no {@code val-fraction}. */
    public static final double DEFAULT_VAL_FRACTION = 0.1;

    public double valFractionOr(double dflt) { return Double.isNaN(valFraction) ? dflt : valFraction; }

    /** Parses the text between the brackets; {@code IllegalArgumentException} with the reason. */
    static SourceOptions parse(String text) {
        double vf = Double.NaN;
        long seed = 0;
        ArrayData.Layout layout = ArrayData.Layout.AUTO;
        int size = 0;
        boolean skip = false;
        Cache cache = Cache.AUTO;
        if (text.isBlank()) return NONE;
        for (String item : text.split(",", -1)) {
            String t = item.strip();
            int eq = t.indexOf('=');
            String key = eq < 0 ? t : t.substring(0, eq).strip();
            String v = eq < 0 ? null : t.substring(eq + 1).strip();
            switch (key) {
                case "val-fraction" -> {
                    try {
                        vf = Double.parseDouble(need(key, v));
                    } catch (NumberFormatException e) {
                        throw new IllegalArgumentException("val-fraction must be a number, got '" + v + "'");
                    }
                    if (!(vf > 0 && vf < 1)) throw new IllegalArgumentException("val-fraction must be strictly between 0 and 1, got " + v);
                }
                case "split-seed" -> {
                    try {
                        seed = Long.parseLong(need(key, v));
                    } catch (NumberFormatException e) {
                        throw new IllegalArgumentException("split-seed must be a whole number, got '" + v + "'");
                    }
                }
                case "layout" -> layout = switch (need(key, v).toLowerCase(Locale.ROOT)) {
                    case "nchw" -> ArrayData.Layout.NCHW;
                    case "nhwc" -> ArrayData.Layout.NHWC;
                    case "auto" -> ArrayData.Layout.AUTO;
                    default -> throw new IllegalArgumentException("layout must be nchw, nhwc or auto, got '" + v + "'");
                };
                case "image-size" -> {
                    try {
                        size = Integer.parseInt(need(key, v));
                    } catch (NumberFormatException e) {
                        throw new IllegalArgumentException("image-size must be a whole number, got '" + v + "'");
                    }
                    if (size < 1 || size > 4096) throw new IllegalArgumentException("image-size must be in [1, 4096], got " + v);
                }
                case "skip-bad-images" -> skip = flag(key, v);
                case "cache" -> cache = switch (need(key, v).toLowerCase(Locale.ROOT)) {
                    case "on" -> Cache.ON;
                    case "off" -> Cache.OFF;
                    case "auto" -> Cache.AUTO;
                    default -> throw new IllegalArgumentException("cache must be on, off or auto, got '" + v + "'");
                };
                default -> throw new IllegalArgumentException("unknown option '" + key
                        + "' (known: val-fraction=F, split-seed=S, layout=nchw|nhwc, image-size=N, skip-bad-images, cache=on|off|auto)");
            }
        }
        return new SourceOptions(vf, seed, layout, size, skip, cache);
    }

    private static String need(String key, String v) {
        if (v == null || v.isEmpty()) throw new IllegalArgumentException(key + " needs a value (" + key + "=...)");
        return v;
    }

    private static boolean flag(String key, String v) {
        if (v != null) throw new IllegalArgumentException(key + " takes no value");
        return true;
    }

    /** {@code [..]} with the options that differ from {@link #NONE}, or "" when none do. */
    String text() {
        List<String> parts = new ArrayList<>();
        if (!Double.isNaN(valFraction)) parts.add("val-fraction=" + valFraction);
        if (splitSeed != 0) parts.add("split-seed=" + splitSeed);
        if (layout != ArrayData.Layout.AUTO) parts.add("layout=" + layout.name().toLowerCase(Locale.ROOT));
        if (imageSize != 0) parts.add("image-size=" + imageSize);
        if (skipBadImages) parts.add("skip-bad-images");
        if (cache != Cache.AUTO) parts.add("cache=" + cache.name().toLowerCase(Locale.ROOT));
        return parts.isEmpty() ? "" : "[" + String.join(",", parts) + "]";
    }

    /**
     * Which of {@code n} examples are held out: {@code round(n·fraction)} (at least one, at most
     * {@code n−1}) chosen uniformly with the seed, in their original order; the rest train.
     *
     * @return {train indices, test indices}
     */
    static int[][] holdOut(int n, double fraction, long seed, String src) {
        if (n < 2) throw new DataFileException(src, n + " example(s): cannot hold out a test set (need at least 2)");
        int k = (int) Math.max(1, Math.min(n - 1, Math.round(n * fraction)));
        int[] test = Subset.indices(n, k, seed ^ 0x484F4C444F5554L); // "HOLDOUT": a stream apart from --train-subset's
        boolean[] held = new boolean[n];
        for (int i : test) held[i] = true;
        int[] train = new int[n - k];
        for (int i = 0, j = 0; i < n; i++) if (!held[i]) train[j++] = i;
        return new int[][] {train, test};
    }
}
