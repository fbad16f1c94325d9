// Launcher for causal grouped-query attention: the bf16 tensor-core flash kernels
// (flash_attention.cu, hd 64 or 128) and the fp32-exact one-warp-per-row kernels (attention_ref.cu,
// any hd <= 128, f32 or bf16).
// Shapes: Q, O, dQ, dO [B, T, NH, hd]; K, V, dK, dV [B, T, NKV, hd]; LSE [B, NH, T] fp32 (natural
// log of the softmax normaliser, saved by forward); workspace [B, NH, T] fp32 (backward scratch).
// Guarantees: softmax scale 1/sqrt(hd); causal; NKV divides NH (query head h reads KV head
// h / (NH/NKV)); dQ, dK, dV are assigned (=), bit-reproducible (no atomics).
package dev.shoal.cuda.kernels;

import dev.shoal.comm.DType;
import org.bytedeco.cuda.cudart.CUstream_st;

/** Causal GQA attention forward and backward. */
public final class FlashAttention {
    /** Queries (and keys) per tile of the flash kernels. */
    public static final int TILE = 64;

    /** Rows per block of the flash kernels (8 warps x 16 rows), against 64-row tiles of the other side. */
    private static final int BLOCK_ROWS = 128;

    private static final int BLOCK_THREADS = 256;
    private static final float LOG2E = 1.4426950408889634f;

    private FlashAttention() {}

    /** Which implementation to run. */
    public enum Impl {
        /** bf16 tensor cores (mma.sync, ldmatrix fragment loads), fp32 accumulation; BF16, hd 64 or 128. */
        FLASH,
        /** The same kernels with plain 32/16-bit shared-memory fragment loads instead of ldmatrix. */
        FLASH_BASIC,
        /** one warp per row in fp32 arithmetic; F32 or BF16, any hd up to 128; O(T^2) per row. */
        REFERENCE
    }

    /**
     * The implementation {@link #forward} and {@link #backward} pick: FLASH for BF16 (FLASH_BASIC when
     * the system property {@code shoal.flash.basic} is true), REFERENCE for F32.
     */
    public static Impl defaultImpl(DType t) {
        if (t != DType.BF16) {
            return Impl.REFERENCE;
        }
        return Boolean.getBoolean("shoal.flash.basic") ? Impl.FLASH_BASIC : Impl.FLASH;
    }

    private static String variant(Impl impl) {
        return impl == Impl.FLASH_BASIC ? "_basic" : "";
    }

    /** Bytes of the backward workspace: one fp32 per (b, h, t). */
    public static long workspaceBytes(int B, int NH, int T) {
        return 4L * B * NH * T;
    }

    /** Causal forward FLOPs: 2 matmuls of 2*hd FLOPs per (query, key) pair, half the pairs. */
    public static double forwardFlops(int B, int T, int NH, int hd) {
        return 2.0 * 2.0 * B * NH * (double) T * T * hd / 2.0;
    }

    /** Causal backward FLOPs, 2.5x the forward (5 matmuls against 2). */
    public static double backwardFlops(int B, int T, int NH, int hd) {
        return 2.5 * forwardFlops(B, T, NH, hd);
    }

    /** O = softmax(scale * Q K^T, causal) V, and LSE; FLASH for BF16, REFERENCE for F32. */
    public static void forward(
            KernelLibrary lib,
            DType t,
            long q,
            long k,
            long v,
            long o,
            long lse,
            int B,
            int T,
            int NH,
            int NKV,
            int hd,
            CUstream_st stream) {
        forward(lib, defaultImpl(t), t, q, k, v, o, lse, B, T, NH, NKV, hd, stream);
    }

    /** Forward with an explicit implementation. */
    public static void forward(
            KernelLibrary lib,
            Impl impl,
            DType t,
            long q,
            long k,
            long v,
            long o,
            long lse,
            int B,
            int T,
            int NH,
            int NKV,
            int hd,
            CUstream_st stream) {
        String op = "attention forward (" + impl + ")";
        int align = check(op, impl, t, B, T, NH, NKV, hd);
        Check.ptr(op, "q", q, align);
        Check.ptr(op, "k", k, align);
        Check.ptr(op, "v", v, align);
        Check.ptr(op, "o", o, align);
        Check.ptr(op, "lse", lse, 4);
        Check.lib(op, lib);
        float scale = (float) (1.0 / Math.sqrt(hd));
        if (impl != Impl.REFERENCE) {
            lib.launch(
                    "flash_fwd_bf16_hd" + hd + variant(impl),
                    (T + BLOCK_ROWS - 1) / BLOCK_ROWS,
                    NH,
                    B,
                    BLOCK_THREADS,
                    1,
                    1,
                    4 * TILE * (hd + 8) * 2,
                    stream,
                    KernelArgs.begin()
                            .ptr(q)
                            .ptr(k)
                            .ptr(v)
                            .ptr(o)
                            .ptr(lse)
                            .i32(T)
                            .i32(NH)
                            .i32(NKV)
                            .f32(scale * LOG2E));
        } else {
            lib.launch(
                    "attn_ref_fwd_" + Check.suffix(t),
                    (T + 3) / 4,
                    NH,
                    B,
                    128,
                    1,
                    1,
                    0,
                    stream,
                    KernelArgs.begin()
                            .ptr(q)
                            .ptr(k)
                            .ptr(v)
                            .ptr(o)
                            .ptr(lse)
                            .i32(T)
                            .i32(NH)
                            .i32(NKV)
                            .i32(hd)
                            .f32(scale));
        }
    }

    /** dQ, dK, dV from dO (FLASH for BF16, REFERENCE for F32); o and lse come from the forward. */
    public static void backward(
            KernelLibrary lib,
            DType t,
            long q,
            long k,
            long v,
            long o,
            long lse,
            long dO,
            long dQ,
            long dK,
            long dV,
            long workspace,
            int B,
            int T,
            int NH,
            int NKV,
            int hd,
            CUstream_st stream) {
        backward(lib, defaultImpl(t), t, q, k, v, o, lse, dO, dQ, dK, dV, workspace, B, T, NH, NKV, hd, stream);
    }

    /** Backward with an explicit implementation. */
    public static void backward(
            KernelLibrary lib,
            Impl impl,
            DType t,
            long q,
            long k,
            long v,
            long o,
            long lse,
            long dO,
            long dQ,
            long dK,
            long dV,
            long workspace,
            int B,
            int T,
            int NH,
            int NKV,
            int hd,
            CUstream_st stream) {
        String op = "attention backward (" + impl + ")";
        int align = check(op, impl, t, B, T, NH, NKV, hd);
        Check.ptr(op, "q", q, align);
        Check.ptr(op, "k", k, align);
        Check.ptr(op, "v", v, align);
        Check.ptr(op, "o", o, align);
        Check.ptr(op, "dO", dO, align);
        Check.ptr(op, "dQ", dQ, align);
        Check.ptr(op, "dK", dK, align);
        Check.ptr(op, "dV", dV, align);
        Check.ptr(op, "lse", lse, 4);
        Check.ptr(op, "workspace", workspace, 4);
        Check.lib(op, lib);
        float scale = (float) (1.0 / Math.sqrt(hd));
        long rows = (long) B * T * NH;
        int dotGrid = (int) ((rows + 7) / 8);
        if (impl != Impl.REFERENCE) {
            // step 1: D = rowsum(dO * O)
            lib.launch(
                    "flash_bwd_dot_bf16",
                    dotGrid,
                    256,
                    0,
                    stream,
                    KernelArgs.begin()
                            .ptr(dO)
                            .ptr(o)
                            .ptr(workspace)
                            .i32(B)
                            .i32(T)
                            .i32(NH)
                            .i32(hd));
            // step 2: dK, dV per 128-key block; step 3: dQ per 128-query block
            int smem = 8 * TILE * (hd + 8) * 2;
            int blocks = (T + BLOCK_ROWS - 1) / BLOCK_ROWS;
            lib.launch(
                    "flash_bwd_dkdv_bf16_hd" + hd + variant(impl),
                    blocks,
                    NKV,
                    B,
                    BLOCK_THREADS,
                    1,
                    1,
                    smem + 2 * BLOCK_ROWS * 4,
                    stream,
                    KernelArgs.begin()
                            .ptr(q)
                            .ptr(k)
                            .ptr(v)
                            .ptr(dO)
                            .ptr(lse)
                            .ptr(workspace)
                            .ptr(dK)
                            .ptr(dV)
                            .i32(T)
                            .i32(NH)
                            .i32(NKV)
                            .f32(scale * LOG2E)
                            .f32(scale));
            lib.launch(
                    "flash_bwd_dq_bf16_hd" + hd + variant(impl),
                    blocks,
                    NH,
                    B,
                    BLOCK_THREADS,
                    1,
                    1,
                    smem,
                    stream,
                    KernelArgs.begin()
                            .ptr(q)
                            .ptr(k)
                            .ptr(v)
                            .ptr(dO)
                            .ptr(lse)
                            .ptr(workspace)
                            .ptr(dQ)
                            .i32(T)
                            .i32(NH)
                            .i32(NKV)
                            .f32(scale * LOG2E)
                            .f32(scale));
        } else {
            String s = Check.suffix(t);
            lib.launch(
                    "attn_ref_dot_" + s,
                    dotGrid,
                    256,
                    0,
                    stream,
                    KernelArgs.begin()
                            .ptr(dO)
                            .ptr(o)
                            .ptr(workspace)
                            .i32(B)
                            .i32(T)
                            .i32(NH)
                            .i32(hd));
            lib.launch(
                    "attn_ref_dq_" + s,
                    (T + 3) / 4,
                    NH,
                    B,
                    128,
                    1,
                    1,
                    0,
                    stream,
                    KernelArgs.begin()
                            .ptr(q)
                            .ptr(k)
                            .ptr(v)
                            .ptr(dO)
                            .ptr(lse)
                            .ptr(workspace)
                            .ptr(dQ)
                            .i32(T)
                            .i32(NH)
                            .i32(NKV)
                            .i32(hd)
                            .f32(scale));
            lib.launch(
                    "attn_ref_dkdv_" + s,
                    (T + 3) / 4,
                    NKV,
                    B,
                    128,
                    1,
                    1,
                    0,
                    stream,
                    KernelArgs.begin()
                            .ptr(q)
                            .ptr(k)
                            .ptr(v)
                            .ptr(dO)
                            .ptr(lse)
                            .ptr(workspace)
                            .ptr(dK)
                            .ptr(dV)
                            .i32(T)
                            .i32(NH)
                            .i32(NKV)
                            .i32(hd)
                            .f32(scale));
        }
    }

    /** Validates the shape; returns the pointer alignment the implementation needs. */
    private static int check(String op, Impl impl, DType t, int B, int T, int NH, int NKV, int hd) {
        if (impl == null) {
            throw new IllegalArgumentException(op + ": implementation is null");
        }
        Check.floatType(op, "dtype", t);
        Check.positive(op, "B", B);
        Check.positive(op, "T", T);
        Check.positive(op, "NH", NH);
        Check.positive(op, "NKV", NKV);
        Check.positive(op, "hd", hd);
        if (NH % NKV != 0) {
            throw new IllegalArgumentException(
                    op + ": NH " + NH + " is not a multiple of NKV " + NKV + " (grouped-query attention)");
        }
        if (B > 65535 || NH > 65535) {
            throw new IllegalArgumentException(op + ": B " + B + " and NH " + NH + " must be at most 65535");
        }
        Check.product(op, "[B, T, NH, hd]", Long.MAX_VALUE / 2, B, T, NH, hd);
        if (impl != Impl.REFERENCE) {
            if (t != DType.BF16) {
                throw new IllegalArgumentException(
                        op + ": the flash kernels take BF16, got " + t + " (use Impl.REFERENCE for F32)");
            }
            if (hd != 64 && hd != 128) {
                throw new IllegalArgumentException(op + ": the flash kernels support hd 64 or 128, got " + hd);
            }
            return 16; // 16-byte vector loads of each row
        }
        if (hd > 128) {
            throw new IllegalArgumentException(op + ": hd must be at most 128, got " + hd);
        }
        return t.bytes();
    }
}
