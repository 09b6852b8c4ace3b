package dev.sam4j.nn;

import dev.sam4j.backend.Backend;
import dev.sam4j.backend.Buffer;
import dev.sam4j.tensor.ParamLayout;
import dev.sam4j.tensor.ParamSpec;
import dev.sam4j.tensor.Role;
import dev.sam4j.tensor.Shape;

/**
 * Fully connected layer {@code y = x·Wᵀ + b} over {@code [n, in]} inputs. The weight is stored
 * {@code [out, in]} (PyTorch's layout, so checkpoints map one to one). Backward:
 * {@code dW = dyᵀ·x}, {@code db = Σ_rows dy}, {@code dx = dy·W}.
 * Tensors: {@code <prefix>.weight} (WEIGHT), {@code <prefix>.bias} (BIAS, if enabled).
 */
public final class Linear implements Layer {
    private final int in, out;
    private final boolean hasBias;

    private ParamSpec weightSpec, biasSpec;
    private boolean skipDx;
    private Backend be;
    private Context ctx;
    private Buffer w, b, dw, db;   // [out, in], [out]; w, b: the weights GEMMs read (Context#computeParam)
    private Buffer y;              // [maxBatch, out]
    private Buffer acc;            // native bf16: the fp32 GEMM result before its bias and rounding into y; else y
    private Buffer dx;             // [maxBatch, in]
    private Buffer x;              // input of the last forward, [n, in]

    public Linear(int in, int out, boolean bias) {
        if (in <= 0 || out <= 0) throw new IllegalArgumentException("Linear(" + in + ", " + out + "): sizes must be positive");
        this.in = in;
        this.out = out;
        this.hasBias = bias;
    }

    public Linear(int in, int out) { this(in, out, true); }

    public int in() { return in; }
    public int out() { return out; }

    @Override
    public Shape declare(String prefix, Shape input, ParamLayout.Builder params, ParamLayout.Builder state) {
        if (input.rank() != 1 || input.dim(0) != in) {
            throw new IllegalArgumentException(prefix + ": Linear expects per-example input [" + in + "], got " + input
                    + (input.rank() > 1 ? " (put a Flatten in front)" : ""));
        }
        weightSpec = params.add(Layer.join(prefix, "weight"), Shape.of(out, in), Role.WEIGHT);
        biasSpec = hasBias ? params.add(Layer.join(prefix, "bias"), Shape.of(out), Role.BIAS) : null;
        skipDx = false;
        return Shape.of(out);
    }

    @Override public void skipInputGradient() { skipDx = true; }

    @Override
    public void bind(Context ctx, int maxBatch) {
        this.ctx = ctx;
        be = ctx.backend();
        w = ctx.computeParam(weightSpec);
        dw = ctx.grad(weightSpec);
        if (hasBias) { b = ctx.computeParam(biasSpec); db = ctx.grad(biasSpec); }
        y = ctx.allocateStored((long) maxBatch * out);
        acc = ctx.accumulator(y, (long) maxBatch * out);
        dx = skipDx ? null : ctx.allocateStored((long) maxBatch * in);
    }

    @Override
    public Buffer forward(Buffer x, int n, Mode mode) {
        this.x = x;
        Buffer yn = y.slice(0, (long) n * out);
        if (ctx.nativeBf16()) {
            // The GEMM in fp32, then its bias and one rounding into the bf16 output, as the emulation rounds once.
            Buffer an = acc.slice(0, (long) n * out);
            be.gemm(false, true, n, out, in, 1f, x, in, w, in, 0f, an, out);
            be.addRowBiasStored(an, hasBias ? b : null, yn, n, out);
            return yn;
        }
        be.gemm(false, true, n, out, in, 1f, x, in, w, in, 0f, yn, out);
        if (hasBias) be.addRowBias(yn, b, n, out);
        return ctx.stored(yn, (long) n * out);
    }

    @Override
    public Buffer backward(Buffer dy, int n) {
        // dW[out, in] = dyᵀ[out, n] · x[n, in]
        be.gemm(true, false, out, in, n, 1f, dy, out, x, in, 0f, dw, in);
        if (hasBias) be.sumRows(dy, db, n, out);
        if (skipDx) return null;
        Buffer dxn = dx.slice(0, (long) n * in);
        // dx[n, in] = dy[n, out] · W[out, in]
        be.gemm(false, false, n, in, out, 1f, dy, out, w, in, 0f, dxn, in);
        return ctx.stored(dxn, (long) n * in);
    }

    @Override public String toString() { return "Linear(" + in + ", " + out + (hasBias ? "" : ", bias=false") + ")"; }
}
