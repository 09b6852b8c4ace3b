package dev.sam4j.optim.sam;

/**
 * The AE-SAM sharpness statistic: the squared stochastic gradient norm {@code s_t = ‖g_t‖²} modelled as
 * a normal distribution whose mean and variance are exponential moving averages:
 * <pre>
 *   μ_t  = δ·μ_{t−1} + (1−δ)·s_t
 *   σ²_t = δ·σ²_{t−1} + (1−δ)·(s_t − μ_t)²        (with the updated mean)
 * </pre>
 * Initialisation (a choice, see the README): the first observed {@code s} sets {@code μ = s, σ² = 0}.
 * All arithmetic is in double, in this fixed order, so every backend that feeds the same {@code s}
 * gets the same decisions.
 */
public final class SharpnessStats {
    private final double delta;
    private double mean;
    private double variance;
    private long observed;

    public SharpnessStats(double delta) {
        if (!(delta > 0 && delta < 1)) throw new IllegalArgumentException("--ae-delta: must be in (0, 1), got " + delta);
        this.delta = delta;
    }

    /** Folds in one observation {@code s ≥ 0}. */
    public void update(double s) {
        if (!(s >= 0) || Double.isInfinite(s)) throw new IllegalArgumentException("squared gradient norm must be finite and >= 0, got " + s);
        if (observed == 0) {
            mean = s;
            variance = 0;
        } else {
            mean = delta * mean + (1 - delta) * s;
            double d = s - mean;
            variance = delta * variance + (1 - delta) * d * d;
        }
        observed++;
    }

    public double delta() { return delta; }
    public double mean() { return mean; }
    public double variance() { return variance; }
    public double std() { return Math.sqrt(variance); }
    public long observed() { return observed; }

    /** Restores a saved state (checkpoints). */
    public void restore(double mean, double variance, long observed) {
        if (!Double.isFinite(mean) || !(variance >= 0) || Double.isInfinite(variance) || observed < 0) {
            throw new IllegalArgumentException("invalid statistic state: mean " + mean + ", variance " + variance + ", observed " + observed);
        }
        this.mean = mean;
        this.variance = variance;
        this.observed = observed;
    }
}
