package dev.sam4j.optim.sam;

import dev.sam4j.backend.Backend;
import dev.sam4j.backend.Buffer;
import dev.sam4j.backend.DeviceCollective;
import dev.sam4j.backend.DeviceStepGraph;
import dev.sam4j.nn.Mode;
import dev.sam4j.nn.Model;
import dev.sam4j.optim.LrSchedule;

/**
 * A {@link Method} on a model, as one device graph per step whose SAM branch the device itself decides
 * ({@link DeviceStepGraph}, on a backend whose {@link Backend#deviceStepGraphs()} is present: the CUDA backend's
 * graph with a conditional node): the same step shape as {@link SamOptimizer}, with no host synchronisation.
 * The batch is whatever is in {@code x} and {@code labels} when a step runs (the caller refills them
 * between steps). The learning-rate schedule becomes a table of {@code totalSteps} values uploaded once;
 * policies that ignore {@code s} (always, never, periodic, Bernoulli) become a table of the host
 * decider's own verdicts, so the device takes exactly the host's decisions; the adaptive policy runs in
 * the decide kernel. Momentum-SAM's one pass runs at the point perturbed along the momentum arena, and LookSAM's
 * {@code g_v} expires after its max age, both on the device. ESAM (per-tensor random subsets, data selection) and
 * per-tensor LookSAM need the host path. With a communicator (one rank of a data-parallel run with local
 * perturbation) the graph also runs the step's collectives, in its main body ({@link DeviceStepGraph.Spec}).
 */
public final class DeviceDecidedStep implements AutoCloseable {
    private final DeviceStepGraph graph;
    private final Buffer momentum, savedWeights, savedGradient, lookSam, dLogits, lossPerExample;

    public DeviceDecidedStep(Model model, Buffer x, Buffer labels, int batch, Method method, LrSchedule schedule,
                             long totalSteps, double momentumCoefficient, double weightDecay, boolean nesterov, long seed) {
        this(model, x, labels, batch, method, schedule, totalSteps, momentumCoefficient, weightDecay, nesterov, seed, null);
    }

    /**
     * One rank of a data-parallel run with local perturbation ({@code replicas}: its communicator, or null for one
     * rank): {@code batch} is this rank's shard of the global batch; see {@link DeviceStepGraph.Spec} for where the
     * collectives go in the graph.
     */
    public DeviceDecidedStep(Model model, Buffer x, Buffer labels, int batch, Method method, LrSchedule schedule,
                             long totalSteps, double momentumCoefficient, double weightDecay, boolean nesterov, long seed,
                             DeviceCollective replicas) {
        if (replicas != null && replicas.worldSize() > 1) {
            String why = unsupportedWithRanks(method);
            if (why != null) throw new UnsupportedOperationException(why + ": use the host path");
        }
        Backend backend = model.backend();
        DeviceStepGraph.Builder graphs = backend.deviceStepGraphs().orElseThrow(() -> new IllegalArgumentException(
                "the device-decided step needs a backend that runs it (the CUDA backend), not " + backend.name()));
        String why = unsupported(method);
        if (why != null) throw new UnsupportedOperationException(why + ": use the host path");
        if (totalSteps < 1 || totalSteps > Integer.MAX_VALUE) throw new IllegalArgumentException("totalSteps " + totalSteps);
        long n = model.paramCount();
        int classes = model.classes();
        momentum = backend.allocate(n);
        savedWeights = backend.allocate(n);
        savedGradient = backend.allocate(n);
        lookSam = method.lookSam() ? backend.allocate(n) : null;
        dLogits = backend.allocate((long) batch * classes);
        lossPerExample = backend.allocate(batch);

        float[] lr = new float[(int) totalSteps];
        for (int t = 0; t < lr.length; t++) lr[t] = (float) schedule.lr(t, totalSteps);
        boolean sam = !(method.policy() instanceof Policy.Never);
        double[] adaptive = null;
        byte[] verdicts = null;
        if (method.policy() instanceof Policy.Adaptive a) {
            adaptive = new double[] {a.delta(), a.lambda1(), a.lambda2(), a.warmup()};
        } else {
            // SamOptimizer starts its decider with this seed; the same stream of draws gives the same verdicts.
            Policy.Decider d = method.policy().start(seed ^ 0x5EED5A3L);
            verdicts = new byte[(int) totalSteps];
            for (int t = 0; t < verdicts.length; t++) verdicts[t] = (byte) (d.decide(t, totalSteps, Double.NaN).sam() ? 1 : 0);
        }
        double asamEta = method.perturbation() instanceof Perturbation.Adaptive a ? a.eta() : Double.NaN;
        // Momentum-SAM: its policy is Never (sam false, no IF node); the perturbation along the momentum opens pass 1.
        double momentumRho = method.perturbation() instanceof Perturbation.Momentum m ? m.rho() : Double.NaN;
        // The capture below must not choose convolution algorithms (cuDNN's Find runs on the GPU and cannot be
        // captured): asking for the workspace at this batch makes every layer choose them now.
        model.root().workspaceSize(backend, batch);
        // bf16: the graph's perturbation and update kernels write the layers' bf16 shadow in the pass that writes the
        // weights, so the captured forward passes read it as it is instead of rounding the arena first (null otherwise).
        Buffer shadow = model.handShadowToOptimizer();
        // One eager pass before capturing, so that every library kernel of the step (cuDNN's batch norm and
        // pooling above all) has been loaded and set up outside the capture, as CUDA graph capture advises.
        // It changes nothing that matters: BatchNorm is frozen (running statistics untouched), and the
        // gradients and loss scratch it writes are overwritten by every step's first pass.
        pass(model, x, labels, batch, Mode.TRAIN_FROZEN_STATS, backend, classes);
        Runnable pass1 = () -> pass(model, x, labels, batch, Mode.TRAIN, backend, classes);
        Runnable pass2 = () -> pass(model, x, labels, batch, Mode.TRAIN_FROZEN_STATS, backend, classes);
        graph = graphs.build(new DeviceStepGraph.Spec(model.params(), model.grads(), momentum, savedWeights, savedGradient,
                lookSam, n, (float) momentumCoefficient, (float) weightDecay, nesterov, lr, totalSteps, sam, adaptive, verdicts,
                method.perturbation().rho(), asamEta, method.lookSam() ? method.lookSamAlpha() : Double.NaN,
                SamOptimizer.NOISE_FLOOR, method.lookSam() ? method.lookSamMaxAge() : 0, momentumRho, lossPerExample, batch, pass1, pass2, shadow,
                replicas));
    }

    private void pass(Model model, Buffer x, Buffer labels, int batch, Mode mode, Backend backend, int classes) {
        Buffer logits = model.forward(x, batch, mode);
        backend.softmaxCrossEntropy(batch, classes, logits, labels, dLogits, lossPerExample);
        model.backward(dLogits, batch);
    }

    /** One step decided on the GPU (no host synchronisation). */
    public void step() { graph.launch(); }

    /** One step with the decision read back by the host; returns it. */
    public boolean stepHostDecided() { return graph.launchHostDecided(); }

    /** The device-side record of the last step (synchronises). */
    public DeviceStepGraph.State state() { return graph.state(); }

    /** Enqueues a copy of the last step's record into slot {@code slot} of {@code history} (no synchronisation). */
    public void recordStateTo(Buffer history, int slot) { graph.recordStateTo(history, slot); }

    /** The first {@code count} records of {@code history} (one synchronisation). */
    public java.util.List<DeviceStepGraph.State> readHistory(Buffer history, int count) { return graph.readHistory(history, count); }

    /** The {@code count} records of {@code history} from slot {@code from} on (one synchronisation). */
    public java.util.List<DeviceStepGraph.State> readHistory(Buffer history, int from, int count) {
        return graph.readHistory(history, from, count);
    }

    /** Whether {@code method} can run on the device-decided path (see {@link #unsupported}). */
    public static boolean supports(Method method) { return unsupported(method) == null; }

    /**
     * Why {@code method} cannot run on the device-decided path, or null when it can: ESAM and per-tensor LookSAM
     * need the host step.
     */
    public static String unsupported(Method method) {
        if (method.lookSamPerTensor()) return "per-tensor LookSAM is not on the CUDA graph step yet";
        if (method.perturbation() instanceof Perturbation.Esam) return "ESAM draws per-tensor subsets and selects examples on the host";
        return null;
    }

    /**
     * Why {@code method} cannot run on the device-decided path with more than one rank (local perturbation), or null
     * when it can: besides {@link #unsupported}, Momentum-SAM (its one pass is the same in both modes, and the
     * host-driven step averages its gradient before the perturbation) and the LookSAM reuse (each rank's {@code g_v}
     * would be its own).
     */
    public static String unsupportedWithRanks(Method method) {
        String why = unsupported(method);
        if (why != null) return why;
        if (method.perturbation() instanceof Perturbation.Momentum) return "Momentum-SAM averages its gradient before the update on the host-driven step";
        if (method.lookSam()) return "the LookSAM reuse keeps one g_v per rank, which local perturbation does not support";
        return null;
    }

    /** The momentum arena (same layout as the parameters). */
    public Buffer momentum() { return momentum; }

    /** LookSAM's stored direction {@code g_v} (same layout as the parameters), or null without LookSAM. */
    public Buffer lookSamDirection() { return lookSam; }

    /** The step state besides the arenas, after the queued steps (synchronises); see {@link DeviceStepGraph.CarriedState}. */
    public DeviceStepGraph.CarriedState exportState() { return graph.exportState(); }

    /** Continues from {@code state} (synchronises); the arenas are the caller's to restore. */
    public void importState(DeviceStepGraph.CarriedState state) { graph.importState(state); }

    @Override
    public void close() {
        graph.close();
        for (Buffer b : new Buffer[] {momentum, savedWeights, savedGradient, lookSam, dLogits, lossPerExample}) {
            if (b instanceof AutoCloseable c) {
                try {
                    c.close();
                } catch (Exception e) {
                    throw new IllegalStateException(e);
                }
            }
        }
    }
}
