package dev.sam4j.train;

/**
 * Per-epoch metrics (one row of {@code metrics.csv}).
 *
 * @param samFraction    SAM steps / steps in this epoch
 * @param imagesPerSecond training images per second of wall time in this epoch (evaluation excluded)
 * @param skippedSteps   steps of this epoch skipped for a non-finite loss or gradient
 */
public record EpochRecord(int epoch, long steps, double trainLoss, double trainAccuracy, double testLoss,
                          double testAccuracy, double samFraction, double imagesPerSecond, double seconds, double lr,
                          long skippedSteps) {}
