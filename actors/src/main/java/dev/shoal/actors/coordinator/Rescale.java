// Rescale: the transient bookkeeping of one RESCALING episode of the coordinator (not journaled; the
// journal holds the ScaleRequested event that started it). It knows the target dp and cause, and
// the timings that the PhaseChange events report: drain (request → the boundary step's checkpoint
// is committed, training goes on meanwhile), re-mesh (the old mesh left, the new one chosen and
// asked to join), reload (every rank formed its groups and loaded the committed state) and the
// first completed step on the new mesh.
package dev.shoal.actors.coordinator;

final class Rescale {
    final int dp;
    final String cause;
    final long requestedNanos = System.nanoTime();
    long boundaryNanos; // the boundary step's state is committed; the old mesh is left
    long remeshedNanos; // the new mesh is chosen and asked to join
    long formedNanos; // every rank joined and loaded
    long resumeStep; // first step trained on the new mesh
    boolean firstStepPending; // publish the first step after the new mesh formed

    Rescale(int dp, String cause) {
        this.dp = dp;
        this.cause = cause;
    }

    /** Every rank of the new mesh joined; it trains from {@code startStep}. */
    void formed(long startStep) {
        formedNanos = System.nanoTime();
        resumeStep = startStep;
        firstStepPending = true;
    }

    /** After MeshFormed: seconds of each phase so far. */
    String formedSummary() {
        return String.format(
                "rescaled to dp %d (%s): drain %.2f s, re-mesh %.2f s, reload %.2f s, resuming at step %d",
                dp,
                cause,
                (boundaryNanos - requestedNanos) / 1e9,
                (remeshedNanos - boundaryNanos) / 1e9,
                (formedNanos - remeshedNanos) / 1e9,
                resumeStep);
    }

    /** After the first step on the new mesh. */
    String firstStepSummary(long step) {
        long now = System.nanoTime();
        return String.format(
                "rescale to dp %d done: step %d finished %.2f s after the mesh formed; %.2f s from the boundary,"
                        + " %.2f s from the request",
                dp, step, (now - formedNanos) / 1e9, (now - boundaryNanos) / 1e9, (now - requestedNanos) / 1e9);
    }
}
