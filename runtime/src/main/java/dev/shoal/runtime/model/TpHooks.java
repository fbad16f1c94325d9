// The points where a tensor-parallel Llama model talks to the other ranks of its TP group (Megatron's
// f and g operators, plus the vocabulary-parallel embedding and cross-entropy). The model calls these
// and stays free of communicators; dev.shoal.runtime.parallel supplies the implementation.
// Guarantees: NONE (one rank) does nothing and the model then takes its unsharded, fused code paths.
package dev.shoal.runtime.model;

import dev.shoal.runtime.tensor.Tensor;

public interface TpHooks {
    /** Ranks in the TP group. */
    int size();

    /** g, forward of a row-parallel layer (O, down): sum the partial outputs [N, C] over the group. */
    void reduceRowParallelOutput(Tensor partial);

    /** f, backward of a column-parallel layer (QKV, gate/up, LM head): sum the input-gradient partials [N, C]. */
    void reduceColumnParallelInputGrad(Tensor dx);

    /** Vocab-parallel embedding: sum the shard lookups [N, C] (zeros where a token lies in another shard). */
    void reduceEmbedding(Tensor x);

    /** Vocab-parallel cross-entropy: per-row maximum [N] over the group. */
    void maxRows(Tensor rows);

    /** Vocab-parallel cross-entropy: per-row sum [N] over the group. */
    void sumRows(Tensor rows);

    /** One rank: every hook is the identity. */
    TpHooks NONE = new TpHooks() {
        @Override
        public int size() {
            return 1;
        }

        @Override
        public void reduceRowParallelOutput(Tensor partial) {}

        @Override
        public void reduceColumnParallelInputGrad(Tensor dx) {}

        @Override
        public void reduceEmbedding(Tensor x) {}

        @Override
        public void maxRows(Tensor rows) {}

        @Override
        public void sumRows(Tensor rows) {}
    };
}
