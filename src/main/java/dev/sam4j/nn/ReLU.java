package dev.sam4j.nn;

import dev.sam4j.backend.Backend;
import dev.sam4j.backend.Buffer;
import dev.sam4j.tensor.ParamLayout;
import dev.sam4j.tensor.Shape;

/**
 * {@code y = max(x, 0)} on any shape. Backward runs in place on {@code dy} (allowed by the
 * {@link Layer} contract), saving one activation-sized buffer per ReLU. In bf16 both are exact (a maximum
 * with zero, a mask), so nothing is rounded here.
 */
public final class ReLU implements Layer {
    private long size;
    private Backend be;
    private Buffer y;  // [maxBatch, size]

    @Override
    public Shape declare(String prefix, Shape input, ParamLayout.Builder params, ParamLayout.Builder state) {
        size = input.size();
        return input;
    }

    @Override
    public void bind(Context ctx, int maxBatch) {
        be = ctx.backend();
        y = ctx.allocateStored(maxBatch * size);
    }

    @Override
    public Buffer forward(Buffer x, int n, Mode mode) {
        Buffer yn = y.slice(0, n * size);
        be.reluForward(x, yn, n * size);
        return yn;
    }

    @Override
    public Buffer backward(Buffer dy, int n) {
        be.reluBackward(y, dy, dy, n * size);
        return dy;
    }

    @Override public String toString() { return "ReLU"; }
}
