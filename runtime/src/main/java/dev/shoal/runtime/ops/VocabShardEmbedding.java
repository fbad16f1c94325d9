// Token embedding lookup over one shard of the vocabulary (Megatron's vocab-parallel embedding): this
// rank holds rows [vocabStart, vocabStart + Vl) of the full table; tokens outside give zero rows, so the
// sum over the shards (an all-reduce, done by the caller) is the full lookup.
// Guarantees: tokens outside the full vocabulary [0, V) are refused with their position; the backward
// pass only touches in-shard rows and splits work by columns (no races, thread-count independent).
package dev.shoal.runtime.ops;

import dev.shoal.runtime.tensor.Compute;
import dev.shoal.runtime.tensor.Scratch;
import dev.shoal.runtime.tensor.Tensor;

public final class VocabShardEmbedding {
    private VocabShardEmbedding() {}

    /** out [N, C] = wteShard [Vl, C][token − vocabStart] for in-shard tokens, 0 for the others. */
    public static void forward(
            Compute cx, Tensor out, int[] tokens, int tokensOffset, Tensor wteShard, int vocabStart, int vocab) {
        int c = wteShard.dim(1);
        int vl = wteShard.dim(0);
        int n = (int) (out.numel() / c);
        Embedding.checkTokens(tokens, tokensOffset, n, vocab);
        // Each row is a copy of one shard row, or zeros when the token lives in another shard.
        cx.par().forRange(n, 64, (s, e) -> {
            float[] row = Scratch.row(0, c);
            for (int i = (int) s; i < e; i++) {
                int local = tokens[tokensOffset + i] - vocabStart;
                if (local >= 0 && local < vl) {
                    wteShard.read((long) local * c, row, 0, c);
                } else {
                    java.util.Arrays.fill(row, 0, c, 0f);
                }
                out.write((long) i * c, row, 0, c);
            }
        });
    }

    /** dwteShard [Vl, C] += dout [N, C] rows of the in-shard tokens. */
    public static void backward(
            Compute cx, Tensor dwteShard, Tensor dout, int[] tokens, int tokensOffset, int vocabStart) {
        int c = dwteShard.dim(1);
        int vl = dwteShard.dim(0);
        int n = (int) (dout.numel() / c);
        // Split by column ranges so two rows with the same token never collide.
        cx.par().forRange(c, 16, (cs, ce) -> {
            for (int i = 0; i < n; i++) {
                int local = tokens[tokensOffset + i] - vocabStart;
                if (local < 0 || local >= vl) {
                    continue;
                }
                long dst = (long) local * c;
                long src = (long) i * c;
                for (long j = cs; j < ce; j++) {
                    dwteShard.set(dst + j, dwteShard.get(dst + j) + dout.get(src + j));
                }
            }
        });
    }
}
