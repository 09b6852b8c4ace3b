package dev.sam4j.train;

import dev.sam4j.backend.Backend;
import dev.sam4j.backend.Buffer;
import dev.sam4j.data.BatchLoader;
import dev.sam4j.data.Dataset;
import dev.sam4j.data.Normalization;
import dev.sam4j.nn.Model;
import dev.sam4j.nn.SoftmaxCrossEntropy;
import dev.sam4j.optim.LrSchedule;
import dev.sam4j.optim.Sgd;
import dev.sam4j.optim.sam.Decision;
import dev.sam4j.optim.sam.GradientClosure;
import dev.sam4j.optim.sam.SamOptimizer;
import dev.sam4j.parallel.Collective;
import dev.sam4j.parallel.NcclCollective;
import java.nio.file.Path;

/**
 * The host-driven step of one data-parallel rank, inside {@link Trainer#run}'s one loop like every {@link StepPath}:
 * this rank's shard of the global batch through {@link SamOptimizer} with the gradient averaged over the ranks (by an
 * {@link dev.sam4j.optim.sam.AveragedClosure} for {@code --sam-perturbation global}, inside the optimizer for
 * {@code local}), so that every rank applies the same update and holds the same weights and momentum.
 *
 * <p>After each step one all-reduce of two doubles adds the ranks' pass-1 hits (the training accuracy is the global
 * batch's) and tells whether any rank was asked to stop, so that every rank stops after the same step. The loss and
 * {@code s} of the record are already reduced values, the same on every rank.
 *
 * <p>BatchNorm: each rank normalises with its own batch's statistics and updates its own running statistics; before
 * every evaluation and checkpoint rank 0's running statistics are broadcast to every rank, which then go on from
 * them. That is PyTorch DDP's default ({@code broadcast_buffers}: rank 0's buffers win), costs nothing per step, and
 * makes everything that reads the running statistics (the evaluation, the checkpoint) see the same values on every
 * rank. Evaluation is sharded (contiguous slices of the test set) with the sums all-reduced. Rank 0 alone writes the
 * checkpoint (a host-step checkpoint, so a run resumes at another world size, or on one rank, from it); every rank
 * restores from the same file.
 *
 * <p>On CUDA with local perturbation the rank runs the CUDA graph step instead ({@link StepPath.Graph} over a
 * {@link DeviceDecidedStep} that records its NCCL collectives in the graph's main body): no host synchronisation and
 * no host collective per step. The ranks then agree on a stop where the graph path reads its records back (the end
 * of the epoch, or of a {@code --checkpoint-every} segment), and that read-back first waits for the launched graphs
 * while watching the TCP links ({@link NcclCollective#awaitLaunched}), so a dead peer ends the job naming the rank
 * instead of hanging in a real NCCL kernel. Its checkpoint is the graph step's, written by rank 0.
 */
final class ReplicatedStep implements StepPath {
    private final Collective collective;
    private final SamOptimizer optimizer;
    private final Sgd sgd;
    private final BatchClosure closure;
    private final GradientClosure stepClosure;
    private final StepAccounting accounting;
    private final Model model;
    private final double[] shared = new double[2];
    private volatile boolean stopWanted;
    private Runnable onStop = () -> {};
    private Dataset testShard;   // this rank's slice of the test set, made at the first evaluation
    private final StepPath.Graph graph;   // the CUDA graph step (local perturbation over NCCL), else null
    private final NcclCollective watch;   // graph's communicator, waited on at each read-back

    /** The CUDA graph step of one rank over NCCL (see the class comment). */
    ReplicatedStep(NcclCollective collective, StepPath.Graph graph, Model model) {
        this.collective = collective;
        this.optimizer = null;
        this.sgd = null;
        this.closure = null;
        this.stepClosure = null;
        this.accounting = null;
        this.model = model;
        this.graph = graph;
        this.watch = collective;
    }

    ReplicatedStep(Collective collective, SamOptimizer optimizer, Sgd sgd, BatchClosure closure, GradientClosure stepClosure,
                   StepAccounting accounting, Model model) {
        this.collective = collective;
        this.optimizer = optimizer;
        this.sgd = sgd;
        this.closure = closure;
        this.stepClosure = stepClosure;
        this.accounting = accounting;
        this.model = model;
        this.graph = null;
        this.watch = null;
    }

    int rank() { return collective.rank(); }

    /**
     * On the graph step, an error from the device (a launched graph's collective failed because a peer is gone, seen at
     * the next wait for the device) as the job's collective error naming the rank that ended it; else {@code e} itself.
     */
    RuntimeException explain(RuntimeException e) {
        if (watch != null) watch.stopWatching();
        if (watch == null || e instanceof dev.sam4j.parallel.CollectiveException) return e;
        if (e instanceof IllegalArgumentException) return e;   // a setting refused, not a failed rank
        return watch.explain(e);
    }
    int worldSize() { return collective.worldSize(); }

    /** This rank was asked to stop (Ctrl-C): the ranks agree after the current step, and then {@code onStop} runs on each. */
    void requestStop() { stopWanted = true; }

    void onStop(Runnable r) { onStop = r; }

    @Override public void startSegment(Progress p) {
        if (graph == null) return;
        graph.startSegment(p);
        watch.startWatching();   // until the read-back: the host may block in an input copy meanwhile
    }

    @Override public void step(Progress p, int epoch, BatchLoader.Batch batch, int n, long total, double lr) {
        if (graph != null) {
            graph.step(p, epoch, batch, n, total, lr);   // queues one graph launch: no host synchronisation
            p.epochImages += (long) n * collective.worldSize() - n;
            return;
        }
        long t0 = System.nanoTime();
        if (batch != null) closure.load(batch.x(), batch.labels(), n);
        SamOptimizer.StepResult r = optimizer.step(stepClosure, p.step, total, lr);
        shared[0] = closure.pass1Correct;
        shared[1] = stopWanted ? 1 : 0;
        collective.allReduce(shared, Collective.Op.SUM);
        if (shared[1] > 0) onStop.run();
        long dt = System.nanoTime() - t0;
        p.epochTrainNanos += dt;
        int global = n * collective.worldSize();
        p.epochImages += global - n;   // the loop adds this rank's n: the run counts the global batch's images
        Decision d = r.decision();
        StepRecord rec = new StepRecord(p.step, epoch, r.loss(), r.s(), d.mu(), d.sigma(), d.c(), r.sam(), lr, dt, r.skipped());
        long step = p.step;
        accounting.account(p, rec, global, (long) shared[0],
                () -> accounting.nonFinite(step, epoch, r.loss(), r.s(), r.samLoss(), r.samSumSquares(), ""));
    }

    @Override public void drain(Progress p, int epoch, LrSchedule schedule, long total) {
        if (graph == null) return;
        watch.stopWatching();
        watch.awaitLaunched("the step graphs launched since the last read-back");
        graph.drain(p, epoch, schedule, total);
        shared[0] = 0;
        shared[1] = stopWanted ? 1 : 0;
        collective.allReduce(shared, Collective.Op.SUM);
        if (shared[1] > 0) onStop.run();
    }

    @Override public boolean fullBatchesOnly() { return true; }

    @Override public boolean countsTrainAccuracy() { return graph == null; }

    @Override public void save(Path file, TrainConfig config, Model m, Normalization norm, Progress p) {
        syncRunningStatistics();
        if (collective.rank() == 0) {
            if (graph != null) graph.save(file, config, m, norm, p); else Checkpoint.save(file, config, m, norm, sgd, optimizer, p);
        }
        collective.barrier();   // the file is complete before any rank goes on (and might read it back)
    }

    @Override public Progress restore(Path file, TrainConfig config, Model m) {
        return graph != null ? graph.restore(file, config, m) : Checkpoint.restore(file, config, m, sgd, optimizer);
    }

    /** Rank 0's BatchNorm running statistics onto every rank (see the class comment for why rank 0's). */
    void syncRunningStatistics() {
        long n = model.stateLayout().total();
        if (n > 0) collective.broadcast(model.backend(), model.state(), n, 0);
    }

    /** The test loss and accuracy over the whole test set: this rank's contiguous slice, the sums all-reduced. */
    Evaluation evaluate(Backend backend, SoftmaxCrossEntropy loss, Dataset test, int batchSize, Normalization normalization,
                      Buffer xBuf, Buffer labelBuf, float[] logitsHost) {
        syncRunningStatistics();
        int w = collective.worldSize(), r = collective.rank(), size = test.size();
        int from = (int) ((long) size * r / w), to = (int) ((long) size * (r + 1) / w);
        double[] sums = {0, 0};
        if (to > from) {
            if (testShard == null) {
                int[] idx = new int[to - from];
                for (int i = 0; i < idx.length; i++) idx[i] = from + i;
                testShard = test.select(idx, test.name() + " [" + from + ", " + to + ")");
            }
            sums = Evaluator.testSums(backend, model, loss, testShard, batchSize, normalization, xBuf, labelBuf, logitsHost);
        }
        collective.allReduce(sums, Collective.Op.SUM);
        return new Evaluation(sums[0] / size, sums[1] / size, size);
    }
}
