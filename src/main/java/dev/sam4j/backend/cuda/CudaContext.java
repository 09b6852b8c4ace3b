package dev.sam4j.backend.cuda;

import static org.bytedeco.cuda.global.cublas.CUBLAS_DEFAULT_MATH;
import static org.bytedeco.cuda.global.cublas.CUBLAS_TF32_TENSOR_OP_MATH;
import static org.bytedeco.cuda.global.cublas.cublasCreate_v2;
import static org.bytedeco.cuda.global.cublas.cublasDestroy_v2;
import static org.bytedeco.cuda.global.cublas.cublasGetVersion_v2;
import static org.bytedeco.cuda.global.cublas.cublasSetMathMode;
import static org.bytedeco.cuda.global.cublas.cublasSetStream_v2;
import static org.bytedeco.cuda.global.cublas.cublasSetWorkspace_v2;
import static org.bytedeco.cuda.global.cudart.cuMemAlloc;
import static org.bytedeco.cuda.global.cudnn.cudnnCreate;
import static org.bytedeco.cuda.global.cudnn.cudnnDestroy;
import static org.bytedeco.cuda.global.cudnn.cudnnSetStream;
import static org.bytedeco.cuda.global.cudart.cuMemFree;
import static org.bytedeco.cuda.global.cudart.cudaFree;
import static org.bytedeco.cuda.global.cudart.cudaGetDeviceProperties;
import static org.bytedeco.cuda.global.cudart.cudaMemGetInfo;
import static org.bytedeco.cuda.global.cudart.cudaSetDevice;
import static org.bytedeco.cuda.global.cudart.cudaStreamCreateWithFlags;
import static org.bytedeco.cuda.global.cudart.cudaStreamDestroy;
import static org.bytedeco.cuda.global.cudart.cudaStreamNonBlocking;
import static org.bytedeco.cuda.global.cudart.cudaStreamSynchronize;

import org.bytedeco.cuda.cublas.cublasContext;
import org.bytedeco.cuda.cudnn.cudnnContext;
import org.bytedeco.cuda.cudart.CUstream_st;
import org.bytedeco.cuda.cudart.cudaDeviceProp;
import org.bytedeco.javacpp.Pointer;
import org.bytedeco.javacpp.SizeTPointer;

/**
 * One device, one non-blocking stream and the cuBLAS and cuDNN handles bound to it, with a fixed cuBLAS workspace.
 *
 * <p>Why a fixed workspace: cuBLAS otherwise may allocate during stream capture, which a CUDA graph (and
 * a conditional node's body above all) cannot hold. Why a non-blocking stream: it never orders with the
 * legacy default stream, so nothing outside this backend can stall it. Counts host synchronisations
 * ({@link #hostSyncs}): the graph step's claim of zero is checked against this number.
 *
 * <p>Why {@link #makeCurrent}: {@code cudaSetDevice} is per thread. A thread starts on device 0, and one
 * that last used another context has that device current; a launch, capture or library call on this
 * context's stream or handles from such a thread fails (or, for an allocation, lands on the wrong device).
 * So every entry point of the backend that calls CUDA makes this device current first; which device each
 * thread has current is tracked here, because sam4j is the only caller of {@code cudaSetDevice}, so the
 * check costs a thread-local read and the call happens only when the thread or the device changes.
 */
final class CudaContext implements AutoCloseable {
    private static final long CUBLAS_WORKSPACE_BYTES = 32L << 20;

    final int device;
    final CUstream_st stream = new CUstream_st();
    final cublasContext blas = new cublasContext();
    final String name;
    final int major, minor, multiprocessors;
    final long totalMemory;
    final int cublasVersion;
    private final long cublasWorkspace;
    private long hostSyncs;
    private cudnnContext dnn;
    private boolean closed;

    /** The device each thread has made current through {@link #makeCurrent}; -1 before its first. */
    private static final ThreadLocal<int[]> CURRENT = ThreadLocal.withInitial(() -> new int[] {-1});

    CudaContext(int device, boolean tf32) {
        this.device = device;
        makeCurrent();
        CudaCheck.rt(cudaFree(null), "cudaFree(null) (creates the primary context)");
        cudaDeviceProp p = new cudaDeviceProp();
        CudaCheck.rt(cudaGetDeviceProperties(p, device), "cudaGetDeviceProperties");
        name = p.name().getString();
        major = p.major();
        minor = p.minor();
        multiprocessors = Math.max(1, p.multiProcessorCount());
        totalMemory = p.totalGlobalMem();
        p.close();
        CudaCheck.rt(cudaStreamCreateWithFlags(stream, cudaStreamNonBlocking), "cudaStreamCreateWithFlags");
        CudaCheck.blas(cublasCreate_v2(blas), "cublasCreate_v2");
        CudaCheck.blas(cublasSetStream_v2(blas, stream), "cublasSetStream_v2");
        long[] ws = {0};
        CudaCheck.cu(cuMemAlloc(ws, CUBLAS_WORKSPACE_BYTES), "cuMemAlloc(cuBLAS workspace)");
        cublasWorkspace = ws[0];
        CudaCheck.blas(cublasSetWorkspace_v2(blas, new DevicePointer(cublasWorkspace), CUBLAS_WORKSPACE_BYTES),
                "cublasSetWorkspace_v2");
        CudaCheck.blas(cublasSetMathMode(blas, tf32 ? CUBLAS_TF32_TENSOR_OP_MATH : CUBLAS_DEFAULT_MATH), "cublasSetMathMode");
        int[] v = {0};
        CudaCheck.blas(cublasGetVersion_v2(blas, v), "cublasGetVersion_v2");
        cublasVersion = v[0];
    }

    /** Makes this context's device the calling thread's current device, unless it already is. */
    void makeCurrent() {
        int[] current = CURRENT.get();
        if (current[0] != device) {
            CudaCheck.rt(cudaSetDevice(device), "cudaSetDevice(" + device + ")");
            current[0] = device;
        }
    }

    /** Waits for all work queued on the stream; the only way this backend blocks the host. */
    void synchronize(String why) {
        hostSyncs++;
        CudaCheck.rt(cudaStreamSynchronize(stream), "cudaStreamSynchronize (" + why + ")");
    }

    long hostSyncs() { return hostSyncs; }

    /**
     * Bytes of device memory in use on this device as the driver counts it ({@code cudaMemGetInfo}: total
     * minus free), by this process and any other. Unlike a tally of our own buffers it also sees what the
     * libraries and the driver take (graphs, cuBLAS and cuDNN handles and scratch, loaded kernels), so a
     * launch that leaks shows here. Not a synchronisation.
     */
    long deviceMemoryInUse() {
        try (SizeTPointer free = new SizeTPointer(1); SizeTPointer total = new SizeTPointer(1)) {
            CudaCheck.rt(cudaMemGetInfo(free, total), "cudaMemGetInfo");
            return total.get() - free.get();
        }
    }

    /**
     * The cuDNN handle, bound to this stream, made on first use: a host without the cuDNN libraries can
     * still train the MLP, and only convnets then fail (saying so).
     */
    cudnnContext dnn() {
        makeCurrent();  // every cuDNN call gets its handle here
        if (dnn == null) {
            cudnnContext h = new cudnnContext();
            CudaCheck.dnn(cudnnCreate(h), "cudnnCreate");
            CudaCheck.dnn(cudnnSetStream(h, stream), "cudnnSetStream");
            dnn = h;
        }
        return dnn;
    }

    @Override
    public void close() {
        if (closed) return;
        closed = true;
        makeCurrent();
        // Best effort: a failed earlier kernel may have spoiled the context; freeing must not throw over it.
        cudaStreamSynchronize(stream);
        cublasDestroy_v2(blas);
        if (dnn != null) cudnnDestroy(dnn);
        cuMemFree(cublasWorkspace);
        cudaStreamDestroy(stream);
    }

    /** A JavaCPP view of a raw address (device memory, or pinned host memory for copies), for APIs typed on {@link Pointer}. */
    static final class DevicePointer extends org.bytedeco.javacpp.FloatPointer {
        DevicePointer(long address) {
            this.address = address;
        }

        /** Re-points this view (reused per call instead of a new object per GEMM). */
        void set(long newAddress) {
            this.address = newAddress;
        }
    }
}
