package dev.sam4j.nn;

import dev.sam4j.backend.Buffer;
import dev.sam4j.tensor.ParamLayout;
import dev.sam4j.tensor.Shape;

/**
 * {@code [C, H, W] → [C·H·W]}. NCHW is already row-major per example, so this is only a change of the
 * declared shape: forward returns its input and backward its {@code dy}, with no copy and no buffer.
 */
public final class Flatten implements Layer {
    private boolean skipDx;

    @Override
    public Shape declare(String prefix, Shape input, ParamLayout.Builder params, ParamLayout.Builder state) {
        skipDx = false;
        return Shape.of(input.intSize());
    }

    @Override public void skipInputGradient() { skipDx = true; }

    @Override public void bind(Context ctx, int maxBatch) {}

    @Override public Buffer forward(Buffer x, int n, Mode mode) { return x; }

    @Override public Buffer backward(Buffer dy, int n) { return skipDx ? null : dy; }

    @Override public String toString() { return "Flatten"; }
}
