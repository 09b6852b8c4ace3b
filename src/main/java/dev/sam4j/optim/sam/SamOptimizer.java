package dev.sam4j.optim.sam;

import dev.sam4j.backend.Backend;
import dev.sam4j.backend.Buffer;
import dev.sam4j.nn.Mode;
import dev.sam4j.nn.Model;
import dev.sam4j.optim.Sgd;
import dev.sam4j.parallel.Collective;
import dev.sam4j.tensor.ParamLayout;
import dev.sam4j.tensor.ParamSpec;
import java.util.Arrays;
import java.util.SplittableRandom;

/**
 * Every SAM-family method on one step shape, over the flat parameter and gradient arenas:
 * <ol>
 *   <li>pass 1 (closure, {@link Mode#TRAIN}) gives {@code g}; {@code s = ‖g‖²} (one deterministic pass);</li>
 *   <li>the {@link Policy} decides SAM or ERM from {@code s};</li>
 *   <li>SAM path: the {@link Perturbation} saves {@code w} and {@code g} and writes {@code w'} in one pass;
 *       pass 2 at {@code w'} ({@link Mode#TRAIN_FROZEN_STATS}, so BatchNorm running statistics change once per
 *       step) gives {@code g_sam}; with LookSAM, {@code g_v = g_sam − (⟨g, g_sam⟩/‖g‖²)·g} is stored; then
 *       exact restore of {@code w} from the saved copy fused with the SGD update using {@code g_sam};</li>
 *   <li>ERM path: the SGD update with {@code g}, or with LookSAM {@code g + α·(‖g‖/‖g_v‖)·g_v} once a
 *       {@code g_v} exists (and, with a max age {@code N > 0}, while it is at most {@code N} steps old).</li>
 * </ol>
 * Momentum-SAM ({@link Perturbation.Momentum}) has its own one-pass shape ({@link #momentumStep}): perturb along the
 * momentum buffer first, the only pass at the perturbed point, exact restore fused with the SGD update.
 * The base update is the same {@link Sgd} rule for every method. Nothing is allocated per step.
 */
public final class SamOptimizer implements AutoCloseable {

    /**
     * What a step did. {@code samLoss} and {@code samSumSquares}: pass 2's loss and {@code ‖g_sam‖²} (NaN without a
     * pass 2). {@code skipped}: a loss or squared gradient norm of either pass was not finite, so the step changed
     * nothing (see {@link #step}); a skipped step is no SAM step.
     */
    public record StepResult(double loss, double s, boolean sam, Decision decision, double samLoss, double samSumSquares,
                             boolean skipped) {}

    /**
     * Everything of the optimizer's state that is not an arena (checkpoints): step counters, LookSAM's norms,
     * the adaptive statistic, and the positions of the seeded random streams (Bernoulli policy, ESAM's
     * per-tensor draws). The arenas (momentum, {@code g_v}) are saved from {@link Sgd#momentumArena()} and
     * {@link #lookSamDirection()}.
     */
    public record State(long steps, long samSteps, long skippedSteps, double lookSamNorm, double[] lookSamTensorNorms,
                        double statMean, double statVariance, long statObserved, long policyDraws, long esamDraws,
                        long lookSamAge) {}

    /**
     * A {@code g_v} shorter than this fraction of {@code g_s} is rounding noise (e.g. a one-element tensor,
     * or {@code g_s ∥ g}); reusing it would scale noise up to {@code α·‖g‖}, so it counts as zero (no reuse).
     */
    static final double NOISE_FLOOR = 1e-5;

    private final Backend backend;
    private final ParamLayout layout;
    private final Buffer params;
    private final Buffer grads;
    private final long n;
    private final Sgd sgd;
    private final Method method;
    private final Policy.Decider decider;
    private final Buffer savedWeights;   // [n] w before the perturbation
    private final Buffer savedGradient;  // [n] g of pass 1
    private final Buffer lookSamDirection; // [n] g_v, or null without LookSAM
    private double lookSamDirectionNorm; // ‖g_v‖, 0 before the first SAM step
    private long lookSamAge;             // steps (not skipped) since g_v was stored; only read with a max age
    private final double[] lookSamTensorNorms; // per-tensor ‖g_v,i‖ when LookSAM works per tensor, else null
    private final long esamSeed;
    private SplittableRandom esamRng;
    private long esamDraws;
    private long samSteps;
    private long steps;
    private long skippedSteps;
    private Collective replicas;         // data-parallel with local perturbation (perturbLocally), else null
    private final double[] pair = new double[2];
    private Buffer shadow;               // a bf16 model's shadow of the weights, written with them (keepShadowOf), else null

    /**
     * An optimizer over explicitly given arenas. Library code should prefer {@link #builder(Model)}, which takes
     * the arenas from the model so that they cannot be swapped; this constructor is for arenas that are not a
     * {@link Model}'s (tests, custom parameter sets).
     *
     * @param backend the backend that owns both arenas and computes the step
     * @param layout the table of parameter tensors; its {@link ParamLayout#total()} is the arena length {@code n}
     * @param params the parameter arena, {@code n} floats: updated in place every step
     * @param grads the gradient arena, {@code n} floats: the closure writes it (whole) on every pass; only read here.
     *        Both arenas are plain {@link Buffer}s of the same length, so a swap cannot be detected here.
     * @param sgd the base update (momentum, weight decay, Nesterov); its momentum arena shares {@code layout}
     * @param method which SAM-family member (policy, perturbation, LookSAM reuse), e.g. {@link Method#of}
     * @param seed seeds the random parts (SS-SAM's Bernoulli draws, ESAM's per-tensor selection)
     * @throws IllegalArgumentException when an argument is null, an arena's length is not {@code n}, or
     *         {@code params} and {@code grads} are the same buffer
     */
    public SamOptimizer(Backend backend, ParamLayout layout, Buffer params, Buffer grads, Sgd sgd, Method method, long seed) {
        requireNonNull(backend, "backend");
        requireNonNull(layout, "layout");
        requireNonNull(params, "params");
        requireNonNull(grads, "grads");
        requireNonNull(sgd, "sgd");
        requireNonNull(method, "method");
        if (params == grads) throw new IllegalArgumentException("SamOptimizer: params and grads are the same buffer");
        checkLength(params, "params", layout.total());
        checkLength(grads, "grads", layout.total());
        checkLength(sgd.momentumArena(), "sgd's momentum arena", layout.total());
        this.backend = backend;
        this.layout = layout;
        this.params = params;
        this.grads = grads;
        this.n = layout.total();
        this.sgd = sgd;
        this.method = method;
        this.decider = method.policy().start(seed ^ 0x5EED5A3L);
        boolean needsSaves = !(method.policy() instanceof Policy.Never) || method.perturbation() instanceof Perturbation.Momentum;
        this.savedWeights = needsSaves ? backend.allocate(n) : null;
        this.savedGradient = needsSaves ? backend.allocate(n) : null;
        this.lookSamDirection = method.lookSam() ? backend.allocate(n) : null;
        this.lookSamTensorNorms = method.lookSam() && method.lookSamPerTensor() ? new double[layout.size()] : null;
        this.esamSeed = seed ^ 0xE5A3L;
        this.esamRng = new SplittableRandom(esamSeed);
    }

    private static void requireNonNull(Object o, String what) {
        if (o == null) throw new IllegalArgumentException("SamOptimizer: " + what + " is null");
    }

    private static void checkLength(Buffer b, String what, long n) {
        if (b.length() != n) {
            throw new IllegalArgumentException("SamOptimizer: " + what + " has " + b.length() + " floats, the parameter layout " + n);
        }
    }

    /**
     * A builder over {@code model}'s arenas and backend: parameters, gradients and layout all come from the
     * model, and the {@link Sgd} is created for its parameter count. Defaults: momentum 0.9, weight decay
     * 5e-4, no Nesterov, seed 42, {@link Method.Hyper#defaults()}; {@link Builder#method(String)} must be given.
     */
    public static Builder builder(Model model) {
        if (model == null) throw new IllegalArgumentException("SamOptimizer.builder(model): model is null");
        return new Builder(model);
    }

    /**
     * Configures a {@link SamOptimizer} on a {@link Model}. Each setter checks its own value at once, with a
     * message naming it; {@link #build()} checks the combination.
     */
    public static final class Builder {
        private final Model model;
        private String methodName;
        private Method method;
        private Method.Hyper hyper;
        private double rho = Double.NaN;
        private double momentum = 0.9, weightDecay = 5e-4;
        private boolean nesterov;
        private long seed = 42;

        private Builder(Model model) { this.model = model; }

        /** One of {@link Method#NAMES} ({@code "sam"}, {@code "aesam"}, …), built with {@link #hyper} at {@link #build()}. */
        public Builder method(String name) {
            if (name == null || !Method.NAMES.contains(name.trim().toLowerCase(java.util.Locale.ROOT))) {
                throw new IllegalArgumentException("SamOptimizer.Builder.method(\"" + name + "\"): unknown method; valid: "
                        + String.join(", ", Method.NAMES));
            }
            this.methodName = name;
            this.method = null;
            return this;
        }

        /** A method already built (e.g. with a custom {@link Policy}); then {@link #hyper} and {@link #rho} do not apply. */
        public Builder method(Method m) {
            if (m == null) throw new IllegalArgumentException("SamOptimizer.Builder.method(Method): method is null");
            this.method = m;
            this.methodName = null;
            return this;
        }

        /** The hyperparameters for {@link #method(String)}; default {@link Method.Hyper#defaults()}. */
        public Builder hyper(Method.Hyper h) {
            if (h == null) throw new IllegalArgumentException("SamOptimizer.Builder.hyper(h): h is null");
            this.hyper = h;
            return this;
        }

        /** The neighbourhood radius ρ of SAM, SS-SAM, LookSAM, AE-SAM and ESAM (ASAM has its own, {@code Hyper.asamRho}). */
        public Builder rho(double v) {
            if (!(v > 0) || !Double.isFinite(v)) throw new IllegalArgumentException("SamOptimizer.Builder.rho(" + v + "): must be > 0 and finite");
            this.rho = v;
            return this;
        }

        /** SGD momentum μ in [0, 1). */
        public Builder momentum(double v) {
            if (!(v >= 0 && v < 1)) throw new IllegalArgumentException("SamOptimizer.Builder.momentum(" + v + "): must be in [0, 1)");
            this.momentum = v;
            return this;
        }

        /** Weight decay, added to the gradient as {@code wd·w} (PyTorch's SGD convention); >= 0. */
        public Builder weightDecay(double v) {
            if (!(v >= 0) || !Double.isFinite(v)) throw new IllegalArgumentException("SamOptimizer.Builder.weightDecay(" + v + "): must be >= 0 and finite");
            this.weightDecay = v;
            return this;
        }

        /** Nesterov momentum (needs momentum > 0). */
        public Builder nesterov(boolean v) { this.nesterov = v; return this; }

        /** Seed of the random parts (SS-SAM's draws, ESAM's selection). */
        public Builder seed(long v) { this.seed = v; return this; }

        /** The optimizer, with a new {@link Sgd} over the model's parameter count. */
        public SamOptimizer build() {
            if (method == null && methodName == null) {
                throw new IllegalArgumentException("SamOptimizer.Builder.build(): no method; call method(\"sam\") (or another of "
                        + String.join(", ", Method.NAMES) + ")");
            }
            if (method != null && (hyper != null || !Double.isNaN(rho))) {
                throw new IllegalArgumentException("SamOptimizer.Builder.build(): hyper(...) and rho(...) apply to method(String) "
                        + "only, not to a method(Method) already built");
            }
            if (nesterov && momentum == 0) {
                throw new IllegalArgumentException("SamOptimizer.Builder.nesterov(true): needs momentum(m) with m > 0");
            }
            Method m = method;
            if (m == null) {
                Method.Hyper h = hyper == null ? Method.Hyper.defaults() : hyper;
                if (!Double.isNaN(rho)) h = h.toBuilder().rho(rho).build();
                m = Method.of(methodName, h);
            }
            Backend b = model.backend();
            Sgd sgd = new Sgd(b, model.paramCount(), momentum, weightDecay, nesterov);
            return new SamOptimizer(b, model.paramLayout(), model.params(), model.grads(), sgd, m, seed).keepShadowOf(model);
        }
    }

    /**
     * Makes every pass of this optimizer that writes the weights also write {@code model}'s bf16 shadow of them,
     * in the same pass ({@link Model#handShadowToOptimizer}), so that a bf16 model no longer rounds the whole
     * arena before each forward. Nothing changes for a model without a shadow (fp32, TF32). The results are
     * bit for bit those of the model rounding the weights itself. {@link #builder} does it.
     *
     * @throws IllegalArgumentException when {@code model}'s parameter arena is not this optimizer's
     * @return this optimizer
     */
    public SamOptimizer keepShadowOf(Model model) {
        if (model == null) throw new IllegalArgumentException("SamOptimizer.keepShadowOf: model is null");
        if (model.params() != params) {
            throw new IllegalArgumentException("SamOptimizer.keepShadowOf: the model's parameter arena is not this optimizer's");
        }
        this.shadow = model.handShadowToOptimizer();
        return this;
    }

    /** The shadow's view of {@code [offset, offset + size)}, or null without a shadow. */
    private Buffer shadow(long offset, long size) { return shadow == null ? null : shadow.slice(offset, size); }

    /** The base update this optimizer feeds (its momentum arena is checkpointed with the parameters). */
    public Sgd sgd() { return sgd; }

    public Method method() { return method; }
    public Policy.Decider decider() { return decider; }
    public long samSteps() { return samSteps; }
    public long steps() { return steps; }
    public Buffer savedWeights() { return savedWeights; }
    public Buffer savedGradient() { return savedGradient; }
    public Buffer lookSamDirection() { return lookSamDirection; }
    public double lookSamDirectionNorm() { return lookSamDirectionNorm; }

    /**
     * One training step {@code t} of {@code totalSteps} at learning rate {@code lr}.
     *
     * <p>A numerical fault skips the step, which then leaves the weights, the momentum, the adaptive statistic and
     * LookSAM's {@code g_v} as they were: when pass 1's loss or {@code s = ‖g‖²} (already computed, so the check
     * costs nothing) is not finite, before the policy sees the step ({@link Policy.Decider#skip}); when pass 2's
     * loss or {@code ‖g_sam‖²} (one more pass over the arena per SAM step) is not finite, the weights are restored
     * from the saved copy before any update and the statistic is put back as it was before the decision. The CUDA
     * graph step ({@link DeviceDecidedStep}) skips the same steps in the same way, on the device. The caller
     * decides whether to go on.
     */
    public StepResult step(GradientClosure closure, long t, long totalSteps, double lr) {
        if (method.perturbation() instanceof Perturbation.Momentum m) return momentumStep(closure, t, totalSteps, lr, m.rho());
        double loss = closure.lossAndGradient(Mode.TRAIN);
        double s = backend.sumOfSquares(grads, n), localS = s;
        if (replicas != null) {
            // The decision and the fault check see only reduced values: the mean loss and the mean of the local ‖g_r‖².
            loss = mean(loss, s);
            s = pair[1];
        }
        if (!Double.isFinite(loss) || !Double.isFinite(s)) {
            decider.skip(t, totalSteps);
            skippedSteps++;
            return new StepResult(loss, s, false, Decision.plain(false), Double.NaN, Double.NaN, true);
        }
        SharpnessStats stats = decider instanceof Policy.AdaptiveDecider a ? a.stats() : null;
        double priorMean = stats == null ? 0 : stats.mean(), priorVariance = stats == null ? 0 : stats.variance();
        long priorObserved = stats == null ? 0 : stats.observed();
        Decision d = decider.decide(t, totalSteps, s);
        double samLoss = Double.NaN, samSumSquares = Double.NaN;
        float flr = (float) lr;
        if (d.sam()) {
            perturb(localS);   // each replica along its own gradient ("m-sharpness"); = s on one replica
            samLoss = secondPass(closure);
            samSumSquares = backend.sumOfSquares(grads, n);
            if (replicas != null) {
                samLoss = mean(samLoss, samSumSquares);
                samSumSquares = pair[1];
            }
            if (!Double.isFinite(samLoss) || !Double.isFinite(samSumSquares)) {
                backend.copyWeights(savedWeights, params, n, shadow);
                if (stats != null) stats.restore(priorMean, priorVariance, priorObserved);
                skippedSteps++;
                return new StepResult(loss, s, false, d, samLoss, samSumSquares, true);
            }
            if (lookSamDirection != null) {
                storeLookSamDirection(s, samSumSquares);
                lookSamAge = 0;
            }
            if (replicas != null) replicas.allReduce(backend, grads, n, Collective.Op.MEAN);  // the step's one gradient all-reduce
            backend.restoreSgdUpdate(params, savedWeights, grads, sgd.momentumArena(), n, flr, (float) sgd.momentum(),
                    (float) sgd.weightDecay(), sgd.nesterov(), shadow);
            samSteps++;
        } else if (lookSamDirection != null && lookSamDirectionNorm > 0 && reuseFresh()) {
            if (lookSamTensorNorms == null) {
                double vScale = method.lookSamAlpha() * Math.sqrt(s) / lookSamDirectionNorm;
                backend.sgdUpdateWithDirection(params, grads, lookSamDirection, vScale, sgd.momentumArena(), n, flr,
                        (float) sgd.momentum(), (float) sgd.weightDecay(), sgd.nesterov(), shadow);
            } else {
                reusePerTensor(flr);
            }
        } else {
            if (replicas != null) replicas.allReduce(backend, grads, n, Collective.Op.MEAN);  // the step's one gradient all-reduce
            sgd.step(params, grads, lr, shadow);
        }
        steps++;
        return new StepResult(loss, s, d.sam(), d, samLoss, samSumSquares, false);
    }

    /**
     * Makes this optimizer one replica of a data-parallel step with local perturbation ({@code --sam-perturbation local},
     * as in SAM's own implementation): pass 1's loss and {@code ‖g_r‖²} are averaged over the ranks (one all-reduce of two
     * doubles) and the policy decides from those means only, so the decision is the same on every rank by construction;
     * a SAM step perturbs with this rank's own {@code g_r} (normalised by its own norm) and averages pass 2's loss and
     * {@code ‖g_sam,r‖²} the same way (the fault check); then either branch has the gradient to apply in the gradient
     * arena and averages it in the step's one gradient all-reduce before the update. Every rank's weights and momentum
     * stay identical because every update applies the same averaged gradient.
     *
     * <p>Refused: the LookSAM reuse (its {@code g_v} would be each rank's own, and the fused reuse update has no place
     * for the all-reduce), ESAM's data selection (a per-rank top fraction is not the batch's), and Momentum-SAM, whose
     * one pass is the same in both modes (average its gradient in the closure instead).
     *
     * @return this optimizer
     */
    public SamOptimizer perturbLocally(Collective collective) {
        if (collective == null) throw new IllegalArgumentException("SamOptimizer.perturbLocally: collective is null");
        if (method.lookSam()) {
            throw new IllegalArgumentException("--optimizer " + method.name() + ": the LookSAM reuse is not supported with "
                    + "--sam-perturbation local on more than one rank; use --sam-perturbation global");
        }
        if (method.perturbation() instanceof Perturbation.Esam e && e.sds()) {
            throw new IllegalArgumentException("--optimizer " + method.name() + ": ESAM's data selection (--esam-sds) is not "
                    + "supported on more than one rank");
        }
        if (method.perturbation() instanceof Perturbation.Momentum) {
            throw new IllegalArgumentException("Momentum-SAM has one pass: average its gradient in the closure, not here");
        }
        this.replicas = collective;
        return this;
    }

    /** The mean over the ranks of {@code (a, b)}: returns the first, leaves the second in {@code pair[1]}. */
    private double mean(double a, double b) {
        pair[0] = a;
        pair[1] = b;
        replicas.allReduce(pair, Collective.Op.MEAN);
        return pair[0];
    }

    /**
     * Whether the stored {@code g_v} may be reused on this ERM step: it ages by one every step that is not a SAM
     * step, and with a max age {@code N > 0} it expires after {@code N} such steps (0: never, as in the spec).
     * Only called once a {@code g_v} exists.
     */
    private boolean reuseFresh() {
        lookSamAge++;
        return method.lookSamMaxAge() == 0 || lookSamAge <= method.lookSamMaxAge();
    }

    /**
     * One Momentum-SAM step: {@code w̃ = w − ρ·v/‖v‖} with {@code v} the momentum buffer (in the pass that saves
     * {@code w}, the SAM perturbation kernel with {@code v} as the direction and a negative scale); the one pass at
     * {@code w̃} ({@link Mode#TRAIN}: it is the step's only pass, so BatchNorm's running statistics change in it);
     * exact restore of {@code w} fused with the SGD update using that gradient (weight decay at {@code w}, as for
     * every method here; the authors' code applies it at {@code w̃}). {@code v = 0} (first step): no perturbation,
     * a plain SGD step. No step is a SAM step: the cost is one pass, ERM's. A non-finite loss or {@code ‖g‖²} skips
     * the step: the weights are restored, the momentum is untouched.
     */
    private StepResult momentumStep(GradientClosure closure, long t, long totalSteps, double lr, double rho) {
        Buffer v = sgd.momentumArena();
        double vv = backend.sumOfSquares(v, n);
        boolean perturbed = vv > 0;
        if (perturbed) backend.samPerturb(params, v, savedWeights, savedGradient, n, -rho / (Math.sqrt(vv) + Perturbation.EPS), shadow);
        double loss = closure.lossAndGradient(Mode.TRAIN);
        double s = backend.sumOfSquares(grads, n);
        if (!Double.isFinite(loss) || !Double.isFinite(s)) {
            if (perturbed) backend.copyWeights(savedWeights, params, n, shadow);
            decider.skip(t, totalSteps);
            skippedSteps++;
            return new StepResult(loss, s, false, Decision.plain(false), Double.NaN, Double.NaN, true);
        }
        Decision d = decider.decide(t, totalSteps, s);
        if (perturbed) {
            backend.restoreSgdUpdate(params, savedWeights, grads, v, n, (float) lr, (float) sgd.momentum(),
                    (float) sgd.weightDecay(), sgd.nesterov(), shadow);
        } else {
            sgd.step(params, grads, lr, shadow);
        }
        steps++;
        return new StepResult(loss, s, false, d, Double.NaN, Double.NaN, false);
    }

    private void perturb(double s) {
        switch (method.perturbation()) {
            case Perturbation.Plain p ->
                    backend.samPerturb(params, grads, savedWeights, savedGradient, n, p.rho() / (Math.sqrt(s) + Perturbation.EPS), shadow);
            case Perturbation.Adaptive a -> {
                double q = backend.asamNormSquared(params, grads, n, a.eta());
                backend.asamPerturb(params, grads, savedWeights, savedGradient, n,
                        a.rho() / (Math.sqrt(q) + Perturbation.EPS), a.eta(), shadow);
            }
            case Perturbation.Momentum m -> throw new IllegalStateException("Momentum-SAM has its own step");
            case Perturbation.Esam e -> {
                if (!e.swp()) {
                    backend.samPerturb(params, grads, savedWeights, savedGradient, n, e.rho() / (Math.sqrt(s) + Perturbation.EPS), shadow);
                } else {
                    double scale = e.rho() / (e.beta() * (Math.sqrt(s) + Perturbation.EPS));
                    // One draw per tensor, in layout order, every SAM step: the kept set is a pure function of the seed.
                    for (ParamSpec spec : layout.specs()) {
                        boolean kept = esamRng.nextDouble() < e.beta();
                        esamDraws++;
                        backend.samPerturb(params.slice(spec.offset(), spec.size()), grads.slice(spec.offset(), spec.size()),
                                savedWeights.slice(spec.offset(), spec.size()), savedGradient.slice(spec.offset(), spec.size()),
                                spec.size(), kept ? scale : 0.0, shadow(spec.offset(), spec.size()));
                    }
                }
            }
        }
    }

    private double secondPass(GradientClosure closure) {
        if (method.perturbation() instanceof Perturbation.Esam e && e.sds()) {
            if (!closure.supportsSubsets()) {
                throw new IllegalStateException("ESAM with sharpness-sensitive data selection needs a closure with per-example losses");
            }
            float[] before = closure.lastPerExampleLoss();
            float[] after = closure.perExampleLoss(Mode.TRAIN_FROZEN_STATS);
            int b = closure.batchSize();
            int keep = Math.max(1, (int) Math.ceil(e.gamma() * b));
            return closure.lossAndGradient(Mode.TRAIN_FROZEN_STATS, topIncrease(before, after, b, keep));
        }
        return closure.lossAndGradient(Mode.TRAIN_FROZEN_STATS);
    }

    /** Indices of the {@code keep} examples whose loss rose most, ascending; ties broken by index for determinism. */
    static int[] topIncrease(float[] before, float[] after, int b, int keep) {
        Integer[] idx = new Integer[b];
        for (int i = 0; i < b; i++) idx[i] = i;
        Arrays.sort(idx, (x, y) -> {
            int c = Float.compare(after[y] - before[y], after[x] - before[x]);
            return c != 0 ? c : Integer.compare(x, y);
        });
        int[] out = new int[keep];
        for (int i = 0; i < keep; i++) out[i] = idx[i];
        Arrays.sort(out);
        return out;
    }

    /** LookSAM reuse with the scale {@code α·‖g_i‖/‖g_v,i‖} of each tensor {@code i} (the per-tensor choice). */
    private void reusePerTensor(float lr) {
        java.util.List<ParamSpec> specs = layout.specs();
        for (int i = 0; i < specs.size(); i++) {
            ParamSpec p = specs.get(i);
            Buffer g = grads.slice(p.offset(), p.size());
            double vScale = lookSamTensorNorms[i] > 0
                    ? method.lookSamAlpha() * Math.sqrt(backend.sumOfSquares(g, p.size())) / lookSamTensorNorms[i] : 0;
            backend.sgdUpdateWithDirection(params.slice(p.offset(), p.size()), g, lookSamDirection.slice(p.offset(), p.size()),
                    vScale, sgd.momentumArena().slice(p.offset(), p.size()), p.size(), lr, (float) sgd.momentum(),
                    (float) sgd.weightDecay(), sgd.nesterov(), shadow(p.offset(), p.size()));
        }
    }

    /** Stores {@code g_v} from the saved {@code g} and the {@code g_sam} now in the arena, {@code ‖g_sam‖²} given. */
    private void storeLookSamDirection(double s, double samSumSquares) {
        if (lookSamTensorNorms != null) {
            // Per tensor: g_v,i = g_s,i − (⟨g_i, g_s,i⟩ / ‖g_i‖²)·g_i.
            double total = 0;
            java.util.List<ParamSpec> specs = layout.specs();
            for (int i = 0; i < specs.size(); i++) {
                ParamSpec p = specs.get(i);
                Buffer g = savedGradient.slice(p.offset(), p.size()), gs = grads.slice(p.offset(), p.size());
                Buffer gv = lookSamDirection.slice(p.offset(), p.size());
                double gg = backend.sumOfSquares(g, p.size());
                double coef = gg > 0 ? backend.dot(g, gs, p.size()) / gg : 0;
                backend.axpby(-coef, g, 1.0, gs, gv, p.size());
                double nn = backend.sumOfSquares(gv, p.size());
                if (nn <= NOISE_FLOOR * NOISE_FLOOR * backend.sumOfSquares(gs, p.size())) nn = 0;
                lookSamTensorNorms[i] = Math.sqrt(nn);
                total += nn;
            }
            lookSamDirectionNorm = Math.sqrt(total);
            return;
        }
        // g_v = g_s − (⟨g, g_s⟩ / ‖g‖²)·g : the part of the SAM gradient orthogonal to the plain gradient.
        double coef = s > 0 ? backend.dot(savedGradient, grads, n) / s : 0;
        backend.axpby(-coef, savedGradient, 1.0, grads, lookSamDirection, n);
        double nn = backend.sumOfSquares(lookSamDirection, n);
        lookSamDirectionNorm = nn <= NOISE_FLOOR * NOISE_FLOOR * samSumSquares ? 0 : Math.sqrt(nn);
    }

    /** Restores LookSAM's stored norm (checkpoints; the direction itself is in {@link #lookSamDirection()}). */
    public void restoreLookSamNorm(double norm) { this.lookSamDirectionNorm = norm; }

    /** Steps skipped for a numerical fault. */
    public long skippedSteps() { return skippedSteps; }

    /** The non-arena state (see {@link State}). */
    public State state() {
        double mean = Double.NaN, variance = Double.NaN;
        long observed = 0, draws = 0;
        if (decider instanceof Policy.AdaptiveDecider a) {
            mean = a.stats().mean();
            variance = a.stats().variance();
            observed = a.stats().observed();
        }
        if (decider instanceof Policy.BernoulliDecider b) draws = b.draws();
        return new State(steps, samSteps, skippedSteps, lookSamDirectionNorm,
                lookSamTensorNorms == null ? null : lookSamTensorNorms.clone(), mean, variance, observed, draws, esamDraws,
                lookSamAge);
    }

    /** Restores a {@link #state()} taken from an optimizer of the same method and seed. */
    public void restore(State st) {
        if (st.steps() < 0 || st.samSteps() < 0 || st.skippedSteps() < 0 || st.esamDraws() < 0 || st.policyDraws() < 0
                || st.lookSamAge() < 0) {
            throw new IllegalArgumentException("negative counter in the optimizer state");
        }
        if ((lookSamTensorNorms == null) != (st.lookSamTensorNorms() == null)
                || (lookSamTensorNorms != null && lookSamTensorNorms.length != st.lookSamTensorNorms().length)) {
            throw new IllegalArgumentException("LookSAM per-tensor norms do not match this model and method");
        }
        if (!(st.lookSamNorm() >= 0) || Double.isInfinite(st.lookSamNorm())) {
            throw new IllegalArgumentException("LookSAM norm must be finite and >= 0, got " + st.lookSamNorm());
        }
        steps = st.steps();
        samSteps = st.samSteps();
        skippedSteps = st.skippedSteps();
        lookSamDirectionNorm = st.lookSamNorm();
        lookSamAge = st.lookSamAge();
        if (lookSamTensorNorms != null) System.arraycopy(st.lookSamTensorNorms(), 0, lookSamTensorNorms, 0, lookSamTensorNorms.length);
        if (decider instanceof Policy.AdaptiveDecider a) a.stats().restore(st.statMean(), st.statVariance(), st.statObserved());
        if (decider instanceof Policy.BernoulliDecider b) b.restoreDraws(st.policyDraws());
        esamRng = new SplittableRandom(esamSeed);
        for (long i = 0; i < st.esamDraws(); i++) esamRng.nextDouble();
        esamDraws = st.esamDraws();
    }

    @Override public void close() {}
}
