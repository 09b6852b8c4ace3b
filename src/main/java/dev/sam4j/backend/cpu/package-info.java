/**
 * CPU backends.
 *
 * <ul>
 *   <li>{@link dev.sam4j.backend.cpu.ScalarOps} / {@link dev.sam4j.backend.cpu.ReferenceBackend}: the
 *       double-precision plain-loop oracle that every other backend is tested against.</li>
 *   <li>{@link dev.sam4j.backend.cpu.CpuBackend}: the fast float32 backend, built from
 *       <ul>
 *         <li>{@code VectorOps}: Vector API elementwise, reduction, batch-norm and optimizer kernels;</li>
 *         <li>{@code Sgemm}: packed, cache-blocked, multithreaded SGEMM with a register-blocked FMA
 *             micro-kernel (4×16 at 256 bits, 4×8 at 128, 6×48 at 512);</li>
 *         <li>{@code Conv}: im2col/col2im convolution on top of the SGEMM, spread over images;</li>
 *         <li>{@code Pooling}: max pooling, vectorised for the 2×2 stride-2 case;</li>
 *         <li>{@code WorkerPool}: the persistent spin-then-park thread pool the backend owns.</li>
 *       </ul></li>
 * </ul>
 *
 * <p>{@code jdk.incubator.vector} is used nowhere outside this package. {@link dev.sam4j.backend.cpu.VectorModule}
 * checks that the JVM loaded it before {@code CpuBackend} touches any class that uses it, so that a missing
 * {@code --add-modules jdk.incubator.vector} is one line naming the flag. The vector width is chosen by
 * {@code VectorWidths}: the JVM's preferred width capped at 256 bits by default, or
 * {@code -Dsam4j.cpu.vectorBits=128|256|512} (512 also selects the wider GEMM kernel).
 *
 * <p>Results of {@code CpuBackend} are bit-identical across runs and thread counts (fixed partitions,
 * fixed-order combination of partials, no lane-order-dependent reductions); its steady state allocates
 * nothing. Tests: {@code CpuBackendAgreementTest} (every op against the reference over awkward sizes),
 * {@code CpuBackendDeterminismTest}, {@code CpuBackendAllocationTest}, {@code VectorShapeGuardTest} (no
 * Vector API call in this package moves lanes between shapes: such calls are not intrinsified at every
 * width and allocate where they are not); benchmarks in
 * {@code dev.sam4j.bench} ({@code scripts/jmh}).
 */
package dev.sam4j.backend.cpu;
