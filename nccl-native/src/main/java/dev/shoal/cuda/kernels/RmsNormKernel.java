// Launcher for rmsnorm.cu: y = x * rstd * w with rstd = 1/sqrt(mean(x^2) + eps) per row.
// Shapes: x, y, dy, dx [N, C] (F32 or BF16); w, dw [C] fp32; rstd [N] fp32 (written by forward).
// Guarantees: fp32 math; bit-reproducible reductions; dw accumulates (+=), dx is assigned (=).
package dev.shoal.cuda.kernels;

import dev.shoal.comm.DType;
import org.bytedeco.cuda.cudart.CUstream_st;

/** RMSNorm forward and backward. */
public final class RmsNormKernel {
    private static final int BLOCK = 256;

    private RmsNormKernel() {}

    /** y = x * rstd * w; saves rstd [N] for backward. */
    public static void forward(
            KernelLibrary lib,
            DType t,
            long x,
            long w,
            long y,
            long rstd,
            int N,
            int C,
            float eps,
            CUstream_st stream) {
        String op = "rmsnorm forward";
        shape(op, t, N, C);
        Check.ptr(op, "x", x, t.bytes());
        Check.ptr(op, "w", w, 4);
        Check.ptr(op, "y", y, t.bytes());
        Check.ptr(op, "rstd", rstd, 4);
        if (!(eps > 0) || !Float.isFinite(eps)) {
            throw new IllegalArgumentException(op + ": eps must be positive and finite, got " + eps);
        }
        Check.lib(op, lib)
                .launch(
                        "rmsnorm_fwd_" + Check.suffix(t),
                        N,
                        BLOCK,
                        0,
                        stream,
                        KernelArgs.begin().ptr(x).ptr(w).ptr(y).ptr(rstd).i32(C).f32(eps));
    }

    /**
     * dx = d/dx (assigned), dw += d/dw (fp32, accumulated). dx may alias dy; dw is computed first
     * so the aliasing is safe.
     */
    public static void backward(
            KernelLibrary lib,
            DType t,
            long dy,
            long x,
            long w,
            long rstd,
            long dx,
            long dw,
            int N,
            int C,
            CUstream_st stream) {
        String op = "rmsnorm backward";
        shape(op, t, N, C);
        Check.ptr(op, "dy", dy, t.bytes());
        Check.ptr(op, "x", x, t.bytes());
        Check.ptr(op, "w", w, 4);
        Check.ptr(op, "rstd", rstd, 4);
        Check.ptr(op, "dx", dx, t.bytes());
        Check.ptr(op, "dw", dw, 4);
        Check.lib(op, lib);
        String s = Check.suffix(t);
        // dweight: (32 columns x 8 row groups) per block
        lib.launch(
                "rmsnorm_bwd_dw_" + s,
                (C + 31) / 32,
                1,
                1,
                32,
                8,
                1,
                0,
                stream,
                KernelArgs.begin().ptr(dy).ptr(x).ptr(rstd).ptr(dw).i32(N).i32(C));
        // dinput: one block per row
        lib.launch(
                "rmsnorm_bwd_dx_" + s,
                N,
                BLOCK,
                0,
                stream,
                KernelArgs.begin().ptr(dy).ptr(x).ptr(w).ptr(rstd).ptr(dx).i32(C));
    }

    private static void shape(String op, DType t, int N, int C) {
        Check.floatType(op, "dtype", t);
        Check.positive(op, "N", N);
        Check.positive(op, "C", C);
    }
}
