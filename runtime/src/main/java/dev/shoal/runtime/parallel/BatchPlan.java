// The fixed global batch of a data-parallel run: micro_batch × grad_accum × dp = global_batch.
// Guarantees: a plan that exists satisfies the identity exactly; a dp that cannot fit is refused with
// the dp sizes that work for this global and micro batch.
package dev.shoal.runtime.parallel;

import java.util.ArrayList;
import java.util.List;

public record BatchPlan(int globalBatch, int microBatch, int dp, int gradAccum) {
    public BatchPlan {
        if (globalBatch < 1 || microBatch < 1 || dp < 1 || gradAccum < 1) {
            throw new IllegalArgumentException("batch sizes must be >= 1: global_batch " + globalBatch
                    + ", micro_batch " + microBatch + ", dp " + dp + ", grad_accum " + gradAccum);
        }
        if ((long) microBatch * gradAccum * dp != globalBatch) {
            throw new IllegalArgumentException("micro_batch " + microBatch + " × grad_accum " + gradAccum + " × dp "
                    + dp + " = " + ((long) microBatch * gradAccum * dp) + " ≠ global_batch " + globalBatch);
        }
    }

    /** The plan for dp replicas; grad_accum adapts. Refuses a dp that does not fit, listing those that do. */
    public static BatchPlan of(int globalBatch, int microBatch, int dp) {
        if (globalBatch < 1 || microBatch < 1 || dp < 1) {
            throw new IllegalArgumentException("batch sizes must be >= 1: global_batch " + globalBatch
                    + ", micro_batch " + microBatch + ", dp " + dp);
        }
        if (globalBatch % ((long) microBatch * dp) != 0) {
            throw new IllegalArgumentException("dp " + dp + " cannot fit global_batch " + globalBatch
                    + " with micro_batch " + microBatch + " (micro_batch × grad_accum × dp must equal global_batch);"
                    + " dp sizes that work: " + workingDp(globalBatch, microBatch));
        }
        return new BatchPlan(globalBatch, microBatch, dp, globalBatch / (microBatch * dp));
    }

    /** Every dp with micro_batch × dp dividing global_batch. */
    public static List<Integer> workingDp(int globalBatch, int microBatch) {
        List<Integer> out = new ArrayList<>();
        if (globalBatch % microBatch == 0) {
            int perMicro = globalBatch / microBatch;
            for (int d = 1; d <= perMicro; d++) {
                if (perMicro % d == 0) {
                    out.add(d);
                }
            }
        }
        return out;
    }

    /** Sequences of the global batch that one DP replica processes, per step. */
    public int perReplica() {
        return microBatch * gradAccum;
    }
}
