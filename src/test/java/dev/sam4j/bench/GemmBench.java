package dev.sam4j.bench;

import dev.sam4j.backend.Buffer;
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
 * SGEMM throughput of {@link CpuBackend#gemm}: the {@code gemm:gflop} secondary result is GFLOP/s
 * (2·m·n·k / 1e9 per call, as a rate), the primary score calls per second. Shapes: squares
 * 128…2048; the MLP 784-512-512-10 at batch 128 with PyTorch's weight layout {@code [out, in]} (forward {@code x·Wᵀ} is NT, weight gradient
 * {@code dyᵀ·x} is TN, input gradient {@code dy·W} is NN); and the per-image GEMMs of a 3×3 conv
 * 32→64 at 14×14 (forward NN, filter gradient NT, data gradient TN).
 *
 * <p>Run: {@code java --add-modules jdk.incubator.vector -cp <test classpath> dev.sam4j.bench.GemmBench}
 * (or {@code org.openjdk.jmh.Main GemmBench -p threads=2}); see {@code scripts/jmh}.
 */
@State(Scope.Benchmark)
@BenchmarkMode(Mode.Throughput)
@OutputTimeUnit(TimeUnit.SECONDS)
@Warmup(iterations = 3, time = 1)
@Measurement(iterations = 5, time = 1)
@Fork(value = 1, jvmArgsAppend = {"--add-modules", "jdk.incubator.vector", "-Xmx4g"})
public class GemmBench {

    @Param({"1", "2"})
    public int threads;

    /** {@code MxNxK[:TT]}, T/N per operand (A then B); default NN. */
    @Param({"128x128x128", "256x256x256", "512x512x512", "1024x1024x1024", "2048x2048x2048",
            "128x512x784:NT", "128x512x512:NT", "128x10x512:NT",
            "512x784x128:TN", "512x512x128:TN", "10x512x128:TN",
            "128x784x512:NN", "128x512x512:NN",
            "64x196x288:NN", "64x288x196:NT", "288x196x64:TN"})
    public String shape;

    private CpuBackend backend;
    private Buffer a, b, c;
    private int m, n, k, lda, ldb;
    private boolean ta, tb;
    private double gflopPerCall;

    @Setup
    public void setUp() {
        String[] parts = shape.split(":");
        String[] d = parts[0].split("x");
        m = Integer.parseInt(d[0]);
        n = Integer.parseInt(d[1]);
        k = Integer.parseInt(d[2]);
        ta = parts.length > 1 && parts[1].charAt(0) == 'T';
        tb = parts.length > 1 && parts[1].charAt(1) == 'T';
        lda = ta ? m : k;
        ldb = tb ? k : n;
        backend = new CpuBackend(threads);
        a = random(m * k, 1);
        b = random(k * n, 2);
        c = backend.allocate((long) m * n);
        gflopPerCall = 2.0 * m * n * k / 1e9;
    }

    private Buffer random(int len, long seed) {
        float[] v = new float[len];
        SplittableRandom r = new SplittableRandom(seed);
        for (int i = 0; i < len; i++) v[i] = (float) (r.nextDouble() * 2 - 1);
        Buffer buf = backend.allocate(len);
        backend.upload(v, 0, buf, len);
        return buf;
    }

    @TearDown
    public void tearDown() { backend.close(); }

    @Benchmark
    public void gemm(GflopCounter w) {
        backend.gemm(ta, tb, m, n, k, 1f, a, lda, b, ldb, 0f, c, n);
        w.gflop += gflopPerCall;
    }

    public static void main(String[] args) throws RunnerException {
        new Runner(new OptionsBuilder().include(GemmBench.class.getSimpleName()).build()).run();
    }
}
