// Model FLOPs of one Llama training step (forward + backward), for MFU. Counted as in PaLM
// (Chowdhery et al. 2022, appendix B) with the causal-attention variant torch_kernel_bench.py also prints:
//   matmul FLOPs = 6 · tokens · Pm,  Pm = layers · (2·C² + 2·C·kvDim + 3·C·F) [+ V·C for the LM head]
//   attention    = 6 · layers · B · T² · C   (QKᵀ and PV: 2·2·B·T²·C forward, ×3 with backward, ×½ causal)
// The embedding lookup, norms, RoPE, SwiGLU gating, softmax and optimizer are not counted (they are
// memory-bound), nor the recomputation a flash backward does.
// Guarantees: exact arithmetic in long up to the final double; H100 SXM dense bf16 peak 989.4 TFLOP/s.
package dev.shoal.runtime.cuda;

import dev.shoal.runtime.model.LlamaConfig;

public final class TrainFlops {
    private TrainFlops() {}

    /** NVIDIA H100 SXM5 dense (no sparsity) bf16 tensor-core peak, FLOP/s. */
    public static final double H100_SXM_BF16_PEAK = 989.4e12;

    /** Matmul parameters of the decoder blocks: layers · (2·C² + 2·C·kvDim + 3·C·F). */
    public static long blockMatmulParams(LlamaConfig cfg) {
        long c = cfg.dim(), kv = cfg.kvDim(), f = cfg.ffnDim();
        return cfg.layers() * (2 * c * c + 2 * c * kv + 3 * c * f);
    }

    /** Matmul FLOPs of one step: 6 · B·T · (block matmul params [+ V·C]). */
    public static double matmulFlops(LlamaConfig cfg, int b, int t, boolean withHead) {
        long pm = blockMatmulParams(cfg) + (withHead ? (long) cfg.vocab() * cfg.dim() : 0);
        return 6.0 * b * t * pm;
    }

    /** Causal attention FLOPs of one step: 6 · layers · B · T² · C. */
    public static double attentionFlops(LlamaConfig cfg, int b, int t) {
        return 6.0 * cfg.layers() * b * (double) t * t * cfg.dim();
    }

    /** Total model FLOPs of one training step. */
    public static double stepFlops(LlamaConfig cfg, int b, int t, boolean withHead) {
        return matmulFlops(cfg, b, t, withHead) + attentionFlops(cfg, b, t);
    }

    /** Model FLOPs utilisation of a step that took {@code seconds}, against {@code peak} FLOP/s. */
    public static double mfu(double flops, double seconds, double peak) {
        if (!(seconds > 0) || !(peak > 0)) {
            throw new IllegalArgumentException("MFU needs positive time and peak, got " + seconds + " s, " + peak);
        }
        return flops / seconds / peak;
    }
}
