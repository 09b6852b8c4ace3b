package dev.sam4j.bench;

import dev.sam4j.backend.Buffer;
import dev.sam4j.backend.cpu.CpuBackend;
import java.util.SplittableRandom;
import java.util.concurrent.TimeUnit;
import org.openjdk.jmh.annotations.AuxCounters;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Level;
import org.openjdk.jmh.annotations.Measurement;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Param;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.TearDown;
import org.openjdk.jmh.annotations.Warmup;
import org.openjdk.jmh.infra.Blackhole;
import org.openjdk.jmh.runner.Runner;
import org.openjdk.jmh.runner.RunnerException;
import org.openjdk.jmh.runner.options.OptionsBuilder;

/**
 * The whole-arena SAM hot path in GB/s next to {@code System.arraycopy} of the same arrays (the
 * {@code gbytes} secondary result is bytes moved / 1e9 per second): {@code sumOfSquares} reads 4n bytes,
 * {@code sgdUpdate} reads w, g, m and writes w, m (20n bytes), the copy reads and writes 4n each.
 * Sizes: 1M floats (fits the L3 cache) and 16M floats (64 MiB per array, DRAM).
 *
 * <p>Run: {@code java --add-modules jdk.incubator.vector -cp <test classpath> dev.sam4j.bench.ArenaBench}.
 */
@State(Scope.Benchmark)
@BenchmarkMode(Mode.Throughput)
@OutputTimeUnit(TimeUnit.SECONDS)
@Warmup(iterations = 3, time = 1)
@Measurement(iterations = 5, time = 1)
@Fork(value = 1, jvmArgsAppend = {"--add-modules", "jdk.incubator.vector", "-Xmx4g"})
public class ArenaBench {

    @Param({"1", "2"})
    public int threads;

    @Param({"1048576", "16777216"})
    public int n;

    private CpuBackend backend;
    private Buffer w, g, m;
    private float[] src, dst;

    /** Bytes moved, reported by JMH as a rate (GB/s). */
    @AuxCounters(AuxCounters.Type.OPERATIONS)
    @State(Scope.Thread)
    public static class Traffic {
        public double gbytes;

        @Setup(Level.Iteration)
        public void reset() { gbytes = 0; }
    }

    @Setup
    public void setUp() {
        backend = new CpuBackend(threads);
        SplittableRandom r = new SplittableRandom(3);
        src = new float[n];
        for (int i = 0; i < n; i++) src[i] = (float) r.nextDouble();
        dst = new float[n];
        w = backend.allocate(n);
        g = backend.allocate(n);
        m = backend.allocate(n);
        backend.upload(src, 0, w, n);
        backend.upload(src, 0, g, n);
    }

    @TearDown
    public void tearDown() { backend.close(); }

    @Benchmark
    public void sumOfSquares(Traffic t, Blackhole bh) {
        bh.consume(backend.sumOfSquares(g, n));
        t.gbytes += 4.0 * n / 1e9;
    }

    @Benchmark
    public void sgdUpdate(Traffic t) {
        // lr 0 keeps w unchanged run after run, so every call sees the same data
        backend.sgdUpdate(w, g, m, n, 0f, 0.9f, 5e-4f, false);
        t.gbytes += 20.0 * n / 1e9;
    }

    @Benchmark
    public void arraycopyBaseline(Traffic t) {
        System.arraycopy(src, 0, dst, 0, n);
        t.gbytes += 8.0 * n / 1e9;
    }

    public static void main(String[] args) throws RunnerException {
        new Runner(new OptionsBuilder().include(ArenaBench.class.getSimpleName()).build()).run();
    }
}
