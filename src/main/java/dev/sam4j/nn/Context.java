package dev.sam4j.nn;

import dev.sam4j.backend.Backend;
import dev.sam4j.backend.Buffer;
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
 * @param workspace   shared scratch for single backend calls, or null (each request then allocates)
 * @param allocations every buffer made through {@link #allocate}, in order, so that the owner can release
 *                    them; null when nobody tracks them
 */
public record Context(Backend backend, ParamLayout paramLayout, Buffer params, Buffer grads,
                      ParamLayout stateLayout, Buffer state, Buffer workspace, List<Buffer> allocations) {

    /** A context without a shared workspace, for binding single layers (tests, tools). */
    public Context(Backend backend, ParamLayout paramLayout, Buffer params, Buffer grads,
                   ParamLayout stateLayout, Buffer state) {
        this(backend, paramLayout, params, grads, stateLayout, state, null, new ArrayList<>());
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
