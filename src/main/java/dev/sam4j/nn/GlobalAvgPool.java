package dev.sam4j.nn;

import dev.sam4j.backend.Backend;
import dev.sam4j.backend.Buffer;
import dev.sam4j.tensor.ParamLayout;
import dev.sam4j.tensor.Shape;

/** Mean over the spatial positions: {@code [C, H, W] → [C]}. */
public final class GlobalAvgPool implements Layer {
    private int channels, hw;
    private Context ctx;
    private Backend be;
    private Buffer y, dx;  // [maxBatch, C], [maxBatch, C, H, W]

    @Override public boolean usesSpatialOps() { return true; }

    @Override
    public Shape declare(String prefix, Shape input, ParamLayout.Builder params, ParamLayout.Builder state) {
        if (input.rank() != 3) throw new IllegalArgumentException(prefix + ": GlobalAvgPool expects [C, H, W], got " + input);
        channels = input.dim(0);
        hw = input.dim(1) * input.dim(2);
        return Shape.of(channels);
    }

    @Override
    public void bind(Context ctx, int maxBatch) {
        this.ctx = ctx;
        be = ctx.backend();
        y = ctx.allocateStored((long) maxBatch * channels);
        dx = ctx.allocateStored((long) maxBatch * channels * hw);
    }

    @Override
    public Buffer forward(Buffer x, int n, Mode mode) {
        Buffer yn = y.slice(0, (long) n * channels);
        be.globalAvgPoolForward(n, channels, hw, x, yn);
        return ctx.stored(yn, yn.length());
    }

    @Override
    public Buffer backward(Buffer dy, int n) {
        Buffer dxn = dx.slice(0, (long) n * channels * hw);
        be.globalAvgPoolBackward(n, channels, hw, dy, dxn);
        return ctx.stored(dxn, dxn.length());
    }

    @Override public String toString() { return "GlobalAvgPool"; }
}
