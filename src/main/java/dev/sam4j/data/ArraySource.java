package dev.sam4j.data;

import dev.sam4j.io.FileFormatException;
import dev.sam4j.io.SafeTensors;
import java.nio.file.Path;
import java.util.Locale;

/**
 * Loads {@code npy:} and {@code safetensors:} data sets (see {@link ArrayData} for what the arrays may
 * be). With a test set given it is the test set; without one, {@link SourceOptions#holdOut} holds out a
 * seeded share ({@code val-fraction}, default {@value SourceOptions#DEFAULT_VAL_FRACTION}) of the one set.
 */
final class ArraySource {
    private ArraySource() {}

    static DataSplit npy(Path trainImages, Path trainLabels, Path testImages, Path testLabels, SourceOptions o) {
        ArrayData.Images ti = ArrayData.images(NpyReader.read(trainImages, "images"), o.layout());
        int[] tl = ArrayData.labels(NpyReader.read(trainLabels, "labels"));
        if (ti.count() != tl.length) {
            throw new DataFileException(trainLabels.toString(), tl.length + " labels but " + trainImages + " holds " + ti.count() + " images");
        }
        if (testImages == null) return holdOut("npy " + trainImages.getFileName(), trainImages.toString(), ti, tl, o);
        ArrayData.Images vi = ArrayData.images(NpyReader.read(testImages, "images"), o.layout());
        int[] vl = ArrayData.labels(NpyReader.read(testLabels, "labels"));
        if (vi.count() != vl.length) {
            throw new DataFileException(testLabels.toString(), vl.length + " labels but " + testImages + " holds " + vi.count() + " images");
        }
        if (!vi.exampleShape().equals(ti.exampleShape())) {
            throw new DataFileException(testImages.toString(), "images of " + vi.exampleShape() + " but the training images ("
                    + trainImages + ") are " + ti.exampleShape());
        }
        return given("npy " + trainImages.getFileName(), trainImages + ", " + testImages, ti, tl, vi, vl);
    }

    static DataSplit safetensors(Path file, SourceOptions o) {
        String src = file.toString();
        SafeTensors.Contents c;
        try {
            c = SafeTensors.read(file);
        } catch (FileFormatException e) {
            throw asDataFile(src, e);
        }
        for (String required : new String[] {"images", "labels"}) {
            if (!c.has(required)) throw new DataFileException(src, "no tensor named '" + required + "' (need 'images' and 'labels', optionally 'test_images' and 'test_labels')");
        }
        if (c.has("test_images") != c.has("test_labels")) {
            throw new DataFileException(src, "has " + (c.has("test_images") ? "'test_images' but no 'test_labels'" : "'test_labels' but no 'test_images'"));
        }
        for (String name : c.entries().keySet()) {
            if (!name.equals("images") && !name.equals("labels") && !name.equals("test_images") && !name.equals("test_labels")) {
                throw new DataFileException(src, "unexpected tensor '" + name + "' (a data file holds images, labels, test_images, test_labels)");
            }
        }
        ArrayData.Images ti = ArrayData.images(array(c, "images"), o.layout());
        int[] tl = ArrayData.labels(array(c, "labels"));
        if (ti.count() != tl.length) throw new DataFileException(src, ti.count() + " images but " + tl.length + " labels");
        if (!c.has("test_images")) return holdOut("safetensors " + file.getFileName(), src, ti, tl, o);
        ArrayData.Images vi = ArrayData.images(array(c, "test_images"), o.layout());
        int[] vl = ArrayData.labels(array(c, "test_labels"));
        if (vi.count() != vl.length) throw new DataFileException(src, vi.count() + " test images but " + vl.length + " test labels");
        if (!vi.exampleShape().equals(ti.exampleShape())) {
            throw new DataFileException(src, "test images of " + vi.exampleShape() + " but training images of " + ti.exampleShape());
        }
        return given("safetensors " + file.getFileName(), src, ti, tl, vi, vl);
    }

    private static ArrayData.Array array(SafeTensors.Contents c, String name) {
        SafeTensors.Entry e = c.entries().get(name);
        ArrayData.DType t;
        try {
            t = ArrayData.DType.valueOf(e.dtype().toUpperCase(Locale.ROOT));
        } catch (IllegalArgumentException ex) {
            t = ArrayData.DType.OTHER;
        }
        if (t == ArrayData.DType.OTHER) {
            throw new DataFileException(c.path().toString(), "tensor '" + name + "' is " + e.dtype() + "; "
                    + (name.endsWith("images") ? "images must be U8 or F32" : "labels must be U8, I32 or I64"));
        }
        // The dtype is checked before the bytes are read, so a wrong-typed tensor costs no allocation.
        if (name.endsWith("images") ? t != ArrayData.DType.U8 && t != ArrayData.DType.F32
                : t != ArrayData.DType.U8 && t != ArrayData.DType.I32 && t != ArrayData.DType.I64) {
            return new ArrayData.Array(c.path().toString(), "tensor '" + name + "'", t, e.shape(), new byte[0]);
        }
        try {
            return new ArrayData.Array(c.path().toString(), "tensor '" + name + "'", t, e.shape(), c.bytes(name));
        } catch (FileFormatException ex) {
            throw asDataFile(c.path().toString(), ex);
        }
    }

    /**
     * The same message as the data sets' own type (the command line and the fuzzers tell them apart by
     * it), starting with the file's name: the JSON reader's messages start with "FILE header: ...".
     */
    private static DataFileException asDataFile(String src, FileFormatException e) {
        if (e instanceof DataFileException d) return d;
        String m = e.getMessage();
        String rest = m.startsWith(src + ": ") ? m.substring(src.length() + 2) : m.startsWith(src + " ") ? m.substring(src.length() + 1) : m;
        return new DataFileException(src, rest, e);
    }

    private static DataSplit holdOut(String name, String src, ArrayData.Images im, int[] labels, SourceOptions o) {
        int classes = ArrayData.classes(labels);
        Dataset all = ArrayData.dataset(name, src, im, labels, classes);
        double f = o.valFractionOr(SourceOptions.DEFAULT_VAL_FRACTION);
        int[][] split = SourceOptions.holdOut(all.size(), f, o.splitSeed(), src);
        Dataset train = all.select(split[0], name + " (train)");
        Dataset test = all.select(split[1], name + " (held out)");
        return new DataSplit(train, test, String.format(Locale.ROOT, "data: %s, %s images of %s, %d classes (%s; %.3g held out as the test set, split seed %d)",
                src, all.size(), all.exampleShape(), classes, FashionMnist.counts(train, test), f, o.splitSeed()));
    }

    private static DataSplit given(String name, String src, ArrayData.Images ti, int[] tl, ArrayData.Images vi, int[] vl) {
        int classes = ArrayData.classes(tl, vl);
        Dataset train = ArrayData.dataset(name + " (train)", src, ti, tl, classes);
        Dataset test = ArrayData.dataset(name + " (test)", src, vi, vl, classes);
        return new DataSplit(train, test, "data: " + src + ", images of " + train.exampleShape() + ", " + classes + " classes ("
                + FashionMnist.counts(train, test) + ")");
    }
}
