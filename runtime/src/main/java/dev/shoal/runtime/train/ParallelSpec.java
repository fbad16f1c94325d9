// The parallel layout of a `shoal train` run as the job config's optional `train.parallel` block (or the
// CLI's --tp/--pp/--dp/--zero1) gives it: tensor, pipeline and data parallel sizes and ZeRO-1.
// Guarantees: every size is >= 1, named by its full key when not.
package dev.shoal.runtime.train;

import dev.shoal.comm.ParallelDims;

public record ParallelSpec(int tp, int pp, int dp, boolean zero1) {
    /** One rank, plain AdamW: the single-process Trainer. */
    public static final ParallelSpec NONE = new ParallelSpec(1, 1, 1, false);

    public ParallelSpec {
        JobConfig.require(tp >= 1, "train.parallel.tp", tp, "must be >= 1");
        JobConfig.require(pp >= 1, "train.parallel.pp", pp, "must be >= 1");
        JobConfig.require(dp >= 1, "train.parallel.dp", dp, "must be >= 1");
    }

    public ParallelDims dims() {
        return ParallelDims.of(tp, pp, dp);
    }

    public int world() {
        return tp * pp * dp;
    }
}
