// How one step's global batch is cut across data-parallel ranks and micro-batches:
// micro_batch × grad_accum × dp = global_batch. A DP size that cannot divide the global batch into whole
// micro-batches is refused with the sizes that would work.
package dev.shoal.runtime.data;

import java.util.ArrayList;
import java.util.List;

/** Rows are rank-major: rank r owns rows [r·B/dp, (r+1)·B/dp), micro-batch m of it starts at m·micro. */
public record BatchLayout(int globalBatch, int microBatch, int dpSize) {

    public BatchLayout {
        if (microBatch < 1 || dpSize < 1 || globalBatch < 1) {
            throw new IllegalArgumentException(
                    "global " + globalBatch + ", micro " + microBatch + ", dp " + dpSize + ": all must be ≥ 1");
        }
        if (globalBatch % ((long) microBatch * dpSize) != 0) {
            throw new IllegalArgumentException(
                    "dp " + dpSize + " × micro batch " + microBatch + " does not divide the global batch " + globalBatch
                            + "; DP sizes that work: " + validDpSizes(globalBatch, microBatch));
        }
    }

    /** Every DP size that divides {@code globalBatch / microBatch}. */
    public static List<Integer> validDpSizes(int globalBatch, int microBatch) {
        List<Integer> out = new ArrayList<>();
        if (globalBatch % microBatch != 0) return out;
        int m = globalBatch / microBatch;
        for (int d = 1; d <= m; d++) if (m % d == 0) out.add(d);
        return out;
    }

    public int gradAccum() {
        return globalBatch / (microBatch * dpSize);
    }

    /** First global row of micro-batch {@code microIndex} on rank {@code dpRank}. */
    public int firstRow(int dpRank, int microIndex) {
        if (dpRank < 0 || dpRank >= dpSize)
            throw new IllegalArgumentException("dp rank " + dpRank + " not in [0, " + dpSize + ")");
        if (microIndex < 0 || microIndex >= gradAccum()) {
            throw new IllegalArgumentException("micro index " + microIndex + " not in [0, " + gradAccum() + ")");
        }
        return dpRank * (globalBatch / dpSize) + microIndex * microBatch;
    }
}
