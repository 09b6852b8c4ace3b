package dev.sam4j.bench;

import dev.sam4j.backend.Backend;
import dev.sam4j.backend.Buffer;
import dev.sam4j.backend.ConvGeom;
import dev.sam4j.backend.PoolGeom;
import dev.sam4j.backend.cpu.CpuBackend;
import java.util.SplittableRandom;
import java.util.concurrent.TimeUnit;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Measurement;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Param;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.TearDown;
import org.openjdk.jmh.annotations.Warmup;
import org.openjdk.jmh.runner.Runner;
import org.openjdk.jmh.runner.RunnerException;
import org.openjdk.jmh.runner.options.OptionsBuilder;

/**
 * One plain SGD training step (forward, loss, backward, gradient norm, update) written directly against
 * the backend ops, batch 128, to compare with the same step in PyTorch without any layer code in
 * between:
 * <ul>
 *   <li>{@code mlp}: 784-512-512-10 with ReLU, weights {@code [out, in]};</li>
 *   <li>{@code cnn}: conv 1→32 3×3 pad 1, ReLU, max-pool 2, conv 32→64 3×3 pad 1, ReLU, max-pool 2,
 *       linear 3136→10, on 28×28 inputs.</li>
 * </ul>
 * Run: {@code java --add-modules jdk.incubator.vector -cp <test classpath> dev.sam4j.bench.StepBench}.
 */
@State(Scope.Benchmark)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.MILLISECONDS)
@Warmup(iterations = 5, time = 1)
@Measurement(iterations = 10, time = 1)
@Fork(value = 1, jvmArgsAppend = {"--add-modules", "jdk.incubator.vector", "-Xmx4g"})
public class StepBench {
    static final int BATCH = 128;

    @Param({"2"})
    public int threads;

    @Param({"mlp", "cnn"})
    public String model;

    private Backend be;
    private Runnable step;

    @Setup
    public void setUp() {
        be = new CpuBackend(threads);
        step = model.equals("mlp") ? mlp(be) : cnn(be);
    }

    @TearDown
    public void tearDown() { be.close(); }

    @Benchmark
    public void step() { step.run(); }

    static Buffer random(Backend be, int n, long seed, double scale) {
        SplittableRandom r = new SplittableRandom(seed);
        float[] v = new float[n];
        for (int i = 0; i < n; i++) v[i] = (float) ((r.nextDouble() * 2 - 1) * scale);
        Buffer b = be.allocate(n);
        be.upload(v, 0, b, n);
        return b;
    }

    static Buffer labels(Backend be, int n, int classes) {
        SplittableRandom r = new SplittableRandom(9);
        float[] v = new float[n];
        for (int i = 0; i < n; i++) v[i] = r.nextInt(classes);
        Buffer b = be.allocate(n);
        be.upload(v, 0, b, n);
        return b;
    }

    static Runnable mlp(Backend be) {
        int[] dims = {784, 512, 512, 10};
        int layers = dims.length - 1;
        int total = 0;
        int[] wOff = new int[layers], bOff = new int[layers];
        for (int l = 0; l < layers; l++) {
            wOff[l] = total;
            total += dims[l + 1] * dims[l];
            bOff[l] = total;
            total += dims[l + 1];
        }
        int params = total;
        Buffer w = random(be, params, 1, 0.05), g = be.allocate(params), mom = be.allocate(params);
        Buffer[] act = new Buffer[layers + 1], dact = new Buffer[layers + 1], wv = new Buffer[layers], bv = new Buffer[layers],
                gw = new Buffer[layers], gb = new Buffer[layers];
        for (int l = 0; l <= layers; l++) {
            act[l] = l == 0 ? random(be, BATCH * dims[0], 2, 1) : be.allocate(BATCH * dims[l]);
            dact[l] = be.allocate(BATCH * dims[l]);
        }
        for (int l = 0; l < layers; l++) {
            wv[l] = w.slice(wOff[l], dims[l + 1] * dims[l]);
            bv[l] = w.slice(bOff[l], dims[l + 1]);
            gw[l] = g.slice(wOff[l], dims[l + 1] * dims[l]);
            gb[l] = g.slice(bOff[l], dims[l + 1]);
        }
        Buffer y = labels(be, BATCH, 10), loss = be.allocate(BATCH);
        return () -> {
            for (int l = 0; l < layers; l++) {
                int in = dims[l], out = dims[l + 1];
                be.gemm(false, true, BATCH, out, in, 1f, act[l], in, wv[l], in, 0f, act[l + 1], out);
                be.addRowBias(act[l + 1], bv[l], BATCH, out);
                if (l < layers - 1) be.reluForward(act[l + 1], act[l + 1], (long) BATCH * out);
            }
            be.softmaxCrossEntropy(BATCH, 10, act[layers], y, dact[layers], loss);
            for (int l = layers - 1; l >= 0; l--) {
                int in = dims[l], out = dims[l + 1];
                if (l < layers - 1) be.reluBackward(act[l + 1], dact[l + 1], dact[l + 1], (long) BATCH * out);
                be.gemm(true, false, out, in, BATCH, 1f, dact[l + 1], out, act[l], in, 0f, gw[l], in);
                be.sumRows(dact[l + 1], gb[l], BATCH, out);
                if (l > 0) be.gemm(false, false, BATCH, in, out, 1f, dact[l + 1], out, wv[l], in, 0f, dact[l], in);
            }
            if (be.sumOfSquares(g, params) < 0) throw new AssertionError();
            be.sgdUpdate(w, g, mom, params, 0.01f, 0.9f, 5e-4f, false);
        };
    }

    static Runnable cnn(Backend be) {
        int n = BATCH;
        ConvGeom c1 = new ConvGeom(1, 28, 28, 32, 3, 3, 1, 1), c2 = new ConvGeom(32, 14, 14, 64, 3, 3, 1, 1);
        PoolGeom p1 = new PoolGeom(32, 28, 28, 2, 2, 0), p2 = new PoolGeom(64, 14, 14, 2, 2, 0);
        int fcIn = p2.outSize();
        int params = c1.weightSize() + 32 + c2.weightSize() + 64 + 10 * fcIn + 10;
        Buffer w = random(be, params, 3, 0.05), g = be.allocate(params), mom = be.allocate(params);
        int o = 0;
        Buffer w1 = w.slice(o, c1.weightSize()), gw1 = g.slice(o, c1.weightSize());
        o += c1.weightSize();
        Buffer b1 = w.slice(o, 32), gb1 = g.slice(o, 32);
        o += 32;
        Buffer w2 = w.slice(o, c2.weightSize()), gw2 = g.slice(o, c2.weightSize());
        o += c2.weightSize();
        Buffer b2 = w.slice(o, 64), gb2 = g.slice(o, 64);
        o += 64;
        Buffer wf = w.slice(o, 10 * fcIn), gwf = g.slice(o, 10 * fcIn);
        o += 10 * fcIn;
        Buffer bf = w.slice(o, 10), gbf = g.slice(o, 10);
        Buffer x = random(be, n * c1.inSize(), 4, 1);
        Buffer y1 = be.allocate(n * c1.outSize()), q1 = be.allocate(n * p1.outSize());
        Buffer y2 = be.allocate(n * c2.outSize()), q2 = be.allocate(n * p2.outSize()), logits = be.allocate(n * 10);
        Buffer dy1 = be.allocate(n * c1.outSize()), dq1 = be.allocate(n * p1.outSize());
        Buffer dy2 = be.allocate(n * c2.outSize()), dq2 = be.allocate(n * p2.outSize()), dlogits = be.allocate(n * 10);
        Buffer ws = be.allocate(Math.max(be.convWorkspaceSize(c1, n), be.convWorkspaceSize(c2, n)));
        Buffer y = labels(be, n, 10), loss = be.allocate(n);
        return () -> {
            be.convForward(c1, n, x, w1, b1, y1, ws);
            be.reluForward(y1, y1, (long) n * c1.outSize());
            be.maxPoolForward(p1, n, y1, q1);
            be.convForward(c2, n, q1, w2, b2, y2, ws);
            be.reluForward(y2, y2, (long) n * c2.outSize());
            be.maxPoolForward(p2, n, y2, q2);
            be.gemm(false, true, n, 10, fcIn, 1f, q2, fcIn, wf, fcIn, 0f, logits, 10);
            be.addRowBias(logits, bf, n, 10);
            be.softmaxCrossEntropy(n, 10, logits, y, dlogits, loss);
            be.gemm(true, false, 10, fcIn, n, 1f, dlogits, 10, q2, fcIn, 0f, gwf, fcIn);
            be.sumRows(dlogits, gbf, n, 10);
            be.gemm(false, false, n, fcIn, 10, 1f, dlogits, 10, wf, fcIn, 0f, dq2, fcIn);
            be.maxPoolBackward(p2, n, y2, q2, dq2, dy2);
            be.reluBackward(y2, dy2, dy2, (long) n * c2.outSize());
            be.convBackwardFilter(c2, n, q1, dy2, gw2, gb2, ws);
            be.convBackwardData(c2, n, dy2, w2, dq1, ws);
            be.maxPoolBackward(p1, n, y1, q1, dq1, dy1);
            be.reluBackward(y1, dy1, dy1, (long) n * c1.outSize());
            be.convBackwardFilter(c1, n, x, dy1, gw1, gb1, ws);
            if (be.sumOfSquares(g, params) < 0) throw new AssertionError();
            be.sgdUpdate(w, g, mom, params, 0.01f, 0.9f, 5e-4f, false);
        };
    }

    public static void main(String[] args) throws RunnerException {
        new Runner(new OptionsBuilder().include(StepBench.class.getSimpleName()).build()).run();
    }
}
