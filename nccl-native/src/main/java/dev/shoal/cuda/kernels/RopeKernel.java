// Launcher for rope.cu: rotary embedding in Hugging Face's rotate_half convention
// ([x1 | x2] -> [x1 cos - x2 sin | x2 cos + x1 sin], halves of hd/2), plus the cos/sin tables.
// Shapes: x, y [B, T, NH, hd] (F32 or BF16); cos, sin [T, hd/2] fp32; invFreq [hd/2] fp32.
// Guarantees: backward is the exact inverse rotation; y may alias x (in place).
package dev.shoal.cuda.kernels;

import dev.shoal.comm.DType;
import org.bytedeco.cuda.cudart.CUstream_st;

/** RoPE forward/backward and its tables. */
public final class RopeKernel {
    private static final int BLOCK = 256;

    private RopeKernel() {}

    /**
     * Inverse frequencies theta^(-2i/hd), i < hd/2, in double then rounded to float (HF computes
     * them in float32 from an int64 arange; both agree to float rounding).
     */
    public static float[] inverseFrequencies(int hd, double theta) {
        Check.positive("rope inverse frequencies", "hd", hd);
        Check.even("rope inverse frequencies", "hd", hd);
        if (!(theta > 1)) {
            throw new IllegalArgumentException("rope inverse frequencies: theta must be > 1, got " + theta);
        }
        float[] f = new float[hd / 2];
        for (int i = 0; i < hd / 2; i++) {
            f[i] = (float) (1.0 / Math.pow(theta, (2.0 * i) / hd));
        }
        return f;
    }

    /** cos/sin [T, half] for positions pos0 .. pos0+T-1: angle = float(pos) * invFreq[i]. */
    public static void tables(
            KernelLibrary lib, long invFreq, long cos, long sin, int T, int half, int pos0, CUstream_st stream) {
        String op = "rope tables";
        Check.ptr(op, "invFreq", invFreq, 4);
        Check.ptr(op, "cos", cos, 4);
        Check.ptr(op, "sin", sin, 4);
        Check.positive(op, "T", T);
        Check.positive(op, "half", half);
        Check.nonNegative(op, "pos0", pos0);
        long n = Check.product(op, "tables", Integer.MAX_VALUE, T, half);
        Check.lib(op, lib)
                .launch(
                        "rope_tables",
                        Check.gridFor(lib, n, BLOCK),
                        BLOCK,
                        0,
                        stream,
                        KernelArgs.begin()
                                .ptr(invFreq)
                                .ptr(cos)
                                .ptr(sin)
                                .i32(T)
                                .i32(half)
                                .i32(pos0));
    }

    /** y = rope(x). */
    public static void forward(
            KernelLibrary lib,
            DType t,
            long x,
            long y,
            long cos,
            long sin,
            int B,
            int T,
            int NH,
            int hd,
            CUstream_st stream) {
        launch("rope forward", lib, t, x, y, cos, sin, B, T, NH, hd, 1.0f, stream);
    }

    /** dx = rope^-1(dy) (rotation by the negative angle). dx may alias dy. */
    public static void backward(
            KernelLibrary lib,
            DType t,
            long dy,
            long dx,
            long cos,
            long sin,
            int B,
            int T,
            int NH,
            int hd,
            CUstream_st stream) {
        launch("rope backward", lib, t, dy, dx, cos, sin, B, T, NH, hd, -1.0f, stream);
    }

    private static void launch(
            String op,
            KernelLibrary lib,
            DType t,
            long x,
            long y,
            long cos,
            long sin,
            int B,
            int T,
            int NH,
            int hd,
            float sign,
            CUstream_st stream) {
        Check.floatType(op, "dtype", t);
        Check.ptr(op, "input", x, t.bytes());
        Check.ptr(op, "output", y, t.bytes());
        Check.ptr(op, "cos", cos, 4);
        Check.ptr(op, "sin", sin, 4);
        Check.positive(op, "B", B);
        Check.positive(op, "T", T);
        Check.positive(op, "NH", NH);
        Check.positive(op, "hd", hd);
        Check.even(op, "hd", hd);
        long pairs = Check.product(op, "[B, T, NH, hd/2]", Long.MAX_VALUE, B, T, NH, hd / 2);
        Check.lib(op, lib)
                .launch(
                        "rope_" + Check.suffix(t),
                        Check.gridFor(lib, pairs, BLOCK),
                        BLOCK,
                        0,
                        stream,
                        KernelArgs.begin()
                                .ptr(x)
                                .ptr(y)
                                .ptr(cos)
                                .ptr(sin)
                                .i32(T)
                                .i32(NH)
                                .i32(hd)
                                .f32(sign)
                                .i64(pairs));
    }
}
