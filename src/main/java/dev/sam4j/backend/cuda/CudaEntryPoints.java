package dev.sam4j.backend.cuda;

import java.util.List;

/**
 * Every CUDA library function that sam4j's Java code calls, in one place. The JavaCPP presets are built
 * for CUDA 13.1, but GPU hosts with driver 580 run CUDA 13.0: binding works, yet calling a function that
 * 13.0 lacks ends the process with exit code 127, which no {@code catch} can stop. So a function may be
 * called only if it is listed here, and {@code CudaEntryPointsTest} checks (a) that the code of this
 * package calls nothing unlisted and (b) that each listed function, under the symbol name the JNI library
 * really imports ({@code cuMemAlloc} is {@code cuMemAlloc_v2}), exists in the CUDA 13.0 toolkit; for
 * cuBLAS, cuDNN and NCCL, whose libraries the toolkit does not ship, it checks the version that introduced them.
 */
public final class CudaEntryPoints {
    private CudaEntryPoints() {}

    /** A function, the JavaCPP class that binds it, and (cuBLAS, cuDNN) the library version that introduced it. */
    public record EntryPoint(String library, String name, String since) {}

    private static EntryPoint rt(String name) { return new EntryPoint("cudart", name, ""); }

    private static EntryPoint blas(String name, String since) { return new EntryPoint("cublas", name, since); }

    private static EntryPoint dnn(String name, String since) { return new EntryPoint("cudnn", name, since); }

    private static EntryPoint nccl(String name, String since) { return new EntryPoint("nccl", name, since); }

    /**
     * The oldest NCCL whose {@code libnccl.so.2} has every listed NCCL function ({@code ncclCommAbort} and
     * {@code ncclCommGetAsyncError} came in 2.4); {@code CudaEntryPointsTest} holds the list to it.
     */
    public static final String NCCL_OLDEST = "2.4";

    /** In the order of first use: probe, context, memory, kernels, cuBLAS, graphs, timing. */
    public static final List<EntryPoint> ALL = List.of(
            // probe and device queries
            rt("cudaGetDeviceCount"), rt("cudaGetErrorName"), rt("cudaGetDeviceProperties"), rt("cudaDriverGetVersion"),
            rt("cudaRuntimeGetVersion"), rt("cudaMemGetInfo"), rt("cudaDeviceGetAttribute"),
            // context and stream
            rt("cudaSetDevice"), rt("cudaFree"), rt("cudaStreamCreateWithFlags"), rt("cudaStreamSynchronize"),
            rt("cudaStreamDestroy"),
            // memory and transfers (driver API: raw 64-bit device addresses)
            rt("cuGetErrorName"), rt("cuMemAlloc"), rt("cuMemFree"), rt("cuMemsetD32Async"), rt("cuMemcpyHtoDAsync"),
            rt("cuMemcpyDtoHAsync"), rt("cuMemcpyDtoDAsync"), rt("cudaMallocHost"), rt("cudaFreeHost"),
            // kernels
            rt("cuModuleLoadData"), rt("cuModuleGetFunction"), rt("cuModuleUnload"), rt("cuLaunchKernel"),
            // graphs with a conditional node (not cudaGraphConditionalHandleCreate_v2: CUDA 13.1 only)
            rt("cudaStreamBeginCapture"), rt("cudaStreamBeginCaptureToGraph"), rt("cudaStreamEndCapture"),
            rt("cudaGraphCreate"), rt("cudaGraphConditionalHandleCreate"), rt("cudaGraphAddNode"),
            rt("cudaGraphAddChildGraphNode"), rt("cuGraphAddKernelNode"), rt("cudaGraphInstantiate"), rt("cudaGraphLaunch"),
            rt("cudaGraphExecDestroy"), rt("cudaGraphDestroy"),
            // timing (benchmarks)
            rt("cudaEventCreate"), rt("cudaEventRecord"), rt("cudaEventSynchronize"), rt("cudaEventElapsedTime"),
            rt("cudaEventDestroy"),
            // input pipeline: a copy stream ordered against the compute stream by events
            rt("cudaEventCreateWithFlags"), rt("cudaEventQuery"), rt("cudaStreamWaitEvent"),
            // cuBLAS
            blas("cublasCreate_v2", "6.0"), blas("cublasDestroy_v2", "6.0"), blas("cublasSetStream_v2", "6.0"),
            blas("cublasGetVersion_v2", "6.0"), blas("cublasSetMathMode", "9.0"), blas("cublasSetWorkspace_v2", "11.0"),
            blas("cublasSgemm_v2", "6.0"), blas("cublasGetStatusName", "11.4"),
            // bf16 runs: fp32 matrices of bf16 values on tensor cores (CUBLAS_COMPUTE_32F_FAST_16BF)
            blas("cublasGemmEx", "8.0"),
            // cuDNN 9 legacy API: handle, descriptors, convolution (Find, forward, both backwards), pooling, batch norm
            dnn("cudnnGetVersion", "1.0"), dnn("cudnnGetErrorString", "1.0"), dnn("cudnnCreate", "1.0"),
            dnn("cudnnDestroy", "1.0"), dnn("cudnnSetStream", "1.0"), dnn("cudnnCreateTensorDescriptor", "1.0"),
            dnn("cudnnSetTensor4dDescriptor", "1.0"), dnn("cudnnDestroyTensorDescriptor", "1.0"),
            dnn("cudnnCreateFilterDescriptor", "1.0"), dnn("cudnnSetFilter4dDescriptor", "5.0"),
            dnn("cudnnDestroyFilterDescriptor", "1.0"), dnn("cudnnCreateConvolutionDescriptor", "1.0"),
            dnn("cudnnSetConvolution2dDescriptor", "6.0"), dnn("cudnnSetConvolutionMathType", "7.0"),
            dnn("cudnnDestroyConvolutionDescriptor", "1.0"), dnn("cudnnFindConvolutionForwardAlgorithm", "3.0"),
            dnn("cudnnFindConvolutionBackwardDataAlgorithm", "3.0"),
            dnn("cudnnFindConvolutionBackwardFilterAlgorithm", "3.0"),
            // --deterministic: the heuristics' ranking instead of Find's timing (CudaDnn#find)
            dnn("cudnnGetConvolutionForwardAlgorithm_v7", "7.0"), dnn("cudnnGetConvolutionBackwardDataAlgorithm_v7", "7.0"),
            dnn("cudnnGetConvolutionBackwardFilterAlgorithm_v7", "7.0"), dnn("cudnnConvolutionForward", "1.0"),
            dnn("cudnnConvolutionBackwardData", "1.0"), dnn("cudnnConvolutionBackwardFilter", "1.0"),
            dnn("cudnnConvolutionBackwardBias", "1.0"), dnn("cudnnAddTensor", "2.0"),
            dnn("cudnnCreatePoolingDescriptor", "1.0"), dnn("cudnnSetPooling2dDescriptor", "5.0"),
            dnn("cudnnDestroyPoolingDescriptor", "1.0"), dnn("cudnnPoolingForward", "1.0"),
            dnn("cudnnPoolingBackward", "1.0"), dnn("cudnnBatchNormalizationForwardTraining", "4.0"),
            dnn("cudnnBatchNormalizationForwardInference", "4.0"), dnn("cudnnBatchNormalizationBackward", "4.0"),
            // NCCL (Nccl): data-parallel ranks on CUDA; fp32 sum and broadcast, the doubles stay on the TCP links
            nccl("ncclGetVersion", "2.3"), nccl("ncclGetErrorString", "2.0"), nccl("ncclGetUniqueId", "2.0"),
            nccl("ncclCommInitRank", "2.0"), nccl("ncclAllReduce", "2.0"), nccl("ncclBroadcast", "2.2"),
            nccl("ncclCommGetAsyncError", "2.4"), nccl("ncclCommAbort", "2.4"), nccl("ncclCommDestroy", "2.0"));
}
