package dev.sam4j.bench;

import org.openjdk.jmh.annotations.AuxCounters;
import org.openjdk.jmh.annotations.Level;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;

/**
 * Floating-point work done, reported by JMH as a rate (GFLOP/s): a benchmark method adds its call's GFLOP
 * to {@link #gflop}. Shared by the GEMM and convolution benchmarks so their rates mean the same thing.
 */
@AuxCounters(AuxCounters.Type.OPERATIONS)
@State(Scope.Thread)
public class GflopCounter {
    public double gflop;

    @Setup(Level.Iteration)
    public void reset() { gflop = 0; }
}
