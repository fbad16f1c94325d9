// Activation memory a GPU keeps between a micro-batch's forward and its backward, after Korthikanti et
// al. 2022, "Reducing Activation Recomputation in Large Transformer Models" (section 4), adapted to
// Llama-3's block. All values in bytes for one layer and one micro-batch; bf16 = 2 bytes per element.
//
// Korthikanti's GPT layer (no parallelism) stores sbh·(34 + 5as/h) bytes: attention 11sbh + 5as²b,
// MLP 19sbh, two LayerNorms 4sbh. Llama differs: no dropout (GPT's masks sbh + sbh and the dropped
// attention matrix as²b + 2as²b go), RMSNorm (input kept, like LayerNorm), GQA (K and V are s·b·k with
// k = kvHeads · head size instead of h), RoPE (linear, nothing extra kept) and a SwiGLU MLP of width f
// (gate, up and their product instead of GELU's input and output at 4h). What one Llama layer keeps:
//
//   kept by every TP rank in full (sharded /t only with sequence parallelism):
//     attention RMSNorm input             2sbh
//     q/k/v projection input (norm out)   2sbh
//     MLP RMSNorm input                   2sbh
//     gate/up projection input            2sbh          → 8sbh         (GPT: 10sbh, incl. 2 dropout masks)
//   split over TP (/t):
//     Q after RoPE                        2sbh
//     K after RoPE, V                     2sbk + 2sbk
//     softmax output                      2as²b         (only with recompute NONE)
//     attention output (o_proj input)     2sbh
//     gate out, up out, down input        2sbf · 3      → (4sbh + 4sbk + 6sbf + 2as²b)/t
//
//   NONE      : 8sbh + (4sbh + 4sbk + 6sbf + 2as²b)/t      (SP: all of it /t)
//   SELECTIVE : 8sbh + (4sbh + 4sbk + 6sbf)/t              (attention core recomputed; SP: all /t)
//   FULL      : 2sbh                                       (the layer input only; SP: 2sbh/t)
// Check against GPT: with k = h, a GELU MLP (two f-wide tensors kept instead of three, f = 4h) and the two
// dropout masks (sbh each) put back, NONE gives attention 10sbh + sbh, MLP 2sbh + 16sbh + sbh, norms 4sbh:
// 34sbh, Korthikanti's number (their 5as²b becomes our 2as²b without attention dropout).
//
// Ignored as below 0.5%: RMSNorm's fp32 1/rms per token (8sb), FlashAttention's fp32 log-sum-exp (4asb/t).
// Outside the layers, the last stage keeps the final RMSNorm input and the head input (4sbh, /t with SP)
// and fp32 logits of its vocab shard for the cross-entropy (4sbV/t, Korthikanti's 4sbv/t term); the first
// stage's embedding output is the first layer's input, already counted.
package dev.shoal.runtime.plan;

import dev.shoal.runtime.model.LlamaConfig;

public final class ActivationMemory {
    private ActivationMemory() {}

    /** Bytes one layer keeps for one micro-batch of b sequences of s tokens, TP size t. */
    public static double perLayerBytes(LlamaConfig cfg, int s, int b, int t, Recompute rc, boolean sp) {
        double sb = (double) s * b, h = cfg.dim(), k = cfg.kvDim(), f = cfg.ffnDim(), a = cfg.heads();
        int bytes = TrainSetup.ACT_BYTES;
        if (rc == Recompute.FULL) {
            return bytes * sb * h / (sp ? t : 1);
        }
        double replicated = 4 * bytes * sb * h; // two norm inputs + two projection inputs
        double split = bytes * (2 * sb * h + 2 * sb * k + 3 * sb * f); // Q and o_proj input; K, V; gate, up, down input
        if (rc == Recompute.NONE) {
            split += bytes * a * (double) s * s * b; // softmax output, a·s² per sequence
        }
        return (sp ? replicated / t : replicated) + split / t;
    }

    /** Bytes the last stage keeps outside its layers: final norm and head inputs, fp32 vocab-shard logits. */
    public static double headBytes(LlamaConfig cfg, int s, int b, int t, boolean sp) {
        double sb = (double) s * b;
        double inputs = 2 * TrainSetup.ACT_BYTES * sb * cfg.dim();
        return (sp ? inputs / t : inputs) + 4 * sb * cfg.vocab() / t;
    }

    /**
     * Peak activation bytes of one pipeline stage under 1F1B: stage {@code stage} of p has min(p − stage, m)
     * micro-batches in flight (Narayanan et al. 2021), each keeping its layers' and (last stage) the head's
     * activations. Under FULL recompute, the layer being recomputed transiently holds its SELECTIVE set.
     */
    public static double stageBytes(
            LlamaConfig cfg, int s, int b, int t, Recompute rc, boolean sp, int layers, int stage, int p, int m) {
        int inFlight = Math.min(p - stage, m);
        double perMicro =
                layers * perLayerBytes(cfg, s, b, t, rc, sp) + (stage == p - 1 ? headBytes(cfg, s, b, t, sp) : 0);
        double working = rc == Recompute.FULL ? perLayerBytes(cfg, s, b, t, Recompute.SELECTIVE, sp) : 0;
        return inFlight * perMicro + working;
    }
}
