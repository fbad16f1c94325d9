// Where every Llama parameter sits in one flat buffer: the same Hugging Face order and offsets as
// LlamaModel.flatParams(), so a whole model moves between host and device in one copy.
// Guarantees: offsets are contiguous and cover exactly cfg.paramCount() elements; q/k/v and gate/up
// are adjacent (HF order); decay() is false exactly for the 1-D (RMSNorm) weights, as AdamW does.
package dev.shoal.runtime.backend;

import dev.shoal.runtime.model.LlamaConfig;
import java.util.ArrayList;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

public final class ParamLayout {
    /** One parameter tensor: HF name, first element in the flat buffer, shape, weight decay or not. */
    public record Entry(String name, long offset, int[] shape, boolean decay) {
        public long numel() {
            long n = 1;
            for (int d : shape) {
                n *= d;
            }
            return n;
        }
    }

    /** Element offsets of one block's nine tensors. */
    public record Block(
            long inputNorm, // [C]
            long wq, // [C, C]
            long wk, // [kvDim, C]
            long wv, // [kvDim, C]
            long wo, // [C, C]
            long postNorm, // [C]
            long gate, // [F, C]
            long up, // [F, C]
            long down) {} // [C, F]

    private final LlamaConfig cfg;
    private final List<Entry> entries;
    private final Map<String, Entry> byName;
    private final Block[] blocks;
    private final long total;

    public ParamLayout(LlamaConfig cfg) {
        this.cfg = cfg;
        int c = cfg.dim(), kv = cfg.kvDim(), f = cfg.ffnDim(), v = cfg.vocab();
        List<Entry> list = new ArrayList<>();
        long[] off = {0};
        add(list, off, "model.embed_tokens.weight", v, c);
        blocks = new Block[cfg.layers()];
        for (int l = 0; l < cfg.layers(); l++) {
            String pre = "model.layers." + l + ".";
            long inNorm = add(list, off, pre + "input_layernorm.weight", c);
            long wq = add(list, off, pre + "self_attn.q_proj.weight", c, c);
            long wk = add(list, off, pre + "self_attn.k_proj.weight", kv, c);
            long wv = add(list, off, pre + "self_attn.v_proj.weight", kv, c);
            long wo = add(list, off, pre + "self_attn.o_proj.weight", c, c);
            long postNorm = add(list, off, pre + "post_attention_layernorm.weight", c);
            long gate = add(list, off, pre + "mlp.gate_proj.weight", f, c);
            long up = add(list, off, pre + "mlp.up_proj.weight", f, c);
            long down = add(list, off, pre + "mlp.down_proj.weight", c, f);
            blocks[l] = new Block(inNorm, wq, wk, wv, wo, postNorm, gate, up, down);
        }
        add(list, off, "model.norm.weight", c);
        add(list, off, "lm_head.weight", v, c);
        if (off[0] != cfg.paramCount()) {
            throw new IllegalStateException("layout of model '" + cfg.name() + "' covers " + off[0] + " elements, the"
                    + " config counts " + cfg.paramCount());
        }
        total = off[0];
        entries = Collections.unmodifiableList(list);
        Map<String, Entry> m = new LinkedHashMap<>();
        for (Entry e : list) {
            m.put(e.name(), e);
        }
        byName = Collections.unmodifiableMap(m);
    }

    private static long add(List<Entry> list, long[] off, String name, int... shape) {
        Entry e = new Entry(name, off[0], shape, shape.length >= 2);
        list.add(e);
        off[0] += e.numel();
        return e.offset();
    }

    public LlamaConfig config() {
        return cfg;
    }

    /** Every tensor in HF order. */
    public List<Entry> entries() {
        return entries;
    }

    /** The tensor called {@code name}; an unknown name is an error that says how many names exist. */
    public Entry entry(String name) {
        Entry e = byName.get(name);
        if (e == null) {
            throw new IllegalArgumentException("model '" + cfg.name() + "' has no parameter '" + name + "' (it has "
                    + byName.size() + ", e.g. " + entries.get(0).name() + ")");
        }
        return e;
    }

    public Block block(int layer) {
        return blocks[layer];
    }

    /** Total elements, equal to cfg.paramCount(). */
    public long totalElems() {
        return total;
    }

    public long embedOffset() {
        return 0;
    }

    public long finalNormOffset() {
        return entry("model.norm.weight").offset();
    }

    public long lmHeadOffset() {
        return entry("lm_head.weight").offset();
    }
}
