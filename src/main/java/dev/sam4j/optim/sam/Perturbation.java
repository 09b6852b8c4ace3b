package dev.sam4j.optim.sam;

/**
 * How a SAM step builds the perturbed weights {@code w' = w + e} from the pass-1 gradient {@code g}.
 * Orthogonal to <em>when</em> SAM is used ({@link Policy}).
 */
public sealed interface Perturbation {
    /** Guard against a zero gradient: {@code e = ρ·g/(‖g‖ + ε)}. */
    double EPS = 1e-12;

    double rho();

    /** SAM (Foret et al.): {@code e = ρ·g/(‖g‖ + ε)}. */
    record Plain(double rho) implements Perturbation {
        public Plain { checkRho(rho); }
    }

    /** ASAM (Kwon et al.): {@code T_w = |w| + η}; {@code e = ρ·T_w²·g/‖T_w·g‖}. */
    record Adaptive(double rho, double eta) implements Perturbation {
        public Adaptive {
            checkRho(rho);
            if (!(eta >= 0) || !Double.isFinite(eta)) throw new IllegalArgumentException("--asam-eta: must be >= 0, got " + eta);
        }
    }

    /**
     * ESAM (Du et al.): SWP perturbs each parameter tensor with probability {@code beta} (kept ones by
     * {@code ρ·g/(β·‖g‖)}); SDS runs pass 2 only on the {@code gamma} fraction of the batch whose loss rose
     * most under the perturbation. Each idea can be switched off.
     */
    record Esam(double rho, double beta, double gamma, boolean swp, boolean sds) implements Perturbation {
        public Esam {
            checkRho(rho);
            if (!(beta > 0 && beta <= 1)) throw new IllegalArgumentException("--esam-beta: must be in (0, 1], got " + beta);
            if (!(gamma > 0 && gamma <= 1)) throw new IllegalArgumentException("--esam-gamma: must be in (0, 1], got " + gamma);
        }
    }

    /**
     * Momentum-SAM (Becker, Altrock, Risse 2024, arXiv 2401.12033, and the authors' public code): the direction is
     * the SGD momentum buffer {@code v} (PyTorch convention, {@code w ← w − lr·v}), the perturbed point
     * {@code w̃ = w − ρ·v/‖v‖} (the paper's "negative momentum": along the coming SGD step), and the step's only
     * gradient is taken there; {@code w} is restored exactly and updated with it. With {@code v = 0} (the first
     * step) there is no perturbation: a plain SGD step. One pass per step, so every step is an ERM-cost step.
     */
    record Momentum(double rho) implements Perturbation {
        public Momentum { checkRho(rho); }
    }

    private static void checkRho(double rho) {
        if (!(rho > 0) || !Double.isFinite(rho)) throw new IllegalArgumentException("--rho: must be > 0, got " + rho);
    }
}
