// The micro-batches a rank's DataLoader sent ahead, by step, until the step that needs them runs.
// A first-stage rank waits for input ids, a last-stage rank for target ids, a middle stage for
// nothing (it reads activations from its neighbour).
//
// Guarantees: a batch of another epoch than the current one is dropped (invariant 6); take() blocks
// until its batch is there or the epoch is aborted (then it throws); a step's batch is handed out
// once and forgotten, so memory holds at most the loader's prefetch window.
package dev.shoal.actors.engine;

import dev.shoal.actors.worker.StepRunner;
import dev.shoal.runtime.train.JobConfig;
import java.util.HashMap;
import java.util.Map;

final class RankBatches {
    private long epoch = -1;
    private long abortedEpoch = -1;
    private final Map<Long, int[]> inputs = new HashMap<>(); // step -> [perReplica · T]
    private final Map<Long, int[]> targets = new HashMap<>(); // step -> [perReplica · T]

    /** Starts mesh {@code epoch}: everything earlier is dropped. */
    synchronized void reset(long epoch) {
        this.epoch = epoch;
        inputs.clear();
        targets.clear();
        notifyAll();
    }

    synchronized void offer(StepRunner.Batch b) {
        if (b.epoch() != epoch) return;
        if (b.inputs().length > 0) inputs.put(b.step(), b.inputs());
        if (b.targets().length > 0) targets.put(b.step(), b.targets());
        notifyAll();
    }

    synchronized void abort(long epoch) {
        abortedEpoch = epoch;
        notifyAll();
    }

    /**
     * The global batch array of {@code step} as ParallelTrainer reads it: rows [T + 1] of this replica
     * filled from the loader's inputs (positions 0..T−1) and targets (1..T); other replicas' rows null.
     */
    synchronized int[][] take(
            long epoch, long step, boolean needInputs, boolean needTargets, JobConfig job, int dp, int replica)
            throws InterruptedException {
        while ((needInputs && !inputs.containsKey(step)) || (needTargets && !targets.containsKey(step))) {
            if (abortedEpoch == epoch || this.epoch != epoch) {
                throw new IllegalStateException(
                        "mesh epoch " + epoch + " aborted while step " + step + " waited for its batch");
            }
            wait(200);
        }
        int[] in = inputs.remove(step), tg = targets.remove(step);
        int t = job.seqLen(), per = job.globalBatch() / dp;
        int[][] rows = new int[job.globalBatch()][];
        for (int i = 0; i < per; i++) {
            int[] seq = new int[t + 1];
            if (in != null) System.arraycopy(in, i * t, seq, 0, t);
            if (tg != null) System.arraycopy(tg, i * t, seq, 1, t);
            rows[replica * per + i] = seq;
        }
        return rows;
    }
}
