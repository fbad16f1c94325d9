// A worker's place in a mesh: the mesh epoch, its global rank, the (tp, pp, dp) layout, the first
// step it will run, the committed checkpoint to load before it (empty: the job's initial weights),
// an optional static list of every rank's backend address, the job it trains and that job's id (a worker
// serves one job at a time; "" on one-job clusters and in tests). The coordinator leaves peers empty:
// the collectives' addresses and NCCL ids come from the two-phase rendezvous
// (StepRunner.prepareMesh / joinMesh(mesh, Rendezvous)); peers stay for callers without a coordinator.
// Guarantees: epoch >= 1, rank inside the world, startStep >= 1, peers empty or one per rank.
package dev.shoal.actors.worker;

import dev.shoal.comm.ParallelDims;
import dev.shoal.proto.v1.JobSpec;
import java.util.List;

public record MeshAssignment(
        long epoch,
        int rank,
        ParallelDims dims,
        long startStep,
        String checkpointPath,
        List<String> peers,
        JobSpec spec,
        String jobId) {
    public MeshAssignment {
        if (epoch < 1) throw new IllegalArgumentException("mesh epoch " + epoch + " < 1");
        if (rank < 0 || rank >= dims.world()) {
            throw new IllegalArgumentException("rank " + rank + " is outside world " + dims.world());
        }
        if (startStep < 1) throw new IllegalArgumentException("start step " + startStep + " < 1");
        if (checkpointPath == null) checkpointPath = "";
        peers = peers == null ? List.of() : List.copyOf(peers);
        if (!peers.isEmpty() && peers.size() != dims.world()) {
            throw new IllegalArgumentException(
                    "mesh " + dims + " needs " + dims.world() + " peer addresses, got " + peers.size());
        }
        if (spec == null) spec = JobSpec.getDefaultInstance();
        if (jobId == null) jobId = "";
    }

    /** An assignment of a job without an id. */
    public MeshAssignment(
            long epoch,
            int rank,
            ParallelDims dims,
            long startStep,
            String checkpointPath,
            List<String> peers,
            JobSpec spec) {
        this(epoch, rank, dims, startStep, checkpointPath, peers, spec, "");
    }

    /** An assignment without peers or job (control-plane tests). */
    public MeshAssignment(long epoch, int rank, ParallelDims dims, long startStep, String checkpointPath) {
        this(epoch, rank, dims, startStep, checkpointPath, List.of(), JobSpec.getDefaultInstance(), "");
    }
}
