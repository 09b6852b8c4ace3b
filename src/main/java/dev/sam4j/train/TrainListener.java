package dev.sam4j.train;

/** Observes a training run; all methods default to doing nothing. Called on the training thread. */
public interface TrainListener {
    default void onRunStart(RunInfo info) {}

    default void onStep(StepRecord step) {}

    default void onEpoch(EpochRecord epoch) {}

    default void onRunEnd(RunSummary summary) {}

    /**
     * A checkpoint after {@code steps} steps is about to be written: everything recorded so far must be on
     * disk first, so that a resume from it finds no missing rows.
     */
    default void beforeCheckpoint(long steps) {}
}
