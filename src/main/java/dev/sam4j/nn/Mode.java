package dev.sam4j.nn;

/**
 * How a forward pass treats BatchNorm. SAM's perturbed second pass must normalise with the batch's own
 * statistics but must not touch the running statistics, so each step updates them exactly once.
 */
public enum Mode {
    /** Batch statistics; running statistics updated. Pass 1 of every step. */
    TRAIN,
    /** Batch statistics; running statistics left alone. SAM's perturbed pass 2. */
    TRAIN_FROZEN_STATS,
    /** Running statistics (evaluation). No backward follows. */
    EVAL;

    public boolean training() { return this != EVAL; }
}
