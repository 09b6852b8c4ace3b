package dev.sam4j.data;

import dev.sam4j.tensor.Shape;
import java.util.Objects;

/**
 * An in-memory labelled image set: {@code size()} examples of {@code exampleShape} (C, H, W) stored as
 * unsigned bytes (pixel values 0..255, channel-planar per example, i.e. CHW), with integer labels in
 * {@code [0, classes)}. Bytes keep CIFAR-10 at 150 MB instead of 600 MB; the loader converts and
 * normalises on its background threads.
 *
 * @param name        where it came from, for the run log (e.g. "fashion-mnist (embedded sample)")
 * @param exampleShape per-example shape {@code [C, H, W]}
 * @param classes     number of classes
 * @param pixels      {@code size · C·H·W} bytes
 * @param labels      {@code size} labels
 */
public record Dataset(String name, Shape exampleShape, int classes, byte[] pixels, int[] labels) {
    public Dataset {
        if (exampleShape.rank() != 3) throw new IllegalArgumentException("example shape must be [C, H, W], got " + exampleShape);
        if ((long) labels.length * exampleShape.size() != pixels.length) {
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
        return new Dataset(newName, exampleShape, classes, pixels, newLabels);
    }
}
