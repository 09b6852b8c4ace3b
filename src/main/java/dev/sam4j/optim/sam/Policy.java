package dev.sam4j.optim.sam;

import java.util.SplittableRandom;

/**
 * When to take a SAM step. Policies are immutable configuration records; {@link #start} makes the
 * per-run state ({@link Decider}) that sees the step index, the run length and {@code s_t = ‖g_t‖²}.
 */
public sealed interface Policy {

    /** Creates the per-run decision state; {@code seed} drives any randomness. */
    Decider start(long seed);

    /** Stateful per-run decision maker. */
    interface Decider {
        /** Decides step {@code t} (0-based) of a run of {@code totalSteps} from {@code s = ‖g_t‖²}. */
        Decision decide(long t, long totalSteps, double s);

        /**
         * Step {@code t} was skipped before its decision (a non-finite loss or {@code s}): nothing is observed, but
         * a policy whose random draws are indexed by the step takes this step's draw, so that the verdicts of the
         * later steps do not depend on which steps were skipped (the CUDA graph step reads them from a table
         * indexed by the step).
         */
        default void skip(long t, long totalSteps) {}
    }

    /** Every step is a SAM step (SAM, ASAM, ESAM). */
    record Always() implements Policy {
        @Override public Decider start(long seed) { return (t, total, s) -> Decision.plain(true); }
    }

    /** No step is a SAM step (ERM). */
    record Never() implements Policy {
        @Override public Decider start(long seed) { return (t, total, s) -> Decision.plain(false); }
    }

    /**
     * SS-SAM: SAM with probability {@code p} (seeded Bernoulli); with {@code pEnd} set (≥ 0), {@code p}
     * moves linearly from {@code p} at step 0 to {@code pEnd} at the last step.
     */
    record Bernoulli(double p, double pEnd) implements Policy {
        public Bernoulli {
            if (!(p >= 0 && p <= 1)) throw new IllegalArgumentException("--sssam-p: must be in [0, 1], got " + p);
            if (!(Double.isNaN(pEnd) || (pEnd >= 0 && pEnd <= 1))) throw new IllegalArgumentException("--sssam-p-end: must be in [0, 1], got " + pEnd);
        }

        public Bernoulli(double p) { this(p, Double.NaN); }

        public double probability(long t, long total) {
            if (Double.isNaN(pEnd) || total <= 1) return p;
            double f = Math.min(1.0, t / (double) (total - 1));
            return p + (pEnd - p) * f;
        }

        @Override public Decider start(long seed) { return new BernoulliDecider(this, seed); }
    }

    /**
     * The Bernoulli policy's state: one draw per step, in order, whether or not it matters (a skipped step's too),
     * so the draw of step {@code t} is a pure function of the seed and {@code t}, and the state is the number of draws taken ({@link SplittableRandom}
     * does not expose its internal state; replaying the count restores it exactly).
     */
    final class BernoulliDecider implements Decider {
        private final Bernoulli config;
        private final long seed;
        private SplittableRandom rng;
        private long draws;

        BernoulliDecider(Bernoulli config, long seed) {
            this.config = config;
            this.seed = seed;
            this.rng = new SplittableRandom(seed);
        }

        @Override public Decision decide(long t, long total, double s) {
            draws++;
            return Decision.plain(rng.nextDouble() < config.probability(t, total));
        }

        @Override public void skip(long t, long total) {
            draws++;
            rng.nextDouble();
        }

        /** Draws taken so far. */
        public long draws() { return draws; }

        /** Restores the state after {@code n} draws (checkpoints). */
        public void restoreDraws(long n) {
            if (n < 0) throw new IllegalArgumentException("draw count must be >= 0, got " + n);
            rng = new SplittableRandom(seed);
            for (long i = 0; i < n; i++) rng.nextDouble();
            draws = n;
        }
    }

    /** LookSAM's schedule: SAM when {@code t mod k = 0}. */
    record Periodic(int k) implements Policy {
        public Periodic {
            if (k < 1) throw new IllegalArgumentException("--looksam-k: must be >= 1, got " + k);
        }

        @Override public Decider start(long seed) { return (t, total, s) -> Decision.plain(t % k == 0); }
    }

    /**
     * AE-SAM's adaptive policy: after updating {@link SharpnessStats} with {@code s_t}, SAM iff
     * {@code s_t ≥ μ_t + c_t·σ_t} with {@code c_t = λ1·(t/T) + λ2·(1 − t/T)}. During the first
     * {@code warmup} steps the statistic is updated but the step is an ERM step.
     */
    record Adaptive(double delta, double lambda1, double lambda2, int warmup) implements Policy {
        public Adaptive {
            if (!(delta > 0 && delta < 1)) throw new IllegalArgumentException("--ae-delta: must be in (0, 1), got " + delta);
            if (!Double.isFinite(lambda1)) throw new IllegalArgumentException("--ae-lambda1: must be finite, got " + lambda1);
            if (!Double.isFinite(lambda2)) throw new IllegalArgumentException("--ae-lambda2: must be finite, got " + lambda2);
            if (warmup < 0) throw new IllegalArgumentException("--ae-warmup: must be >= 0, got " + warmup);
        }

        public double c(long t, long total) {
            double f = total <= 0 ? 0 : t / (double) total;
            return lambda1 * f + lambda2 * (1 - f);
        }

        @Override public Decider start(long seed) { return new AdaptiveDecider(this, new SharpnessStats(delta)); }
    }

    /** The adaptive policy's state; exposes the statistic for run records and checkpoints. */
    final class AdaptiveDecider implements Decider {
        private final Adaptive config;
        private final SharpnessStats stats;

        AdaptiveDecider(Adaptive config, SharpnessStats stats) {
            this.config = config;
            this.stats = stats;
        }

        public SharpnessStats stats() { return stats; }

        @Override public Decision decide(long t, long total, double s) {
            stats.update(s);
            double c = config.c(t, total);
            double sigma = stats.std();
            boolean sam = t >= config.warmup() && s >= stats.mean() + c * sigma;
            return new Decision(sam, stats.mean(), sigma, c);
        }
    }
}
