// RemeshPolicy: which mesh a RECOVERING job re-forms on, from the ranks that are still alive. A pure
// function, so the decision is unit-tested apart from the actors.
//
// Default policy: tp × pp (the model's sharding) never changes; DP replicas are whole or dropped.
// The new dp is the largest d ≤ the job's dp such that d full replicas fit in the live ranks and
// micro_batch × d divides the global batch (invariant 2: grad accumulation absorbs the change). With
// enough live ranks this is the job's own dp, so a restarted node brings the mesh back to full size.
// Guarantees: a refusal names the live ranks, the replica size and the sizes that would work.
package dev.shoal.actors.coordinator;

import dev.shoal.comm.ParallelDims;

public final class RemeshPolicy {
    private RemeshPolicy() {}

    /** Either {@code dims} (a mesh to form) or {@code refusal} (why none can be formed); never both. */
    public record Decision(ParallelDims dims, String refusal) {
        public Decision {
            if ((dims == null) == (refusal == null)) {
                throw new IllegalArgumentException("a re-mesh decision is a mesh or a refusal, not both nor neither");
            }
        }

        public boolean ok() {
            return dims != null;
        }

        /** True when the new mesh keeps the job's own dp. */
        public boolean full(int jobDp) {
            return dims != null && dims.dp() == jobDp;
        }
    }

    /**
     * The mesh for {@code live} live ranks of a job at tp × pp × dp with {@code globalBatch} sequences
     * per step in micro-batches of {@code microBatch}.
     */
    public static Decision decide(int live, int tp, int pp, int dp, int globalBatch, int microBatch) {
        if (tp < 1 || pp < 1 || dp < 1 || microBatch < 1 || globalBatch < 1) {
            throw new IllegalArgumentException("tp " + tp + ", pp " + pp + ", dp " + dp + ", micro_batch " + microBatch
                    + ", global_batch " + globalBatch + " must all be >= 1");
        }
        int replica = tp * pp;
        int fit = Math.min(dp, live / replica);
        if (fit == 0) {
            return new Decision(
                    null,
                    "no full replica is left: " + live + " live rank(s), one replica needs tp " + tp + " × pp " + pp
                            + " = " + replica);
        }
        for (int d = fit; d >= 1; d--) {
            if (globalBatch % (microBatch * d) == 0) {
                return new Decision(new ParallelDims(tp, pp, d, replica * d), null);
            }
        }
        // Unreachable for d = 1 when micro_batch divides the global batch (JobSpecCheck demands it).
        return new Decision(
                null,
                "global_batch " + globalBatch + " is not divisible by micro_batch " + microBatch + " × any dp ≤ "
                        + fit);
    }
}
