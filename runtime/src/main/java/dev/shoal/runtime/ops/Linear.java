// A bias-free linear layer in the Hugging Face layout: y = x·Wᵀ with W [out, in].
// Guarantees: all three products go through Gemm; dW accumulates, dx is assigned or (for a fan-out)
// accumulated as the caller says.
package dev.shoal.runtime.ops;

import dev.shoal.runtime.tensor.Compute;
import dev.shoal.runtime.tensor.Tensor;

public final class Linear {
    private Linear() {}

    /** y [N, out] = x [N, in] · wᵀ, w [out, in]. */
    public static void forward(Compute cx, Tensor y, Tensor x, Tensor w) {
        forward(cx, y, x, w, false);
    }

    /**
     * y [N, out] = x · wᵀ, or y += x · wᵀ when accumulate (a residual add fused into the GEMM: the caller
     * copies the stream into y first).
     */
    public static void forward(Compute cx, Tensor y, Tensor x, Tensor w, boolean accumulate) {
        int out = w.dim(0), in = w.dim(1);
        int n = rows(x, in, "x");
        rows(y, out, "y");
        cx.gemm().sgemm(false, true, n, out, in, 1f, x, 0, in, w, 0, in, accumulate ? 1f : 0f, y, 0, out);
    }

    /**
     * dx [N, in] = dy · w (assigned, or added when accumulateDx: several layers read the same x); dw
     * [out, in] += dyᵀ · x. dx may be null when the input needs no gradient.
     */
    public static void backward(Compute cx, Tensor dx, Tensor dw, Tensor dy, Tensor x, Tensor w, boolean accumulateDx) {
        int out = w.dim(0), in = w.dim(1);
        int n = rows(x, in, "x");
        rows(dy, out, "dy");
        // Input gradient: dx = dy [N, out] · w [out, in].
        if (dx != null) {
            rows(dx, in, "dx");
            cx.gemm().sgemm(false, false, n, in, out, 1f, dy, 0, out, w, 0, in, accumulateDx ? 1f : 0f, dx, 0, in);
        }
        // Weight gradient: dw += dyᵀ [out, N] · x [N, in].
        cx.gemm().sgemm(true, false, out, in, n, 1f, dy, 0, out, x, 0, in, 1f, dw, 0, in);
    }

    private static int rows(Tensor t, int cols, String what) {
        if (t.dim(-1) != cols) {
            throw new IllegalArgumentException("linear " + what + ": last dimension must be " + cols + ", got " + t);
        }
        return (int) (t.numel() / cols);
    }
}
