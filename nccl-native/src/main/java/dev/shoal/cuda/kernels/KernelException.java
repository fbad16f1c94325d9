// Thrown when a kernel fails to compile (with the NVRTC log: file name and line), to load, or to launch.
package dev.shoal.cuda.kernels;

/** A kernel could not be compiled, loaded or launched; the message carries the CUDA/NVRTC detail. */
public final class KernelException extends RuntimeException {
    public KernelException(String message) {
        super(message);
    }

    public KernelException(String message, Throwable cause) {
        super(message, cause);
    }
}
