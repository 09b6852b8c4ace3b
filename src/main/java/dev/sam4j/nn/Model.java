package dev.sam4j.nn;

import dev.sam4j.backend.Backend;
import dev.sam4j.backend.Buffer;
import dev.sam4j.backend.Precision;
import dev.sam4j.tensor.ParamLayout;
import dev.sam4j.tensor.ParamSpec;
import dev.sam4j.tensor.Role;
import dev.sam4j.tensor.Shape;
import java.util.ArrayList;
import java.util.List;
import java.util.SplittableRandom;

/**
 * A network bound to a backend: one parameter arena, one gradient arena of the same layout and one state
 * arena (BatchNorm running statistics), all described by {@link ParamLayout} tables, plus the layers'
 * activation buffers for batches of up to {@code maxBatch} and one convolution workspace shared by all
 * layers. Optimizers act on {@link #params()} and {@link #grads()} as single flat ranges.
 *
 * <p>Initialisation ({@link #initialize}) is seeded and fixed: one {@link SplittableRandom} walks the
 * parameter table in order; WEIGHT tensors get Kaiming-normal values ({@code std = sqrt(2 / fan_in)},
 * {@code fan_in} = product of the dimensions after the first, the ReLU gain), BIAS and BN_SHIFT zeros,
 * BN_SCALE ones; running means are 0 and running variances 1. Values are made on the host and uploaded,
 * so every backend starts from the same floats.
 *
 * <p>A layer instance belongs to one model: binding stores views into that model's arenas in the layers.
 *
 * <p>In {@link Precision#BF16} the model also holds a bf16 shadow of the parameter arena, which the layers'
 * GEMMs and convolutions read ({@link Context#computeParams}), and a bf16 copy of its input. Every
 * {@link #forward} first writes the shadow from the fp32 weights, one rounding pass: whatever changed the
 * weights since the last forward is seen, without the optimizer knowing about precisions. An optimizer that
 * writes the shadow itself in the same pass as the weights ({@link #handShadowToOptimizer}: the SAM-family
 * optimizer and the CUDA graph step do, through the {@code Backend} operations that take a shadow) spares
 * that pass: then forward reads the shadow as it is, and {@link #uploadParams} (checkpoints, loads) rewrites
 * it with the weights. {@link #backward} rounds {@code dLogits} to bf16 first, since it is
 * the first GEMM input of the backward pass. In fp32 and TF32 neither exists and nothing is rounded here.
 *
 * <p>Image layout ({@link dev.sam4j.backend.ImageLayout}): inputs are always NCHW. On a backend that keeps images
 * in NHWC, an image input with more than one channel is permuted into a model-owned copy before the first layer
 * (and then rounded there in bf16), and {@link Flatten} permutes back, so every layer in between sees the
 * backend's layout and the parameters keep theirs.
 */
public final class Model implements AutoCloseable {

    /** The tables a network declares for a per-example input, and its per-example output shape. */
    public record Layouts(ParamLayout params, ParamLayout state, Shape output) {
        /** Trainable floats. */
        public long paramCount() { return params.total(); }
    }

    private final Layer root;
    private final Shape inputShape;
    private final int classes, maxBatch;
    private final Backend backend;
    private final ParamLayout paramLayout, stateLayout;
    private final Buffer params, grads, state, workspace;
    private final Precision precision;
    private final Buffer shadow;          // bf16 only: the rounded weights; null otherwise
    private final Buffer input;           // bf16 or a permuted image input: the input the first layer reads; null otherwise
    private final boolean permuteInput;   // the backend keeps images in another layout than the input's NCHW
    private final boolean nativeBf16;     // bf16 on a backend with bf16 storage: shadow, input and activations 16-bit
    private final Buffer permuted;        // native bf16 in channels-last: the permuted float input; null otherwise
    private final Buffer dLogits16;       // native bf16: dLogits as the first GEMM of backward reads them; null otherwise
    private final List<Buffer> allocations;
    private final long activationFloats;
    private boolean closed;
    private boolean shadowHandedOver;     // the optimizer writes the shadow with the weights: forward does not round them

    /**
     * Declares, allocates, binds and initialises {@code root} for per-example inputs of {@code inputShape}
     * (e.g. {@code [3, 32, 32]}); the network must map them to {@code [classes]} logits.
     */
    public Model(Layer root, Shape inputShape, int classes, Backend backend, int maxBatch, long seed) {
        this(root, inputShape, classes, backend, maxBatch, seed, Precision.FP32);
    }

    /**
     * As {@link #Model(Layer, Shape, int, Backend, int, long)}, with the layers computing in {@code precision}
     * ({@link Precision}), which {@code backend} must support.
     */
    public Model(Layer root, Shape inputShape, int classes, Backend backend, int maxBatch, long seed, Precision precision) {
        if (precision == null) throw new IllegalArgumentException("precision must not be null");
        if (!backend.supports(precision)) {
            throw new IllegalArgumentException("precision " + precision + ": " + backend.unsupportedReason(precision));
        }
        this.precision = precision;
        if (maxBatch < 1) throw new IllegalArgumentException("maxBatch must be positive, got " + maxBatch);
        this.root = root;
        this.inputShape = inputShape;
        this.classes = classes;
        this.backend = backend;
        this.maxBatch = maxBatch;
        Layouts l = layoutOf(root, inputShape);
        if (!l.output().equals(Shape.of(classes))) {
            throw new IllegalArgumentException("network maps " + inputShape + " to " + l.output() + ", expected [" + classes + "] logits");
        }
        this.paramLayout = l.params();
        this.stateLayout = l.state();
        // The input gradient is never used, so the first layer may skip computing it.
        root.skipInputGradient();

        allocations = new ArrayList<>();
        params = arena(paramLayout.total());
        grads = arena(paramLayout.total());
        state = arena(stateLayout.total());
        long ws = root.workspaceSize(backend, maxBatch);
        workspace = ws > 0 ? arena(ws) : null;
        boolean bf16 = precision.storesBf16();
        nativeBf16 = bf16 && backend.storesBf16Natively();
        shadow = bf16 ? (nativeBf16 ? arena16(paramLayout.total()) : arena(paramLayout.total())) : null;
        permuteInput = backend.imageLayout() != dev.sam4j.backend.ImageLayout.NCHW && inputShape.rank() == 3
                && inputShape.dim(0) > 1 && (long) inputShape.dim(1) * inputShape.dim(2) > 1;
        long inputSize = maxBatch * inputShape.size();
        input = nativeBf16 ? arena16(inputSize) : bf16 || permuteInput ? arena(inputSize) : null;
        // native bf16 in channels-last: the float input permuted here, then rounded into the bf16 input
        permuted = nativeBf16 && permuteInput ? arena(inputSize) : null;
        dLogits16 = nativeBf16 ? arena16((long) maxBatch * classes) : null;
        int before = allocations.size();
        Context ctx = new Context(backend, paramLayout, params, grads, stateLayout, state, workspace, allocations,
                precision, bf16 ? shadow : params);
        root.bind(ctx, maxBatch);
        long act = 0;
        for (Buffer b : allocations.subList(before, allocations.size())) act += b.length();
        activationFloats = act;
        initialize(seed);
    }

    /**
     * The parameter and state tables of {@code root} for per-example inputs of {@code inputShape}, without
     * allocating anything (counting parameters of a large network is cheap).
     */
    public static Layouts layoutOf(Layer root, Shape inputShape) {
        ParamLayout.Builder p = new ParamLayout.Builder(), s = new ParamLayout.Builder();
        Shape out = root.declare("", inputShape, p, s);
        return new Layouts(p.build(), s.build(), out);
    }

    private Buffer arena16(long n) {
        Buffer b = backend.allocateBf16(Math.max(1, n));
        allocations.add(b);
        return n == 0 ? b.slice(0, 0) : b;
    }

    private Buffer arena(long n) {
        Buffer b = backend.allocate(Math.max(1, n));
        allocations.add(b);
        return n == 0 ? b.slice(0, 0) : b;
    }

    /** Re-initialises parameters and state from {@code seed} (see the class comment); gradients are zeroed. */
    public void initialize(long seed) {
        checkOpen();
        SplittableRandom rnd = new SplittableRandom(seed);
        float[] p = new float[Math.toIntExact(paramLayout.total())];
        for (ParamSpec s : paramLayout.specs()) {
            int off = Math.toIntExact(s.offset()), len = Math.toIntExact(s.size());
            switch (s.role()) {
                case WEIGHT -> {
                    double std = Math.sqrt(2.0 / fanIn(s));
                    for (int i = 0; i < len; i++) p[off + i] = (float) (rnd.nextGaussian() * std);
                }
                case BN_SCALE -> java.util.Arrays.fill(p, off, off + len, 1f);
                case BIAS, BN_SHIFT -> { } // zeros
                default -> throw new IllegalStateException("non-trainable tensor in the parameter layout: " + s);
            }
        }
        uploadParams(p);
        float[] st = new float[Math.toIntExact(stateLayout.total())];
        for (ParamSpec s : stateLayout.specs()) {
            if (s.role() == Role.RUNNING_VAR) {
                java.util.Arrays.fill(st, Math.toIntExact(s.offset()), Math.toIntExact(s.end()), 1f);
            }
        }
        uploadState(st);
        backend.fill(grads, 0f, paramLayout.total());
    }

    /** Product of the dimensions after the first: {@code in} for {@code [out, in]}, {@code inC·k·k} for a conv. */
    static long fanIn(ParamSpec s) {
        long f = 1;
        for (int i = 1; i < s.shape().rank(); i++) f *= s.shape().dim(i);
        return f;
    }

    /**
     * Logits {@code [n, classes]} for the inputs {@code x[n, inputShape]}. The result belongs to the model
     * (valid until the next forward); {@code x} must stay unchanged until the matching {@link #backward}.
     */
    public Buffer forward(Buffer x, int n, Mode mode) {
        checkOpen();
        checkBatch(n);
        long need = n * inputShape.size();
        if (x.length() < need) {
            throw new IllegalArgumentException("input has " + x.length() + " elements, a batch of " + n + " × " + inputShape + " needs " + need);
        }
        if (input == null) return root.forward(x.slice(0, need), n, mode);
        if (shadow != null && !shadowHandedOver) backend.roundTo(Precision.BF16, params, shadow, paramLayout.total());
        Buffer xn = input.slice(0, need);
        if (nativeBf16) {
            Buffer src = x;
            if (permuteInput) {
                src = permuted.slice(0, need);
                backend.toImageLayout(n, inputShape.dim(0), inputShape.dim(1) * inputShape.dim(2), x, src);
            }
            backend.roundTo(Precision.BF16, src, xn, need);
            return root.forward(xn, n, mode);
        }
        if (permuteInput) {
            backend.toImageLayout(n, inputShape.dim(0), inputShape.dim(1) * inputShape.dim(2), x, xn);
            if (shadow != null) backend.roundTo(Precision.BF16, xn, xn, need);
        } else {
            backend.roundTo(Precision.BF16, x, xn, need);
        }
        return root.forward(xn, n, mode);
    }

    /**
     * Back-propagates {@code dLogits[n, classes]} through the last forward (same {@code n}), writing every
     * tensor of the gradient arena. {@code dLogits} may be overwritten.
     */
    public void backward(Buffer dLogits, int n) {
        checkOpen();
        checkBatch(n);
        Buffer d = dLogits.slice(0, (long) n * classes);
        if (nativeBf16) {
            Buffer d16 = dLogits16.slice(0, (long) n * classes);
            backend.roundTo(Precision.BF16, d, d16, d.length());
            root.backward(d16, n);
            return;
        }
        if (precision.storesBf16()) backend.roundTo(Precision.BF16, d, d, d.length());
        root.backward(d, n);
    }

    private void checkBatch(int n) {
        if (n < 1 || n > maxBatch) {
            throw new IllegalArgumentException("batch size " + n + " is outside [1, maxBatch=" + maxBatch + "] of this model");
        }
    }

    private void checkOpen() {
        if (closed) throw new IllegalStateException("model is closed");
    }

    public ParamLayout paramLayout() { return paramLayout; }
    public ParamLayout stateLayout() { return stateLayout; }
    /** The parameter arena, {@code [paramCount]}. */
    public Buffer params() { return params; }
    /** The gradient arena, same layout as {@link #params()}. */
    public Buffer grads() { return grads; }
    /** The state arena (running statistics), layout {@link #stateLayout()}. */
    public Buffer state() { return state; }
    public long paramCount() { return paramLayout.total(); }
    public Backend backend() { return backend; }
    /** What the layers compute in. */
    public Precision precision() { return precision; }
    public Shape inputShape() { return inputShape; }
    public int classes() { return classes; }
    public int maxBatch() { return maxBatch; }
    public Layer root() { return root; }
    /** Floats of activation, gradient and workspace buffers (everything but the three arenas and the bf16 shadow). */
    public long activationFloats() {
        return activationFloats + (workspace == null ? 0 : workspace.length()) + (input == null ? 0 : input.length());
    }

    public float[] downloadParams() { return download(params, paramLayout.total()); }
    public float[] downloadState() { return download(state, stateLayout.total()); }
    public float[] downloadGrads() { return download(grads, paramLayout.total()); }

    public void uploadParams(float[] values) {
        upload(values, params, paramLayout.total(), "parameter");
        refreshShadow();
    }

    /**
     * The bf16 shadow of the parameter arena (same layout) that the layers' GEMMs and convolutions read in a
     * {@link Precision#BF16} model, or null in fp32 and TF32.
     */
    public Buffer bf16Shadow() { return shadow; }

    /**
     * Hands the upkeep of the bf16 shadow to the caller, an optimizer that from now on writes it whenever it
     * writes the weights, in the same pass (every weight-writing {@code Backend} operation has a form taking the
     * shadow): {@link #forward} then stops rounding the whole arena before each pass. The shadow is written
     * once here, so it is current. Weights written by other means must be followed by {@link #refreshShadow}
     * ({@link #uploadParams} does it). Returns the shadow, or null when the model has none (fp32, TF32: then
     * nothing changes).
     */
    public Buffer handShadowToOptimizer() {
        checkOpen();
        if (shadow == null) return null;
        shadowHandedOver = true;
        refreshShadow();
        return shadow;
    }

    /** Rewrites the bf16 shadow from the weights (one rounding pass); nothing without a shadow. */
    public void refreshShadow() {
        if (shadow != null) backend.roundTo(Precision.BF16, params, shadow, paramLayout.total());
    }
    public void uploadState(float[] values) { upload(values, state, stateLayout.total(), "state"); }

    private float[] download(Buffer b, long n) {
        checkOpen();
        float[] out = new float[Math.toIntExact(n)];
        if (n > 0) backend.download(b, out, 0, out.length);
        return out;
    }

    private void upload(float[] v, Buffer b, long n, String what) {
        checkOpen();
        if (v.length != n) throw new IllegalArgumentException(what + " upload of " + v.length + " floats, the layout holds " + n);
        if (n > 0) backend.upload(v, 0, b, v.length);
    }

    /** One line: parameters, state and activation memory. */
    public String describe() {
        return String.format(java.util.Locale.ROOT, "%,d parameters in %d tensors, %,d state floats, %,d activation floats for batches of %d on %s%s",
                paramCount(), paramLayout.size(), stateLayout.total(), activationFloats(), maxBatch, backend.name(),
                precision == Precision.FP32 ? "" : ", " + precision);
    }

    /**
     * Releases the model's buffers where the backend's buffers are closeable (device memory); host buffers
     * are left to the garbage collector. The backend itself stays open: it is not the model's.
     */
    @Override
    public void close() {
        if (closed) return;
        closed = true;
        RuntimeException first = null;
        for (Buffer b : allocations) {
            if (b instanceof AutoCloseable c) {
                try {
                    c.close();
                } catch (Exception e) {
                    if (first == null) first = new IllegalStateException("closing a model buffer failed", e);
                }
            }
        }
        allocations.clear();
        if (first != null) throw first;
    }
}
