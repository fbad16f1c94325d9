// A failed CUDA runtime, driver or cuBLAS call: carries the call, the numeric status and its name.
// Guarantees: the message says which call failed with which error, e.g. "cudaMalloc(1073741824 bytes):
// cudaErrorMemoryAllocation (2): out of memory".
package dev.shoal.cuda;

public final class CudaException extends RuntimeException {
    private final int status;

    public CudaException(String message, int status) {
        super(message);
        this.status = status;
    }

    /** The library status code (cudaError_t or cublasStatus_t). */
    public int status() {
        return status;
    }
}
