package dev.sam4j.train;

/**
 * A run stopped by one of its own checks: a non-finite loss or gradient with {@code --on-nonfinite stop},
 * or a divergence ({@code --divergence-loss}). The message says what happened, at which step, and where
 * the last good checkpoint is; no checkpoint of the faulty state is written.
 */
public final class TrainingStoppedException extends RuntimeException {
    private static final long serialVersionUID = 1L;

    public TrainingStoppedException(String message) { super(message); }
}
