// Launcher for cross_entropy.cu: vocab-parallel softmax cross-entropy over a logit shard.
// Shapes: logits, dlogits [N, Vlocal] (F32 or BF16) for vocab ids vocabOffset .. vocabOffset+Vlocal-1;
// targets [N] int32 (IGNORE_INDEX rows: zero loss, zero gradient); every per-row vector [N] fp32.
// Protocol across TP ranks (one rank: stats, then lossAndGrad with the same three vectors):
//   stats -> allReduce(MAX) of a copy of rowMax -> rescale -> allReduce(SUM) rowSumExp and
//   targetLogit -> lossAndGrad.
// Guarantees: fp32 math with bit-reproducible block reductions; dlogits are assigned.
package dev.shoal.cuda.kernels;

import dev.shoal.comm.DType;
import org.bytedeco.cuda.cudart.CUstream_st;

/** Softmax cross-entropy with the vocabulary split across tensor-parallel ranks. */
public final class CrossEntropyKernel {
    /** Target id that marks a position with no loss (PyTorch's default). */
    public static final int IGNORE_INDEX = -100;

    private static final int BLOCK = 512;

    private CrossEntropyKernel() {}

    /** Pass 1: local row max, local sum of exp(x - max), and the target logit (0 when not in this shard). */
    public static void stats(
            KernelLibrary lib,
            DType t,
            long logits,
            long targets,
            int N,
            int vocabLocal,
            int vocabOffset,
            long rowMax,
            long rowSumExp,
            long targetLogit,
            CUstream_st stream) {
        String op = "cross-entropy stats";
        common(op, t, logits, targets, N, vocabLocal, vocabOffset);
        Check.ptr(op, "rowMax", rowMax, 4);
        Check.ptr(op, "rowSumExp", rowSumExp, 4);
        Check.ptr(op, "targetLogit", targetLogit, 4);
        Check.lib(op, lib)
                .launch(
                        "ce_stats_" + Check.suffix(t),
                        N,
                        BLOCK,
                        0,
                        stream,
                        KernelArgs.begin()
                                .ptr(logits)
                                .ptr(targets)
                                .i32(vocabLocal)
                                .i32(vocabOffset)
                                .i32(IGNORE_INDEX)
                                .ptr(rowMax)
                                .ptr(rowSumExp)
                                .ptr(targetLogit));
    }

    /** rowSumExp *= exp(localMax - globalMax): re-bases a rank's sum onto the all-reduced max. */
    public static void rescale(
            KernelLibrary lib, long localMax, long globalMax, long rowSumExp, int N, CUstream_st stream) {
        String op = "cross-entropy rescale";
        Check.ptr(op, "localMax", localMax, 4);
        Check.ptr(op, "globalMax", globalMax, 4);
        Check.ptr(op, "rowSumExp", rowSumExp, 4);
        Check.positive(op, "N", N);
        Check.lib(op, lib)
                .launch(
                        "ce_rescale",
                        (N + 255) / 256,
                        256,
                        0,
                        stream,
                        KernelArgs.begin()
                                .ptr(localMax)
                                .ptr(globalMax)
                                .ptr(rowSumExp)
                                .i32(N));
    }

    /**
     * Pass 2: loss[n] = log(sumExp) + max - targetLogit (0 for ignored rows), and, when dlogits != 0,
     * dlogits = (softmax - onehot) * scale (dlogits may alias logits). Uses the global statistics.
     */
    public static void lossAndGrad(
            KernelLibrary lib,
            DType t,
            long logits,
            long targets,
            int N,
            int vocabLocal,
            int vocabOffset,
            long globalMax,
            long globalSumExp,
            long globalTargetLogit,
            long loss,
            long dlogits,
            float scale,
            CUstream_st stream) {
        String op = "cross-entropy loss/grad";
        common(op, t, logits, targets, N, vocabLocal, vocabOffset);
        Check.ptr(op, "globalMax", globalMax, 4);
        Check.ptr(op, "globalSumExp", globalSumExp, 4);
        Check.ptr(op, "globalTargetLogit", globalTargetLogit, 4);
        Check.ptr(op, "loss", loss, 4);
        Check.optionalPtr(op, "dlogits", dlogits, t.bytes());
        Check.finite(op, "scale", scale);
        Check.lib(op, lib)
                .launch(
                        "ce_loss_grad_" + Check.suffix(t),
                        N,
                        BLOCK,
                        0,
                        stream,
                        KernelArgs.begin()
                                .ptr(logits)
                                .ptr(targets)
                                .i32(vocabLocal)
                                .i32(vocabOffset)
                                .i32(IGNORE_INDEX)
                                .ptr(globalMax)
                                .ptr(globalSumExp)
                                .ptr(globalTargetLogit)
                                .ptr(loss)
                                .ptr(dlogits)
                                .f32(scale));
    }

    private static void common(String op, DType t, long logits, long targets, int N, int vl, int off) {
        Check.floatType(op, "dtype", t);
        Check.ptr(op, "logits", logits, t.bytes());
        Check.ptr(op, "targets", targets, 4);
        Check.positive(op, "N", N);
        Check.positive(op, "vocabLocal", vl);
        Check.nonNegative(op, "vocabOffset", off);
    }
}
