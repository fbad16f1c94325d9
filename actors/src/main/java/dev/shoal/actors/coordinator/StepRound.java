// The answers of one training step from every rank of the mesh, and what the coordinator makes of
// them: the step's metrics (the StepMetrics of the control API) and, when the step wrote a
// checkpoint, the checkpoint that may be committed.
//
// Guarantees: metrics come from rank 0 (every rank reports the same global loss, norm, LR and
// validation); tokens are the global batch's (B·T), the step time is the coordinator's wall time from
// sending Step to the last answer. Checkpoints are written in the background: a rank reports a
// checkpoint folder only once it is committed (every shard durable, renamed into place; in the engine
// rank 0 reports it, at a later step or, for the job's last step, at once); committed() returns it, and
// refuses when reporting ranks disagree or when the job's last step asked for a checkpoint and none of
// that step was reported.
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

    /** Where this round's ranks write a checkpoint; empty: the round writes none. */
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

    /**
     * The checkpoint the ranks reported committed with this round (its step is the folder's, this step
     * or an earlier one), or null. Bytes are the reporting ranks' sum.
     *
     * @param lastStep the job's last step: its checkpoint must be reported with it
     */
    CheckpointInfo committed(long lastStep) {
        String path = null;
        long bytes = 0;
        int by = -1;
        for (int rank = 0; rank < world; rank++) {
            GpuWorker.StepDone d = done.get(rank);
            if (d == null || d.checkpointPath().isEmpty()) continue;
            if (path == null) {
                path = d.checkpointPath();
                by = rank;
            } else if (!path.equals(d.checkpointPath())) {
                throw new IllegalStateException("checkpoint reported with step " + step + ": rank " + rank
                        + " committed " + d.checkpointPath() + " but rank " + by + " " + path);
            }
            bytes += d.checkpointBytes();
        }
        long ckptStep = path == null ? -1 : stepOf(path);
        if (step == lastStep && !checkpointDir.isEmpty() && ckptStep != step) {
            throw new IllegalStateException("checkpoint of the last step " + step + " in " + checkpointDir
                    + ": no rank reported it committed (does the engine write checkpoints?)");
        }
        if (path == null) return null;
        if (ckptStep < 1 || ckptStep > step) {
            throw new IllegalStateException("rank " + by + " reported checkpoint " + path + " with step " + step
                    + ": not a step-NNNNNN folder of a step up to " + step);
        }
        return CheckpointInfo.newBuilder()
                .setStep(ckptStep)
                .setPath(path)
                .setBytes(bytes)
                .setMeshEpoch(epoch)
                .build();
    }

    /** The step a checkpoint folder is named for (step-NNNNNN, as the runtime's format names it), or -1. */
    static long stepOf(String path) {
        String name = java.nio.file.Path.of(path).getFileName().toString();
        if (!name.matches("step-\\d+")) return -1;
        return Long.parseLong(name.substring("step-".length()));
    }

    private static double nanToZero(double v) {
        return Double.isNaN(v) ? 0 : v;
    }
}
