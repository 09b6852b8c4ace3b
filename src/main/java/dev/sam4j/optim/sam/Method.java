package dev.sam4j.optim.sam;

import java.util.List;
import java.util.Locale;

/**
 * A member of the SAM family as one step shape: a {@link Policy} (when), a {@link Perturbation} (how)
 * and optional LookSAM reuse of the last SAM step's orthogonal direction {@code g_v} on the other steps.
 *
 * @param lookSamAlpha LookSAM's α (the reuse weight); NaN when reuse is off
 */
public record Method(String name, Policy policy, Perturbation perturbation, boolean lookSam, double lookSamAlpha) {

    public static final List<String> NAMES = List.of("erm", "sam", "asam", "esam", "sssam", "looksam", "aesam", "aelooksam");

    public Method {
        if (lookSam && !(lookSamAlpha >= 0 && Double.isFinite(lookSamAlpha))) {
            throw new IllegalArgumentException("--looksam-alpha: must be >= 0, got " + lookSamAlpha);
        }
    }

    /** Hyperparameters of every method, with the defaults of the spec. Unused ones are ignored. */
    public record Hyper(double rho, double asamRho, double asamEta, double sssamP, double sssamPEnd, int lookSamK,
                        double lookSamAlpha, double aeDelta, double aeLambda1, double aeLambda2, int aeWarmup,
                        double esamBeta, double esamGamma, boolean esamSwp, boolean esamSds) {
        public static Hyper defaults() {
            return new Hyper(0.05, 0.5, 0.01, 0.5, Double.NaN, 5, 0.7, 0.9, -1, 1, 0, 0.5, 0.5, true, true);
        }
    }

    /** The method called {@code name} ({@link #NAMES}) with hyperparameters {@code h}, validated. */
    public static Method of(String name, Hyper h) {
        String n = name.trim().toLowerCase(Locale.ROOT);
        Perturbation plain = new Perturbation.Plain(h.rho());
        Policy adaptive = new Policy.Adaptive(h.aeDelta(), h.aeLambda1(), h.aeLambda2(), h.aeWarmup());
        return switch (n) {
            case "erm" -> new Method(n, new Policy.Never(), plain, false, Double.NaN);
            case "sam" -> new Method(n, new Policy.Always(), plain, false, Double.NaN);
            case "asam" -> new Method(n, new Policy.Always(), new Perturbation.Adaptive(h.asamRho(), h.asamEta()), false, Double.NaN);
            case "esam" -> new Method(n, new Policy.Always(),
                    new Perturbation.Esam(h.rho(), h.esamBeta(), h.esamGamma(), h.esamSwp(), h.esamSds()), false, Double.NaN);
            case "sssam" -> new Method(n, new Policy.Bernoulli(h.sssamP(), h.sssamPEnd()), plain, false, Double.NaN);
            case "looksam" -> new Method(n, new Policy.Periodic(h.lookSamK()), plain, true, h.lookSamAlpha());
            case "aesam" -> new Method(n, adaptive, plain, false, Double.NaN);
            case "aelooksam" -> new Method(n, adaptive, plain, true, h.lookSamAlpha());
            default -> throw new IllegalArgumentException("--optimizer: unknown optimizer '" + name + "'; valid: " + String.join(", ", NAMES));
        };
    }
}
