// Expected time of one training step for a layout on a cluster: the reusable cost model that the planner
// ranks with and that a simulator can charge per micro-batch and per collective.
//
// Per micro-batch and pipeline stage (fwd + bwd):
//   compute = stage FLOPs / t / (peak · efficiency), with model FLOPs from TrainFlops (6·params·tokens +
//             causal attention, the LM head on the last stage) plus recompute: FULL reruns each layer's
//             forward (+⅓ of its FLOPs), SELECTIVE the attention core's forward (+⅓ of its attention FLOPs)
//   TP comm = ring all-reduces of the s·b·h bf16 activation over t GPUs on the TP link: 2 per layer in
//             forward (after o_proj and down_proj), 2 in backward (before q/k/v and gate/up), 2 more in
//             the FULL recompute forward; +1 on the first stage (vocab-parallel embedding), +1 on the last
//             (LM head input gradient). Sequence parallelism turns each into reduce-scatter + all-gather
//             of the same total volume. The cross-entropy's three s·b-float all-reduces are ignored.
//   PP comm = one activation send forward and one gradient send backward, s·b·h bf16 each.
// Per step:
//   pipeline = (m + p − 1) · slowest stage's micro-batch time  (1F1B; bubble fraction (p−1)/(m+p−1))
//   DP comm  = all-reduce of the fp32 gradients (4P bytes) over d, or with ZeRO-1 reduce-scatter of them
//              and all-gather of the updated bf16 weights (2P bytes); not overlapped with compute.
//   step     = pipeline + DP comm;  MFU = model FLOPs of the global batch / (step · world · peak).
// The optimizer update (memory-bound) and kernel launch gaps are not modelled; efficiency absorbs them.
// Guarantees: a layout whose world differs from the cluster's, or whose dp does not fit the global batch,
// is refused with the numbers involved.
package dev.shoal.runtime.plan;

import dev.shoal.runtime.cuda.TrainFlops;
import dev.shoal.runtime.model.LlamaConfig;
import dev.shoal.runtime.parallel.BatchPlan;
import dev.shoal.runtime.parallel.StagePlan;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;

public final class CostModel {
    private final Cluster cluster;
    private final TrainSetup setup;
    private final Map<Integer, StagePlan> stagePlans = new ConcurrentHashMap<>();

    public CostModel(Cluster cluster, TrainSetup setup) {
        this.cluster = cluster;
        this.setup = setup;
    }

    public Cluster cluster() {
        return cluster;
    }

    public TrainSetup setup() {
        return setup;
    }

    /** Everything the estimate is made of; seconds, bytes per GPU, FLOPs. */
    public record StepEstimate(
            int microBatches, // m
            double bubbleFraction, // (p−1)/(m+p−1)
            double computeSeconds, // slowest stage, one micro-batch fwd+bwd
            double tpCommSeconds, // slowest stage, one micro-batch
            double ppCommSeconds, // one micro-batch
            double pipelineSeconds, // (m+p−1) · slowest stage's micro-batch time
            double dpCommSeconds, // per step
            double stepSeconds,
            double tpBytesPerStep, // bytes each GPU sends, per step
            double ppBytesPerStep,
            double dpBytesPerStep,
            double modelFlops, // of the global batch, no recompute
            double mfu,
            double tokensPerSecond) {}

    public BatchPlan batch(Layout l) {
        return BatchPlan.of(setup.globalBatch(), l.microBatch(), l.dp());
    }

    /** The balanced split into l.pp() stages (computed once per pp). */
    public StagePlan stages(Layout l) {
        return stagePlans.computeIfAbsent(l.pp(), pp -> StagePlan.balanced(setup.model(), pp));
    }

    /** Hardware FLOPs of one micro-batch's forward and backward on stage {@code stage}, all TP ranks. */
    public double stageFlops(Layout l, StagePlan plan, int stage) {
        LlamaConfig cfg = setup.model();
        int s = setup.seqLen(), b = l.microBatch(), layers = cfg.layers();
        double layerMatmul = TrainFlops.matmulFlops(cfg, b, s, false) / layers;
        double layerAttn = TrainFlops.attentionFlops(cfg, b, s) / layers;
        double perLayer = layerMatmul + layerAttn;
        perLayer += switch (l.recompute()) {
            case NONE -> 0;
            case SELECTIVE -> layerAttn / 3;
            case FULL -> (layerMatmul + layerAttn) / 3;
        };
        double f = (plan.layerEnd(stage) - plan.layerStart(stage)) * perLayer;
        if (stage == plan.stages() - 1) {
            f += TrainFlops.matmulFlops(cfg, b, s, true) - TrainFlops.matmulFlops(cfg, b, s, false);
        }
        return f;
    }

    /** Seconds of one micro-batch's compute on one GPU of {@code stage}. */
    public double computeSeconds(Layout l, StagePlan plan, int stage) {
        return stageFlops(l, plan, stage)
                / l.tp()
                / (cluster.gpu().peakFlops() * cluster.gpu().efficiency());
    }

    /** Bytes of one micro-batch's activation (or its gradient) at a layer boundary: s·b·h bf16. */
    public double boundaryBytes(Layout l) {
        return (double) TrainSetup.ACT_BYTES
                * setup.seqLen()
                * l.microBatch()
                * setup.model().dim();
    }

    /** TP all-reduces of one micro-batch (fwd+bwd) on {@code stage}. */
    public int tpAllReduces(Layout l, StagePlan plan, int stage) {
        if (l.tp() == 1) return 0;
        int perLayer = l.recompute() == Recompute.FULL ? 6 : 4;
        int n = (plan.layerEnd(stage) - plan.layerStart(stage)) * perLayer;
        if (stage == 0) n += 1;
        if (stage == plan.stages() - 1) n += 1;
        return n;
    }

    /** Seconds of TP communication for one micro-batch on {@code stage}. */
    public double tpCommSeconds(Layout l, StagePlan plan, int stage) {
        Cluster.Link link = cluster.linkForSpan(l.tp());
        return tpAllReduces(l, plan, stage) * Collectives.allReduceSeconds(l.tp(), boundaryBytes(l), link);
    }

    /** The link pipeline sends cross: inside a node only when the whole mesh fits in one. */
    public Cluster.Link ppLink(Layout l) {
        return cluster.linkForSpan(l.world());
    }

    /** Seconds of pipeline sends for one micro-batch on one stage: one forward and one backward. */
    public double ppCommSeconds(Layout l) {
        return l.pp() == 1 ? 0 : 2 * Collectives.sendSeconds(boundaryBytes(l), ppLink(l));
    }

    /** Data-parallel gradient bytes (fp32) and weight bytes (bf16) of the largest stage. */
    private long maxStageParams(Layout l, StagePlan plan) {
        long p = 0;
        for (int s = 0; s < plan.stages(); s++) {
            p = Math.max(p, MemoryModel.stageParams(setup.model(), plan, s, l.tp()));
        }
        return p;
    }

    /** Seconds of the per-step DP gradient synchronisation (and ZeRO-1 weight all-gather). */
    public double dpCommSeconds(Layout l, StagePlan plan) {
        if (l.dp() == 1) return 0;
        long p = maxStageParams(l, plan);
        Cluster.Link link = cluster.linkForSpan(l.tp() * l.dp());
        double grads = (double) TrainSetup.GRAD_BYTES * p, weights = (double) TrainSetup.WEIGHT_BYTES * p;
        return setup.zero1()
                ? Collectives.reduceScatterSeconds(l.dp(), grads, link)
                        + Collectives.allGatherSeconds(l.dp(), weights, link)
                : Collectives.allReduceSeconds(l.dp(), grads, link);
    }

    private double dpBytes(Layout l, StagePlan plan) {
        if (l.dp() == 1) return 0;
        long p = maxStageParams(l, plan);
        double grads = (double) TrainSetup.GRAD_BYTES * p, weights = (double) TrainSetup.WEIGHT_BYTES * p;
        return setup.zero1()
                ? Collectives.reduceScatterBytes(l.dp(), grads) + Collectives.allGatherBytes(l.dp(), weights)
                : Collectives.allReduceBytes(l.dp(), grads);
    }

    /** 1F1B idle fraction: (p − 1) / (m + p − 1). */
    public static double bubbleFraction(int p, int m) {
        return (double) (p - 1) / (m + p - 1);
    }

    /** The full step estimate; throws IllegalArgumentException when the layout does not fit the batch. */
    public StepEstimate estimate(Layout l) {
        if (l.world() != cluster.world()) {
            throw new IllegalArgumentException("tp " + l.tp() + " × pp " + l.pp() + " × dp " + l.dp() + " = "
                    + l.world() + " ≠ " + cluster.world() + " GPUs (" + cluster.nodes() + " nodes × "
                    + cluster.gpusPerNode() + ")");
        }
        int m = batch(l).gradAccum();
        StagePlan plan = stages(l);
        double slowest = 0, compute = 0, tp = 0, pp = ppCommSeconds(l);
        double tpBytes = 0;
        for (int s = 0; s < plan.stages(); s++) {
            double c = computeSeconds(l, plan, s), t = tpCommSeconds(l, plan, s);
            if (c + t + pp > slowest) {
                slowest = c + t + pp;
                compute = c;
                tp = t;
            }
            double bytes = tpAllReduces(l, plan, s) * Collectives.allReduceBytes(l.tp(), boundaryBytes(l)) * m;
            tpBytes = Math.max(tpBytes, bytes);
        }
        double pipeline = (m + l.pp() - 1) * slowest;
        double dp = dpCommSeconds(l, plan);
        double step = pipeline + dp;
        double modelFlops = TrainFlops.stepFlops(setup.model(), setup.globalBatch(), setup.seqLen(), true);
        double mfu = TrainFlops.mfu(
                modelFlops, step, (double) cluster.world() * cluster.gpu().peakFlops());
        double ppBytes = l.pp() == 1 ? 0 : 2 * boundaryBytes(l) * m;
        return new StepEstimate(
                m,
                bubbleFraction(l.pp(), m),
                compute,
                tp,
                pp,
                pipeline,
                dp,
                step,
                tpBytes,
                ppBytes,
                dpBytes(l, plan),
                modelFlops,
                mfu,
                (double) setup.globalBatch() * setup.seqLen() / step);
    }
}
