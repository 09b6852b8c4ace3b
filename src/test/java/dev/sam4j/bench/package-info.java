/**
 * JMH benchmarks (test scope; the annotation processor generates the harness at test-compile).
 *
 * <ul>
 *   <li>{@link dev.sam4j.bench.GemmBench}: SGEMM GFLOP/s on squares 128–2048, the MLP and the conv shapes;</li>
 *   <li>{@link dev.sam4j.bench.ArenaBench}: {@code sumOfSquares} and {@code sgdUpdate} GB/s next to a
 *       {@code System.arraycopy} baseline of the same size;</li>
 *   <li>{@link dev.sam4j.bench.StepBench}: a whole SGD step of the MLP and the small CNN written
 *       directly against the backend, to compare with the same step in PyTorch.</li>
 * </ul>
 *
 * Run with {@code scripts/jmh <Bench> [JMH options]}, e.g. {@code scripts/jmh GemmBench -p threads=2},
 * or {@code java --add-modules jdk.incubator.vector -cp <test classpath> org.openjdk.jmh.Main GemmBench};
 * each class also has a {@code main}. On a shared machine compare numbers only from the same run.
 */
package dev.sam4j.bench;
