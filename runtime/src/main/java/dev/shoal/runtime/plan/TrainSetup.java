// What is trained, independent of the layout: the model, the global batch in sequences, the sequence
// length, whether the optimizer state is ZeRO-1 sharded over DP, whether TP uses sequence parallelism,
// and the memory every GPU keeps back for the CUDA context, NCCL buffers and allocator fragmentation.
// Byte sizes follow Shoal's GPU trainer (runtime/backend/BackendLlama on CudaOps): bf16 compute weights
// and activations, fp32 gradients, fp32 master weights and fp32 AdamW moments.
// Guarantees: sizes are >= 1, the sequence fits the model's context, the reserve is >= 0.
package dev.shoal.runtime.plan;

import dev.shoal.runtime.model.LlamaConfig;

public record TrainSetup(
        LlamaConfig model, int globalBatch, int seqLen, boolean zero1, boolean sequenceParallel, double reserveGiB) {

    /** bf16 compute copy of each weight. */
    public static final int WEIGHT_BYTES = 2;
    /** fp32 gradient accumulation buffer, as BackendLlama keeps (and Megatron's main_grad). */
    public static final int GRAD_BYTES = 4;
    /** fp32 master weight + AdamW first and second moments: 4 + 4 + 4. */
    public static final int OPTIMIZER_BYTES = 12;
    /** bf16 activations. */
    public static final int ACT_BYTES = 2;

    /** CUDA context, cuBLAS workspaces, NCCL buffers and allocator slack, per GPU. */
    public static final double DEFAULT_RESERVE_GIB = 4;

    public TrainSetup {
        if (model == null) throw new IllegalArgumentException("train setup needs a model");
        if (globalBatch < 1 || seqLen < 1) {
            throw new IllegalArgumentException(
                    "global batch " + globalBatch + " and sequence length " + seqLen + " must be >= 1");
        }
        if (seqLen > model.maxSeqLen()) {
            throw new IllegalArgumentException("sequence length " + seqLen + " exceeds the " + model.maxSeqLen()
                    + "-token context of model '" + model.name() + "'");
        }
        if (!(reserveGiB >= 0)) throw new IllegalArgumentException("reserve GiB must be >= 0, got " + reserveGiB);
    }

    public static TrainSetup of(LlamaConfig model, int globalBatch, int seqLen) {
        return new TrainSetup(model, globalBatch, seqLen, false, false, DEFAULT_RESERVE_GIB);
    }

    public TrainSetup withZero1(boolean z) {
        return new TrainSetup(model, globalBatch, seqLen, z, sequenceParallel, reserveGiB);
    }

    public TrainSetup withSequenceParallel(boolean sp) {
        return new TrainSetup(model, globalBatch, seqLen, zero1, sp, reserveGiB);
    }

    public TrainSetup withReserveGiB(double r) {
        return new TrainSetup(model, globalBatch, seqLen, zero1, sequenceParallel, r);
    }
}
