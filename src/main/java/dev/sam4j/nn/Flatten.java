package dev.sam4j.nn;

import dev.sam4j.backend.Backend;
import dev.sam4j.backend.Buffer;
import dev.sam4j.backend.ImageLayout;
import dev.sam4j.tensor.ParamLayout;
import dev.sam4j.tensor.Shape;

/**
 * {@code [C, H, W] → [C·H·W]} in NCHW order, whatever the backend's image layout. NCHW is already row-major per
 * example, so there this is only a change of the declared shape: forward returns its input and backward its
 * {@code dy}, with no copy and no buffer. On a backend that keeps images in NHWC ({@link Backend#imageLayout})
 * an image with more than one channel and more than one position is permuted to NCHW (and its gradient back):
 * the {@code Linear} that follows then has the same weights, in the same order, in either layout, so
 * checkpoints and the CPU agree.
 */
public final class Flatten implements Layer {
    private boolean skipDx;
    private int channels, hw;
    private boolean permute;
    private Backend be;
    private Buffer y, dx;  // permuting only: [maxBatch, C·H·W] in NCHW, and its gradient in the backend's layout

    @Override
    public Shape declare(String prefix, Shape input, ParamLayout.Builder params, ParamLayout.Builder state) {
        skipDx = false;
        channels = input.rank() == 3 ? input.dim(0) : 0;
        hw = input.rank() == 3 ? input.dim(1) * input.dim(2) : 0;
        return Shape.of(input.intSize());
    }

    @Override public void skipInputGradient() { skipDx = true; }

    @Override
    public void bind(Context ctx, int maxBatch) {
        be = ctx.backend();
        permute = be.imageLayout() != ImageLayout.NCHW && channels > 1 && hw > 1;
        y = permute ? ctx.allocateStored((long) maxBatch * channels * hw) : null;
        dx = permute && !skipDx ? ctx.allocateStored((long) maxBatch * channels * hw) : null;
    }

    @Override
    public Buffer forward(Buffer x, int n, Mode mode) {
        if (!permute) return x;
        Buffer yn = y.slice(0, (long) n * channels * hw);
        be.fromImageLayout(n, channels, hw, x, yn);  // exact: a bf16 input stays bf16
        return yn;
    }

    @Override
    public Buffer backward(Buffer dy, int n) {
        if (skipDx) return null;
        if (!permute) return dy;
        Buffer dxn = dx.slice(0, (long) n * channels * hw);
        be.toImageLayout(n, channels, hw, dy, dxn);
        return dxn;
    }

    @Override public String toString() { return "Flatten"; }
}
