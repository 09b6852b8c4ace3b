package dev.sam4j.data;

import dev.sam4j.tensor.Shape;
import java.awt.Graphics2D;
import java.awt.RenderingHints;
import java.awt.image.BufferedImage;
import java.io.IOException;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.HashSet;
import java.util.Iterator;
import java.util.List;
import java.util.Locale;
import java.util.Set;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicIntegerArray;
import javax.imageio.ImageIO;
import javax.imageio.ImageReader;
import javax.imageio.event.IIOReadWarningListener;
import javax.imageio.stream.ImageInputStream;

/**
 * torchvision's {@code ImageFolder} layout: {@code DIR/train/<class>/...} and {@code DIR/val/<class>/...}
 * (or {@code DIR/test}), or one tree {@code DIR/<class>/...} of which a seeded share is held out
 * ({@code val-fraction}). What torchvision does, so that class indices mean the same in both:
 * <ul>
 *   <li>classes are the sub-directories of the root (symbolic links followed), sorted by name as Python
 *       sorts strings, i.e. by Unicode code point ({@link #CODE_POINT_ORDER}; Java's
 *       {@code String.compareTo} compares UTF-16 units, which orders characters beyond U+FFFF before
 *       U+E000..U+FFFF, unlike Python);</li>
 *   <li>each class's files are found recursively, directories and files sorted the same way, and kept
 *       if their lower-cased name ends in one of torchvision's {@code IMG_EXTENSIONS}; a class with no
 *       such file is an error, as in torchvision;</li>
 *   <li>images are resized so that the shorter side is {@code image-size} ({@code int(size·long/short)}
 *       for the longer, as torchvision's {@code Resize}) and centre-cropped to a square
 *       ({@code CenterCrop}'s rounding of the offsets). Resampling is the JDK's bilinear interpolation,
 *       not torchvision's antialiased one: pixel values differ slightly after a resize.</li>
 * </ul>
 * Differences: a directory reached twice through symbolic links (a loop) is read once, where Python's
 * {@code os.walk(followlinks=True)} would not end; {@code .ppm}, {@code .pgm} and {@code .webp} files are
 * listed like torchvision but the JDK cannot decode them (an error naming the file, or skipped and counted
 * under {@code skip-bad-images}).
 *
 * <p><b>Decoding.</b> Loading reads every file's header (size, gray or colour; one thread per core) and
 * decodes no pixels except the training images the normalisation statistics are measured on (a seeded
 * sample, {@link Normalization#fit}). The data sets are <em>streamed</em> ({@link Dataset#streamed()}): the
 * {@link BatchLoader} decodes each batch's images with {@code javax.imageio} on its decoder threads, ahead
 * of the step. With the {@code cache} option ({@link SourceOptions.Cache}; by default when they fit in
 * half of the heap left) each decoded image is kept, so epochs after the first decode nothing; without,
 * every epoch decodes again and memory holds only the loader's batches. A batch is the same bytes either
 * way. A warning from the decoder (a truncated JPEG decodes with one) counts as a bad image: an error
 * naming the file, or under {@code skip-bad-images} a one-line warning, counted, and the loader takes the
 * next readable example in its place.
 */
public final class ImageFolder {
    /** torchvision.datasets.folder.IMG_EXTENSIONS. */
    static final List<String> IMG_EXTENSIONS = List.of(".jpg", ".jpeg", ".png", ".ppm", ".bmp", ".pgm", ".tif", ".tiff", ".webp");

    /** Python's string order: by code point. */
    public static final Comparator<String> CODE_POINT_ORDER = (a, b) -> {
        int i = 0, j = 0;
        while (i < a.length() && j < b.length()) {
            int ca = a.codePointAt(i), cb = b.codePointAt(j);
            if (ca != cb) return Integer.compare(ca, cb);
            i += Character.charCount(ca);
            j += Character.charCount(cb);
        }
        return Integer.compare(a.length() - i, b.length() - j);
    };

    static {
        // Decoding and resizing need no display; on a server without one AWT must not look for it.
        if (System.getProperty("java.awt.headless") == null) System.setProperty("java.awt.headless", "true");
    }

    private ImageFolder() {}

    /** One image file and its class index. */
    record Sample(Path file, int label) {}

    /** Class names and samples of one tree, in torchvision's order. */
    record Tree(Path root, List<String> classes, List<Sample> samples) {}

    /** The class names of {@code root}: its sub-directories (links followed), in code point order. */
    static List<String> findClasses(Path root) {
        List<String> classes = new ArrayList<>();
        try (DirectoryStream<Path> ds = Files.newDirectoryStream(root)) {
            for (Path p : ds) if (Files.isDirectory(p)) classes.add(p.getFileName().toString());
        } catch (NoSuchFileException e) {
            throw new DataFileException(root.toString(), "no such directory");
        } catch (IOException e) {
            throw new DataFileException(root.toString(), "cannot list: " + e.getMessage(), e);
        }
        if (classes.isEmpty()) throw new DataFileException(root.toString(), "no class directories (expected ROOT/<class>/<image files>)");
        classes.sort(CODE_POINT_ORDER);
        return classes;
    }

    static boolean isImageName(String name) {
        String l = name.toLowerCase(Locale.ROOT);
        for (String e : IMG_EXTENSIONS) if (l.endsWith(e)) return true;
        return false;
    }

    /** The tree's samples in torchvision's order; {@code classes} given (the training tree's) or null (found here). */
    static Tree scan(Path root, List<String> classes) {
        List<String> found = findClasses(root);
        if (classes != null && !classes.equals(found)) {
            throw new DataFileException(root.toString(), "classes " + abbreviate(found) + " differ from the training tree's " + abbreviate(classes));
        }
        List<Sample> samples = new ArrayList<>();
        List<String> empty = new ArrayList<>();
        for (int c = 0; c < found.size(); c++) {
            int before = samples.size();
            Set<Path> visited = new HashSet<>();
            walk(root.resolve(found.get(c)), c, samples, visited);
            if (samples.size() == before) empty.add(found.get(c));
        }
        if (!empty.isEmpty()) {
            // torchvision: "Found no valid file for the classes ... Supported extensions are: ..."
            throw new DataFileException(root.toString(), "found no valid file for the classes " + abbreviate(empty)
                    + "; supported extensions are " + String.join(", ", IMG_EXTENSIONS));
        }
        return new Tree(root, found, samples);
    }

    private static void walk(Path dir, int label, List<Sample> out, Set<Path> visited) {
        Path real;
        try {
            real = dir.toRealPath();
        } catch (IOException e) {
            throw new DataFileException(dir.toString(), "cannot resolve: " + e.getMessage(), e);
        }
        if (!visited.add(real)) return; // reached again through a link: a loop, or the same files twice
        List<Path> entries = new ArrayList<>();
        try (DirectoryStream<Path> ds = Files.newDirectoryStream(dir)) {
            for (Path p : ds) entries.add(p);
        } catch (IOException e) {
            throw new DataFileException(dir.toString(), "cannot list: " + e.getMessage(), e);
        }
        entries.sort(Comparator.comparing(p -> p.getFileName().toString(), CODE_POINT_ORDER));
        // os.walk's order: this directory's files first, then each sub-directory in turn
        List<Path> dirs = new ArrayList<>();
        for (Path p : entries) {
            if (Files.isDirectory(p)) dirs.add(p);
            else if (isImageName(p.getFileName().toString()) && Files.isRegularFile(p)) out.add(new Sample(p, label));
        }
        for (Path d : dirs) walk(d, label, out, visited);
    }

    private static String abbreviate(List<String> names) {
        return names.size() <= 8 ? names.toString() : names.subList(0, 8) + " and " + (names.size() - 8) + " more";
    }

    /** Loads the data set; see the class comment. */
    static DataSplit load(Path dir, SourceOptions o) {
        String src = dir.toString();
        if (!Files.isDirectory(dir)) throw new DataFileException(src, Files.exists(dir) ? "not a directory" : "no such directory");
        Path trainDir = dir.resolve("train");
        Path valDir = Files.isDirectory(dir.resolve("val")) ? dir.resolve("val") : dir.resolve("test");
        boolean split = Files.isDirectory(trainDir) && Files.isDirectory(valDir);
        Tree train, test;
        String how;
        if (split) {
            if (!Double.isNaN(o.valFraction())) {
                throw new DataFileException(src, "has train/ and " + valDir.getFileName() + "/; val-fraction is for a single tree");
            }
            train = scan(trainDir, null);
            test = scan(valDir, train.classes());
            how = "train/ and " + valDir.getFileName() + "/";
        } else {
            Tree all = scan(dir, null);
            double f = o.valFractionOr(SourceOptions.DEFAULT_VAL_FRACTION);
            int[][] idx = SourceOptions.holdOut(all.samples().size(), f, o.splitSeed(), src);
            train = new Tree(dir, all.classes(), pick(all.samples(), idx[0]));
            test = new Tree(dir, all.classes(), pick(all.samples(), idx[1]));
            how = String.format(Locale.ROOT, "one tree, %.3g held out as the test set (split seed %d)", f, o.splitSeed());
        }
        List<Sample> every = new ArrayList<>(train.samples());
        every.addAll(test.samples());
        Probe probe = probe(every, o.skipBadImages());
        int size = o.imageSize();
        int h, w;
        if (size > 0) {
            h = w = size;
        } else if (probe.sizes.size() == 1) {
            int[] only = probe.sizes.iterator().next().clone();
            w = only[0];
            h = only[1];
        } else if (probe.sizes.isEmpty()) {
            throw new DataFileException(src, "no readable images");
        } else {
            throw new DataFileException(src, "images of " + probe.sizes.size() + " different sizes (e.g. " + probe.examples()
                    + "); give --image-size N to resize (shorter side) and centre-crop them to N×N");
        }
        int channels = probe.anyColour ? 3 : 1;
        int classes = train.classes().size();
        if (classes < 2) throw new DataFileException(src, "only one class (" + train.classes().get(0) + "); a classifier needs two or more");
        List<Sample> trs = new ArrayList<>(train.samples()), tes = new ArrayList<>(test.samples());
        trs.removeIf(x -> probe.badFiles.contains(x.file()));
        tes.removeIf(x -> probe.badFiles.contains(x.file()));
        if (trs.isEmpty() || tes.isEmpty()) throw new DataFileException(src, "no readable images left in the " + (trs.isEmpty() ? "training" : "test") + " set");
        Runtime rt = Runtime.getRuntime();
        long free = rt.maxMemory() - (rt.totalMemory() - rt.freeMemory());
        boolean cache = switch (o.cache()) {
            case OFF -> false;
            case ON -> { checkFits(src, trs.size() + tes.size(), channels, h, w, free); yield true; }
            case AUTO -> fits(trs.size() + tes.size(), channels, h, w, free);
        };
        long decodedBytes = (long) (trs.size() + tes.size()) * channels * h * w;
        AtomicInteger skipped = new AtomicInteger();
        String name = "imagefolder " + dir.getFileName();
        Shape shape = Shape.of(channels, h, w);
        Dataset tr = streamed(name + " (train)", shape, classes, trs, size > 0, o.skipBadImages(), cache, skipped);
        Dataset te = streamed(name + " (test)", shape, classes, tes, size > 0, o.skipBadImages(), cache, skipped);
        Normalization norm = Normalization.fit(tr);
        StringBuilder stats = new StringBuilder();
        for (int c = 0; c < channels; c++) {
            stats.append(c > 0 ? ", " : "").append(String.format(Locale.ROOT, "%.4f/%.4f", norm.mean(c), norm.std(c)));
        }
        int bad = probe.bad + skipped.get();
        String measured = Normalization.sampled(tr)
                ? "a seeded sample of " + Normalization.SAMPLE + " of the " + tr.size() + " training images"
                : "all " + tr.size() + " training images";
        String decoding = cache
                ? String.format(Locale.ROOT, "decoded on the loader's threads, kept in memory after the first decode (%.1f MiB)", decodedBytes / 1048576.0)
                : String.format(Locale.ROOT, "decoded on the loader's threads every epoch (not cached: %s)", o.cache() == SourceOptions.Cache.OFF
                        ? "cache=off" : (decodedBytes >> 20) + " MiB decoded would not fit in half of the " + (free >> 20) + " MiB of heap left");
        String desc = String.format(Locale.ROOT, "data: image folder %s (%s; %d classes %s; %d train / %d test; images %s%s%s; %s); "
                        + "normalisation (training split, mean/std per channel, measured on %s) %s", src, how, classes, abbreviate(train.classes()),
                tr.size(), te.size(), shape, size > 0 ? " after resize + centre crop" : "", channels == 1 ? ", all grayscale" : "",
                decoding, measured, stats)
                + (o.skipBadImages() ? "; " + bad + " undecodable image" + (bad == 1 ? "" : "s") + " skipped so far" : "");
        return new DataSplit(tr, te, desc);
    }

    private static Dataset streamed(String name, Shape shape, int classes, List<Sample> samples, boolean resize, boolean skipBad, boolean cache,
            AtomicInteger skipped) {
        int[] labels = new int[samples.size()];
        for (int i = 0; i < labels.length; i++) labels[i] = samples.get(i).label();
        ImageFiles files = new ImageFiles(samples, shape.dim(0), shape.dim(1), shape.dim(2), resize, skipBad, cache, skipped);
        return new Dataset(name, shape, classes, null, labels, files);
    }

    /** Whether {@code count} decoded images fit in half of {@code freeHeap} bytes. */
    static boolean fits(int count, int channels, int h, int w, long freeHeap) {
        return (long) count * channels * h * w <= freeHeap / 2;
    }

    /**
     * An image folder's examples, decoded on demand (by the loader's decoder threads) and, with the cache,
     * kept. Thread-safe: each index's state moves once from "not yet" to "cached" or "bad".
     */
    static final class ImageFiles implements Dataset.Examples {
        private static final int NOT_YET = 0, CACHED = 1, BAD = 2;
        private final List<Sample> samples;
        private final int channels, h, w, exampleSize;
        private final boolean resize, skipBad;
        private final AtomicIntegerArray state;
        private final byte[][] chunks;   // the cache: examples in chunks of perChunk (arrays stop at 2 GiB); null without
        private final int perChunk;
        private final AtomicInteger skipped;
        private Normalization normalization;

        ImageFiles(List<Sample> samples, int channels, int h, int w, boolean resize, boolean skipBad, boolean cache, AtomicInteger skipped) {
            this.samples = List.copyOf(samples);
            this.channels = channels;
            this.h = h;
            this.w = w;
            this.exampleSize = channels * h * w;
            this.resize = resize;
            this.skipBad = skipBad;
            this.state = new AtomicIntegerArray(samples.size());
            this.skipped = skipped;
            this.perChunk = Math.max(1, (1 << 30) / exampleSize);
            if (cache) {
                int n = samples.size();
                chunks = new byte[(n + perChunk - 1) / perChunk][];
                for (int c = 0; c < chunks.length; c++) chunks[c] = new byte[Math.min(perChunk, n - c * perChunk) * exampleSize];
            } else {
                chunks = null;
            }
        }

        @Override public int size() { return samples.size(); }

        /** The file of example {@code index}. */
        Path file(int index) { return samples.get(index).file(); }

        /** Whether decoded images are kept. */
        boolean cached() { return chunks != null; }

        @Override public boolean read(int index, byte[] out, int at) {
            int s = state.get(index);
            if (s == BAD) return false;
            if (s == CACHED) {
                System.arraycopy(chunks[index / perChunk], (index % perChunk) * exampleSize, out, at, exampleSize);
                return true;
            }
            Path file = file(index);
            try {
                BufferedImage im = ImageFolder.read(file);
                if (resize) im = resizeCrop(im, h);
                else if (im.getWidth() != w || im.getHeight() != h) {
                    throw new IOException(im.getWidth() + "x" + im.getHeight() + ", not the " + w + "x" + h + " its header gave");
                }
                toChw(im, channels, out, at);
            } catch (IOException | RuntimeException ex) {
                if (!skipBad) throw new DataFileException(file.toString(), "cannot decode: " + oneLine(ex));
                if (state.compareAndSet(index, NOT_YET, BAD)) {
                    int k = skipped.incrementAndGet();
                    System.err.println("warning: " + file + ": cannot decode, skipped (" + oneLine(ex) + "); " + k + " skipped so far");
                }
                return false;
            }
            if (chunks != null) {
                System.arraycopy(out, at, chunks[index / perChunk], (index % perChunk) * exampleSize, exampleSize);
                state.set(index, CACHED); // after the bytes: a reader that sees CACHED sees them (volatile write/read)
            }
            return true;
        }

        @Override public synchronized Normalization normalization(Dataset self) {
            if (normalization == null) normalization = Normalization.fitSample(self);
            return normalization;
        }
    }

    /**
     * Under {@code cache=on}: refuses, in one line, decoded images that would take more than half of the
     * {@code freeHeap} bytes left (the loader's float batches, the model and the rest of the run need the
     * other half).
     */
    static void checkFits(String src, int count, int channels, int h, int w, long freeHeap) {
        if (!fits(count, channels, h, w, freeHeap)) {
            long bytes = (long) count * channels * h * w;
            throw new DataFileException(src, String.format(Locale.ROOT, "cache=on (--cache): %d images of %dx%dx%d need %d MiB decoded, more "
                    + "than half of the %d MiB of heap left; drop --cache (images are then decoded every epoch) or give a larger -Xmx "
                    + "(SAM4J_JAVA_OPTS)", count, channels, h, w, bytes >> 20, freeHeap >> 20));
        }
    }

    private static List<Sample> pick(List<Sample> all, int[] idx) {
        List<Sample> out = new ArrayList<>(idx.length);
        for (int i : idx) out.add(all.get(i));
        return out;
    }

    /** What the headers say: the distinct sizes, whether any image has colour; bad files counted (or thrown). */
    private static final class Probe {
        final Set<List<Integer>> sizeKeys = new java.util.LinkedHashSet<>();
        final List<int[]> sizes = new ArrayList<>();
        boolean anyColour;
        int bad;
        final Set<Path> badFiles = new HashSet<>();

        String examples() {
            StringBuilder b = new StringBuilder();
            for (int i = 0; i < Math.min(3, sizes.size()); i++) b.append(i > 0 ? ", " : "").append(sizes.get(i)[0]).append('x').append(sizes.get(i)[1]);
            return b.toString();
        }
    }

    /**
     * Reads every file's header (size and colour model) without decoding the pixels, on the worker threads.
     * A file the JDK cannot open is bad here already.
     */
    private static Probe probe(List<Sample> samples, boolean skipBad) {
        Probe p = new Probe();
        int[][] dims = new int[samples.size()][];
        boolean[] colour = new boolean[samples.size()];
        String[] errors = new String[samples.size()];
        Workers.forEach(samples.size(), Workers.threads(samples.size()), "sam4j-imagefolder", (worker, i) -> {
            try (ImageInputStream in = ImageIO.createImageInputStream(samples.get(i).file().toFile())) {
                ImageReader r = in == null ? null : first(ImageIO.getImageReaders(in));
                if (r == null) { errors[i] = "not an image the JDK can decode (png, jpeg, bmp, gif, tiff)"; return; }
                try {
                    r.setInput(in, true, true);
                    dims[i] = new int[] {r.getWidth(0), r.getHeight(0)};
                    var type = r.getRawImageType(0);
                    int comps = type != null ? type.getColorModel().getNumColorComponents() : 3;
                    colour[i] = comps != 1 && !isGrayIndexed(type);
                } finally {
                    r.dispose();
                }
            } catch (IOException | RuntimeException e) {
                errors[i] = "cannot read the image header (" + oneLine(e) + ")";
            }
        });
        for (int i = 0; i < samples.size(); i++) {
            if (errors[i] != null) {
                if (!skipBad) throw new DataFileException(samples.get(i).file().toString(), errors[i]);
                p.bad++;
                p.badFiles.add(samples.get(i).file());
                continue;
            }
            if (p.sizeKeys.add(List.of(dims[i][0], dims[i][1]))) p.sizes.add(dims[i]);
            p.anyColour |= colour[i];
        }
        return p;
    }

    private static boolean isGrayIndexed(javax.imageio.ImageTypeSpecifier t) {
        if (t == null || !(t.getColorModel() instanceof java.awt.image.IndexColorModel icm)) return false;
        for (int i = 0; i < icm.getMapSize(); i++) {
            if (icm.getRed(i) != icm.getGreen(i) || icm.getGreen(i) != icm.getBlue(i)) return false;
        }
        return true;
    }

    private static <T> T first(Iterator<T> it) { return it.hasNext() ? it.next() : null; }

    private static String oneLine(Throwable e) {
        String m = e.getMessage() == null ? e.getClass().getSimpleName() : e.getMessage();
        return m.replaceAll("[\\r\\n]+", " ");
    }

    /** Decodes one file; any decoder warning (e.g. "premature end of JPEG file") makes it bad. */
    static BufferedImage read(Path file) throws IOException {
        try (ImageInputStream in = ImageIO.createImageInputStream(file.toFile())) {
            if (in == null) throw new IOException("cannot open");
            ImageReader r = first(ImageIO.getImageReaders(in));
            if (r == null) throw new IOException("not an image the JDK can decode");
            try {
                r.setInput(in, true, true);
                String[] warning = {null};
                r.addIIOReadWarningListener((IIOReadWarningListener) (src, w) -> { if (warning[0] == null) warning[0] = w; });
                BufferedImage im = r.read(0);
                if (warning[0] != null) throw new IOException("damaged (" + warning[0] + ")");
                return im;
            } finally {
                r.dispose();
            }
        }
    }

    /** torchvision's Resize(size) then CenterCrop(size), with bilinear interpolation. */
    static BufferedImage resizeCrop(BufferedImage im, int size) {
        int w = im.getWidth(), h = im.getHeight();
        int nw, nh;
        if (w <= h) { nw = size; nh = (int) ((long) size * h / w); } else { nh = size; nw = (int) ((long) size * w / h); }
        BufferedImage scaled = im;
        if (nw != w || nh != h) {
            // gray into gray: drawing a gray image onto RGB would pass it through a colour-space conversion
            boolean gray = im.getColorModel().getNumColorComponents() == 1;
            scaled = new BufferedImage(nw, nh, gray ? BufferedImage.TYPE_BYTE_GRAY : BufferedImage.TYPE_INT_RGB);
            Graphics2D g = scaled.createGraphics();
            g.setRenderingHint(RenderingHints.KEY_INTERPOLATION, RenderingHints.VALUE_INTERPOLATION_BILINEAR);
            g.drawImage(im, 0, 0, nw, nh, null);
            g.dispose();
        }
        int top = (int) Math.round((nh - size) / 2.0), left = (int) Math.round((nw - size) / 2.0);
        return scaled.getSubimage(left, top, size, size);
    }

    /** Pixels as CHW bytes: RGB, or the gray level when {@code channels} is 1 (every image gray). */
    static void toChw(BufferedImage im, int channels, byte[] out, int at) {
        int w = im.getWidth(), h = im.getHeight(), plane = w * h;
        boolean gray = im.getColorModel().getNumColorComponents() == 1 && im.getRaster().getNumBands() >= 1;
        java.awt.image.Raster raster = im.getRaster();
        for (int y = 0; y < h; y++) {
            for (int x = 0; x < w; x++) {
                int p = y * w + x;
                if (channels == 1) {
                    // a gray image's own sample (getRGB would pass it through the sRGB conversion and change it)
                    int v = gray ? raster.getSample(x, y, 0) : im.getRGB(x, y) & 0xFF;
                    if (gray && raster.getSampleModel().getSampleSize(0) == 16) v >>= 8;
                    out[at + p] = (byte) v;
                } else if (gray) {
                    int v = raster.getSample(x, y, 0);
                    if (raster.getSampleModel().getSampleSize(0) == 16) v >>= 8;
                    out[at + p] = out[at + plane + p] = out[at + 2 * plane + p] = (byte) v;
                } else {
                    int rgb = im.getRGB(x, y);
                    out[at + p] = (byte) (rgb >> 16);
                    out[at + plane + p] = (byte) (rgb >> 8);
                    out[at + 2 * plane + p] = (byte) rgb;
                }
            }
        }
    }
}
