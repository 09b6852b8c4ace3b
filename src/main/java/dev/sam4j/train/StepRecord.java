package dev.sam4j.train;

/**
 * What one training step did. For methods without the adaptive statistic, {@code mu}, {@code sigma} and
 * {@code c} are NaN (written as JSON null).
 *
 * @param step      0-based global step
 * @param epoch     1-based epoch
 * @param loss      mean training loss of the batch at the weights before the update (pass 1)
 * @param s         squared L2 norm of the data-loss gradient over all parameters, {@code ‖g‖²}
 * @param mu        EMA mean of {@code s} (adaptive policy)
 * @param sigma     EMA standard deviation of {@code s} (adaptive policy)
 * @param c         threshold coefficient {@code c_t} (adaptive policy)
 * @param sam       whether this step took the SAM path (two forward/backward passes)
 * @param lr        learning rate used
 * @param stepNanos wall time of the step (forward, backward, update), excluding data loading
 * @param skipped   the loss or {@code ‖g‖²} of pass 1, or of SAM's pass 2, was not finite and the step changed nothing ({@code --on-nonfinite skip})
 */
public record StepRecord(long step, int epoch, double loss, double s, double mu, double sigma, double c, boolean sam,
                         double lr, long stepNanos, boolean skipped) {}
