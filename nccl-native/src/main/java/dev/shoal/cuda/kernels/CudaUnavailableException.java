// Thrown when the CUDA driver, runtime or NVRTC libraries cannot be loaded, or no GPU exists.
// Guarantees: the message names what is missing and how to fix it, instead of a NoClassDefFoundError cascade.
package dev.shoal.cuda.kernels;

/** The native CUDA stack (libcuda, libcudart, libnvrtc) or a device is not available. */
public final class CudaUnavailableException extends RuntimeException {
    public CudaUnavailableException(String message, Throwable cause) {
        super(message, cause);
    }

    public CudaUnavailableException(String message) {
        super(message);
    }
}
