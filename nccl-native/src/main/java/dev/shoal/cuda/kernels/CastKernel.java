// Launcher for cast.cu: f32 <-> bf16 over flat device arrays.
// Guarantees: f32 -> bf16 rounds to nearest even and keeps NaN/Inf; bf16 -> f32 is exact.
package dev.shoal.cuda.kernels;

import org.bytedeco.cuda.cudart.CUstream_st;

/** Type casts between fp32 and bf16 device arrays. */
public final class CastKernel {
    private static final int BLOCK = 256;

    private CastKernel() {}

    /** dst[n] bf16 = round(src[n] f32). */
    public static void f32ToBf16(KernelLibrary lib, long src, long dst, long n, CUstream_st stream) {
        String op = "cast f32->bf16";
        Check.ptr(op, "src", src, 4);
        Check.ptr(op, "dst", dst, 2);
        Check.positive(op, "n", n);
        Check.lib(op, lib)
                .launch(
                        "cast_f32_to_bf16",
                        Check.gridFor(lib, n, BLOCK),
                        BLOCK,
                        0,
                        stream,
                        KernelArgs.begin().ptr(src).ptr(dst).i64(n));
    }

    /** dst[n] f32 = src[n] bf16 (exact). */
    public static void bf16ToF32(KernelLibrary lib, long src, long dst, long n, CUstream_st stream) {
        String op = "cast bf16->f32";
        Check.ptr(op, "src", src, 2);
        Check.ptr(op, "dst", dst, 4);
        Check.positive(op, "n", n);
        Check.lib(op, lib)
                .launch(
                        "cast_bf16_to_f32",
                        Check.gridFor(lib, n, BLOCK),
                        BLOCK,
                        0,
                        stream,
                        KernelArgs.begin().ptr(src).ptr(dst).i64(n));
    }
}
