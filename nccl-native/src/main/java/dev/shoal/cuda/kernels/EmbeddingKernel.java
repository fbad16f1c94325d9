// Launcher for the vocab-parallel embedding in elementwise.cu.
// Shapes: tokens [N] int32; wte [Vlocal, C] (rows for vocab ids vocabOffset .. vocabOffset+Vlocal-1);
// out/dout [N, C]; dwte [Vlocal, C] fp32.
// Guarantees: tokens outside the shard give zero rows forward and no gradient backward; the
// backward accumulates (+=) with fp32 atomics, so repeated tokens add in a run-dependent order.
package dev.shoal.cuda.kernels;

import dev.shoal.comm.DType;
import org.bytedeco.cuda.cudart.CUstream_st;

/** Token embedding lookup (forward) and scatter-add (backward) for one vocab shard. */
public final class EmbeddingKernel {
    private static final int BLOCK = 256;

    private EmbeddingKernel() {}

    /** out[n, :] = wte[tokens[n] - vocabOffset, :] or zeros when the token is in another shard. */
    public static void forward(
            KernelLibrary lib,
            DType t,
            long tokens,
            long wte,
            long out,
            int N,
            int C,
            int vocabOffset,
            int vocabLocal,
            CUstream_st stream) {
        String op = "embedding forward";
        check(op, t, tokens, wte, out, N, C, vocabOffset, vocabLocal);
        Check.lib(op, lib)
                .launch(
                        "embedding_fwd_" + Check.suffix(t),
                        N,
                        BLOCK,
                        0,
                        stream,
                        KernelArgs.begin()
                                .ptr(tokens)
                                .ptr(wte)
                                .ptr(out)
                                .i32(C)
                                .i32(vocabOffset)
                                .i32(vocabLocal));
    }

    /** dwte[tokens[n] - vocabOffset, :] += dout[n, :] for tokens in this shard (dwte fp32). */
    public static void backward(
            KernelLibrary lib,
            DType t,
            long tokens,
            long dout,
            long dwteF32,
            int N,
            int C,
            int vocabOffset,
            int vocabLocal,
            CUstream_st stream) {
        String op = "embedding backward";
        check(op, t, tokens, dout, dwteF32, N, C, vocabOffset, vocabLocal);
        Check.ptr(op, "dwte", dwteF32, 4);
        Check.lib(op, lib)
                .launch(
                        "embedding_bwd_" + Check.suffix(t),
                        N,
                        BLOCK,
                        0,
                        stream,
                        KernelArgs.begin()
                                .ptr(tokens)
                                .ptr(dout)
                                .ptr(dwteF32)
                                .i32(C)
                                .i32(vocabOffset)
                                .i32(vocabLocal));
    }

    private static void check(String op, DType t, long tokens, long a, long b, int N, int C, int off, int vl) {
        Check.floatType(op, "dtype", t);
        Check.ptr(op, "tokens", tokens, 4);
        Check.ptr(op, "table/gradient", a, t.bytes());
        Check.ptr(op, "output", b, t.bytes());
        Check.positive(op, "N", N);
        Check.positive(op, "C", C);
        Check.nonNegative(op, "vocabOffset", off);
        Check.positive(op, "vocabLocal", vl);
        Check.product(op, "table [Vlocal, C]", Long.MAX_VALUE, vl, C);
    }
}
