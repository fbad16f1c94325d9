// Launcher for swiglu.cu: h = silu(g) * u and its backward.
// Shapes: g, u, h, dh, dg, du [N, F] flat, n = N*F elements (F32 or BF16).
// Guarantees: fp32 math; dg may alias g and du may alias u.
package dev.shoal.cuda.kernels;

import dev.shoal.comm.DType;
import org.bytedeco.cuda.cudart.CUstream_st;

/** SwiGLU gating forward and backward. */
public final class SwiGluKernel {
    private static final int BLOCK = 256;

    private SwiGluKernel() {}

    /** h = silu(g) * u. */
    public static void forward(KernelLibrary lib, DType t, long g, long u, long h, long n, CUstream_st stream) {
        String op = "swiglu forward";
        Check.floatType(op, "dtype", t);
        Check.ptr(op, "g", g, t.bytes());
        Check.ptr(op, "u", u, t.bytes());
        Check.ptr(op, "h", h, t.bytes());
        Check.positive(op, "n", n);
        Check.lib(op, lib)
                .launch(
                        "swiglu_fwd_" + Check.suffix(t),
                        Check.gridFor(lib, n, BLOCK),
                        BLOCK,
                        0,
                        stream,
                        KernelArgs.begin().ptr(g).ptr(u).ptr(h).i64(n));
    }

    /** dg = dh * u * silu'(g), du = dh * silu(g) (both assigned). */
    public static void backward(
            KernelLibrary lib, DType t, long dh, long g, long u, long dg, long du, long n, CUstream_st stream) {
        String op = "swiglu backward";
        Check.floatType(op, "dtype", t);
        Check.ptr(op, "dh", dh, t.bytes());
        Check.ptr(op, "g", g, t.bytes());
        Check.ptr(op, "u", u, t.bytes());
        Check.ptr(op, "dg", dg, t.bytes());
        Check.ptr(op, "du", du, t.bytes());
        Check.positive(op, "n", n);
        Check.lib(op, lib)
                .launch(
                        "swiglu_bwd_" + Check.suffix(t),
                        Check.gridFor(lib, n, BLOCK),
                        BLOCK,
                        0,
                        stream,
                        KernelArgs.begin().ptr(dh).ptr(g).ptr(u).ptr(dg).ptr(du).i64(n));
    }
}
