package dev.sam4j.nn;

import dev.sam4j.backend.Backend;
import dev.sam4j.backend.Buffer;
import dev.sam4j.tensor.ParamLayout;
import dev.sam4j.tensor.Shape;
import java.util.ArrayList;
import java.util.Collections;
import java.util.HashSet;
import java.util.List;
import java.util.Set;

/**
 * Children applied in order; backward runs them in reverse. Naming follows PyTorch: a child's prefix is
 * {@code join(prefix, childName)}; {@link #add(Layer)} names children by position ({@code "0"}, {@code "1"},
 * ..., like {@code nn.Sequential}); the empty name {@code ""} makes a child transparent (it declares
 * directly under this container's prefix), which lets a tree of helpers produce flat PyTorch names.
 */
public final class Sequential implements Layer {

    /** A child and its name. */
    public record Child(String name, Layer layer) {}

    private final List<Child> children = new ArrayList<>();
    private final Set<String> names = new HashSet<>();

    /** Children named by position: {@code "0"}, {@code "1"}, ... */
    public static Sequential of(Layer... layers) {
        Sequential s = new Sequential();
        for (Layer l : layers) s.add(l);
        return s;
    }

    /** Adds a child named by its position. */
    public Sequential add(Layer layer) { return add(Integer.toString(children.size()), layer); }

    /** Adds a named child; {@code ""} is transparent, other names must be unique within this container. */
    public Sequential add(String name, Layer layer) {
        if (name == null || layer == null) throw new IllegalArgumentException("child name and layer must not be null");
        if (!name.isEmpty() && !names.add(name)) throw new IllegalArgumentException("duplicate child name " + name);
        children.add(new Child(name, layer));
        return this;
    }

    public List<Child> children() { return Collections.unmodifiableList(children); }

    @Override
    public Shape declare(String prefix, Shape input, ParamLayout.Builder params, ParamLayout.Builder state) {
        if (children.isEmpty()) throw new IllegalStateException(prefix + ": empty Sequential");
        Shape s = input;
        for (Child c : children) s = c.layer.declare(Layer.join(prefix, c.name), s, params, state);
        return s;
    }

    /**
     * Tells the first child; a leading {@link Flatten} only passes gradients through, so the child after
     * it is told as well (the first Linear of an MLP then skips its {@code dx}).
     */
    @Override
    public void skipInputGradient() {
        for (Child c : children) {
            c.layer.skipInputGradient();
            if (!(c.layer instanceof Flatten)) break;
        }
    }

    @Override
    public boolean usesSpatialOps() { return children.stream().anyMatch(c -> c.layer.usesSpatialOps()); }

    @Override
    public long workspaceSize(Backend backend, int maxBatch) {
        long m = 0;
        for (Child c : children) m = Math.max(m, c.layer.workspaceSize(backend, maxBatch));
        return m;
    }

    @Override
    public void bind(Context ctx, int maxBatch) {
        for (Child c : children) c.layer.bind(ctx, maxBatch);
    }

    @Override
    public Buffer forward(Buffer x, int n, Mode mode) {
        Buffer h = x;
        for (Child c : children) h = c.layer.forward(h, n, mode);
        return h;
    }

    @Override
    public Buffer backward(Buffer dy, int n) {
        Buffer d = dy;
        for (int i = children.size() - 1; i >= 0; i--) d = children.get(i).layer.backward(d, n);
        return d;
    }

    @Override
    public String toString() {
        StringBuilder b = new StringBuilder("Sequential(");
        for (int i = 0; i < children.size(); i++) {
            if (i > 0) b.append(", ");
            Child c = children.get(i);
            if (!c.name.isEmpty()) b.append(c.name).append('=');
            b.append(c.layer);
        }
        return b.append(')').toString();
    }
}
