// One rank's training step under tensor, pipeline and data parallelism: its TP shard of its stage's
// layers, its replica's slice of the global batch in micro-batches (accumulated one after the other,
// or, with pp > 1, pipelined in the 1F1B order with activations and their gradients moving between
// stages by send/recv), then the DP optimizer step.
// Guarantees: the global batch of a step is given whole (a pure function of the step, identical on
// every rank); DP replica d trains on sequences [d·perReplica, (d+1)·perReplica) of it, in
// grad_accum micro-batches, each backward scaled by 1/grad_accum; the returned loss is the mean over
// the global batch (all replicas), the same on every rank. Under pp > 1 a stage keeps only each
// in-flight micro-batch's input and re-runs its forward pass before the backward when another
// micro-batch ran in between (stage-level activation recompute: the model holds one activation set).
package dev.shoal.runtime.parallel;

import dev.shoal.comm.DType;
import dev.shoal.comm.ReduceOp;
import dev.shoal.runtime.model.LlamaConfig;
import dev.shoal.runtime.model.LlamaModel;
import dev.shoal.runtime.model.ModelShard;
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
    private final StagePlan stages;
    private final LlamaModel model;
    private final DataParallelOptimizer opt;
    private final int[] tokens, targets; // [microBatch·T] staging
    private final Tensor[] stageInputs; // gradAccum × [microBatch·T, C] received activations (pp > 1, stage > 0)
    private final Tensor dOutput; // [microBatch·T, C] received output gradient (pp > 1, not the last stage)

    /** A rank with 25 MB gradient buckets and the balanced layer split. */
    public ParallelTrainer(
            LlamaConfig cfg,
            RankComms comms,
            BatchPlan batch,
            int seqLen,
            DataParallelOptimizer.Mode mode,
            AdamWConfig adamw,
            Compute cx) {
        this(
                cfg,
                comms,
                batch,
                seqLen,
                mode,
                adamw,
                DataParallelOptimizer.DEFAULT_BUCKET_BYTES,
                StagePlan.balanced(cfg, comms.pp().size()),
                cx);
    }

    /** As above with a gradient all-reduce bucket of bucketBytes (REPLICATED mode) and a given layer split. */
    public ParallelTrainer(
            LlamaConfig cfg,
            RankComms comms,
            BatchPlan batch,
            int seqLen,
            DataParallelOptimizer.Mode mode,
            AdamWConfig adamw,
            long bucketBytes,
            StagePlan stages,
            Compute cx) {
        if (stages.stages() != comms.pp().size()) {
            throw new IllegalArgumentException("stage plan " + stages + " has " + stages.stages()
                    + " stages but the pipeline has " + comms.pp().size() + " ranks");
        }
        if (batch.dp() != comms.dp().size()) {
            throw new IllegalArgumentException("batch plan is for dp " + batch.dp() + " but the DP group has "
                    + comms.dp().size() + " ranks");
        }
        this.comms = comms;
        this.batch = batch;
        this.seqLen = seqLen;
        this.tpPlan = new TpPlan(cfg, comms.tp().size());
        this.stages = stages;
        int pp = comms.pp().size(), stage = comms.pp().rank(), rows = batch.microBatch() * seqLen;
        ModelShard shard = ModelShard.of(
                cfg, comms.tp().rank(), comms.tp().size(), stages.layerStart(stage), stages.layerEnd(stage));
        this.model = new LlamaModel(cfg, shard, CommTpHooks.of(comms.tp()), batch.microBatch(), seqLen, cx, false);
        this.opt = new DataParallelOptimizer(
                model, comms.tp(), comms.dp(), comms.pp(), mode, adamw, bucketBytes, cx.par());
        this.tokens = new int[rows];
        this.targets = new int[rows];
        this.stageInputs = new Tensor[pp > 1 && stage > 0 ? batch.gradAccum() : 0];
        for (int i = 0; i < stageInputs.length; i++) {
            stageInputs[i] = Tensor.zeros(rows, cfg.dim());
        }
        this.dOutput = pp > 1 && stage < pp - 1 ? Tensor.zeros(rows, cfg.dim()) : null;
    }

    public LlamaModel model() {
        return model;
    }

    /** The DP optimizer (its AdamW state covers all parameters, or this replica's ZeRO-1 shard). */
    public DataParallelOptimizer optimizer() {
        return opt;
    }

    public TpPlan tpPlan() {
        return tpPlan;
    }

    /** The layer split of the pipeline. */
    public StagePlan stages() {
        return stages;
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
        model.zeroGrad();
        double lossSum = comms.pp().size() == 1 ? accumulate(globalBatch) : pipeline(globalBatch);
        // Mean loss over the global batch: only the last stage has one, so the pipeline sums it (0 from
        // the other stages) to every stage; then the replicas' means are averaged over DP.
        double loss = lossSum / batch.gradAccum();
        if (comms.pp().size() > 1 || comms.dp().size() > 1) {
            try (Tensor l = Tensor.of(new float[] {(float) loss}, 1)) {
                if (comms.pp().size() > 1) {
                    comms.pp().allReduce(l.pointer(), 1, DType.F32, ReduceOp.SUM);
                }
                if (comms.dp().size() > 1) {
                    comms.dp().allReduce(l.pointer(), 1, DType.F32, ReduceOp.AVG);
                }
                loss = l.get(0);
            }
        }
        DataParallelOptimizer.StepStats st = opt.step(lr, maxNorm);
        return new StepResult(loss, st.gradNorm());
    }

    /** Inputs and next-token targets of this replica's micro-batch k into tokens / targets. */
    private void fillMicro(int[][] globalBatch, int k) {
        int mb = batch.microBatch(), first = comms.dp().rank() * batch.perReplica() + k * mb;
        for (int i = 0; i < mb; i++) {
            int[] seq = globalBatch[first + i];
            if (seq.length != seqLen + 1) {
                throw new IllegalArgumentException(
                        "sequence " + (first + i) + " has " + seq.length + " tokens, need " + (seqLen + 1));
            }
            System.arraycopy(seq, 0, tokens, i * seqLen, seqLen);
            System.arraycopy(seq, 1, targets, i * seqLen, seqLen);
        }
    }

    /** pp = 1: the micro-batches one after the other; returns the sum of their losses. */
    private double accumulate(int[][] globalBatch) {
        double lossSum = 0;
        for (int k = 0; k < batch.gradAccum(); k++) {
            fillMicro(globalBatch, k);
            lossSum += model.forward(tokens, targets, batch.microBatch(), seqLen);
            model.backward(1f / batch.gradAccum());
        }
        return lossSum;
    }

    /** pp > 1: this stage's 1F1B schedule; returns the sum of the micro-batch losses (last stage, else 0). */
    private double pipeline(int[][] globalBatch) {
        int pp = comms.pp().size(), stage = comms.pp().rank(), m = batch.gradAccum();
        boolean first = stage == 0, last = stage == pp - 1;
        double lossSum = 0;
        int lastForward = -1; // the micro-batch whose activations the model holds
        for (PipelineSchedule.Op op : PipelineSchedule.oneFOneB(pp, stage, m)) {
            int k = op.micro();
            if (op.forward()) {
                // Receive the previous stage's activation, run this stage, pass the output on.
                if (!first) {
                    recv(stageInputs[k], stage - 1);
                }
                lossSum += runStage(globalBatch, k, last);
                lastForward = k;
                if (!last) {
                    send(model.stageOutput(), stage + 1);
                }
            } else {
                // Recompute this micro-batch's activations if another one ran since its forward.
                if (lastForward != k) {
                    runStage(globalBatch, k, last);
                }
                lastForward = -1;
                // Receive the output gradient, run the backward, pass the input gradient back.
                if (!last) {
                    recv(dOutput, stage + 1);
                }
                model.backwardStage(dOutput, 1f / m);
                if (!first) {
                    send(model.stageInputGrad(), stage - 1);
                }
            }
        }
        return last ? lossSum : 0;
    }

    /** Forward of micro-batch k on this stage; its loss on the last stage, else 0. */
    private double runStage(int[][] globalBatch, int k, boolean last) {
        fillMicro(globalBatch, k);
        Tensor input = stageInputs.length > 0 ? stageInputs[k] : null;
        double loss = model.forwardStage(tokens, input, targets, batch.microBatch(), seqLen);
        return last ? loss : 0;
    }

    private void send(Tensor t, int peer) {
        comms.pp().send(t.pointer(), t.numel(), DType.F32, peer);
    }

    private void recv(Tensor t, int peer) {
        comms.pp().recv(t.pointer(), t.numel(), DType.F32, peer);
    }
}
