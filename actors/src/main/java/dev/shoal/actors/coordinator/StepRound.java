// The answers of one training step from every rank of the mesh, and what the coordinator makes of
// them: the step's metrics (the StepMetrics of the control API) and, when the step wrote a
// checkpoint, the checkpoint that may be committed.
//
// Guarantees: metrics come from rank 0 (every rank reports the same global loss, norm, LR and
// validation); tokens are the global batch's (B·T), the step time is the coordinator's wall time from
// sending Step to the last answer; checkpoint() refuses (naming the
// ranks) unless every rank reported its shard durable in the same step folder.
package dev.shoal.actors.coordinator;

import dev.shoal.actors.worker.GpuWorker;
import dev.shoal.proto.v1.CheckpointInfo;
import dev.shoal.proto.v1.JobSpec;
import dev.shoal.proto.v1.SourceLoss;
import dev.shoal.proto.v1.StepMetrics;
import java.util.Map;
import java.util.TreeMap;

final class StepRound {
    private final long epoch;
    private final long step;
    private final int world;
    private final String checkpointDir;
    private final long startedNanos = System.nanoTime();
    private final TreeMap<Integer, GpuWorker.StepDone> done = new TreeMap<>();

    StepRound(long epoch, long step, int world, String checkpointDir) {
        this.epoch = epoch;
        this.step = step;
        this.world = world;
        this.checkpointDir = checkpointDir;
    }

    long step() {
        return step;
    }

    /** Empty: the step writes no checkpoint. */
    String checkpointDir() {
        return checkpointDir;
    }

    void add(GpuWorker.StepDone d) {
        done.put(d.rank(), d);
    }

    /**
     * The step's metrics (after every rank answered): rank 0's loss, norm, LR and validation; the
     * tokens of the global batch; the wall time from sending Step to the last answer.
     */
    StepMetrics metrics(JobSpec spec) {
        GpuWorker.StepDone r0 = done.get(0);
        double seconds = (System.nanoTime() - startedNanos) / 1e9;
        long tokens = (long) spec.getGlobalBatch() * spec.getSeqLen();
        StepMetrics.Builder b = StepMetrics.newBuilder()
                .setStep(step)
                .setLoss(r0.loss())
                .setGradNorm(nanToZero(r0.gradNorm()))
                .setLr(nanToZero(r0.lr()))
                .setTokens(tokens)
                .setStepSeconds(seconds)
                .setTokensPerSecond(seconds > 0 ? tokens / seconds : 0);
        for (Map.Entry<String, Double> e : r0.validation().entrySet()) {
            b.addValidation(SourceLoss.newBuilder().setSource(e.getKey()).setLoss(e.getValue()));
        }
        return b.build();
    }

    /** The committed checkpoint of this step: every rank's shard durable in one folder. */
    CheckpointInfo checkpoint() {
        String path = null;
        long bytes = 0;
        StringBuilder missing = new StringBuilder();
        for (int rank = 0; rank < world; rank++) {
            GpuWorker.StepDone d = done.get(rank);
            if (d == null || d.checkpointPath().isEmpty()) {
                missing.append(missing.length() == 0 ? "" : ", ").append(rank);
                continue;
            }
            if (path == null) path = d.checkpointPath();
            else if (!path.equals(d.checkpointPath())) {
                throw new IllegalStateException("checkpoint of step " + step + ": rank " + rank + " wrote to "
                        + d.checkpointPath() + " but rank 0 to " + path);
            }
            bytes += d.checkpointBytes();
        }
        if (missing.length() > 0) {
            throw new IllegalStateException("checkpoint of step " + step + " in " + checkpointDir
                    + ": no durable shard from rank(s) " + missing + " (does their engine write checkpoints?)");
        }
        return CheckpointInfo.newBuilder()
                .setStep(step)
                .setPath(path)
                .setBytes(bytes)
                .setMeshEpoch(epoch)
                .build();
    }

    private static double nanToZero(double v) {
        return Double.isNaN(v) ? 0 : v;
    }
}
