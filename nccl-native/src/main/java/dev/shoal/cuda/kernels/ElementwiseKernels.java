// Launchers for elementwise.cu: add/residual, fp32 accumulate, scale, fill, and deterministic sums.
// Guarantees: fp32 arithmetic; sums use a fixed grid of SUM_PARTIALS blocks and a fixed combine
// order, so the same input gives the same bits on every run.
package dev.shoal.cuda.kernels;

import dev.shoal.comm.DType;
import org.bytedeco.cuda.cudart.CUstream_st;

/** Small elementwise ops and reductions over flat device arrays of {@code n} elements. */
public final class ElementwiseKernels {
    /** Number of partial sums {@link #sum} writes; its {@code partials} buffer holds this many floats. */
    public static final int SUM_PARTIALS = 1024;

    private static final int BLOCK = 256;

    private ElementwiseKernels() {}

    /** y = a + b (y may alias a or b: the residual add). */
    public static void add(KernelLibrary lib, DType t, long a, long b, long y, long n, CUstream_st stream) {
        String op = "add";
        Check.floatType(op, "dtype", t);
        Check.ptr(op, "a", a, t.bytes());
        Check.ptr(op, "b", b, t.bytes());
        Check.ptr(op, "y", y, t.bytes());
        Check.positive(op, "n", n);
        Check.lib(op, lib)
                .launch(
                        "add_" + Check.suffix(t),
                        Check.gridFor(lib, n, BLOCK),
                        BLOCK,
                        0,
                        stream,
                        KernelArgs.begin().ptr(a).ptr(b).ptr(y).i64(n));
    }

    /** y(f32) += alpha * x (x of type t): gradient accumulation into an fp32 buffer. */
    public static void accumulate(
            KernelLibrary lib, DType t, long x, long yF32, long n, float alpha, CUstream_st stream) {
        String op = "accumulate";
        Check.floatType(op, "dtype", t);
        Check.ptr(op, "x", x, t.bytes());
        Check.ptr(op, "y", yF32, 4);
        Check.positive(op, "n", n);
        Check.finite(op, "alpha", alpha);
        Check.lib(op, lib)
                .launch(
                        "acc_" + Check.suffix(t),
                        Check.gridFor(lib, n, BLOCK),
                        BLOCK,
                        0,
                        stream,
                        KernelArgs.begin().ptr(x).ptr(yF32).i64(n).f32(alpha));
    }

    /** x *= s. */
    public static void scale(KernelLibrary lib, DType t, long x, long n, float s, CUstream_st stream) {
        String op = "scale";
        Check.floatType(op, "dtype", t);
        Check.ptr(op, "x", x, t.bytes());
        Check.positive(op, "n", n);
        Check.lib(op, lib)
                .launch(
                        "scale_" + Check.suffix(t),
                        Check.gridFor(lib, n, BLOCK),
                        BLOCK,
                        0,
                        stream,
                        KernelArgs.begin().ptr(x).i64(n).f32(s));
    }

    /** x = value (value rounded to bf16 for BF16). */
    public static void fill(KernelLibrary lib, DType t, long x, long n, float value, CUstream_st stream) {
        String op = "fill";
        Check.floatType(op, "dtype", t);
        Check.ptr(op, "x", x, t.bytes());
        Check.positive(op, "n", n);
        Check.lib(op, lib)
                .launch(
                        "fill_" + Check.suffix(t),
                        Check.gridFor(lib, n, BLOCK),
                        BLOCK,
                        0,
                        stream,
                        KernelArgs.begin().ptr(x).i64(n).f32(value));
    }

    /**
     * out[0] (f32) = (accumulate ? out[0] : 0) + sum(x) or sum(x^2) when {@code squared}.
     * {@code partials} is scratch of {@link #SUM_PARTIALS} floats. Bit-reproducible.
     */
    public static void sum(
            KernelLibrary lib,
            DType t,
            long x,
            long n,
            boolean squared,
            long partials,
            long out,
            boolean accumulate,
            CUstream_st stream) {
        String op = squared ? "sum of squares" : "sum";
        Check.floatType(op, "dtype", t);
        Check.ptr(op, "x", x, t.bytes());
        Check.ptr(op, "partials", partials, 4);
        Check.ptr(op, "out", out, 4);
        Check.positive(op, "n", n);
        Check.lib(op, lib)
                .launch(
                        "sum_partial_" + Check.suffix(t),
                        SUM_PARTIALS,
                        BLOCK,
                        0,
                        stream,
                        KernelArgs.begin().ptr(x).i64(n).i32(squared ? 1 : 0).ptr(partials));
        lib.launch(
                "sum_finish",
                1,
                BLOCK,
                0,
                stream,
                KernelArgs.begin().ptr(partials).i32(SUM_PARTIALS).ptr(out).i32(accumulate ? 1 : 0));
    }
}
