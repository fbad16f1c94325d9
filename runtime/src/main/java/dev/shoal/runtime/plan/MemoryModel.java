// Memory per GPU for a layout: weights, gradients, optimizer state and activations, stage by stage.
//   parameters a GPU holds (elements): its stage's layers' matmul weights / t plus their RMSNorm weights
//   (replicated over TP), the vocab-parallel embedding V·h/t on the first stage, the vocab-parallel LM
//   head V·h/t and the final norm h on the last.
//   weights   2 bytes/param (bf16 compute copy)
//   gradients 4 bytes/param (fp32 accumulation)
//   optimizer 12 bytes/param (fp32 master, AdamW m and v); ZeRO-1 keeps ceil(P/d) of them per DP rank
//   activations per ActivationMemory.stageBytes; plus the setup's fixed reserve.
// Guarantees: the worst stage is the one with the largest total; nothing is rounded before the sum.
package dev.shoal.runtime.plan;

import dev.shoal.runtime.model.LlamaConfig;
import dev.shoal.runtime.parallel.StagePlan;

public final class MemoryModel {
    private MemoryModel() {}

    /** One stage's bytes per GPU. */
    public record Estimate(
            int stage,
            long params, // elements this GPU holds
            double weightsBytes,
            double gradsBytes,
            double optimizerBytes,
            double activationBytes,
            double reserveBytes) {
        public double totalBytes() {
            return weightsBytes + gradsBytes + optimizerBytes + activationBytes + reserveBytes;
        }
    }

    /** Parameter elements one GPU of pipeline stage {@code stage} holds, TP size t. */
    public static long stageParams(LlamaConfig cfg, StagePlan plan, int stage, int t) {
        long h = cfg.dim();
        long layerMatmul = cfg.paramsPerLayer() - 2 * h; // q, k, v, o, gate, up, down
        int layers = plan.layerEnd(stage) - plan.layerStart(stage);
        long p = layers * (layerMatmul / t + 2 * h);
        if (stage == 0) p += (long) cfg.vocab() * h / t; // embedding rows
        if (stage == plan.stages() - 1) p += (long) cfg.vocab() * h / t + h; // LM head rows, final norm
        return p;
    }

    /** The estimate of stage {@code stage}; m micro-batches per step per pipeline. */
    public static Estimate stage(TrainSetup setup, Layout layout, StagePlan plan, int stage, int m) {
        LlamaConfig cfg = setup.model();
        long p = stageParams(cfg, plan, stage, layout.tp());
        long optParams = setup.zero1() ? ceilDiv(p, layout.dp()) : p;
        int layers = plan.layerEnd(stage) - plan.layerStart(stage);
        double act = ActivationMemory.stageBytes(
                cfg,
                setup.seqLen(),
                layout.microBatch(),
                layout.tp(),
                layout.recompute(),
                setup.sequenceParallel(),
                layers,
                stage,
                plan.stages(),
                m);
        return new Estimate(
                stage,
                p,
                (double) TrainSetup.WEIGHT_BYTES * p,
                (double) TrainSetup.GRAD_BYTES * p,
                (double) TrainSetup.OPTIMIZER_BYTES * optParams,
                act,
                setup.reserveGiB() * GpuSpec.GIB);
    }

    /** The stage that needs the most memory. */
    public static Estimate worst(TrainSetup setup, Layout layout, StagePlan plan, int m) {
        Estimate w = null;
        for (int s = 0; s < plan.stages(); s++) {
            Estimate e = stage(setup, layout, plan, s, m);
            if (w == null || e.totalBytes() > w.totalBytes()) w = e;
        }
        return w;
    }

    static long ceilDiv(long a, long b) {
        return (a + b - 1) / b;
    }
}
