package dev.sam4j.nn;

import dev.sam4j.backend.Backend;
import dev.sam4j.backend.Buffer;
import dev.sam4j.backend.PoolGeom;
import dev.sam4j.tensor.ParamLayout;
import dev.sam4j.tensor.Shape;

/**
 * Max pooling with a {@code k × k} window over {@code [C, H, W]}; padded cells never win. Backward routes
 * each output gradient to the first maximum of its window (ties are resolved the same way on every backend).
 */
public final class MaxPool2d implements Layer {
    private final int k, stride, pad;

    private PoolGeom geom;
    private Context ctx;
    private Backend be;
    private Buffer y, dx;  // [maxBatch, C, outH, outW], [maxBatch, C, H, W]
    private Buffer x;      // input of the last forward

    public MaxPool2d(int k, int stride, int pad) {
        if (k <= 0 || stride <= 0 || pad < 0 || pad >= k) {
            throw new IllegalArgumentException("invalid MaxPool2d(k=" + k + ", stride=" + stride + ", pad=" + pad + ")");
        }
        this.k = k;
        this.stride = stride;
        this.pad = pad;
    }

    /** Non-overlapping {@code k × k} pooling. */
    public MaxPool2d(int k) { this(k, k, 0); }

    @Override public boolean usesSpatialOps() { return true; }

    @Override
    public Shape declare(String prefix, Shape input, ParamLayout.Builder params, ParamLayout.Builder state) {
        if (input.rank() != 3) throw new IllegalArgumentException(prefix + ": MaxPool2d expects [C, H, W], got " + input);
        geom = new PoolGeom(input.dim(0), input.dim(1), input.dim(2), k, stride, pad);
        return Shape.of(geom.channels(), geom.outH(), geom.outW());
    }

    @Override
    public void bind(Context ctx, int maxBatch) {
        this.ctx = ctx;
        be = ctx.backend();
        y = ctx.allocateStored((long) maxBatch * geom.outSize());
        dx = ctx.allocateStored((long) maxBatch * geom.inSize());
    }

    @Override
    public Buffer forward(Buffer x, int n, Mode mode) {
        this.x = x;
        Buffer yn = y.slice(0, (long) n * geom.outSize());
        be.maxPoolForward(geom, n, x, yn);
        return yn;
    }

    @Override
    public Buffer backward(Buffer dy, int n) {
        Buffer dxn = dx.slice(0, (long) n * geom.inSize());
        be.maxPoolBackward(geom, n, x, y, dy, dxn);
        // The forward's maximum of bf16 values is one of them; overlapping windows may add two gradients here.
        return ctx.stored(dxn, dxn.length());
    }

    @Override public String toString() { return "MaxPool2d(k=" + k + ", stride=" + stride + ", pad=" + pad + ")"; }
}
