// RescalePolicy: whether a running job may re-form at another data-parallel size, and which size
// auto-grow picks. Pure functions, so the decisions are unit-tested apart from the actors.
//
// Rules (docs/cluster.md "Rescale"): tp × pp never changes; dp ≥ 1, ≤ max_dp when one is set;
// micro_batch × dp divides the global batch (invariant 2: grad accumulation absorbs the change);
// tp × pp × dp ranks must be registered; the job must be TRAINING, have a checkpoint_dir (the new
// mesh reloads the state committed at the step boundary) and not end before the boundary.
// Guarantees: a refusal names the value and what would work; INVALID refusals are wrong requests
// (INVALID_ARGUMENT), the others are refused in the cluster's current state (FAILED_PRECONDITION).
package dev.shoal.actors.coordinator;

import dev.shoal.comm.ParallelDims;
import dev.shoal.proto.v1.Phase;
import java.util.ArrayList;
import java.util.List;

public final class RescalePolicy {
    private RescalePolicy() {}

    /** Why a request is refused: the request itself is wrong, or the cluster's state refuses it. */
    public enum Kind {
        INVALID,
        PRECONDITION
    }

    /** Either {@code dims} (the mesh to re-form on) or a refusal of {@code kind}; never both. */
    public record Decision(ParallelDims dims, Kind kind, String refusal) {
        public Decision {
            if ((dims == null) == (refusal == null) || (refusal != null && kind == null)) {
                throw new IllegalArgumentException("a rescale decision is a mesh or a refusal with its kind");
            }
        }

        public boolean ok() {
            return dims != null;
        }

        static Decision refuse(Kind kind, String why) {
            return new Decision(null, kind, why);
        }
    }

    /** What the job looks like when a rescale is asked for. */
    public record Job(
            Phase phase,
            int tp,
            int pp,
            int meshDp,
            int globalBatch,
            int microBatch,
            int maxDp,
            boolean checkpoints,
            long boundaryStep,
            long steps) {}

    /**
     * The mesh for a request to re-form {@code job} at {@code dp} with {@code registered} registered
     * ranks. {@code job.boundaryStep()} is the step whose committed state the new mesh would load.
     */
    public static Decision request(int dp, Job job, int registered) {
        int replica = job.tp() * job.pp();
        if (dp < 1) return Decision.refuse(Kind.INVALID, "dp " + dp + " must be >= 1");
        if (job.globalBatch() % (job.microBatch() * dp) != 0) {
            return Decision.refuse(
                    Kind.INVALID,
                    "dp " + dp + ": global_batch " + job.globalBatch() + " is not divisible by micro_batch "
                            + job.microBatch() + " × dp " + dp + "; dp " + join(batchSizes(job)) + " would work");
        }
        if (job.maxDp() > 0 && dp > job.maxDp()) {
            return Decision.refuse(Kind.INVALID, "dp " + dp + " is above max_dp " + job.maxDp());
        }
        if (job.phase() != Phase.TRAINING) {
            return Decision.refuse(
                    Kind.PRECONDITION,
                    "the job is " + job.phase() + "; only a TRAINING job can be rescaled (try again once it is)");
        }
        if (!job.checkpoints()) {
            return Decision.refuse(
                    Kind.PRECONDITION,
                    "the job has no checkpoint_dir: the new mesh reloads the state committed at the step boundary");
        }
        if (dp == job.meshDp()) {
            return Decision.refuse(Kind.PRECONDITION, "the mesh already runs at dp " + dp);
        }
        if ((long) replica * dp > registered) {
            List<Integer> fit = new ArrayList<>();
            for (int d : batchSizes(job)) if ((long) replica * d <= registered) fit.add(d);
            return Decision.refuse(
                    Kind.PRECONDITION,
                    "dp " + dp + ": tp " + job.tp() + " × pp " + job.pp() + " × dp " + dp + " = " + replica * dp
                            + " ranks, but " + registered + " are registered"
                            + (fit.isEmpty() ? "" : "; dp " + join(fit) + " would fit"));
        }
        if (job.boundaryStep() >= job.steps()) {
            return Decision.refuse(
                    Kind.PRECONDITION,
                    "the job ends at step " + job.steps() + " before a rescale could take effect (after step "
                            + job.boundaryStep() + ")");
        }
        return new Decision(new ParallelDims(job.tp(), job.pp(), dp, replica * dp), null, null);
    }

    /**
     * Auto-grow: the largest dp above the mesh's that {@code registered} ranks hold as whole replicas,
     * within max_dp (0: no bound) and dividing the global batch; 0 when the mesh cannot grow.
     */
    public static int grow(int registered, int tp, int pp, int meshDp, int maxDp, int globalBatch, int microBatch) {
        int fit = registered / (tp * pp);
        if (maxDp > 0) fit = Math.min(fit, maxDp);
        for (int d = fit; d > meshDp; d--) {
            if (globalBatch % (microBatch * d) == 0) return d;
        }
        return 0;
    }

    /** Every dp that splits the global batch into whole micro-batches, within max_dp. */
    static List<Integer> batchSizes(Job job) {
        List<Integer> out = new ArrayList<>();
        int limit = job.globalBatch() / job.microBatch();
        if (job.maxDp() > 0) limit = Math.min(limit, job.maxDp());
        for (int d = 1; d <= limit; d++) if (job.globalBatch() % (job.microBatch() * d) == 0) out.add(d);
        return out;
    }

    private static String join(List<Integer> sizes) {
        StringBuilder b = new StringBuilder();
        for (int i = 0; i < sizes.size(); i++) {
            if (i > 0) b.append(i == sizes.size() - 1 ? " or " : ", ");
            b.append(sizes.get(i));
        }
        return b.toString();
    }
}
