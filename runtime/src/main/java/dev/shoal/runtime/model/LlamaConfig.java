// The shape of a Llama-3 model, as Meta and Hugging Face define it, plus Shoal's named presets.
// Guarantees: a config that exists is consistent (heads divide dim, kv heads divide heads, even
// head size for RoPE); the error names every field involved.
package dev.shoal.runtime.model;

import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Optional;

public record LlamaConfig(
        String name,
        int layers,
        int dim,
        int heads,
        int kvHeads,
        int ffnDim,
        int vocab,
        double normEps,
        double ropeTheta,
        Optional<RopeScaling> ropeScaling,
        int maxSeqLen) {

    /**
     * Llama-3.1 frequency scaling of RoPE (HF rope_type "llama3"): wavelengths longer than
     * originalMaxPosition/lowFreqFactor are divided by factor, shorter than
     * originalMaxPosition/highFreqFactor are kept, and the band between is interpolated smoothly.
     */
    public record RopeScaling(double factor, double lowFreqFactor, double highFreqFactor, int originalMaxPosition) {
        public RopeScaling {
            if (!(factor >= 1)
                    || !(lowFreqFactor > 0)
                    || !(highFreqFactor > lowFreqFactor)
                    || originalMaxPosition < 1) {
                throw new IllegalArgumentException(
                        "rope_scaling needs factor >= 1, 0 < low_freq_factor < high_freq_factor"
                                + " and original_max_position_embeddings >= 1; got factor " + factor
                                + ", low_freq_factor "
                                + lowFreqFactor + ", high_freq_factor " + highFreqFactor
                                + ", original_max_position_embeddings " + originalMaxPosition);
            }
        }

        /** The values Meta ships with Llama-3.1. */
        public static RopeScaling llama31() {
            return new RopeScaling(8.0, 1.0, 4.0, 8192);
        }
    }

    public LlamaConfig {
        if (layers < 1 || dim < 1 || heads < 1 || kvHeads < 1 || ffnDim < 1 || vocab < 1 || maxSeqLen < 1) {
            throw new IllegalArgumentException("model '" + name + "': every size must be >= 1: layers " + layers
                    + ", dim " + dim + ", heads " + heads + ", kv_heads " + kvHeads + ", ffn " + ffnDim + ", vocab "
                    + vocab + ", max_seq_len " + maxSeqLen);
        }
        if (dim % heads != 0) {
            throw new IllegalArgumentException("model '" + name + "': heads " + heads + " must divide dim " + dim
                    + " (head size would be " + ((double) dim / heads) + ")");
        }
        if (heads % kvHeads != 0) {
            throw new IllegalArgumentException("model '" + name + "': kv_heads " + kvHeads + " must divide heads "
                    + heads + " for grouped-query attention");
        }
        if ((dim / heads) % 2 != 0) {
            throw new IllegalArgumentException("model '" + name + "': head size " + (dim / heads) + " (dim " + dim
                    + " / heads " + heads + ") must be even for RoPE");
        }
        if (!(normEps > 0) || !(ropeTheta > 0)) {
            throw new IllegalArgumentException(
                    "model '" + name + "': norm_eps " + normEps + " and rope_theta " + ropeTheta + " must be > 0");
        }
        ropeScaling = ropeScaling == null ? Optional.empty() : ropeScaling;
    }

    /** Size of one attention head, hd = dim / heads. */
    public int headDim() {
        return dim / heads;
    }

    /** Width of the K and V projections, kvHeads · headDim. */
    public int kvDim() {
        return kvHeads * headDim();
    }

    /** Query heads that share one KV head. */
    public int groupSize() {
        return heads / kvHeads;
    }

    /** Parameters of one transformer block: attention, MLP and the two RMSNorm weights. */
    public long paramsPerLayer() {
        long attn = (long) dim * dim // q_proj
                + 2L * dim * kvDim() // k_proj, v_proj
                + (long) dim * dim; // o_proj
        long mlp = 3L * dim * ffnDim; // gate_proj, up_proj, down_proj
        return attn + mlp + 2L * dim;
    }

    /** All parameters: untied embedding and LM head, the blocks and the final norm. */
    public long paramCount() {
        return 2L * vocab * dim + layers * paramsPerLayer() + dim;
    }

    public LlamaConfig withName(String newName) {
        return new LlamaConfig(
                newName, layers, dim, heads, kvHeads, ffnDim, vocab, normEps, ropeTheta, ropeScaling, maxSeqLen);
    }

    public LlamaConfig withRopeScaling(RopeScaling scaling) {
        return new LlamaConfig(
                name, layers, dim, heads, kvHeads, ffnDim, vocab, normEps, ropeTheta, Optional.of(scaling), maxSeqLen);
    }

    public static final double LLAMA3_ROPE_THETA = 500_000.0;
    public static final double LLAMA3_NORM_EPS = 1e-5;
    public static final int LLAMA3_VOCAB = 128_256;

    private static LlamaConfig preset(
            String name, int layers, int dim, int heads, int kv, int ffn, int vocab, int seq) {
        return new LlamaConfig(
                name, layers, dim, heads, kv, ffn, vocab, LLAMA3_NORM_EPS, LLAMA3_ROPE_THETA, Optional.empty(), seq);
    }

    /** Named presets: the two Meta shapes, and small ones for tests and sweeps. */
    public static final Map<String, LlamaConfig> PRESETS = Map.of(
            "llama3-8b", preset("llama3-8b", 32, 4096, 32, 8, 14336, LLAMA3_VOCAB, 8192),
            "llama3-70b", preset("llama3-70b", 80, 8192, 64, 8, 28672, LLAMA3_VOCAB, 8192),
            // tiny: GQA with 4 heads over 2 kv heads; byte-level vocab so tests need no tokenizer file.
            "tiny", preset("tiny", 2, 64, 4, 2, 176, 512, 256),
            // small: a sweep proxy that trains in minutes on 2 cores.
            "small", preset("small", 4, 256, 8, 4, 688, 4096, 512));

    public static List<String> presetNames() {
        return PRESETS.keySet().stream().sorted().toList();
    }

    /** A preset by name; an unknown name is an error that lists the names that exist. */
    public static LlamaConfig preset(String name) {
        LlamaConfig c = PRESETS.get(name.toLowerCase(Locale.ROOT));
        if (c == null) {
            throw new IllegalArgumentException("unknown model '" + name + "'; known models: " + presetNames()
                    + " (or a Hugging Face directory with config.json)");
        }
        return c;
    }
}
