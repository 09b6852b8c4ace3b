package dev.sam4j.optim.sam;

import dev.sam4j.backend.Backend;
import dev.sam4j.backend.Buffer;
import dev.sam4j.nn.Mode;
import dev.sam4j.parallel.Collective;

/**
 * A data-parallel replica's closure with {@code --sam-perturbation global}: every pass's gradient is averaged over the
 * ranks in the gradient arena (one all-reduce per pass) and so is its loss, so that {@link SamOptimizer} then runs
 * exactly the single-replica method at the global batch on identical values on every rank (a SAM step costs two
 * gradient all-reduces, an ERM step one). Momentum-SAM, whose one pass is the same in both modes, uses it in both.
 * ESAM's data selection is not offered (per-example losses of one rank are not the batch's).
 */
public final class AveragedClosure implements GradientClosure {
    private final GradientClosure local;
    private final Collective collective;
    private final Backend backend;
    private final Buffer grads;
    private final long n;
    private final double[] loss = new double[1];

    /** {@code grads}: the arena {@code local} writes, {@code n} floats of {@code backend}. */
    public AveragedClosure(GradientClosure local, Collective collective, Backend backend, Buffer grads, long n) {
        if (local == null || collective == null || backend == null || grads == null) {
            throw new IllegalArgumentException("AveragedClosure: null argument");
        }
        if (n < 0 || n > grads.length()) throw new IllegalArgumentException("AveragedClosure: " + n + " floats of an arena of " + grads.length());
        this.local = local;
        this.collective = collective;
        this.backend = backend;
        this.grads = grads;
        this.n = n;
    }

    @Override public double lossAndGradient(Mode mode) {
        loss[0] = local.lossAndGradient(mode);
        collective.allReduce(backend, grads, n, Collective.Op.MEAN);
        collective.allReduce(loss, Collective.Op.MEAN);
        return loss[0];
    }

    @Override public int batchSize() { return local.batchSize(); }
}
