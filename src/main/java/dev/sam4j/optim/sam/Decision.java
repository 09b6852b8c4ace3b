package dev.sam4j.optim.sam;

/**
 * A policy's verdict for one step, with the statistic it was based on ({@code NaN} where the policy
 * has none): take the SAM path iff {@code sam}; for the adaptive policy {@code sam ⇔ s ≥ μ + c·σ}.
 */
public record Decision(boolean sam, double mu, double sigma, double c) {
    static Decision plain(boolean sam) { return new Decision(sam, Double.NaN, Double.NaN, Double.NaN); }
}
