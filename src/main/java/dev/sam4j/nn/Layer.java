package dev.sam4j.nn;

import dev.sam4j.backend.Backend;
import dev.sam4j.backend.Buffer;
import dev.sam4j.tensor.ParamLayout;
import dev.sam4j.tensor.Shape;

/**
 * A differentiable layer with an explicit backward. Life cycle:
 * <ol>
 *   <li>{@link #declare}: given the per-example input shape, declare trainable tensors (and state such as
 *       BatchNorm running statistics) under a PyTorch-style name prefix; return the per-example output shape.
 *       Declaring again (e.g. once to count parameters, once to build a model) starts over;</li>
 *   <li>optionally {@link #skipInputGradient} and {@link #workspaceSize};</li>
 *   <li>{@link #bind}: take views of those tensors and allocate activation buffers for up to {@code maxBatch};</li>
 *   <li>{@link #forward} / {@link #backward}, any number of times, allocating nothing.</li>
 * </ol>
 * {@code forward} returns a buffer the layer owns (valid until its next forward) and remembers what
 * backward needs, including its input {@code x}, which the caller must keep unchanged until backward.
 * {@code backward} <em>writes</em> (does not accumulate) this layer's parameter gradients and returns
 * {@code dx}, also owned by the layer; it may overwrite {@code dy}.
 */
public interface Layer {

    Shape declare(String prefix, Shape input, ParamLayout.Builder params, ParamLayout.Builder state);

    void bind(Context ctx, int maxBatch);

    Buffer forward(Buffer x, int n, Mode mode);

    Buffer backward(Buffer dy, int n);

    /**
     * Called after {@link #declare} and before {@link #bind} when nobody reads this layer's {@code dx}
     * (it is the first layer of a model, so {@code dx} would be the gradient of the input images). The
     * layer may then skip that work — for the first Linear of an MLP it is about a third of backward —
     * and {@link #backward} may return null. Parameter gradients are still written.
     */
    default void skipInputGradient() {}

    /**
     * Scratch floats this layer needs inside single backend calls for batches up to {@code maxBatch}
     * (see {@link Context#workspace(long)}); called after {@link #declare}. Containers report the maximum
     * over their children, since the scratch is reused call after call.
     */
    default long workspaceSize(Backend backend, int maxBatch) { return 0; }

    /**
     * Whether this layer, or one inside it, uses the backend's convolution, pooling or batch-norm operations:
     * on CUDA those run on cuDNN, which a host may lack, so the device choice asks before building a model.
     */
    default boolean usesSpatialOps() { return false; }

    /** Joins a name prefix and a child name the PyTorch way ({@code "layer1.0" + "conv1"}). */
    static String join(String prefix, String name) {
        if (prefix == null || prefix.isEmpty()) return name;
        if (name == null || name.isEmpty()) return prefix;
        return prefix + "." + name;
    }
}
