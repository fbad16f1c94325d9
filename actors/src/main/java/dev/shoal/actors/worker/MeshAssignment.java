// A worker's place in a mesh: the mesh epoch, its global rank, the (tp, pp, dp) layout, the first
// step it will run, and the committed checkpoint to load before it (empty: the job's initial weights).
// Guarantees: epoch >= 1, rank inside the world, startStep >= 1.
package dev.shoal.actors.worker;

import dev.shoal.comm.ParallelDims;

public record MeshAssignment(long epoch, int rank, ParallelDims dims, long startStep, String checkpointPath) {
    public MeshAssignment {
        if (epoch < 1) throw new IllegalArgumentException("mesh epoch " + epoch + " < 1");
        if (rank < 0 || rank >= dims.world()) {
            throw new IllegalArgumentException("rank " + rank + " is outside world " + dims.world());
        }
        if (startStep < 1) throw new IllegalArgumentException("start step " + startStep + " < 1");
        if (checkpointPath == null) checkpointPath = "";
    }
}
