package dev.sam4j.backend.cuda;

/**
 * A CUDA, driver, cuBLAS or kernel-side error: names the call, the numeric status and its symbolic
 * name, e.g. {@code cuMemAlloc(4096) -> CUDA_ERROR_OUT_OF_MEMORY (2)}. Made only by {@link CudaCheck}
 * and the backend's own checks.
 */
public final class CudaException extends RuntimeException {
    private final int status;

    public CudaException(String call, int status, String statusName) {
        super(call + " -> " + statusName + " (" + status + ")");
        this.status = status;
    }

    public CudaException(String message) {
        super(message);
        this.status = -1;
    }

    /** The numeric status, or -1 for errors detected by sam4j itself (e.g. a bad label seen by a kernel). */
    public int status() { return status; }
}
