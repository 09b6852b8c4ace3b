package dev.sam4j.tensor;

import java.util.ArrayList;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * The table that describes a flat arena: each tensor's name, shape, offset and role, computed in one
 * loop as layers declare their tensors. The parameter, gradient, momentum, saved-weight and
 * saved-gradient arenas all share one layout, so every whole-model SAM operation is a pass over one
 * range. A second layout of the same kind holds non-trainable state (BatchNorm running statistics).
 */
public final class ParamLayout {
    private final List<ParamSpec> specs;
    private final Map<String, ParamSpec> byName;
    private final long total;

    private ParamLayout(List<ParamSpec> specs) {
        this.specs = Collections.unmodifiableList(specs);
        Map<String, ParamSpec> m = new LinkedHashMap<>();
        long t = 0;
        for (ParamSpec s : specs) {
            if (m.put(s.name(), s) != null) throw new IllegalStateException("duplicate tensor name " + s.name());
            t = s.end();
        }
        this.byName = Collections.unmodifiableMap(m);
        this.total = t;
    }

    public List<ParamSpec> specs() { return specs; }

    public ParamSpec get(String name) {
        ParamSpec s = byName.get(name);
        if (s == null) throw new IllegalArgumentException("no tensor named " + name);
        return s;
    }

    public boolean contains(String name) { return byName.containsKey(name); }

    /** Total floats in an arena of this layout. */
    public long total() { return total; }

    public int size() { return specs.size(); }

    /** Human-readable table, one tensor per line. */
    public String describe() {
        StringBuilder b = new StringBuilder();
        for (ParamSpec s : specs) {
            b.append(String.format("%-40s %-18s %10d %-12s%n", s.name(), s.shape(), s.offset(), s.role()));
        }
        return b.append(String.format("total %d floats%n", total)).toString();
    }

    /** Collects tensors in declaration order; offsets are assigned contiguously. */
    public static final class Builder {
        private final List<ParamSpec> specs = new ArrayList<>();
        private long next;

        public ParamSpec add(String name, Shape shape, Role role) {
            ParamSpec s = new ParamSpec(name, shape, next, role);
            specs.add(s);
            next += shape.size();
            return s;
        }

        public ParamLayout build() { return new ParamLayout(new ArrayList<>(specs)); }
    }
}
