package dev.sam4j.bench;

import dev.sam4j.backend.Buffer;
import dev.sam4j.backend.ConvGeom;
import dev.sam4j.backend.cpu.CpuBackend;
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
 * The CPU convolution (im2col / col2im on the SGEMM) in GFLOP/s ({@code gflop} secondary result:
 * 2·N·Cout·Cin·kH·kW·Hout·Wout per call, the same count for each direction). Geometries:
 * {@code cnn1} and {@code cnn2} are the two 3×3 convolutions of the {@code cnn} model on 28×28 inputs at
 * batch 128 (1→32 at 28×28, 32→64 at 14×14); {@code res64} is a ResNet-18 stage-1 convolution (64→64
 * at 32×32) at batch 16. The gap between these and {@link GemmBench}'s GFLOP/s at similar sizes is what the
 * unfolding and packing cost.
 */
@State(Scope.Benchmark)
@BenchmarkMode(Mode.Throughput)
@OutputTimeUnit(TimeUnit.SECONDS)
@Warmup(iterations = 3, time = 1)
@Measurement(iterations = 5, time = 1)
@Fork(value = 1, jvmArgsAppend = {"--add-modules", "jdk.incubator.vector", "-Xmx4g"})
public class ConvBench {

    @Param({"2"})
    public int threads;

    @Param({"cnn1", "cnn2", "res64"})
    public String geom;

    private CpuBackend be;
    private ConvGeom g;
    private int n;
    private Buffer x, w, b, y, dy, dx, dw, db, ws;
    private double gflopPerCall;

    @Setup
    public void setUp() {
        be = new CpuBackend(threads);
        switch (geom) {
            case "cnn1" -> { g = new ConvGeom(1, 28, 28, 32, 3, 3, 1, 1); n = 128; }
            case "cnn2" -> { g = new ConvGeom(32, 14, 14, 64, 3, 3, 1, 1); n = 128; }
            case "res64" -> { g = new ConvGeom(64, 32, 32, 64, 3, 3, 1, 1); n = 16; }
            default -> throw new IllegalArgumentException("geom " + geom);
        }
        x = StepBench.random(be, n * g.inSize(), 1, 1);
        w = StepBench.random(be, g.weightSize(), 2, 0.1);
        b = StepBench.random(be, g.outC(), 3, 0.1);
        dy = StepBench.random(be, n * g.outSize(), 4, 1);
        y = be.allocate((long) n * g.outSize());
        dx = be.allocate((long) n * g.inSize());
        dw = be.allocate(g.weightSize());
        db = be.allocate(g.outC());
        ws = be.allocate(Math.max(1, be.convWorkspaceSize(g, n)));
        gflopPerCall = 2.0 * n * g.outC() * g.patchSize() * g.outH() * g.outW() / 1e9;
    }

    @TearDown
    public void tearDown() { be.close(); }

    @Benchmark
    public void forward(GflopCounter wk) {
        be.convForward(g, n, x, w, b, y, ws);
        wk.gflop += gflopPerCall;
    }

    @Benchmark
    public void backwardData(GflopCounter wk) {
        be.convBackwardData(g, n, dy, w, dx, ws);
        wk.gflop += gflopPerCall;
    }

    @Benchmark
    public void backwardFilter(GflopCounter wk) {
        be.convBackwardFilter(g, n, x, dy, dw, db, ws);
        wk.gflop += gflopPerCall;
    }

    public static void main(String[] args) throws RunnerException {
        new Runner(new OptionsBuilder().include(ConvBench.class.getSimpleName()).build()).run();
    }
}
