package dev.sam4j.data;

import dev.sam4j.tensor.Shape;
import java.util.Objects;

/**
 * A labelled image set: {@code size()} examples of {@code exampleShape} (C, H, W) as unsigned bytes (pixel
 * values 0..255, channel-planar per example, i.e. CHW), with integer labels in {@code [0, classes)}. Bytes
 * keep CIFAR-10 at 150 MB instead of 600 MB; the loader converts and normalises on its background threads.
 *
 * <p>Either in memory ({@code pixels}, {@code examples} null) or <b>streamed</b> ({@code pixels} null,
 * {@code examples} reads one example on demand, e.g. decodes an image file): then the loader reads each
 * batch's examples on its decoder threads ahead of the step, and nothing needs the whole set in memory.
 * Code that needs every byte at once calls {@link #materialize()}.
 *
 * @param name        where it came from, for the run log (e.g. "fashion-mnist (embedded sample)")
 * @param exampleShape per-example shape {@code [C, H, W]}
 * @param classes     number of classes
 * @param pixels      {@code size · C·H·W} bytes; null when streamed
 * @param labels      {@code size} labels
 * @param examples    the examples' reader when streamed; null when in memory
 */
public record Dataset(String name, Shape exampleShape, int classes, byte[] pixels, int[] labels, Examples examples) {
    /**
     * Examples read on demand. {@link #read} is called from several threads at once (for different
     * indices, or the same one twice); it must give the same bytes for an index every time.
     */
    public interface Examples {
        /** How many examples. */
        int size();

        /**
         * Writes example {@code index}'s C·H·W bytes to {@code out[at..]}; false if it cannot be read and
         * the source skips such examples (then the caller substitutes another). An example that cannot be
         * read otherwise throws, naming the file.
         */
        boolean read(int index, byte[] out, int at);

        /** The normalisation statistics of this set (as {@link Normalization#fit} documents for streamed sets). */
        Normalization normalization(Dataset self);
    }

    /** An in-memory data set. */
    public Dataset(String name, Shape exampleShape, int classes, byte[] pixels, int[] labels) {
        this(name, exampleShape, classes, pixels, labels, null);
    }

    public Dataset {
        if (exampleShape.rank() != 3) throw new IllegalArgumentException("example shape must be [C, H, W], got " + exampleShape);
        if (examples != null) {
            if (pixels != null) throw new IllegalArgumentException(name + ": streamed, so no pixels in memory");
            if (examples.size() != labels.length) {
                throw new IllegalArgumentException(name + ": " + labels.length + " labels but " + examples.size() + " examples");
            }
        } else if ((long) labels.length * exampleShape.size() != pixels.length) {
            throw new IllegalArgumentException(name + ": " + labels.length + " labels but " + pixels.length
                    + " pixel bytes for examples of " + exampleShape);
        }
        for (int i = 0; i < labels.length; i++) {
            if (labels[i] < 0 || labels[i] >= classes) {
                throw new IllegalArgumentException(name + ": label " + labels[i] + " of example " + i + " is outside [0, " + classes + ")");
            }
        }
    }

    public int size() { return labels.length; }

    /** Whether examples are read on demand ({@link #examples()}) instead of held in {@link #pixels()}. */
    public boolean streamed() { return examples != null; }

    /**
     * Example {@code index}'s bytes into {@code out[at..]}; false when it is an unreadable example that the
     * source skips (streamed sets only).
     */
    public boolean read(int index, byte[] out, int at) {
        Objects.checkIndex(index, size());
        if (examples != null) return examples.read(index, out, at);
        System.arraycopy(pixels, index * exampleSize(), out, at, exampleSize());
        return true;
    }

    /**
     * The same data set held in memory (this one if it already is): every example read once. An example
     * that cannot be read is an error here (there is no other to put in its place).
     */
    public Dataset materialize() {
        if (examples == null) return this;
        int e = exampleSize();
        byte[] px = new byte[Math.multiplyExact(size(), e)];
        for (int i = 0; i < size(); i++) {
            if (!examples.read(i, px, i * e)) throw new IllegalStateException(name + ": example " + i + " cannot be read (skipped by its source)");
        }
        return new Dataset(name, exampleShape, classes, px, labels);
    }

    public int exampleSize() { return exampleShape.intSize(); }

    public int channels() { return exampleShape.dim(0); }

    public int height() { return exampleShape.dim(1); }

    public int width() { return exampleShape.dim(2); }

    /** How many examples carry each label; index = class. */
    public int[] classCounts() {
        int[] counts = new int[classes];
        for (int label : labels) counts[label]++;
        return counts;
    }

    /**
     * A new dataset holding copies of the given examples, in the given order (repeats allowed).
     *
     * @throws IndexOutOfBoundsException if an index is outside {@code [0, size())}
     */
    public Dataset select(int[] indices, String newName) {
        if (examples != null) {
            int[] lb = new int[indices.length];
            int[] idx = indices.clone();
            for (int i = 0; i < idx.length; i++) lb[i] = labels[Objects.checkIndex(idx[i], size())];
            return new Dataset(newName, exampleShape, classes, null, lb, new Selected(examples, idx));
        }
        int e = exampleSize();
        byte[] px = new byte[Math.multiplyExact(indices.length, e)];
        int[] lb = new int[indices.length];
        for (int i = 0; i < indices.length; i++) {
            int src = Objects.checkIndex(indices[i], size());
            System.arraycopy(pixels, src * e, px, i * e, e);
            lb[i] = labels[src];
        }
        return new Dataset(newName, exampleShape, classes, px, lb);
    }

    /** The same images (shared, not copied: both are treated as read-only) with other labels. */
    public Dataset withLabels(int[] newLabels, String newName) {
        return new Dataset(newName, exampleShape, classes, pixels, newLabels, examples);
    }

    /** Some of a streamed set's examples, by index (a selection reads through, it copies nothing). */
    private static final class Selected implements Examples {
        private final Examples parent;
        private final int[] indices;
        private Normalization normalization;

        Selected(Examples parent, int[] indices) {
            this.parent = parent;
            this.indices = indices;
        }

        @Override public int size() { return indices.length; }

        @Override public boolean read(int index, byte[] out, int at) { return parent.read(indices[index], out, at); }

        @Override public synchronized Normalization normalization(Dataset self) {
            if (normalization == null) normalization = Normalization.fitSample(self);
            return normalization;
        }
    }
}
