// Thrown by every GPU entry point when the CUDA/NCCL libraries or a CUDA device are missing.
// Guarantees: the message names each missing library and the library search path.
package dev.shoal.cuda;

public final class GpuUnavailableException extends RuntimeException {
    public GpuUnavailableException(String message) {
        super(message);
    }
}
