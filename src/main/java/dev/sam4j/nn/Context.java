package dev.sam4j.nn;

import dev.sam4j.backend.Backend;
import dev.sam4j.backend.Buffer;
import dev.sam4j.backend.Precision;
import dev.sam4j.tensor.ParamLayout;
import dev.sam4j.tensor.ParamSpec;
import java.util.ArrayList;
import java.util.List;

/**
 * What a layer binds to: the backend, the parameter and gradient arenas (sharing {@code params}' layout)
 * and the state arena (BatchNorm running statistics, layout {@code state}). Layers take views of their
 * own tensors from here and never allocate arenas themselves.
 *
 * <p>Activation buffers are allocated through {@link #allocate} so that the owner (a {@link Model}) can
 * account for them and release them. Scratch memory that is only used <em>inside</em> one backend call
 * (the convolution workspace) comes from {@link #workspace(long)}: one buffer shared by every layer, sized
 * by the largest {@link Layer#workspaceSize} request, because per-layer im2col workspaces would cost
 * hundreds of megabytes each on a deep network.
 *
 * <p>Precision ({@link Precision}): in bf16 a layer multiplies with the weights of {@link #computeParam}, a bf16
 * shadow of the parameter arena that the owner keeps up to date, and passes each output and input gradient it
 * writes through {@link #stored}, which rounds it to bf16 as a device implementation would store it. In fp32
 * and TF32 both are the identity (TF32 is the backend's GEMM and convolution arithmetic), so those layers run
 * exactly their fp32 code. On a backend that {@linkplain Backend#storesBf16Natively stores bf16 natively} a layer
 * allocates what it stores with {@link #allocateStored} (16-bit buffers there), the backend's operations round as
 * they write them, and {@link #stored} has nothing left to do; a result the layer finishes in fp32 first (a
 * {@code Linear}'s GEMM plus its bias) goes through {@link #storeInto}. Convolution weight gradients are rounded to
 * bf16 ({@link #storedWeightGradient}): cuDNN computes them in the data's type, as PyTorch's autocast does.
 *
 * @param workspace     shared scratch for single backend calls, or null (each request then allocates)
 * @param allocations   every buffer made through {@link #allocate}, in order, so that the owner can release
 *                      them; null when nobody tracks them
 * @param precision     what the layers compute in
 * @param computeParams the weights GEMMs and convolutions read: the bf16 shadow of {@code params} (same
 *                      layout) in bf16, else {@code params} itself
 */
public record Context(Backend backend, ParamLayout paramLayout, Buffer params, Buffer grads,
                      ParamLayout stateLayout, Buffer state, Buffer workspace, List<Buffer> allocations,
                      Precision precision, Buffer computeParams) {

    public Context {
        if (precision == null) throw new IllegalArgumentException("precision must not be null");
        if (computeParams == null) throw new IllegalArgumentException("computeParams must not be null (params in fp32)");
        if (!precision.storesBf16() && computeParams != params) {
            throw new IllegalArgumentException("a separate compute copy of the weights is only for bf16");
        }
    }

    /** In fp32. */
    public Context(Backend backend, ParamLayout paramLayout, Buffer params, Buffer grads,
                   ParamLayout stateLayout, Buffer state, Buffer workspace, List<Buffer> allocations) {
        this(backend, paramLayout, params, grads, stateLayout, state, workspace, allocations, Precision.FP32, params);
    }

    /** A context without a shared workspace, for binding single layers (tests, tools), in fp32. */
    public Context(Backend backend, ParamLayout paramLayout, Buffer params, Buffer grads,
                   ParamLayout stateLayout, Buffer state) {
        this(backend, paramLayout, params, grads, stateLayout, state, null, new ArrayList<>());
    }

    /** The view of {@code spec} that GEMMs and convolutions read: the bf16 shadow in bf16, else {@link #param}. */
    public Buffer computeParam(ParamSpec spec) { return computeParams.slice(spec.offset(), spec.size()); }

    /**
     * {@code b}, its first {@code n} elements rounded to bf16 in place when the layers store in bf16 (to nearest,
     * ties to even, as a device's bf16 store rounds); unchanged otherwise. For each layer's output and input gradient.
     */
    public Buffer stored(Buffer b, long n) {
        if (precision.storesBf16() && !backend.storesBf16Natively() && n > 0) backend.roundTo(Precision.BF16, b, b, n);
        return b;
    }

    /** Whether the layers' stored buffers are the backend's native bf16 ones (a bf16 run on such a backend). */
    public boolean nativeBf16() { return precision.storesBf16() && backend.storesBf16Natively(); }

    /**
     * A buffer for what a layer stores (its output or input gradient): native bf16 storage in a bf16 run on a
     * backend that has it, else a float buffer ({@link #allocate}).
     */
    public Buffer allocateStored(long n) {
        if (!nativeBf16()) return allocate(n);
        Buffer b = backend.allocateBf16(Math.max(1, n));
        if (allocations != null) allocations.add(b);
        return n == 0 ? b.slice(0, 0) : b;
    }

    /**
     * A float buffer for a result a layer finishes in fp32 before storing it ({@link #storeInto}): its own buffer in
     * native bf16, else {@code stored} itself (the emulation rounds in place).
     */
    public Buffer accumulator(Buffer stored, long n) { return nativeBf16() ? allocate(n) : stored; }

    /** {@code stored = acc} as stored ({@link #stored}): rounded into the native bf16 buffer, or in place. */
    public Buffer storeInto(Buffer acc, Buffer stored, long n) {
        if (acc == stored || !nativeBf16()) return stored(stored, n);
        if (n > 0) backend.roundTo(Precision.BF16, acc, stored, n);
        return stored;
    }

    /**
     * A convolution's weight gradient as a bf16 run computes it: rounded to bf16 (then accumulated into the fp32
     * arena). A native backend's convolution already wrote it rounded; the emulation rounds it here.
     */
    public void storedWeightGradient(Buffer dw, long n) {
        if (precision.storesBf16() && !backend.storesBf16Natively() && n > 0) backend.roundTo(Precision.BF16, dw, dw, n);
    }

    /** The parameter view of {@code spec}. */
    public Buffer param(ParamSpec spec) { return params.slice(spec.offset(), spec.size()); }

    /** The gradient view of {@code spec} (same offsets as the parameter arena). */
    public Buffer grad(ParamSpec spec) { return grads.slice(spec.offset(), spec.size()); }

    /** The state view of {@code spec} (a tensor of the state layout). */
    public Buffer state(ParamSpec spec) { return state.slice(spec.offset(), spec.size()); }

    /** A new zero-filled buffer owned by whoever owns this context; {@code n} may be 0. */
    public Buffer allocate(long n) {
        // Some device allocators reject zero-byte requests; a one-element buffer sliced to zero is portable.
        Buffer b = backend.allocate(Math.max(1, n));
        if (allocations != null) allocations.add(b);
        return n == 0 ? b.slice(0, 0) : b;
    }

    /**
     * Scratch of at least {@code n} elements whose contents do not survive from one backend call to the
     * next: the shared workspace when it is large enough, else a private allocation.
     */
    public Buffer workspace(long n) {
        if (workspace != null && workspace.length() >= n) return workspace;
        return allocate(n);
    }
}
