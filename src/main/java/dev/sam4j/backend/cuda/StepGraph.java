package dev.sam4j.backend.cuda;

import static org.bytedeco.cuda.global.cudart.cuGraphAddKernelNode;
import static org.bytedeco.cuda.global.cudart.cudaGraphAddChildGraphNode;
import static org.bytedeco.cuda.global.cudart.cudaGraphAddNode;
import static org.bytedeco.cuda.global.cudart.cudaGraphCondAssignDefault;
import static org.bytedeco.cuda.global.cudart.cudaGraphCondTypeIf;
import static org.bytedeco.cuda.global.cudart.cudaGraphConditionalHandleCreate;
import static org.bytedeco.cuda.global.cudart.cudaGraphCreate;
import static org.bytedeco.cuda.global.cudart.cudaGraphDestroy;
import static org.bytedeco.cuda.global.cudart.cudaGraphExecDestroy;
import static org.bytedeco.cuda.global.cudart.cudaGraphInstantiate;
import static org.bytedeco.cuda.global.cudart.cudaGraphLaunch;
import static org.bytedeco.cuda.global.cudart.cudaGraphNodeTypeConditional;
import static org.bytedeco.cuda.global.cudart.cudaStreamBeginCapture;
import static org.bytedeco.cuda.global.cudart.cudaStreamBeginCaptureToGraph;
import static org.bytedeco.cuda.global.cudart.cudaStreamCaptureModeThreadLocal;
import static org.bytedeco.cuda.global.cudart.cudaStreamEndCapture;

import dev.sam4j.backend.Buffer;
import dev.sam4j.backend.DeviceStepGraph;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.ArrayList;
import java.util.List;
import org.bytedeco.cuda.cudart.CUgraphExec_st;
import org.bytedeco.cuda.cudart.CUgraphNode_st;
import org.bytedeco.cuda.cudart.CUgraph_st;
import org.bytedeco.cuda.cudart.cudaGraphEdgeData;
import org.bytedeco.cuda.cudart.cudaGraphNodeParams;
import org.bytedeco.javacpp.BytePointer;

/**
 * A whole SAM-family training step recorded once as a CUDA graph and replayed every step, decided on the
 * device:
 * <pre>
 *   [pass 1: lr ← table[t]; forward, loss, backward; mean loss; s = ‖g‖²]            (captured child graph)
 *     → decide kernel: skip if the loss or s is NaN/±Inf; else μ, σ², c_t from the device step counter,
 *       SAM flag, scale ρ/(√s+ε), cudaGraphSetConditional(handle, flag)               (kernel node)
 *     → IF (flag) { perturb (saves w, g); pass 2 at w' (BatchNorm frozen); pass 2's mean loss and ‖g_sam‖²:
 *                   skip if either is NaN/±Inf (the statistic put back);
 *                   LookSAM unless skipped: g_v = g_sam − (⟨g, g_sam⟩/s)·g, ‖g_v‖² with the noise floor }
 *                                                                                    (conditional node)
 *     → [LookSAM reuse weight; one update kernel: restore from the saved w iff flag, SGD-momentum
 *        with the gradient now in the arena (g_sam or g), or on a skip nothing but that restore;
 *        t += 1]                                                                      (captured child graph)
 * </pre>
 * A skipped step thus leaves the weights, the momentum, the AE-SAM statistic and LookSAM's {@code g_v} as they
 * were, as {@code SamOptimizer} does; ERM's graph has no IF node, and its decide kernel (an all-ERM table) only
 * checks the step. LookSAM's reuse weight also keeps {@code g_v}'s age on the device (0 on a SAM step, one more on
 * each ERM step that has a {@code g_v}), and with a max age {@code N > 0} stops reusing it after {@code N} steps.
 * Momentum-SAM has no IF node either: pass 1 begins with {@code ‖m‖²} of the momentum arena, the scale
 * {@code −ρ/(‖m‖ + ε)} (0 when {@code m = 0}, the first step: a plain SGD step) and SAM's perturbation kernel with
 * {@code m} as the direction (saving {@code w}); the update always restores from the saved {@code w}, and on a
 * skip only restores it.
 * With ranks ({@link Spec#replicas}, local perturbation), the NCCL collectives are recorded into the two child graphs
 * of the main body, never into the conditional node's body, where NCCL's fail to instantiate (NVIDIA/nccl issue 1986):
 * <pre>
 *   [pass 1 as above; local s kept (DOT); s ← mean over ranks of s; loss ← mean of the mean losses]  (ncclAvg, fp64)
 *     → decide kernel (from the means: the same decision on every rank, by construction)
 *     → IF (flag) { scale ← ρ/(√(local s)+ε); perturb along this rank's own g; pass 2; its loss and ‖g_sam‖² }
 *     → [pass 2's loss and ‖g_sam‖² ← their means (ncclAvg; NaN on an ERM step); the second-pass check, gated by
 *        the flag; the gradient arena (g_sam or g) ← its mean over the ranks (ncclSum, then ·1/N as the host-driven
 *        NCCL step does); the update as above]
 * </pre>
 * so each step costs one gradient all-reduce whichever branch it takes, plus three tiny scalar ones.
 *
 * <p>No host synchronisation inside: the learning rate comes from a table uploaded once and indexed by the
 * device step counter, and every scalar (s, the flag, the scale, LookSAM's coefficients) stays on the
 * device. The host path ({@link #launchHostDecided}) runs the same pieces but reads the flag back each
 * step and launches the SAM branch itself: the baseline the graph is measured against, and a
 * cross-check (both paths must give the same weights).
 *
 * <p>The step's model work is given as two callbacks that only enqueue backend operations (forward,
 * loss, backward for pass 1 and pass 2); they run once each, while the stream is being captured, so they
 * must not synchronise or allocate. This class knows nothing of models or optimizers
 * ({@code dev.sam4j.optim.sam.DeviceDecidedStep} maps a model and a method onto a {@link Spec}); it is the CUDA
 * backend's {@link DeviceStepGraph}, which is all that code above the backend floor sees of it.
 */
public final class StepGraph implements DeviceStepGraph {

    private final CudaBackend be;
    private final Spec spec;
    private final List<CUgraph_st> graphs = new ArrayList<>();
    private final List<CUgraphExec_st> execs = new ArrayList<>();
    private final List<CudaBuffer> buffers = new ArrayList<>();
    private CUgraphExec_st main, pass1Exec, bodyExec, tailExec;
    private long tableLength;
    private long lrTable, verdictTable;
    private long base;  // this step's own scalars and partials, laid out like CudaBackend's scratch block
    private boolean closed;

    private StepGraph(CudaBackend be, Spec spec) {
        this.be = be;
        this.spec = spec;
    }

    /** Records the step (runs nothing) and resets the device step counter and statistics to step 0. */
    public static StepGraph build(CudaBackend backend, Spec spec) {
        StepGraph g = new StepGraph(backend, spec);
        try {
            g.record();
        } catch (RuntimeException | Error e) {
            g.close();
            throw e;
        }
        return g;
    }

    private static CudaBuffer c(Buffer b) { return (CudaBuffer) b; }

    private long addr(Buffer b) { return b == null ? 0 : c(b).address; }

    private long scratch(long offset) { return base + offset; }

    private void record() {
        if (spec.lrTable().length == 0) throw new IllegalArgumentException("empty learning-rate table");
        tableLength = spec.lrTable().length;
        CudaBuffer lr = be.allocate(tableLength);
        buffers.add(lr);
        be.upload(spec.lrTable(), 0, lr, spec.lrTable().length);
        lrTable = lr.address;
        if (spec.verdicts() != null) {
            CudaBuffer v = be.allocate((spec.verdicts().length + 3) / 4);
            buffers.add(v);
            be.uploadBytes(v.address, spec.verdicts());
            verdictTable = v.address;
        }
        // Private scalars (zeroed: step 0, no statistics yet), so that several steps can share a backend.
        CudaBuffer state = be.allocate(CudaBackend.SCRATCH_BYTES / 4);
        buffers.add(state);
        base = state.address;

        CUgraph_st pass1 = capture(this::pass1), tail = capture(this::tail);
        pass1Exec = instantiate(pass1);
        tailExec = instantiate(tail);
        if (spec.sam()) bodyExec = instantiate(capture(this::samBranch));

        CUgraph_st g = newGraph();
        CUgraphNode_st a = new CUgraphNode_st();
        CudaCheck.rt(cudaGraphAddChildGraphNode(a, g, null, 0, pass1), "cudaGraphAddChildGraphNode(pass 1)");
        CUgraphNode_st last = a;
        if (spec.sam()) {
            long[] handle = {0};
            // The condition is reset to 0 at every launch; only the decide kernel sets it, on the device.
            CudaCheck.rt(cudaGraphConditionalHandleCreate(handle, g, 0, cudaGraphCondAssignDefault), "cudaGraphConditionalHandleCreate");
            Kernel decide = decideKernel(handle[0], true);
            CUgraphNode_st d = new CUgraphNode_st();
            CudaCheck.cu(cuGraphAddKernelNode(d, g, a, 1, decide.nodeParams(1, 1)), "cuGraphAddKernelNode(" + decide.name + ")");
            // cudaGraphNodeParams has no allocating constructor in the presets: 256 zeroed bytes (its size in
            // CUDA 13.0 and 13.1; unused bytes must be zero).
            BytePointer raw = new BytePointer(256).zero();
            cudaGraphNodeParams params = new cudaGraphNodeParams(raw);
            params.type(cudaGraphNodeTypeConditional);
            params.conditional().handle(handle[0]).type(cudaGraphCondTypeIf).size(1);
            CUgraphNode_st ifNode = new CUgraphNode_st();
            CudaCheck.rt(cudaGraphAddNode(ifNode, g, d, (cudaGraphEdgeData) null, 1, params), "cudaGraphAddNode(conditional IF)");
            // phGraph_out is a CUDA-owned array of body graphs; its getter already dereferences (body 0).
            CUgraph_st body = params.conditional().phGraph_out();
            if (body == null || body.isNull()) throw new CudaException("the conditional node returned no body graph");
            CudaCheck.rt(cudaStreamBeginCaptureToGraph(be.ctx.stream, body, (CUgraphNode_st) null, (cudaGraphEdgeData) null, 0,
                    cudaStreamCaptureModeThreadLocal), "cudaStreamBeginCaptureToGraph(SAM branch)");
            endCapture(this::samBranch, false);  // the body belongs to the conditional node
            last = ifNode;
        }
        CUgraphNode_st t = new CUgraphNode_st();
        CudaCheck.rt(cudaGraphAddChildGraphNode(t, g, last, 1, tail), "cudaGraphAddChildGraphNode(update)");
        main = instantiate(g);
    }

    /** Runs {@code work} while the stream records into a new graph. */
    private CUgraph_st capture(Runnable work) {
        CudaCheck.rt(cudaStreamBeginCapture(be.ctx.stream, cudaStreamCaptureModeThreadLocal), "cudaStreamBeginCapture");
        return endCapture(work, true);
    }

    private CUgraph_st endCapture(Runnable work, boolean owned) {
        RuntimeException failure = null;
        try {
            work.run();
        } catch (RuntimeException e) {
            failure = e;
        }
        CUgraph_st g = new CUgraph_st();
        int status = cudaStreamEndCapture(be.ctx.stream, g);  // always end it, or the stream stays unusable
        if (failure != null) throw failure;
        CudaCheck.rt(status, "cudaStreamEndCapture");
        if (owned) graphs.add(g);
        return g;
    }

    private CUgraph_st newGraph() {
        CUgraph_st g = new CUgraph_st();
        CudaCheck.rt(cudaGraphCreate(g, 0), "cudaGraphCreate");
        graphs.add(g);
        return g;
    }

    private CUgraphExec_st instantiate(CUgraph_st g) {
        CUgraphExec_st e = new CUgraphExec_st();
        CudaCheck.rt(cudaGraphInstantiate(e, g, 0L), "cudaGraphInstantiate");
        execs.add(e);
        return e;
    }

    // ------------------------------------------------------------------------------ the pieces

    /** This rank's communicator, or null with one rank. */
    private Nccl.Comm replicas() {
        if (!spec.replicated()) return null;
        if (!(spec.replicas() instanceof Nccl.Comm c)) {
            throw new IllegalArgumentException("the CUDA step graph takes an NCCL communicator of its backend, not " + spec.replicas());
        }
        return c;
    }

    private void pass1() {
        be.k.stepBegin(lrTable, tableLength, scratch(CudaBackend.COUNTERS), scratch(CudaBackend.LR));
        if (spec.momentumSam()) {
            // w̃ = w − ρ·m/‖m‖, as SamOptimizer.momentumStep: Q and SCALE are free here (no ASAM, no decision yet), and the
            // decide kernel rewrites SCALE after the pass. m = 0 gives scale 0 (perturb_scale's guard): w̃ = w exactly.
            long w = addr(spec.params()), m = addr(spec.momentum());
            be.k.sumOfSquares(m, spec.n(), scratch(CudaBackend.PARTIALS), scratch(CudaBackend.Q), 0);
            be.k.perturbScale(scratch(CudaBackend.Q), -spec.momentumRho(), scratch(CudaBackend.SCALE));
            be.k.samPerturb(w, m, addr(spec.savedWeights()), addr(spec.savedGradient()), spec.n(), 0f, scratch(CudaBackend.SCALE), shadow());
        }
        spec.pass1().run();
        be.k.meanLoss(addr(spec.lossPerExample()), spec.batch(), scratch(CudaBackend.MEAN_LOSS));
        be.k.sumOfSquares(addr(spec.grads()), spec.n(), scratch(CudaBackend.PARTIALS), scratch(CudaBackend.S),
                scratch(CudaBackend.NONFINITE));
        Nccl.Comm comm = replicas();
        if (comm != null) {
            // The perturbation scales by this rank's own norm (DOT is LookSAM's, which takes no ranks); the decision and
            // the record see the means, as SamOptimizer's local mode.
            be.k.copy(scratch(CudaBackend.S), scratch(CudaBackend.DOT), 2);
            comm.captureMeanOfDoubles(scratch(CudaBackend.S), 1);
            comm.captureMeanOfDoubles(scratch(CudaBackend.MEAN_LOSS), 1);
        }
    }

    private Kernel decideKernel(long handle, boolean setCondition) {
        if (spec.adaptive() != null) {
            double[] a = spec.adaptive();
            return be.k.decideAdaptive.p(0, scratch(CudaBackend.S)).p(1, scratch(CudaBackend.MEAN_LOSS)).p(2, scratch(CudaBackend.STATS))
                    .p(3, scratch(CudaBackend.COUNTERS)).p(4, spec.totalSteps()).d(5, a[0]).d(6, a[1]).d(7, a[2])
                    .p(8, (long) a[3]).d(9, spec.rho()).p(10, scratch(CudaBackend.FLAG)).p(11, scratch(CudaBackend.SCALE))
                    .p(12, scratch(CudaBackend.OUTCOME)).p(13, handle).i(14, setCondition ? 1 : 0);
        }
        return be.k.decideTable.p(0, verdictTable).p(1, spec.verdicts().length).p(2, scratch(CudaBackend.S))
                .p(3, scratch(CudaBackend.MEAN_LOSS)).p(4, scratch(CudaBackend.STATS)).p(5, scratch(CudaBackend.COUNTERS))
                .d(6, spec.rho()).p(7, scratch(CudaBackend.FLAG)).p(8, scratch(CudaBackend.SCALE)).p(9, scratch(CudaBackend.OUTCOME))
                .p(10, handle).i(11, setCondition ? 1 : 0);
    }

    private void samBranch() {
        long w = addr(spec.params()), g = addr(spec.grads()), ws = addr(spec.savedWeights()), gs = addr(spec.savedGradient());
        long n = spec.n();
        if (Double.isNaN(spec.asamEta())) {
            // With ranks the decide kernel's scale came from the mean s: each rank perturbs by its own norm instead.
            if (spec.replicated()) be.k.perturbScale(scratch(CudaBackend.DOT), spec.rho(), scratch(CudaBackend.SCALE));
            be.k.samPerturb(w, g, ws, gs, n, 0f, scratch(CudaBackend.SCALE), shadow());
        } else {
            float eta = (float) spec.asamEta();
            be.k.asamNormSquared(w, g, n, eta, scratch(CudaBackend.PARTIALS), scratch(CudaBackend.Q));
            be.k.perturbScale(scratch(CudaBackend.Q), spec.rho(), scratch(CudaBackend.SCALE));
            be.k.asamPerturb(w, g, ws, gs, n, 0f, scratch(CudaBackend.SCALE), eta, shadow());
        }
        spec.pass2().run();
        // A fault in pass 2 alone (pass 1 was finite, or there would be no SAM branch) skips the step here.
        be.k.meanLoss(addr(spec.lossPerExample()), spec.batch(), scratch(CudaBackend.SAM_LOSS));
        be.k.sumOfSquares(g, n, scratch(CudaBackend.PARTIALS), scratch(CudaBackend.SAM_SUMSQ), 0);
        // With ranks the check runs after the conditional node, on the means (no collective may sit in this body).
        if (!spec.replicated()) be.k.secondPassCheck(scratch(CudaBackend.OUTCOME), scratch(CudaBackend.STATS), scratch(CudaBackend.COUNTERS), 0);
        if (spec.lookSamDirection() != null) {
            long v = addr(spec.lookSamDirection()), skip = scratch(CudaBackend.SKIP);
            be.k.dot(gs, g, n, scratch(CudaBackend.PARTIALS), scratch(CudaBackend.DOT));
            be.k.lookSamCoef(scratch(CudaBackend.DOT), scratch(CudaBackend.S), scratch(CudaBackend.COEF));
            be.k.axpby(0f, scratch(CudaBackend.COEF), gs, 1f, g, v, n, skip);
            be.k.sumOfSquares(v, n, scratch(CudaBackend.PARTIALS), scratch(CudaBackend.GV_NEW), 0);
            double floor = spec.lookSamNoiseFloor();
            be.k.lookSamNorm(scratch(CudaBackend.GV_NEW), scratch(CudaBackend.SAM_SUMSQ), floor * floor, skip, scratch(CudaBackend.GV));
        }
    }

    /** The bf16 shadow of the weights, which every weight-writing kernel of the step also writes, or 0 (fp32, TF32). */
    private long shadow() { return spec.shadow() == null ? 0 : addr(spec.shadow()); }

    private void tail() {
        // ERM's graph has no decide node: its all-ERM table decides nothing here but checks the step and writes its record.
        if (!spec.sam()) decideKernel(0, false).launch(be.ctx.stream, 1, 1);
        Nccl.Comm comm = replicas();
        if (comm != null) {
            if (spec.sam()) {
                // SAM_LOSS and SAM_SUMSQ are adjacent: one all-reduce; on an ERM step both are NaN and the check is off.
                comm.captureMeanOfDoubles(scratch(CudaBackend.SAM_LOSS), 2);
                be.k.secondPassCheck(scratch(CudaBackend.OUTCOME), scratch(CudaBackend.STATS), scratch(CudaBackend.COUNTERS),
                        scratch(CudaBackend.FLAG));
            }
            long g = addr(spec.grads());
            comm.captureSum(g, spec.n());
            be.k.axpby((float) (1.0 / comm.worldSize()), 0, g, 0f, g, g, spec.n(), 0);
        }
        long v = 0, vScale = 0;
        if (spec.lookSamDirection() != null) {
            v = addr(spec.lookSamDirection());
            vScale = scratch(CudaBackend.VSCALE);
            be.k.lookSamVScale(scratch(CudaBackend.S), scratch(CudaBackend.GV), scratch(CudaBackend.FLAG), spec.lookSamAlpha(), vScale,
                    scratch(CudaBackend.SKIP), scratch(CudaBackend.LOOKSAM_AGE), spec.lookSamMaxAge());
        }
        // SAM: restore iff the flag; Momentum-SAM: always (no flag), from the w saved before pass 1.
        boolean restore = spec.sam() || spec.momentumSam();
        be.k.sgdStep(addr(spec.params()), restore ? addr(spec.savedWeights()) : 0, spec.sam() ? scratch(CudaBackend.FLAG) : 0,
                addr(spec.grads()), v, 0f, vScale, addr(spec.momentum()), spec.n(), 0f, scratch(CudaBackend.LR),
                spec.momentumCoefficient(), spec.weightDecay(), spec.nesterov(),
                // A skipped step updates nothing (decided on the device by the decide kernel or the second-pass check).
                scratch(CudaBackend.SKIP), shadow());
        be.k.stepEnd.p(0, scratch(CudaBackend.COUNTERS)).launch(be.ctx.stream, 1, 1);
    }

    // ---------------------------------------------------------------------------------- running

    /** One step, decided on the device: one graph launch, no host synchronisation. */
    @Override
    public void launch() {
        checkOpen();
        CudaCheck.rt(cudaGraphLaunch(main, be.ctx.stream), "cudaGraphLaunch(step)");
    }

    /** One step with the decision read back by the host (one synchronisation per step); returns it. */
    @Override
    public boolean launchHostDecided() {
        checkOpen();
        CudaCheck.rt(cudaGraphLaunch(pass1Exec, be.ctx.stream), "cudaGraphLaunch(pass 1)");
        boolean sam = false;
        if (spec.sam()) {
            decideKernel(0, false).launch(be.ctx.stream, 1, 1);
            sam = ByteBuffer.wrap(be.readBytes(scratch(CudaBackend.FLAG), 4)).order(ByteOrder.LITTLE_ENDIAN).getInt() != 0;
            if (sam) CudaCheck.rt(cudaGraphLaunch(bodyExec, be.ctx.stream), "cudaGraphLaunch(SAM branch)");
        }
        CudaCheck.rt(cudaGraphLaunch(tailExec, be.ctx.stream), "cudaGraphLaunch(update)");
        return sam;
    }

    /** Waits for the queued steps (one synchronisation). */
    @Override
    public void synchronize() { be.readBytes(scratch(CudaBackend.COUNTERS), 8); }

    /**
     * Bytes of one step record: the scratch block from {@code s} through the step's outcome (see {@link #state()}),
     * {@link DeviceStepGraph#RECORD_FLOATS} floats, which history buffers are sized by.
     */
    public static final int RECORD_BYTES = recordBytes();

    private static int recordBytes() {
        long bytes = CudaBackend.SKIP + 8 - CudaBackend.S;
        // The floor's constant sizes every history buffer: a scratch layout that outgrew it would copy past them.
        if (bytes != 4L * RECORD_FLOATS) {
            throw new IllegalStateException("step record is " + bytes + " bytes, DeviceStepGraph.RECORD_FLOATS says " + 4 * RECORD_FLOATS);
        }
        return (int) bytes;
    }

    /** Bytes of the scratch block from {@code s} through LookSAM's age: what {@link CarriedState} is read from. */
    private static final int CARRIED_BYTES = (int) (CudaBackend.LOOKSAM_AGE + 8 - CudaBackend.S);

    /** The device-side record of the last step (synchronises); see {@link State}. */
    @Override
    public State state() {
        return parse(be.readBytes(scratch(CudaBackend.S), RECORD_BYTES), 0);
    }

    /**
     * Enqueues a device-to-device copy of the last step's record into slot {@code slot} of {@code history}
     * (a buffer of at least {@code (slot + 1)·RECORD_FLOATS} floats of this backend): no host synchronisation,
     * so a trainer can keep every step's statistic and read them back once per epoch.
     */
    @Override
    public void recordStateTo(Buffer history, int slot) {
        checkOpen();
        long need = (long) (slot + 1) * RECORD_FLOATS;
        if (slot < 0 || history.length() < need) {
            throw new IllegalArgumentException("history buffer has " + history.length() + " floats, slot " + slot + " needs " + need);
        }
        be.copy(new CudaBuffer(be, scratch(CudaBackend.S), RECORD_FLOATS, false), history.slice((long) slot * RECORD_FLOATS, RECORD_FLOATS),
                RECORD_FLOATS);
    }

    /** Reads back the {@code count} records of {@code history} from slot {@code from} on (one synchronisation). */
    @Override
    public java.util.List<State> readHistory(Buffer history, int from, int count) {
        if (count == 0) return java.util.List.of();
        if (from < 0 || count < 0 || !(history instanceof CudaBuffer h) || history.length() < (long) (from + count) * RECORD_FLOATS) {
            throw new IllegalArgumentException("history buffer too short or not a CUDA buffer");
        }
        byte[] bytes = be.readBytes(h.address + (long) from * RECORD_BYTES, count * RECORD_BYTES);
        java.util.List<State> out = new java.util.ArrayList<>(count);
        for (int i = 0; i < count; i++) out.add(parse(bytes, i * RECORD_BYTES));
        return out;
    }

    private static State parse(byte[] bytes, int at) {
        ByteBuffer b = ByteBuffer.wrap(bytes, at, RECORD_BYTES).slice().order(ByteOrder.LITTLE_ENDIAN);
        int base = (int) CudaBackend.S, c = (int) CudaBackend.COUNTERS - base, st = (int) CudaBackend.STATS - base;
        return new State(b.getLong(c), b.getLong(c + 16), b.getDouble(0), b.getDouble((int) CudaBackend.DECISION_MU - base),
                b.getDouble(st + 24), b.getDouble(st + 32), b.getDouble(st + 40) != 0, b.getDouble((int) CudaBackend.MEAN_LOSS - base),
                b.getDouble((int) CudaBackend.SAM_LOSS - base), b.getDouble((int) CudaBackend.SAM_SUMSQ - base),
                b.getInt((int) CudaBackend.SKIP - base) != 0, b.getLong(c + 24));
    }

    /**
     * Downloads the {@link CarriedState} after the queued steps (one synchronisation: call it between steps,
     * never inside a capture).
     */
    @Override
    public CarriedState exportState() {
        checkOpen();
        // One read from s through the age (past the record): the age lives after LookSAM's scratch.
        ByteBuffer b = ByteBuffer.wrap(be.readBytes(scratch(CudaBackend.S), CARRIED_BYTES)).order(ByteOrder.LITTLE_ENDIAN);
        int c = (int) (CudaBackend.COUNTERS - CudaBackend.S), st = (int) (CudaBackend.STATS - CudaBackend.S);
        return new CarriedState(b.getLong(c), b.getLong(c + 8), b.getLong(c + 16), b.getLong(c + 24), b.getDouble(st),
                b.getDouble(st + 8), b.getDouble((int) (CudaBackend.GV - CudaBackend.S)),
                b.getLong((int) (CudaBackend.LOOKSAM_AGE - CudaBackend.S)));
    }

    /**
     * Uploads {@code state} (synchronises), so that the next launch continues as step {@code state.step()} of
     * a run that never stopped. The last step's record (s, σ, c, verdict, loss) is zeroed as at step 0; no step
     * reads it before writing it.
     */
    @Override
    public void importState(CarriedState state) {
        checkOpen();
        if (state.step() > spec.totalSteps()) {
            throw new IllegalArgumentException("step counter " + state.step() + " is past the run's " + spec.totalSteps() + " steps");
        }
        // The record and the scratch between it and the age are zeroed too: no step reads them before writing them.
        ByteBuffer b = ByteBuffer.allocate(CARRIED_BYTES).order(ByteOrder.LITTLE_ENDIAN);
        int c = (int) (CudaBackend.COUNTERS - CudaBackend.S), st = (int) (CudaBackend.STATS - CudaBackend.S);
        b.putLong(c, state.step()).putLong(c + 8, state.observed()).putLong(c + 16, state.samSteps())
                .putLong(c + 24, state.nonFiniteSteps());
        b.putDouble(st, state.mu()).putDouble(st + 8, state.variance());
        b.putDouble((int) (CudaBackend.GV - CudaBackend.S), state.lookSamSumSquares());
        b.putLong((int) (CudaBackend.LOOKSAM_AGE - CudaBackend.S), state.lookSamAge());
        be.uploadBytes(scratch(CudaBackend.S), b.array());
    }

    /** SAM steps so far (synchronises). */
    @Override
    public long samSteps() { return state().samSteps(); }

    private void checkOpen() {
        if (closed) throw new IllegalStateException("step graph is closed");
        be.ctx.makeCurrent();  // cudaSetDevice is per thread: launches may come from another thread than the build
    }

    @Override
    public void close() {
        if (closed) return;
        closed = true;
        for (CUgraphExec_st e : execs) cudaGraphExecDestroy(e);
        for (CUgraph_st g : graphs) cudaGraphDestroy(g);
        for (CudaBuffer b : buffers) b.close();
    }
}
