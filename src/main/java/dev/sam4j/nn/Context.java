package dev.sam4j.nn;

import dev.sam4j.backend.Backend;
import dev.sam4j.backend.Buffer;
import dev.sam4j.tensor.ParamLayout;
import dev.sam4j.tensor.ParamSpec;

/**
 * What a layer binds to: the backend, the parameter and gradient arenas (sharing {@code params}' layout)
 * and the state arena (BatchNorm running statistics, layout {@code state}). Layers take views of their
 * own tensors from here and never allocate arenas themselves.
 */
public record Context(Backend backend, ParamLayout paramLayout, Buffer params, Buffer grads,
                      ParamLayout stateLayout, Buffer state) {

    /** The parameter view of {@code spec}. */
    public Buffer param(ParamSpec spec) { return params.slice(spec.offset(), spec.size()); }

    /** The gradient view of {@code spec} (same offsets as the parameter arena). */
    public Buffer grad(ParamSpec spec) { return grads.slice(spec.offset(), spec.size()); }

    /** The state view of {@code spec} (a tensor of the state layout). */
    public Buffer state(ParamSpec spec) { return state.slice(spec.offset(), spec.size()); }
}
