package dev.sam4j.nn;

import dev.sam4j.backend.Backend;
import dev.sam4j.backend.Buffer;
import dev.sam4j.tensor.ParamLayout;
import dev.sam4j.tensor.Shape;

/**
 * {@code out = main(x) + shortcut(x)}, with the identity as the default shortcut. Backward sends
 * {@code dy} down both branches and sums the two input gradients.
 *
 * <p>Naming: {@code main} is transparent (declares directly under this layer's prefix, so a block's
 * {@code conv1} is {@code layer1.0.conv1}); the shortcut declares under {@code join(prefix, shortcutName)},
 * {@code "shortcut"} by default, giving {@code layer2.0.shortcut.0.weight} as in the common PyTorch ResNet.
 */
public final class Residual implements Layer {
    private final Layer main;
    private final Layer shortcut;      // null: identity
    private final String shortcutName;

    private long inSize, outSize;
    private boolean skipDx;
    private Context ctx;
    private Backend be;
    private Buffer out;     // [maxBatch, outSize]
    private Buffer dyCopy;  // [maxBatch, outSize]: dy for the second branch; the first may overwrite dy.
                            // With the identity shortcut it also receives dx.
    private Buffer dx;      // [maxBatch, inSize], only with a non-identity shortcut

    public Residual(Layer main, String shortcutName, Layer shortcut) {
        if (main == null) throw new IllegalArgumentException("Residual needs a main branch");
        this.main = main;
        this.shortcut = shortcut;
        this.shortcutName = shortcutName == null ? "" : shortcutName;
    }

    /** Shortcut named {@code "shortcut"}; null means identity. */
    public Residual(Layer main, Layer shortcut) { this(main, "shortcut", shortcut); }

    /** Identity shortcut. */
    public Residual(Layer main) { this(main, null, null); }

    public boolean identity() { return shortcut == null; }

    @Override
    public Shape declare(String prefix, Shape input, ParamLayout.Builder params, ParamLayout.Builder state) {
        Shape m = main.declare(prefix, input, params, state);
        Shape s = shortcut == null ? input : shortcut.declare(Layer.join(prefix, shortcutName), input, params, state);
        if (!m.equals(s)) {
            throw new IllegalArgumentException(prefix + ": residual branches disagree: main gives " + m + ", "
                    + (shortcut == null ? "identity gives " : "shortcut gives ") + s);
        }
        inSize = input.size();
        outSize = m.size();
        skipDx = false;
        return m;
    }

    @Override
    public void skipInputGradient() {
        skipDx = true;
        main.skipInputGradient();
        if (shortcut != null) shortcut.skipInputGradient();
    }

    @Override
    public boolean usesSpatialOps() { return main.usesSpatialOps() || shortcut != null && shortcut.usesSpatialOps(); }

    @Override
    public long workspaceSize(Backend backend, int maxBatch) {
        long w = main.workspaceSize(backend, maxBatch);
        return shortcut == null ? w : Math.max(w, shortcut.workspaceSize(backend, maxBatch));
    }

    @Override
    public void bind(Context ctx, int maxBatch) {
        this.ctx = ctx;
        be = ctx.backend();
        main.bind(ctx, maxBatch);
        if (shortcut != null) shortcut.bind(ctx, maxBatch);
        out = ctx.allocateStored(maxBatch * outSize);
        dyCopy = ctx.allocateStored(maxBatch * outSize);
        dx = shortcut == null || skipDx ? null : ctx.allocateStored(maxBatch * inSize);
    }

    @Override
    public Buffer forward(Buffer x, int n, Mode mode) {
        Buffer a = main.forward(x, n, mode);
        Buffer b = shortcut == null ? x : shortcut.forward(x, n, mode);
        Buffer o = out.slice(0, n * outSize);
        be.add(a, b, o, n * outSize);
        return ctx.stored(o, n * outSize);
    }

    @Override
    public Buffer backward(Buffer dy, int n) {
        long len = n * outSize;
        Buffer dy2 = dyCopy.slice(0, len);
        be.copy(dy, dy2, len);
        Buffer dxMain = main.backward(dy, n);
        if (shortcut == null) {
            if (skipDx) return null;
            be.add(dxMain, dy2, dy2, len);
            return ctx.stored(dy2, len);
        }
        Buffer dxShort = shortcut.backward(dy2, n);
        if (skipDx) return null;
        Buffer dxn = dx.slice(0, n * inSize);
        be.add(dxMain, dxShort, dxn, n * inSize);
        return ctx.stored(dxn, n * inSize);
    }

    @Override
    public String toString() {
        return "Residual(" + main + ", " + (shortcut == null ? "identity" : shortcutName + "=" + shortcut) + ")";
    }
}
