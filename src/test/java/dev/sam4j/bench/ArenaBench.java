package dev.sam4j.bench;

import dev.sam4j.backend.Buffer;
import dev.sam4j.backend.cpu.CpuBackend;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.SplittableRandom;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
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
 * The whole-arena SAM hot path in GB/s next to a copy of the same size, the practical memory limit (the
 * {@code gbytes} secondary result is bytes named by the operation / 1e9 per second, write-allocate
 * traffic not counted, the same way for kernels and copies):
 * <ul>
 *   <li>{@code sumOfSquares} reads g (4n bytes);</li>
 *   <li>{@code samPerturb} reads w, g and writes the saved w, the saved g and {@code w + s·g} (20n);</li>
 *   <li>{@code restoreSgdUpdate} reads the saved w, g, m and writes w, m (20n);</li>
 *   <li>{@code sgdUpdate} reads w, g, m and writes w, m (20n);</li>
 *   <li>{@code arraycopyBaseline} ({@code System.arraycopy}) and {@code segmentCopyBaseline}
 *       ({@code MemorySegment.copy} between off-heap segments) read and write 4n each, cut into
 *       {@code threads} slices on as many threads, so that a 2-thread kernel meets a 2-thread copy.</li>
 * </ul>
 * Sizes: 1M floats (4 MiB per array: cache-resident) and 16M floats (64 MiB per array, larger than the
 * last-level cache of common servers: DRAM-bound). Kernel GB/s over copy GB/s at 16M is the "fraction of
 * the memory limit" that {@code docs/BENCHMARKS.md} reports.
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
    private Buffer w, g, m, wSaved, gSaved;
    private float[] src, dst;
    private Arena arena;
    private MemorySegment segSrc, segDst;
    private ExecutorService copiers;

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
        wSaved = backend.allocate(n);
        gSaved = backend.allocate(n);
        backend.upload(src, 0, w, n);
        backend.upload(src, 0, g, n);
        backend.upload(src, 0, wSaved, n);
        arena = Arena.ofShared();
        segSrc = arena.allocate(4L * n, 64);
        segDst = arena.allocate(4L * n, 64);
        MemorySegment.copy(src, 0, segSrc, ValueLayout.JAVA_FLOAT, 0, n);
        copiers = Executors.newFixedThreadPool(threads);
    }

    @TearDown
    public void tearDown() {
        backend.close();
        copiers.shutdownNow();
        arena.close();
    }

    /** Runs {@code slice.copy(from, len)} on {@code threads} contiguous slices in parallel. */
    private void sliced(SliceCopy slice) {
        if (threads == 1) {
            slice.copy(0, n);
            return;
        }
        Future<?>[] f = new Future<?>[threads];
        int per = (n + threads - 1) / threads;
        for (int t = 0; t < threads; t++) {
            int from = t * per, len = Math.min(per, n - from);
            f[t] = copiers.submit(() -> slice.copy(from, len));
        }
        try {
            for (Future<?> x : f) x.get();
        } catch (Exception e) {
            throw new IllegalStateException(e);
        }
    }

    private interface SliceCopy { void copy(int from, int len); }

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
    public void samPerturb(Traffic t) {
        // w grows by 1e-9·g per call: far too little to change the timing over a run
        backend.samPerturb(w, g, wSaved, gSaved, n, 1e-9);
        t.gbytes += 20.0 * n / 1e9;
    }

    @Benchmark
    public void restoreSgdUpdate(Traffic t) {
        // lr 0: w is restored to the same saved copy every call
        backend.restoreSgdUpdate(w, wSaved, g, m, n, 0f, 0.9f, 5e-4f, false);
        t.gbytes += 20.0 * n / 1e9;
    }

    @Benchmark
    public void arraycopyBaseline(Traffic t) {
        sliced((from, len) -> System.arraycopy(src, from, dst, from, len));
        t.gbytes += 8.0 * n / 1e9;
    }

    @Benchmark
    public void segmentCopyBaseline(Traffic t) {
        sliced((from, len) -> MemorySegment.copy(segSrc, 4L * from, segDst, 4L * from, 4L * len));
        t.gbytes += 8.0 * n / 1e9;
    }

    public static void main(String[] args) throws RunnerException {
        new Runner(new OptionsBuilder().include(ArenaBench.class.getSimpleName()).build()).run();
    }
}
