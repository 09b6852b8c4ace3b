package dev.sam4j.optim;

import dev.sam4j.backend.Backend;
import dev.sam4j.backend.Buffer;

/**
 * SGD with momentum, PyTorch convention (dampening 0), over the whole parameter arena in one pass:
 * <pre>
 *   d = g + wd·w
 *   m = μ·m + d
 *   w = w − lr·(nesterov ? d + μ·m : m)
 * </pre>
 * The momentum arena shares the parameter layout. Every SAM-family method feeds its chosen gradient
 * into this same update, so weight decay and momentum behave the same for all of them.
 */
public final class Sgd implements AutoCloseable {
    private final Backend backend;
    private final Buffer momentumArena; // [paramCount], same layout as the parameters
    private final long n;
    private final float momentum;
    private final float weightDecay;
    private final boolean nesterov;

    public Sgd(Backend backend, long paramCount, double momentum, double weightDecay, boolean nesterov) {
        if (!(momentum >= 0 && momentum < 1)) throw new IllegalArgumentException("momentum must be in [0, 1), got " + momentum);
        if (!(weightDecay >= 0) || !Double.isFinite(weightDecay)) throw new IllegalArgumentException("weight decay must be >= 0, got " + weightDecay);
        if (nesterov && momentum == 0) throw new IllegalArgumentException("Nesterov momentum needs momentum > 0");
        this.backend = backend;
        this.n = paramCount;
        this.momentumArena = backend.allocate(paramCount);
        this.momentum = (float) momentum;
        this.weightDecay = (float) weightDecay;
        this.nesterov = nesterov;
    }

    /** One update of {@code params} with gradient {@code grads} at learning rate {@code lr}. */
    public void step(Buffer params, Buffer grads, double lr) { step(params, grads, lr, null); }

    /** {@link #step}, also writing {@code shadow = bf16(params)} in the same pass when {@code shadow} is not null. */
    public void step(Buffer params, Buffer grads, double lr, Buffer shadow) {
        backend.sgdUpdate(params, grads, momentumArena, n, (float) lr, momentum, weightDecay, nesterov, shadow);
    }

    public Buffer momentumArena() { return momentumArena; }
    public double momentum() { return momentum; }
    public double weightDecay() { return weightDecay; }
    public boolean nesterov() { return nesterov; }

    @Override public void close() {}
}
