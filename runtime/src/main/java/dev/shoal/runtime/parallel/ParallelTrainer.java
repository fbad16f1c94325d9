// One rank's training step under tensor and data parallelism (pp = 1): its TP shard of the model, its
// slice of the global batch in micro-batches, gradient accumulation, then the DP optimizer step.
// Guarantees: the global batch of a step is given whole (a pure function of the step, identical on
// every rank); DP replica d trains on sequences [d·perReplica, (d+1)·perReplica) of it, in
// grad_accum micro-batches, each backward scaled by 1/grad_accum; the returned loss is the mean over
// the global batch (all replicas), the same on every rank.
package dev.shoal.runtime.parallel;

import dev.shoal.comm.DType;
import dev.shoal.comm.ReduceOp;
import dev.shoal.runtime.model.LlamaConfig;
import dev.shoal.runtime.model.LlamaModel;
import dev.shoal.runtime.optim.AdamWConfig;
import dev.shoal.runtime.tensor.Compute;
import dev.shoal.runtime.tensor.Tensor;
import java.util.Map;

public final class ParallelTrainer {
    /** The outcome of one step: mean loss over the global batch and the pre-clip global gradient norm. */
    public record StepResult(double loss, double gradNorm) {}

    private final RankComms comms;
    private final BatchPlan batch;
    private final int seqLen;
    private final TpPlan tpPlan;
    private final LlamaModel model;
    private final DataParallelOptimizer opt;
    private final int[] tokens, targets; // [microBatch·T] staging

    public ParallelTrainer(
            LlamaConfig cfg,
            RankComms comms,
            BatchPlan batch,
            int seqLen,
            DataParallelOptimizer.Mode mode,
            AdamWConfig adamw,
            Compute cx) {
        this(cfg, comms, batch, seqLen, mode, adamw, DataParallelOptimizer.DEFAULT_BUCKET_BYTES, cx);
    }

    /** As above with a gradient all-reduce bucket of bucketBytes (REPLICATED mode). */
    public ParallelTrainer(
            LlamaConfig cfg,
            RankComms comms,
            BatchPlan batch,
            int seqLen,
            DataParallelOptimizer.Mode mode,
            AdamWConfig adamw,
            long bucketBytes,
            Compute cx) {
        if (comms.pp().size() != 1) {
            throw new IllegalArgumentException(
                    "ParallelTrainer runs pp 1; got a pipeline of " + comms.pp().size());
        }
        if (batch.dp() != comms.dp().size()) {
            throw new IllegalArgumentException("batch plan is for dp " + batch.dp() + " but the DP group has "
                    + comms.dp().size() + " ranks");
        }
        this.comms = comms;
        this.batch = batch;
        this.seqLen = seqLen;
        this.tpPlan = new TpPlan(cfg, comms.tp().size());
        this.model = new LlamaModel(
                cfg,
                tpPlan.shard(comms.tp().rank()),
                CommTpHooks.of(comms.tp()),
                batch.microBatch(),
                seqLen,
                cx,
                false);
        this.opt = new DataParallelOptimizer(model, comms.tp(), comms.dp(), mode, adamw, bucketBytes, cx.par());
        this.tokens = new int[batch.microBatch() * seqLen];
        this.targets = new int[batch.microBatch() * seqLen];
    }

    public LlamaModel model() {
        return model;
    }

    public TpPlan tpPlan() {
        return tpPlan;
    }

    /** Loads this rank's shard of full HF-named weights. */
    public void loadFull(Map<String, Tensor> full) {
        tpPlan.scatter(full, comms.tp().rank(), model.params());
    }

    /**
     * One optimizer step on the global batch: sequences [globalBatch][T + 1] (inputs are positions
     * 0..T−1, targets 1..T).
     */
    public StepResult step(int[][] globalBatch, double lr, double maxNorm) {
        if (globalBatch.length != batch.globalBatch()) {
            throw new IllegalArgumentException(
                    "step needs " + batch.globalBatch() + " sequences, got " + globalBatch.length);
        }
        int mb = batch.microBatch(), first = comms.dp().rank() * batch.perReplica();
        model.zeroGrad();
        double lossSum = 0;
        for (int k = 0; k < batch.gradAccum(); k++) {
            // Micro-batch k of this replica: inputs and next-token targets.
            for (int i = 0; i < mb; i++) {
                int[] seq = globalBatch[first + k * mb + i];
                if (seq.length != seqLen + 1) {
                    throw new IllegalArgumentException("sequence " + (first + k * mb + i) + " has " + seq.length
                            + " tokens, need " + (seqLen + 1));
                }
                System.arraycopy(seq, 0, tokens, i * seqLen, seqLen);
                System.arraycopy(seq, 1, targets, i * seqLen, seqLen);
            }
            lossSum += model.forward(tokens, targets, mb, seqLen);
            model.backward(1f / batch.gradAccum());
        }
        // Mean loss over the global batch: the replica's mean, averaged over DP.
        double loss = lossSum / batch.gradAccum();
        if (comms.dp().size() > 1) {
            try (Tensor l = Tensor.of(new float[] {(float) loss}, 1)) {
                comms.dp().allReduce(l.pointer(), 1, DType.F32, ReduceOp.AVG);
                loss = l.get(0);
            }
        }
        DataParallelOptimizer.StepStats st = opt.step(lr, maxNorm);
        return new StepResult(loss, st.gradNorm());
    }
}
