package dev.sam4j.backend.cuda;

import static org.bytedeco.cuda.global.cublas.CUBLAS_STATUS_SUCCESS;
import static org.bytedeco.cuda.global.cublas.cublasGetStatusName;
import static org.bytedeco.cuda.global.cudart.CUDA_SUCCESS;
import static org.bytedeco.cuda.global.cudart.cuGetErrorName;
import static org.bytedeco.cuda.global.cudart.cudaGetErrorName;
import static org.bytedeco.cuda.global.cudart.cudaSuccess;
import static org.bytedeco.cuda.global.cudnn.CUDNN_STATUS_SUCCESS;
import static org.bytedeco.cuda.global.cudnn.cudnnGetErrorString;

import org.bytedeco.javacpp.BytePointer;
import org.bytedeco.javacpp.Pointer;

/**
 * Status codes become {@link CudaException}s here and nowhere else (llm.c's {@code cudaCheck}): one
 * method per API family, each naming the call.
 */
final class CudaCheck {
    private CudaCheck() {}

    /** Runtime API ({@code cuda*}). */
    static void rt(int status, String call) {
        if (status != cudaSuccess) throw new CudaException(call, status, runtimeName(status));
    }

    /** Driver API ({@code cu*}). */
    static void cu(int status, String call) {
        if (status != CUDA_SUCCESS) throw new CudaException(call, status, driverName(status));
    }

    /** cuBLAS. */
    static void blas(int status, String call) {
        if (status != CUBLAS_STATUS_SUCCESS) {
            BytePointer name = cublasGetStatusName(status);
            throw new CudaException(call, status, name == null || name.isNull() ? "cublasStatus" : name.getString());
        }
    }

    /** cuDNN. */
    static void dnn(int status, String call) {
        if (status != CUDNN_STATUS_SUCCESS) {
            BytePointer name = cudnnGetErrorString(status);
            throw new CudaException(call, status, name == null || name.isNull() ? "cudnnStatus" : name.getString());
        }
    }

    static String runtimeName(int status) {
        BytePointer name = cudaGetErrorName(status);
        return name == null || name.isNull() ? "cudaError" : name.getString();
    }

    static String driverName(int status) {
        BytePointer name = new BytePointer((Pointer) null);
        cuGetErrorName(status, name);
        return name.isNull() ? "CUresult" : name.getString();
    }
}
