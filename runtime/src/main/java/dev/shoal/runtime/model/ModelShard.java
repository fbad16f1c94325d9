// The per-rank shape of a tensor- and pipeline-parallel Llama model: which heads, FFN columns and
// vocabulary rows one TP rank holds (Megatron layout: Q/K/V, gate and up split by output rows; O and
// down by input columns; embedding and LM head by vocabulary rows), and which layers its pipeline
// stage holds (the embedding on the first stage, the final norm and LM head on the last).
// Guarantees: a shard that exists is consistent with its model; tp must divide the heads, the kv heads
// and the FFN size, and the error names the model and the value (e.g. "tp 4 does not divide 2 kv heads
// of model 'tiny'"); the vocabulary is split into tp contiguous ranges that differ by at most one row;
// a pipeline stage holds at least one layer.
package dev.shoal.runtime.model;

public record ModelShard(
        int tpRank, // this rank's index in its TP group
        int tpSize, // ranks in the TP group
        int heads, // NH / tp query heads held here
        int kvHeads, // NKV / tp key/value heads held here
        int ffnDim, // F / tp FFN columns held here
        int vocabStart, // first vocabulary row held here
        int vocabEnd, // one past the last vocabulary row held here
        int layerStart, // first transformer layer of this pipeline stage
        int layerEnd, // one past its last layer
        boolean hasEmbedding, // first stage: token ids in, embedding table held
        boolean hasHead) { // last stage: final norm and LM head held, loss out

    public ModelShard {
        if (layerStart < 0 || layerEnd <= layerStart) {
            throw new IllegalArgumentException(
                    "a pipeline stage needs at least one layer, got layers [" + layerStart + ", " + layerEnd + ")");
        }
        if (tpSize < 1 || tpRank < 0 || tpRank >= tpSize) {
            throw new IllegalArgumentException("tp rank " + tpRank + " is outside [0, " + tpSize + ")");
        }
        if (heads < 1 || kvHeads < 1 || ffnDim < 1 || vocabStart < 0 || vocabEnd <= vocabStart) {
            throw new IllegalArgumentException("empty model shard: heads " + heads + ", kv heads " + kvHeads + ", ffn "
                    + ffnDim + ", vocab [" + vocabStart + ", " + vocabEnd + ")");
        }
    }

    /** The whole model on one rank. */
    public static ModelShard full(LlamaConfig cfg) {
        return new ModelShard(
                0, 1, cfg.heads(), cfg.kvHeads(), cfg.ffnDim(), 0, cfg.vocab(), 0, cfg.layers(), true, true);
    }

    /** Rank tpRank's shard of cfg under tensor parallelism tp; refuses a tp that does not divide the model. */
    public static ModelShard of(LlamaConfig cfg, int tpRank, int tp) {
        return of(cfg, tpRank, tp, 0, cfg.layers());
    }

    /** As above for the pipeline stage that holds layers [layerStart, layerEnd). */
    public static ModelShard of(LlamaConfig cfg, int tpRank, int tp, int layerStart, int layerEnd) {
        if (layerStart < 0 || layerEnd > cfg.layers() || layerEnd <= layerStart) {
            throw new IllegalArgumentException("layers [" + layerStart + ", " + layerEnd + ") are not a non-empty"
                    + " range of the " + cfg.layers() + " layers of model '" + cfg.name() + "'");
        }
        if (tp < 1) {
            throw new IllegalArgumentException("tp must be >= 1, got " + tp);
        }
        if (cfg.kvHeads() % tp != 0) {
            throw new IllegalArgumentException(
                    "tp " + tp + " does not divide " + cfg.kvHeads() + " kv heads of model '" + cfg.name() + "'");
        }
        if (cfg.ffnDim() % tp != 0) {
            throw new IllegalArgumentException(
                    "tp " + tp + " does not divide ffn size " + cfg.ffnDim() + " of model '" + cfg.name() + "'");
        }
        if (cfg.vocab() < tp) {
            throw new IllegalArgumentException(
                    "tp " + tp + " exceeds vocabulary " + cfg.vocab() + " of model '" + cfg.name() + "'");
        }
        // kv heads divide heads (LlamaConfig guarantees it), so tp divides the query heads too.
        return new ModelShard(
                tpRank,
                tp,
                cfg.heads() / tp,
                cfg.kvHeads() / tp,
                cfg.ffnDim() / tp,
                vocabStart(cfg.vocab(), tpRank, tp),
                vocabStart(cfg.vocab(), tpRank + 1, tp),
                layerStart,
                layerEnd,
                layerStart == 0,
                layerEnd == cfg.layers());
    }

    /** Layers held here. */
    public int layers() {
        return layerEnd - layerStart;
    }

    /** First row of rank r's vocabulary range when V rows are split over tp ranks. */
    public static int vocabStart(int vocab, int r, int tp) {
        return (int) ((long) vocab * r / tp);
    }

    /** Vocabulary rows held here, Vl = vocabEnd − vocabStart. */
    public int vocab() {
        return vocabEnd - vocabStart;
    }

    /** Width of this rank's Q projection and attention output, heads · hd. */
    public int qDim(LlamaConfig cfg) {
        return heads * cfg.headDim();
    }

    /** Width of this rank's K and V projections, kvHeads · hd. */
    public int kvDim(LlamaConfig cfg) {
        return kvHeads * cfg.headDim();
    }

    /** First query head held here, in the full model's numbering. */
    public int headStart() {
        return tpRank * heads;
    }

    /** Parameters held here (sharded weights plus the replicated norm weights). */
    public long paramCount(LlamaConfig cfg) {
        long c = cfg.dim();
        long perLayer = 2 * c * qDim(cfg) + 2 * c * kvDim(cfg) + 3 * c * ffnDim + 2 * c;
        return (hasEmbedding ? (long) vocab() * c : 0) + layers() * perLayer + (hasHead ? (long) vocab() * c + c : 0);
    }
}
