package dev.sam4j.backend;

import java.util.List;

/**
 * A whole SAM-family training step recorded once on a device and replayed every step, its SAM branch decided
 * on the device (no host synchronisation inside a step): the capability of a backend whose
 * {@link Backend#deviceStepGraphs()} is present. The CUDA backend records it as a CUDA graph with a conditional
 * node; this floor holds only the contract and its values, so that the optimizer and the trainer drive the step
 * without knowing any backend's types. A skipped step (a NaN/±Inf loss or squared norm in either pass) leaves the
 * weights, the momentum, the AE-SAM statistic and LookSAM's direction as they were, as the host-driven step does.
 */
public interface DeviceStepGraph extends AutoCloseable {

    /**
     * Floats a history buffer needs per recorded step ({@link #recordStateTo}): the record a backend writes is
     * this long (the CUDA backend checks that its scratch layout agrees when it loads its step graph).
     */
    int RECORD_FLOATS = 46;

    /** Builds step graphs on one backend. */
    @FunctionalInterface
    interface Builder {
        /** Records the step (runs nothing) and resets the device step counter and statistics to step 0. */
        DeviceStepGraph build(Spec spec);
    }

    /**
     * What to record: the arenas and scratch buffers (of the backend that builds the graph), the update's
     * hyper-parameters, and the policy. Exactly one of {@code adaptive} (δ, λ1, λ2, warm-up steps) and {@code verdicts}
     * (one SAM verdict per step, 0/1, from the host's own policy) is given; {@code sam == false} records
     * no SAM branch at all (ERM). {@code asamEta} is NaN for the plain perturbation, {@code lookSamAlpha}
     * NaN without LookSAM reuse; {@code lookSamNoiseFloor}: a {@code g_v} shorter than this fraction of
     * {@code g_sam} is stored with norm 0 (never reused); {@code lookSamMaxAge}: {@code g_v} is reused on at most
     * this many ERM steps after the SAM step that stored it (0: never expires, the spec).
     * {@code momentumRho} is Momentum-SAM's radius (NaN otherwise): pass 1 then runs at
     * {@code w − ρ·m/‖m‖} with {@code m} the momentum arena, and {@code sam} must be false (one pass per step).
     * {@code pass1} and {@code pass2} enqueue the model's forward, loss and backward at the current weights (pass 2
     * with BatchNorm frozen), writing the per-example losses to {@code lossPerExample} and the gradients to {@code grads};
     * they run once each while the graph is recorded, so they must not synchronise or allocate.
     * {@code replicas} (null for one rank): this rank's communicator of a data-parallel run with local perturbation
     * ({@code --sam-perturbation local}). The graph then all-reduces, in its main body and never inside the
     * conditional node's body (where NCCL's collectives fail to instantiate, NVIDIA/nccl issue 1986), pass 1's
     * {@code s} and mean loss to their means before the decide kernel (so every rank decides from the same bits),
     * pass 2's mean loss and {@code ‖g_sam‖²} after the conditional node (the fault check, on every rank alike), and
     * the gradient left in the gradient arena by either branch ({@code g_sam} or {@code g}: the step's one gradient
     * all-reduce, a mean) before the update; a SAM step perturbs along this rank's own gradient, scaled by its own
     * norm. Refused with it: Momentum-SAM and the LookSAM reuse (as the host-driven step refuses them in local mode).
     */
    public record Spec(Buffer params, Buffer grads, Buffer momentum, Buffer savedWeights, Buffer savedGradient,
                       Buffer lookSamDirection, long n, float momentumCoefficient, float weightDecay, boolean nesterov,
                       float[] lrTable, long totalSteps, boolean sam, double[] adaptive, byte[] verdicts, double rho,
                       double asamEta, double lookSamAlpha, double lookSamNoiseFloor, long lookSamMaxAge, double momentumRho,
                       Buffer lossPerExample, int batch, Runnable pass1, Runnable pass2, Buffer shadow, DeviceCollective replicas) {
        /** One rank. */
        public Spec(Buffer params, Buffer grads, Buffer momentum, Buffer savedWeights, Buffer savedGradient,
                    Buffer lookSamDirection, long n, float momentumCoefficient, float weightDecay, boolean nesterov,
                    float[] lrTable, long totalSteps, boolean sam, double[] adaptive, byte[] verdicts, double rho,
                    double asamEta, double lookSamAlpha, double lookSamNoiseFloor, long lookSamMaxAge, double momentumRho,
                    Buffer lossPerExample, int batch, Runnable pass1, Runnable pass2, Buffer shadow) {
            this(params, grads, momentum, savedWeights, savedGradient, lookSamDirection, n, momentumCoefficient, weightDecay,
                    nesterov, lrTable, totalSteps, sam, adaptive, verdicts, rho, asamEta, lookSamAlpha, lookSamNoiseFloor,
                    lookSamMaxAge, momentumRho, lossPerExample, batch, pass1, pass2, shadow, null);
        }

        /** Without a bf16 shadow (fp32 and TF32 runs). */
        public Spec(Buffer params, Buffer grads, Buffer momentum, Buffer savedWeights, Buffer savedGradient,
                    Buffer lookSamDirection, long n, float momentumCoefficient, float weightDecay, boolean nesterov,
                    float[] lrTable, long totalSteps, boolean sam, double[] adaptive, byte[] verdicts, double rho,
                    double asamEta, double lookSamAlpha, double lookSamNoiseFloor, long lookSamMaxAge, double momentumRho,
                    Buffer lossPerExample, int batch, Runnable pass1, Runnable pass2) {
            this(params, grads, momentum, savedWeights, savedGradient, lookSamDirection, n, momentumCoefficient, weightDecay,
                    nesterov, lrTable, totalSteps, sam, adaptive, verdicts, rho, asamEta, lookSamAlpha, lookSamNoiseFloor,
                    lookSamMaxAge, momentumRho, lossPerExample, batch, pass1, pass2, null, null);
        }

        public Spec {
            if (lookSamMaxAge < 0) throw new IllegalArgumentException("LookSAM max age " + lookSamMaxAge + " < 0");
            if (!Double.isNaN(momentumRho) && (sam || !(momentumRho > 0) || Double.isInfinite(momentumRho))) {
                throw new IllegalArgumentException("Momentum-SAM needs a finite radius > 0 and no SAM branch, got rho " + momentumRho
                        + (sam ? " with a SAM branch" : ""));
            }
            if (replicas != null && replicas.worldSize() > 1) {
                if (!Double.isNaN(momentumRho)) throw new IllegalArgumentException("Momentum-SAM's step graph takes no ranks (its one pass is "
                        + "the same in both perturbation modes: the host-driven step averages its gradient)");
                if (lookSamDirection != null) throw new IllegalArgumentException("the LookSAM reuse takes no ranks with local perturbation");
                String why = replicas.graphCaptureUnsupported();
                if (why != null) throw new IllegalArgumentException(why);
            }
        }

        /** Whether the graph all-reduces over more than one rank (see {@code replicas}). */
        public boolean replicated() { return replicas != null && replicas.worldSize() > 1; }

        /** Whether this is Momentum-SAM's one-pass step (a radius is given). */
        public boolean momentumSam() { return !Double.isNaN(momentumRho); }
    }

    /**
     * A step's record: the device step counter after it and the SAM steps so far; its {@code s}; the μ, σ and
     * {@code c_t} its decision used (NaN for a policy without the statistic and for a step skipped before its
     * decision, as the host's {@code Decision}); whether it was a SAM step; its mean loss; pass 2's mean loss and
     * {@code ‖g_sam‖²} (NaN without a pass 2); whether it was {@code skipped} (nothing updated: the loss or
     * {@code s} of pass 1, or the loss or {@code ‖g_sam‖²} of pass 2, was NaN/±Inf; a skipped step is never a SAM
     * step); and the steps skipped so far.
     */
    public record State(long step, long samSteps, double s, double mu, double sigma, double c, boolean sam, double loss,
                        double samLoss, double samSumSquares, boolean skipped, long nonFiniteSteps) {}

    /**
     * The state a step carries into the next one, which a checkpoint must hold besides the weights, the
     * BatchNorm statistics, the momentum and LookSAM's direction: the device step counter {@code t} (it indexes
     * the learning-rate and verdict tables and drives AE-SAM's {@code c_t}), how many {@code s} the statistic has
     * observed, the SAM steps and skipped steps counted so far, AE-SAM's μ and σ², the squared norm
     * of LookSAM's stored direction (the reuse weight of every later ERM step divides by its root) and its age
     * (steps since it was stored: it expires with a max age). Everything else in the scratch block is rewritten by
     * each step before it is read.
     */
    public record CarriedState(long step, long observed, long samSteps, long nonFiniteSteps, double mu, double variance,
                               double lookSamSumSquares, long lookSamAge) {
        public CarriedState {
            if (step < 0 || observed < 0 || samSteps < 0 || nonFiniteSteps < 0 || lookSamAge < 0) {
                throw new IllegalArgumentException("negative step counter");
            }
            if (lookSamAge > step) throw new IllegalArgumentException("LookSAM age " + lookSamAge + " exceeds the step counter " + step);
            if (observed > step || samSteps > step || nonFiniteSteps > step) {
                throw new IllegalArgumentException("counters exceed the step counter " + step);
            }
            if (!Double.isFinite(mu) || !Double.isFinite(variance) || variance < 0) {
                throw new IllegalArgumentException("statistic must be finite with variance >= 0, got mu " + mu + ", variance " + variance);
            }
            if (!Double.isFinite(lookSamSumSquares) || lookSamSumSquares < 0) {
                throw new IllegalArgumentException("LookSAM squared norm must be finite and >= 0, got " + lookSamSumSquares);
            }
        }
    }

    /** One step, decided on the device: one launch, no host synchronisation. */
    void launch();

    /**
     * One step with the decision read back by the host (one synchronisation per step); returns it. The same
     * pieces as {@link #launch}: the baseline the device-decided step is measured against, and a cross-check.
     */
    boolean launchHostDecided();

    /** Waits for the queued steps (one synchronisation). */
    void synchronize();

    /** The device-side record of the last step (synchronises); see {@link State}. */
    State state();

    /**
     * Enqueues a device-to-device copy of the last step's record into slot {@code slot} of {@code history}
     * (a buffer of at least {@code (slot + 1)·RECORD_FLOATS} floats of this backend): no host synchronisation,
     * so a trainer can keep every step's statistic and read them back once per epoch.
     */
    void recordStateTo(Buffer history, int slot);

    /** Reads back the first {@code count} records of {@code history} (one synchronisation). */
    default List<State> readHistory(Buffer history, int count) { return readHistory(history, 0, count); }

    /** Reads back the {@code count} records of {@code history} from slot {@code from} on (one synchronisation). */
    List<State> readHistory(Buffer history, int from, int count);

    /**
     * Downloads the {@link CarriedState} after the queued steps (one synchronisation: call it between steps,
     * never while the step is being recorded).
     */
    CarriedState exportState();

    /**
     * Uploads {@code state} (synchronises), so that the next launch continues as step {@code state.step()} of
     * a run that never stopped.
     */
    void importState(CarriedState state);

    /** SAM steps so far (synchronises). */
    default long samSteps() { return state().samSteps(); }

    /** Frees what the graph holds on the device; idempotent. */
    @Override
    void close();
}
