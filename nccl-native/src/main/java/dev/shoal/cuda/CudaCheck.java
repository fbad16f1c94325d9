// Turns CUDA runtime status codes into CudaException with the call and error named.
// Guarantees: check() returns only on cudaSuccess; errorText() never throws.
package dev.shoal.cuda;

import org.bytedeco.cuda.global.cudart;
import org.bytedeco.javacpp.BytePointer;

public final class CudaCheck {
    private CudaCheck() {}

    /** Throws CudaException naming {@code call} unless {@code status} is cudaSuccess. */
    public static void check(int status, String call) {
        if (status != cudart.cudaSuccess) {
            throw new CudaException(call + ": " + errorText(status), status);
        }
    }

    /** "cudaErrorX (n): description" for a cudaError_t. */
    public static String errorText(int status) {
        try {
            BytePointer name = cudart.cudaGetErrorName(status);
            BytePointer text = cudart.cudaGetErrorString(status);
            return (name == null ? "cudaError" : name.getString()) + " (" + status + "): "
                    + (text == null ? "" : text.getString());
        } catch (Throwable t) {
            return "cudaError " + status;
        }
    }
}
