/**
 * JMH benchmarks (test scope; the annotation processor generates the harness at test-compile).
 *
 * <ul>
 *   <li>{@link dev.sam4j.bench.GemmBench}: SGEMM GFLOP/s on squares 128–2048, the MLP and the conv shapes;</li>
 *   <li>{@link dev.sam4j.bench.ArenaBench}: {@code sumOfSquares}, the fused SAM perturbation, the fused
 *       restore + update and {@code sgdUpdate} in GB/s next to {@code System.arraycopy} and
 *       {@code MemorySegment.copy} baselines of the same size and thread count;</li>
 *   <li>{@link dev.sam4j.bench.ConvBench}: convolution forward, data gradient and filter gradient GFLOP/s
 *       on the {@code cnn}'s and a ResNet stage's geometry;</li>
 *   <li>{@link dev.sam4j.bench.StepBench}: a whole SGD step of the MLP and the small CNN written
 *       directly against the backend, to compare with the same step in PyTorch.</li>
 * </ul>
 *
 * {@code scripts/bench --jmh} runs the kernel benchmarks with short settings and keeps the output next to
 * the step results. Run one with {@code scripts/jmh <Bench> [JMH options]}, e.g. {@code scripts/jmh GemmBench -p threads=2},
 * or {@code java --add-modules jdk.incubator.vector -cp <test classpath> org.openjdk.jmh.Main GemmBench};
 * each class also has a {@code main}. On a shared machine compare numbers only from the same run.
 */
package dev.sam4j.bench;
