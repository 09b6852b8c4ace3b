/**
 * The CUDA backend, through JavaCPP's CUDA presets (no JavaCPP type leaves this package).
 * <ul>
 *   <li>{@link dev.sam4j.backend.cuda.CudaRuntime}: guarded loading and the probe (a machine without
 *       CUDA gets one clear reason, never a crash); device descriptions for {@code sam4j info};</li>
 *   <li>{@link dev.sam4j.backend.cuda.CudaEntryPoints}: every CUDA function the Java code calls, in one
 *       list (a test checks each exists in CUDA 13.0: calling a newer one kills the JVM);</li>
 *   <li>{@link dev.sam4j.backend.cuda.CudaCheck} / {@link dev.sam4j.backend.cuda.CudaException}: status
 *       codes become one exception type naming the call, the code and its name;</li>
 *   <li>{@link dev.sam4j.backend.cuda.CudaContext} (device, stream, cuBLAS and cuDNN handles; makes its device
 *       current on whichever thread calls, since {@code cudaSetDevice} is per thread),
 *       {@link dev.sam4j.backend.cuda.CudaModule} (the nvcc fatbin built from {@code src/main/cuda}, checked
 *       against the device's compute capability by {@link dev.sam4j.backend.cuda.Fatbin} before it is loaded),
 *       {@link dev.sam4j.backend.cuda.Kernel} / {@link dev.sam4j.backend.cuda.CudaKernels} (typed
 *       launchers with argument holders made once);</li>
 *   <li>{@link dev.sam4j.backend.cuda.CudaBackend} with {@link dev.sam4j.backend.cuda.CudaBuffer}: the
 *       {@link dev.sam4j.backend.Backend} operations of the MLP and the SAM family on the GPU, GEMM via
 *       cuBLAS, convolution, pooling and BatchNorm via cuDNN ({@code CudaDnn}: descriptors and algorithms cached
 *       per shape, workspaces from the caller; deterministic algorithms only on request, recorded and reused
 *       across a resume; images in NCHW or, opened channels-last, NHWC); buffers of floats or, in a bf16 run,
 *       of 16-bit bf16 values (native storage: cuBLAS and cuDNN in bf16, the {@code bf16.cu} kernels);</li>
 *   <li>{@link dev.sam4j.backend.cuda.StepGraph}: the backend floor's {@link dev.sam4j.backend.DeviceStepGraph}
 *       as a captured training step whose SAM branch is a conditional graph node set on the device; the state it
 *       carries from step to step is exported and imported between steps for checkpoints; with ranks, its NCCL
 *       collectives are recorded in the graph's main body, never in the conditional node's body;</li>
 *   <li>{@link dev.sam4j.backend.cuda.Nccl}: NCCL for CUDA ranks (one process per GPU), loaded with a clear reason when
 *       {@code libnccl.so.2} is missing; its communicator is the backend floor's
 *       {@link dev.sam4j.backend.DeviceCollective}.</li>
 * </ul>
 * Nothing outside {@code dev.sam4j.backend} names these types (DependencyRuleTest): the rest of the project reaches
 * them through {@link dev.sam4j.backend.Backend} and {@link dev.sam4j.backend.Backends}.
 */
package dev.sam4j.backend.cuda;
