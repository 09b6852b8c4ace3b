package dev.sam4j.optim.sam;

import dev.sam4j.io.InvalidSettingException;
import java.util.List;
import java.util.Locale;

/**
 * A member of the SAM family as one step shape: a {@link Policy} (when), a {@link Perturbation} (how)
 * and optional LookSAM reuse of the last SAM step's orthogonal direction {@code g_v} on the other steps.
 *
 * @param lookSamAlpha LookSAM's α (the reuse weight); NaN when reuse is off
 * @param lookSamPerTensor LookSAM's projection and scale per parameter tensor instead of whole-model
 */
public record Method(String name, Policy policy, Perturbation perturbation, boolean lookSam, double lookSamAlpha,
                     boolean lookSamPerTensor, int lookSamMaxAge) {

    public static final List<String> NAMES = List.of("erm", "sam", "asam", "esam", "sssam", "looksam", "aesam", "aelooksam", "msam");

    /**
     * AE-LookSAM's default {@code --looksam-max-age} (choice, see the README's choices table): a {@code g_v} older
     * than this many steps without a SAM step to refresh it is no longer reused. 0 (never expires) is the spec.
     */
    public static final int AE_LOOKSAM_MAX_AGE = 4;

    public Method {
        if (lookSam && !(lookSamAlpha >= 0 && Double.isFinite(lookSamAlpha))) {
            throw new IllegalArgumentException("--looksam-alpha: must be >= 0, got " + lookSamAlpha);
        }
        if (lookSamMaxAge < 0) throw new IllegalArgumentException("--looksam-max-age: must be >= 0, got " + lookSamMaxAge);
    }

    public Method(String name, Policy policy, Perturbation perturbation, boolean lookSam, double lookSamAlpha, boolean lookSamPerTensor) {
        this(name, policy, perturbation, lookSam, lookSamAlpha, lookSamPerTensor, 0);
    }

    /** Hyperparameters of every method, with the defaults of the spec. Unused ones are ignored. */
    public record Hyper(double rho, double asamRho, double asamEta, double sssamP, double sssamPEnd, int lookSamK,
                        double lookSamAlpha, double aeDelta, double aeLambda1, double aeLambda2, int aeWarmup,
                        double esamBeta, double esamGamma, boolean esamSwp, boolean esamSds, boolean lookSamPerTensor,
                        int lookSamMaxAge, double msamRho) {
        /**
         * Validates every value, used by the method or not, so a typo never passes silently; an {@link InvalidSettingException}
         * names the builder method ({@code Method.Hyper.Builder.rho(0.0): must be > 0}) and the CLI option.
         */
        public Hyper {
            check(rho > 0 && Double.isFinite(rho), "rho", "rho", "must be > 0", rho);
            check(asamRho > 0 && Double.isFinite(asamRho), "asamRho", "asam-rho", "must be > 0", asamRho);
            check(asamEta >= 0 && Double.isFinite(asamEta), "asamEta", "asam-eta", "must be >= 0", asamEta);
            check(sssamP >= 0 && sssamP <= 1, "sssamP", "sssam-p", "must be in [0, 1]", sssamP);
            check(Double.isNaN(sssamPEnd) || (sssamPEnd >= 0 && sssamPEnd <= 1), "sssamPEnd", "sssam-p-end", "must be in [0, 1]", sssamPEnd);
            check(lookSamK >= 1, "lookSamK", "looksam-k", "must be >= 1", lookSamK);
            check(lookSamAlpha >= 0 && Double.isFinite(lookSamAlpha), "lookSamAlpha", "looksam-alpha", "must be >= 0", lookSamAlpha);
            check(aeDelta > 0 && aeDelta < 1, "aeDelta", "ae-delta", "must be in (0, 1)", aeDelta);
            check(Double.isFinite(aeLambda1), "aeLambda1", "ae-lambda1", "must be finite", aeLambda1);
            check(Double.isFinite(aeLambda2), "aeLambda2", "ae-lambda2", "must be finite", aeLambda2);
            check(aeWarmup >= 0, "aeWarmup", "ae-warmup", "must be >= 0", aeWarmup);
            check(esamBeta > 0 && esamBeta <= 1, "esamBeta", "esam-beta", "must be in (0, 1]", esamBeta);
            check(esamGamma > 0 && esamGamma <= 1, "esamGamma", "esam-gamma", "must be in (0, 1]", esamGamma);
            check(lookSamMaxAge >= UNSET_MAX_AGE, "lookSamMaxAge", "looksam-max-age", "must be >= 0", lookSamMaxAge);
            check(msamRho > 0 && Double.isFinite(msamRho), "msamRho", "rho", "must be > 0", msamRho);
        }

        /**
         * {@code lookSamMaxAge} not given: each method takes its own default (AE-LookSAM {@link #AE_LOOKSAM_MAX_AGE},
         * LookSAM 0, which is its periodic schedule's own refresh).
         */
        public static final int UNSET_MAX_AGE = -1;

        /**
         * MSAM's default radius (choice): its perturbation is a whole normalised momentum direction, far from the
         * current gradient's, and the authors use radii far above SAM's (their CIFAR-100 configs: 3 for MSAM at
         * lr 0.5 against 0.2 for SAM; their optimizer's default is 0.3). We keep the ratio ρ/lr of that config
         * near-constant for our lr 0.05: 0.3.
         */
        public static final double MSAM_RHO = 0.3;

        /** The max-age the method {@code name} uses: the given one, or the method's default when unset. */
        public int lookSamMaxAge(String name) {
            if (lookSamMaxAge != UNSET_MAX_AGE) return lookSamMaxAge;
            return name.trim().toLowerCase(Locale.ROOT).equals("aelooksam") ? AE_LOOKSAM_MAX_AGE : 0;
        }

        /** The message names the builder method for library code and the option for the command line. */
        private static void check(boolean ok, String method, String option, String rule, Object value) {
            if (!ok) throw InvalidSettingException.of("Method.Hyper.Builder", method, option, value, rule);
        }

        public static Hyper defaults() {
            return new Hyper(0.05, 0.5, 0.01, 0.5, Double.NaN, 5, 0.7, 0.9, -1, 1, 0, 0.5, 0.5, true, true, false,
                    UNSET_MAX_AGE, MSAM_RHO);
        }

        public Builder toBuilder() { return new Builder(this); }

        /** Changes a few values of a {@link Hyper}; {@link #build()} validates them all. */
        public static final class Builder {
            private double rho, asamRho, asamEta, sssamP, sssamPEnd, lookSamAlpha, aeDelta, aeLambda1, aeLambda2, esamBeta, esamGamma,
                    msamRho;
            private int lookSamK, aeWarmup, lookSamMaxAge;
            private boolean esamSwp, esamSds, lookSamPerTensor;

            private Builder(Hyper h) {
                rho = h.rho; asamRho = h.asamRho; asamEta = h.asamEta; sssamP = h.sssamP; sssamPEnd = h.sssamPEnd;
                lookSamK = h.lookSamK; lookSamAlpha = h.lookSamAlpha; aeDelta = h.aeDelta; aeLambda1 = h.aeLambda1;
                aeLambda2 = h.aeLambda2; aeWarmup = h.aeWarmup; esamBeta = h.esamBeta; esamGamma = h.esamGamma;
                esamSwp = h.esamSwp; esamSds = h.esamSds; lookSamPerTensor = h.lookSamPerTensor;
                lookSamMaxAge = h.lookSamMaxAge; msamRho = h.msamRho;
            }

            public Builder rho(double v) { rho = v; return this; }
            public Builder asamRho(double v) { asamRho = v; return this; }
            public Builder asamEta(double v) { asamEta = v; return this; }
            public Builder sssamP(double v) { sssamP = v; return this; }
            public Builder sssamPEnd(double v) { sssamPEnd = v; return this; }
            public Builder lookSamK(int v) { lookSamK = v; return this; }
            public Builder lookSamAlpha(double v) { lookSamAlpha = v; return this; }
            public Builder lookSamPerTensor(boolean v) { lookSamPerTensor = v; return this; }
            public Builder aeDelta(double v) { aeDelta = v; return this; }
            public Builder aeLambda1(double v) { aeLambda1 = v; return this; }
            public Builder aeLambda2(double v) { aeLambda2 = v; return this; }
            public Builder aeWarmup(int v) { aeWarmup = v; return this; }
            public Builder esamBeta(double v) { esamBeta = v; return this; }
            public Builder esamGamma(double v) { esamGamma = v; return this; }
            public Builder esamSwp(boolean v) { esamSwp = v; return this; }
            public Builder esamSds(boolean v) { esamSds = v; return this; }
            public Builder lookSamMaxAge(int v) { lookSamMaxAge = v; return this; }
            public Builder msamRho(double v) { msamRho = v; return this; }

            public Hyper build() {
                return new Hyper(rho, asamRho, asamEta, sssamP, sssamPEnd, lookSamK, lookSamAlpha, aeDelta, aeLambda1,
                        aeLambda2, aeWarmup, esamBeta, esamGamma, esamSwp, esamSds, lookSamPerTensor, lookSamMaxAge, msamRho);
            }
        }
    }

    /** The method called {@code name} ({@link #NAMES}) with hyperparameters {@code h}, validated. */
    public static Method of(String name, Hyper h) {
        String n = name.trim().toLowerCase(Locale.ROOT);
        Perturbation plain = new Perturbation.Plain(h.rho());
        Policy adaptive = new Policy.Adaptive(h.aeDelta(), h.aeLambda1(), h.aeLambda2(), h.aeWarmup());
        return switch (n) {
            case "erm" -> new Method(n, new Policy.Never(), plain, false, Double.NaN, false);
            case "sam" -> new Method(n, new Policy.Always(), plain, false, Double.NaN, false);
            case "asam" -> new Method(n, new Policy.Always(), new Perturbation.Adaptive(h.asamRho(), h.asamEta()), false, Double.NaN, false);
            case "esam" -> new Method(n, new Policy.Always(),
                    new Perturbation.Esam(h.rho(), h.esamBeta(), h.esamGamma(), h.esamSwp(), h.esamSds()), false, Double.NaN, false);
            case "sssam" -> new Method(n, new Policy.Bernoulli(h.sssamP(), h.sssamPEnd()), plain, false, Double.NaN, false);
            case "looksam" -> new Method(n, new Policy.Periodic(h.lookSamK()), plain, true, h.lookSamAlpha(), h.lookSamPerTensor(),
                    h.lookSamMaxAge(n));
            case "aesam" -> new Method(n, adaptive, plain, false, Double.NaN, false);
            case "aelooksam" -> new Method(n, adaptive, plain, true, h.lookSamAlpha(), h.lookSamPerTensor(), h.lookSamMaxAge(n));
            case "msam" -> new Method(n, new Policy.Never(), new Perturbation.Momentum(h.msamRho()), false, Double.NaN, false);
            default -> throw new IllegalArgumentException("--optimizer: unknown optimizer '" + name + "'; valid: " + String.join(", ", NAMES));
        };
    }
}
