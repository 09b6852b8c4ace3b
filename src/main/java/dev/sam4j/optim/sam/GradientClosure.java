package dev.sam4j.optim.sam;

import dev.sam4j.nn.Mode;

/**
 * Computes the data-loss gradient of the current batch at the current parameters: runs forward in
 * {@code mode}, the loss, and backward, writing the <em>whole</em> gradient arena, and returns the mean
 * loss. A SAM step calls it twice on the same batch: {@link Mode#TRAIN} at {@code w}, then
 * {@link Mode#TRAIN_FROZEN_STATS} at {@code w'}.
 *
 * <p>ESAM's sharpness-sensitive data selection (SDS) also needs per-example losses and a gradient on a
 * subset of the batch; closures that cannot do that keep the defaults, and ESAM with SDS refuses them.
 */
public interface GradientClosure {

    double lossAndGradient(Mode mode);

    /** Whether {@link #perExampleLoss} and {@link #lossAndGradient(Mode, int[])} are supported. */
    default boolean supportsSubsets() { return false; }

    /** Number of examples in the current batch. */
    default int batchSize() { throw new UnsupportedOperationException("this closure does not expose its batch"); }

    /** Per-example losses of the last {@link #lossAndGradient(Mode)} call (host copy, {@code batchSize()} values). */
    default float[] lastPerExampleLoss() { throw new UnsupportedOperationException("per-example losses not supported"); }

    /** Per-example losses at the current parameters, forward only, in {@code mode}. */
    default float[] perExampleLoss(Mode mode) { throw new UnsupportedOperationException("per-example losses not supported"); }

    /** Forward/backward on the examples {@code subset} of the batch only; writes the whole gradient arena. */
    default double lossAndGradient(Mode mode, int[] subset) {
        throw new UnsupportedOperationException("subset gradients not supported");
    }
}
