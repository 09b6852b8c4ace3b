package dev.sam4j.benchmark;

import dev.sam4j.backend.Backend;
import dev.sam4j.backend.Buffer;
import dev.sam4j.backend.Precision;
import dev.sam4j.nn.Model;
import dev.sam4j.nn.SoftmaxCrossEntropy;
import dev.sam4j.nn.models.Models;
import dev.sam4j.optim.LrSchedule;
import dev.sam4j.optim.Sgd;
import dev.sam4j.optim.sam.DeviceDecidedStep;
import dev.sam4j.optim.sam.Method;
import dev.sam4j.optim.sam.SamOptimizer;
import dev.sam4j.tensor.Shape;
import dev.sam4j.train.BatchClosure;
import java.lang.management.ManagementFactory;
import java.util.Arrays;
import java.util.SplittableRandom;

/**
 * Times full training steps of a model and method on random inputs (a rotation of a few fixed batches,
 * no data loading), after warm-up: exactly the {@link dev.sam4j.train.Trainer}'s step (upload, pass 1, {@code ‖g‖²}, the
 * policy, the SAM branch when taken, the update). Step times are split by the path each step took, so
 * an adaptive method's ERM-path steps can be compared with plain ERM steps. Medians, because shared
 * machines are noisy; means as well, because a mixed method's cost is its mean (with under half of its
 * steps on the SAM path its median is an ERM-path step).
 *
 * <p>Memory: each method's model and optimizer are built one after another with a full collection before
 * and after, so {@link Result#heapBytes()} is what that method alone keeps alive on the heap (the CPU
 * backend's arenas and activations are heap arrays) and {@link Result#deviceBytes()} what it allocated
 * on a GPU. Shared scratch (GEMM packing panels, the input batches) is not in either.
 */
public final class StepBenchmark {
    private StepBenchmark() {}

    private static final int BATCHES = 4;

    /**
     * Step times in milliseconds, all steps and split by path, each sorted ascending; {@code stepPath}: {@code host}
     * (the host-driven step) or {@code graph} (the CUDA graph step, decided on the device).
     */
    public record Result(String model, String method, int batch, long parameters, double[] allMillis, double[] ermPathMillis,
                         double[] samPathMillis, long heapBytes, long deviceBytes, String stepPath) {
        public double median() { return percentile(allMillis, 0.5); }
        public double mean() { return Arrays.stream(allMillis).average().orElse(Double.NaN); }
        public double p90() { return percentile(allMillis, 0.9); }
        public double medianErmPath() { return percentile(ermPathMillis, 0.5); }
        public double medianSamPath() { return percentile(samPathMillis, 0.5); }
        public double samFraction() { return samPathMillis.length / (double) allMillis.length; }
        public double imagesPerSecond() { return batch * 1000.0 / median(); }

        static double percentile(double[] sorted, double q) {
            if (sorted.length == 0) return Double.NaN;
            double pos = q * (sorted.length - 1);
            int lo = (int) Math.floor(pos), hi = (int) Math.ceil(pos);
            return sorted[lo] + (pos - lo) * (sorted[hi] - sorted[lo]);
        }
    }

    public static Result run(Backend backend, String modelName, String method, Shape input, int classes, int batch,
                             int warmup, int steps, long seed) {
        return runInterleaved(backend, modelName, java.util.List.of(method), input, classes, batch, warmup, steps, seed).get(0);
    }

    /**
     * Times several methods side by side: one model and optimizer per method (same seed, same batches),
     * and in every round one step of each method in turn, so that a slow phase of a shared machine
     * hits all methods alike and their ratios stay meaningful.
     */
    public static java.util.List<Result> runInterleaved(Backend backend, String modelName, java.util.List<String> methods,
                                                        Shape input, int classes, int batch, int warmup, int steps, long seed) {
        return runInterleaved(backend, modelName, methods, input, classes, batch, warmup, steps, seed, Precision.FP32);
    }

    /** As above, with the layers computing in {@code precision}, which {@code backend} must support; host-driven steps. */
    public static java.util.List<Result> runInterleaved(Backend backend, String modelName, java.util.List<String> methods,
                                                        Shape input, int classes, int batch, int warmup, int steps, long seed,
                                                        Precision precision) {
        return runInterleaved(backend, modelName, methods, input, classes, batch, warmup, steps, seed, precision, false);
    }

    /**
     * As above; with {@code graph}, on a backend that runs device-decided steps (CUDA), each method whose step runs
     * there ({@link DeviceDecidedStep#supports}) is timed on the CUDA graph step, the trainer's default path on a GPU,
     * and the others on the host-driven step ({@link Result#stepPath} says which). A graph step is timed from the
     * input's upload to the read-back of its record (one synchronisation, as the host-driven step has at least one),
     * so both paths are wall-clock step latencies.
     */
    public static java.util.List<Result> runInterleaved(Backend backend, String modelName, java.util.List<String> methods,
                                                        Shape input, int classes, int batch, int warmup, int steps, long seed,
                                                        Precision precision, boolean graph) {
        if (steps < 1 || warmup < 0) throw new IllegalArgumentException("steps must be >= 1 and warm-up >= 0");
        if (methods.isEmpty()) throw new IllegalArgumentException("no method to time");
        int k = methods.size();
        Method[] ms = new Method[k];
        for (int j = 0; j < k; j++) ms[j] = Method.of(methods.get(j), Method.Hyper.defaults());
        Model[] models = new Model[k];
        DeviceDecidedStep[] graphs = new DeviceDecidedStep[k];
        java.util.List<Runnable> closers = new java.util.ArrayList<>();  // the host path's loss and SGD state
        try {
            SamOptimizer[] opts = new SamOptimizer[k];
            BatchClosure[] closures = new BatchClosure[k];
            SplittableRandom r = new SplittableRandom(seed);
            int es = input.intSize();
            float[][] xs = new float[BATCHES][batch * es];
            float[][] ys = new float[BATCHES][batch];
            for (int b = 0; b < BATCHES; b++) {
                for (int i = 0; i < xs[b].length; i++) xs[b][i] = (float) r.nextGaussian();
                for (int i = 0; i < batch; i++) ys[b][i] = r.nextInt(classes);
            }
            Buffer xb = backend.allocate((long) batch * es), yb = backend.allocate(batch);
            Buffer[] sub = {backend.allocate((long) batch * es), backend.allocate(batch)};  // ESAM's selected examples
            long[] heap = new long[k], device = new long[k];
            long heap0 = liveHeapBytes(), device0 = deviceBytes(backend);
            long total = warmup + steps;
            for (int j = 0; j < k; j++) {
                Model model = models[j] = new Model(Models.create(modelName, input, classes), input, classes, backend, batch, seed, precision);
                if (graph && backend.runsDeviceDecidedSteps() && DeviceDecidedStep.supports(ms[j])) {
                    // The same hyper-parameters as the host-driven step below (momentum 0.9, weight decay 5e-4, lr 0.01).
                    graphs[j] = new DeviceDecidedStep(model, xb, yb, batch, ms[j], new LrSchedule.Constant(0.01, 0), total,
                            0.9, 5e-4, false, seed);
                } else {
                    SoftmaxCrossEntropy loss = new SoftmaxCrossEntropy(backend, classes, batch);
                    Sgd sgd = new Sgd(backend, model.paramCount(), 0.9, 5e-4, false);
                    closers.add(loss::close);
                    closers.add(sgd::close);
                    opts[j] = new SamOptimizer(backend, model.paramLayout(), model.params(), model.grads(), sgd, ms[j], seed)
                            .keepShadowOf(model);
                    // The trainer's own closure (ESAM's data selection needs its per-example losses and subsets).
                    closures[j] = new BatchClosure(backend, model, loss, xb, yb, sub[0], sub[1], new float[batch * classes], es,
                            classes, batch);
                }
                long h = liveHeapBytes(), d = deviceBytes(backend);
                heap[j] = Math.max(0, h - heap0);
                device[j] = d - device0;
                heap0 = h;
                device0 = d;
            }
            double[][] all = new double[k][steps], erm = new double[k][steps], sam = new double[k][steps];
            int[] ne = new int[k], ns = new int[k];
            long[] samSteps = new long[k];
            for (int i = 0; i < total; i++) {
                for (int j = 0; j < k; j++) {
                    long t0 = System.nanoTime();
                    boolean took;
                    if (graphs[j] != null) {
                        backend.upload(xs[i % BATCHES], 0, xb, batch * es);
                        backend.upload(ys[i % BATCHES], 0, yb, batch);
                        graphs[j].step();
                        long now = graphs[j].state().samSteps();  // synchronises
                        took = now > samSteps[j];
                        samSteps[j] = now;
                    } else {
                        closures[j].load(xs[i % BATCHES], ys[i % BATCHES], batch);
                        took = opts[j].step(closures[j], i, total, 0.01).sam();
                    }
                    double ms0 = (System.nanoTime() - t0) / 1e6;
                    if (i >= warmup) {
                        all[j][i - warmup] = ms0;
                        if (took) sam[j][ns[j]++] = ms0; else erm[j][ne[j]++] = ms0;
                    }
                }
            }
            java.util.List<Result> out = new java.util.ArrayList<>();
            for (int j = 0; j < k; j++) {
                double[] e = Arrays.copyOf(erm[j], ne[j]), s = Arrays.copyOf(sam[j], ns[j]);
                Arrays.sort(all[j]);
                Arrays.sort(e);
                Arrays.sort(s);
                out.add(new Result(modelName, ms[j].name(), batch, models[j].paramCount(), all[j], e, s, heap[j], device[j],
                        graphs[j] != null ? "graph" : "host"));
            }
            return out;
        } finally {
            for (DeviceDecidedStep g : graphs) if (g != null) g.close();
            closers.forEach(Runnable::run);
            for (Model m : models) if (m != null) m.close();
        }
    }

    /** Heap in use after a full collection (two, since one may leave finalizable or soft garbage). */
    public static long liveHeapBytes() {
        System.gc();
        System.gc();
        return ManagementFactory.getMemoryMXBean().getHeapMemoryUsage().getUsed();
    }

    private static long deviceBytes(Backend backend) {
        return backend.deviceBytesAllocated();
    }
}
