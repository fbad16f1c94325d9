// One rank of a tp 1 × pp 1 mesh with replicated data parallelism (a GPU rank), seen by the sharded
// checkpoint format through host copies of its flat fp32 state: the parameters and both AdamW moments
// as one buffer each, in Hugging Face order (LlamaModel.flatParams(): ParamLayout's offsets).
// Save: the rank holds elements [firstElem, firstElem + n) of each buffer, the 1/dp range that
// RankState gives replica d (saveRange), so the replicas share the writing as CPU ranks do. Load:
// the rank holds all P elements (firstElem 0). The files are the same as a CPU mesh's, so a GPU
// checkpoint loads on any CPU layout and the other way round.
// Guarantees: the three buffers have the same length and lie inside the model's P elements.
package dev.shoal.runtime.checkpoint;

import dev.shoal.runtime.model.LlamaConfig;
import dev.shoal.runtime.tensor.Tensor;

public record FlatRank(
        LlamaConfig config,
        long firstElem,
        Tensor params, // [n] fp32 host: master weights, elements [firstElem, firstElem + n)
        Tensor expAvg, // [n] fp32 host: AdamW m, same elements
        Tensor expAvgSq, // [n] fp32 host: AdamW v, same elements
        long adamwSteps) {
    public FlatRank {
        long p = config.paramCount(), n = params.numel();
        if (expAvg.numel() != n || expAvgSq.numel() != n) {
            throw new IllegalArgumentException("flat rank buffers differ in length: params " + n + ", exp_avg "
                    + expAvg.numel() + ", exp_avg_sq " + expAvgSq.numel());
        }
        if (firstElem < 0 || firstElem + n > p) {
            throw new IllegalArgumentException("flat rank holds elements [" + firstElem + ", " + (firstElem + n)
                    + "), outside the " + p + " parameters of " + config.name());
        }
        if (adamwSteps < 0) throw new IllegalArgumentException("adamw steps must be >= 0, got " + adamwSteps);
    }

    /** Elements [lo, hi) of P that DP replica d of dp saves: the split RankState uses for every mesh. */
    public static long[] saveRange(long p, int dp, int d) {
        if (dp < 1 || d < 0 || d >= dp) throw new IllegalArgumentException("dp rank " + d + " of " + dp);
        long shard = (p + dp - 1) / dp, lo = Math.min(p, d * shard), hi = Math.min(p, lo + shard);
        return new long[] {lo, hi};
    }
}
