package dev.sam4j.tensor;

import java.util.Arrays;

/** An immutable list of non-negative dimensions, outermost first (e.g. {@code [out, in]} or NCHW). */
public final class Shape {
    private final int[] dims;
    private final long size;

    private Shape(int[] dims) {
        long s = 1;
        for (int d : dims) {
            if (d < 0) throw new IllegalArgumentException("negative dimension in " + Arrays.toString(dims));
            s = Math.multiplyExact(s, d);
        }
        this.dims = dims;
        this.size = s;
    }

    public static Shape of(int... dims) {
        return new Shape(dims.clone());
    }

    public int rank() { return dims.length; }

    public int dim(int i) { return dims[i]; }

    public int[] dims() { return dims.clone(); }

    /** Number of elements (product of the dimensions; 1 for a scalar). */
    public long size() { return size; }

    /** Element count as an int, for CPU arrays; fails loudly past 2^31-1. */
    public int intSize() { return Math.toIntExact(size); }

    /** A shape with {@code n} prepended, e.g. the batch dimension. */
    public Shape withBatch(int n) {
        int[] d = new int[dims.length + 1];
        d[0] = n;
        System.arraycopy(dims, 0, d, 1, dims.length);
        return new Shape(d);
    }

    @Override public boolean equals(Object o) { return o instanceof Shape s && Arrays.equals(dims, s.dims); }
    @Override public int hashCode() { return Arrays.hashCode(dims); }
    @Override public String toString() {
        StringBuilder b = new StringBuilder("[");
        for (int i = 0; i < dims.length; i++) { if (i > 0) b.append(", "); b.append(dims[i]); }
        return b.append(']').toString();
    }
}
