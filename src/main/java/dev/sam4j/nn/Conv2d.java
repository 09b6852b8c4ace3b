package dev.sam4j.nn;

import dev.sam4j.backend.Backend;
import dev.sam4j.backend.Buffer;
import dev.sam4j.backend.ConvGeom;
import dev.sam4j.tensor.ParamLayout;
import dev.sam4j.tensor.ParamSpec;
import dev.sam4j.tensor.Role;
import dev.sam4j.tensor.Shape;

/**
 * 2-D convolution over NCHW with a square {@code k × k} kernel, equal strides and symmetric zero padding.
 * Weight {@code [outC, inC, k, k]} (PyTorch layout); output spatial size {@code (H + 2·pad − k) / stride + 1}.
 * Tensors: {@code <prefix>.weight} (WEIGHT), {@code <prefix>.bias} (BIAS, if enabled; usually off when a
 * BatchNorm follows, since the BN shift makes it redundant).
 */
public final class Conv2d implements Layer {
    private final int inC, outC, k, stride, pad;
    private final boolean hasBias;

    private ConvGeom geom;
    private ParamSpec weightSpec, biasSpec;
    private boolean skipDx;
    private Backend be;
    private Context ctx;
    private Buffer w, b, dw, db;   // [outC, inC, k, k], [outC]; w, b: the weights convolutions read (Context#computeParam)
    private Buffer y;              // [maxBatch, outC, outH, outW]
    private Buffer dx;             // [maxBatch, inC, H, W]
    private Buffer ws;             // backend scratch, shared with other layers
    private Buffer x;              // input of the last forward

    public Conv2d(int inC, int outC, int k, int stride, int pad, boolean bias) {
        if (inC <= 0 || outC <= 0 || k <= 0 || stride <= 0 || pad < 0) {
            throw new IllegalArgumentException("invalid Conv2d(" + inC + ", " + outC + ", k=" + k + ", stride=" + stride + ", pad=" + pad + ")");
        }
        this.inC = inC;
        this.outC = outC;
        this.k = k;
        this.stride = stride;
        this.pad = pad;
        this.hasBias = bias;
    }

    /** The geometry fixed by the last {@link #declare}. */
    public ConvGeom geom() { return geom; }

    @Override
    public Shape declare(String prefix, Shape input, ParamLayout.Builder params, ParamLayout.Builder state) {
        if (input.rank() != 3 || input.dim(0) != inC) {
            throw new IllegalArgumentException(prefix + ": Conv2d expects per-example input [" + inC + ", H, W], got " + input);
        }
        geom = new ConvGeom(inC, input.dim(1), input.dim(2), outC, k, k, stride, pad);
        weightSpec = params.add(Layer.join(prefix, "weight"), Shape.of(outC, inC, k, k), Role.WEIGHT);
        biasSpec = hasBias ? params.add(Layer.join(prefix, "bias"), Shape.of(outC), Role.BIAS) : null;
        skipDx = false;
        return Shape.of(outC, geom.outH(), geom.outW());
    }

    @Override public void skipInputGradient() { skipDx = true; }

    @Override public long workspaceSize(Backend backend, int maxBatch) { return backend.convWorkspaceSize(geom, maxBatch); }

    @Override public boolean usesSpatialOps() { return true; }

    @Override
    public void bind(Context ctx, int maxBatch) {
        this.ctx = ctx;
        be = ctx.backend();
        w = ctx.computeParam(weightSpec);
        dw = ctx.grad(weightSpec);
        if (hasBias) { b = ctx.computeParam(biasSpec); db = ctx.grad(biasSpec); }
        y = ctx.allocateStored((long) maxBatch * geom.outSize());
        dx = skipDx ? null : ctx.allocateStored((long) maxBatch * geom.inSize());
        ws = ctx.workspace(be.convWorkspaceSize(geom, maxBatch));
    }

    @Override
    public Buffer forward(Buffer x, int n, Mode mode) {
        this.x = x;
        Buffer yn = y.slice(0, (long) n * geom.outSize());
        be.convForward(geom, n, x, w, hasBias ? b : null, yn, ws);
        return ctx.stored(yn, (long) n * geom.outSize());
    }

    @Override
    public Buffer backward(Buffer dy, int n) {
        be.convBackwardFilter(geom, n, x, dy, dw, hasBias ? db : null, ws);
        ctx.storedWeightGradient(dw, geom.weightSize());  // bf16: rounded, as cuDNN computes it in the data's type
        if (skipDx) return null;
        Buffer dxn = dx.slice(0, (long) n * geom.inSize());
        be.convBackwardData(geom, n, dy, w, dxn, ws);
        return ctx.stored(dxn, (long) n * geom.inSize());
    }

    @Override
    public String toString() {
        return "Conv2d(" + inC + ", " + outC + ", k=" + k + ", stride=" + stride + ", pad=" + pad + (hasBias ? "" : ", bias=false") + ")";
    }
}
