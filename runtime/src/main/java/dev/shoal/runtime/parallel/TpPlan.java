// How full Hugging Face-named Llama weights map onto the shards of a TP group, and back.
// Column-parallel weights (q/k/v/gate/up_proj [out, C]) and the vocab-parallel embedding and LM head
// ([V, C]) are split by rows; row-parallel weights (o_proj [C, NH·hd], down_proj [C, F]) by columns;
// the RMSNorm weights are replicated.
// Guarantees: a tp that does not divide the model is refused when the plan is made (ModelShard's
// message, e.g. "tp 4 does not divide 2 kv heads of model 'tiny'"); gather(scatter(w)) == w exactly.
package dev.shoal.runtime.parallel;

import dev.shoal.runtime.model.LlamaConfig;
import dev.shoal.runtime.model.ModelShard;
import dev.shoal.runtime.tensor.Tensor;
import java.util.List;
import java.util.Map;

public final class TpPlan {
    /** How one named tensor is split. */
    public enum Split {
        ROWS, // dim 0 is split: rank r holds rows [start(r), end(r))
        COLUMNS, // dim 1 is split
        REPLICATED // every rank holds the whole tensor
    }

    private final LlamaConfig cfg;
    private final ModelShard[] shards; // [tp]

    public TpPlan(LlamaConfig cfg, int tp) {
        this.cfg = cfg;
        this.shards = new ModelShard[tp];
        for (int r = 0; r < tp; r++) {
            shards[r] = ModelShard.of(cfg, r, tp);
        }
    }

    public int tp() {
        return shards.length;
    }

    public ModelShard shard(int tpRank) {
        return shards[tpRank];
    }

    /** The split of an HF parameter name. */
    public static Split split(String name) {
        if (name.endsWith("layernorm.weight") || name.equals("model.norm.weight")) {
            return Split.REPLICATED;
        }
        if (name.endsWith("o_proj.weight") || name.endsWith("down_proj.weight")) {
            return Split.COLUMNS;
        }
        if (name.endsWith("_proj.weight")
                || name.equals("model.embed_tokens.weight")
                || name.equals("lm_head.weight")) {
            return Split.ROWS;
        }
        throw new IllegalArgumentException("no tensor-parallel split is known for parameter '" + name + "'");
    }

    /** [start, end) of the split dimension of name held by tpRank. */
    public int[] range(String name, int tpRank) {
        ModelShard s = shards[tpRank];
        int width;
        if (name.equals("model.embed_tokens.weight") || name.equals("lm_head.weight")) {
            return new int[] {s.vocabStart(), s.vocabEnd()};
        } else if (name.endsWith("q_proj.weight") || name.endsWith("o_proj.weight")) {
            width = s.qDim(cfg);
        } else if (name.endsWith("k_proj.weight") || name.endsWith("v_proj.weight")) {
            width = s.kvDim(cfg);
        } else {
            width = s.ffnDim();
        }
        return new int[] {tpRank * width, (tpRank + 1) * width};
    }

    /** Copies tpRank's part of every full tensor into local (the rank's params(), same names). */
    public void scatter(Map<String, Tensor> full, int tpRank, Map<String, Tensor> local) {
        for (Map.Entry<String, Tensor> e : local.entrySet()) {
            Tensor src = full.get(e.getKey());
            if (src == null) {
                throw new IllegalArgumentException("full weights lack '" + e.getKey() + "'");
            }
            copyPart(e.getKey(), src, e.getValue(), tpRank, true);
        }
    }

    /** Assembles full tensors from every rank's shard (shards.get(r) = rank r's params()). */
    public void gather(List<Map<String, Tensor>> shardsByRank, Map<String, Tensor> full) {
        if (shardsByRank.size() != shards.length) {
            throw new IllegalArgumentException("gather needs " + shards.length + " shards, got " + shardsByRank.size());
        }
        for (int r = 0; r < shards.length; r++) {
            for (Map.Entry<String, Tensor> e : shardsByRank.get(r).entrySet()) {
                copyPart(e.getKey(), full.get(e.getKey()), e.getValue(), r, false);
            }
        }
    }

    /** toLocal: local = full's part for rank r; else full's part = local. */
    private void copyPart(String name, Tensor full, Tensor local, int r, boolean toLocal) {
        Split sp = split(name);
        if (sp == Split.REPLICATED) {
            if (toLocal) {
                local.copyFrom(full);
            } else {
                full.copyFrom(local);
            }
            return;
        }
        int[] rg = range(name, r);
        int rows = full.dim(0), cols = full.dim(1);
        if (sp == Split.ROWS) {
            Tensor part = full.slice(rg[0], rg[1]);
            if (!part.sameShape(local)) {
                throw new IllegalArgumentException("'" + name + "' rows " + rg[0] + ".." + rg[1] + " of " + full
                        + " do not fit the shard " + local);
            }
            if (toLocal) {
                local.copyFrom(part);
            } else {
                part.copyFrom(local);
            }
            return;
        }
        // COLUMNS: row by row, columns [rg0, rg1) of the full tensor.
        int w = rg[1] - rg[0];
        if (local.dim(0) != rows || local.dim(1) != w) {
            throw new IllegalArgumentException("'" + name + "' columns " + rg[0] + ".." + rg[1] + " of " + full
                    + " do not fit the shard " + local);
        }
        float[] row = new float[w];
        for (int i = 0; i < rows; i++) {
            if (toLocal) {
                full.read((long) i * cols + rg[0], row, 0, w);
                local.write((long) i * w, row, 0, w);
            } else {
                local.read((long) i * w, row, 0, w);
                full.write((long) i * cols + rg[0], row, 0, w);
            }
        }
    }
}
