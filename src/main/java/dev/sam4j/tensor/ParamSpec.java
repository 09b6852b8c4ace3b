package dev.sam4j.tensor;

/**
 * One row of a {@link ParamLayout}: the tensor {@code name} (PyTorch-style, e.g. {@code layers.0.weight})
 * occupies {@code shape.size()} floats starting at {@code offset} of its arena.
 */
public record ParamSpec(String name, Shape shape, long offset, Role role) {
    public long size() { return shape.size(); }
    public long end() { return offset + shape.size(); }
}
