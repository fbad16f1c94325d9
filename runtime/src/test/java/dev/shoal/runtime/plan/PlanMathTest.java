// The planner's arithmetic against numbers worked out by hand (each in the comment above its assert):
// parameter and optimizer bytes, one Korthikanti activation value for Llama-3-70B, the 1F1B bubble, ring
// collective volumes, and the cost model's step time composition (one GPU without recompute runs at
// exactly the efficiency factor's MFU).
package dev.shoal.runtime.plan;

import static org.junit.jupiter.api.Assertions.assertEquals;

import dev.shoal.runtime.cuda.TrainFlops;
import dev.shoal.runtime.model.LlamaConfig;
import dev.shoal.runtime.parallel.StagePlan;
import org.junit.jupiter.api.Test;

class PlanMathTest {
    static final LlamaConfig L70 = LlamaConfig.preset("llama3-70b");
    static final LlamaConfig L8 = LlamaConfig.preset("llama3-8b");

    @Test
    void weightsOf70bInBf16() {
        // embedding + head 2·128256·8192 = 2,101,346,304; one layer 2·8192² + 2·8192·1024 + 3·8192·28672
        // + 2·8192 = 855,654,400, × 80 = 68,452,352,000; final norm 8192 → 70,553,706,496 params.
        assertEquals(70_553_706_496L, L70.paramCount());
        Layout one = new Layout(1, 1, 1, 1, Recompute.FULL);
        MemoryModel.Estimate e = MemoryModel.stage(TrainSetup.of(L70, 1, 8192), one, StagePlan.balanced(L70, 1), 0, 1);
        assertEquals(70_553_706_496L, e.params());
        // × 2 bytes (bf16) = 141,107,412,992 bytes = 141.1 GB
        assertEquals(141_107_412_992.0, e.weightsBytes());
        // fp32 gradients 4 bytes, fp32 master + m + v 12 bytes
        assertEquals(282_214_825_984.0, e.gradsBytes());
        assertEquals(846_644_477_952.0, e.optimizerBytes());
    }

    @Test
    void adamStateOf8bShardedByZero1() {
        // 8B: 2·128256·4096 = 1,050,673,152; layer 2·4096² + 2·4096·1024 + 3·4096·14336 + 2·4096 = 218,112,000,
        // × 32 = 6,979,584,000; + 4096 → 8,030,261,248 params; Adam state 12 B each = 96,363,134,976 bytes;
        // ZeRO-1 over dp 8 keeps ceil(P/8) = 1,003,782,656 params' worth = 12,045,391,872 bytes.
        assertEquals(8_030_261_248L, L8.paramCount());
        Layout dp8 = new Layout(1, 1, 8, 1, Recompute.FULL);
        StagePlan one = StagePlan.balanced(L8, 1);
        TrainSetup setup = TrainSetup.of(L8, 8, 4096);
        assertEquals(96_363_134_976.0, MemoryModel.stage(setup, dp8, one, 0, 1).optimizerBytes());
        assertEquals(
                12_045_391_872.0,
                MemoryModel.stage(setup.withZero1(true), dp8, one, 0, 1).optimizerBytes());
        // ZeRO-1 leaves weights and gradients whole.
        assertEquals(
                16_060_522_496.0,
                MemoryModel.stage(setup.withZero1(true), dp8, one, 0, 1).weightsBytes());
    }

    @Test
    void tensorParallelSplitsMatmulsAndVocabNotNorms() {
        // tp 8, pp 1: layers 80 · (855,637,... matmul 855,638,016 / 8 = 106,954,752 + norms 16,384)
        // = 80 · 106,971,136 = 8,557,690,880; embedding and head 2 · 128256·8192/8 = 262,668,288; final norm
        // 8192 → 8,820,367,360 params on each GPU.
        long p = MemoryModel.stageParams(L70, StagePlan.balanced(L70, 1), 0, 8);
        assertEquals(8_820_367_360L, p);
    }

    @Test
    void korthikantiActivationsOfOne70bLayer() {
        // s = 8192, b = 1, h = 8192, k = 1024, f = 28672, a = 64, t = 8, bf16:
        // sbh = 67,108,864; sbk = 8,388,608; sbf = 234,881,024.
        // kept in full on each TP rank: 8sbh = 536,870,912
        // split: (4sbh + 4sbk + 6sbf)/t = (268,435,456 + 33,554,432 + 1,409,286,144)/8 = 213,909,504
        // SELECTIVE = 750,780,416 bytes (≈ 0.70 GiB)
        assertEquals(750_780_416.0, ActivationMemory.perLayerBytes(L70, 8192, 1, 8, Recompute.SELECTIVE, false));
        // NONE adds the softmax output 2as²b/t = 2·64·8192²/8 = 1,073,741,824 → 1,824,522,240
        assertEquals(1_824_522_240.0, ActivationMemory.perLayerBytes(L70, 8192, 1, 8, Recompute.NONE, false));
        // FULL keeps the layer input 2sbh = 134,217,728; with sequence parallelism /8 = 16,777,216
        assertEquals(134_217_728.0, ActivationMemory.perLayerBytes(L70, 8192, 1, 8, Recompute.FULL, false));
        assertEquals(16_777_216.0, ActivationMemory.perLayerBytes(L70, 8192, 1, 8, Recompute.FULL, true));
        // sequence parallel SELECTIVE: 8sbh/8 + 213,909,504 = 67,108,864 + 213,909,504 = 281,018,368
        assertEquals(281_018_368.0, ActivationMemory.perLayerBytes(L70, 8192, 1, 8, Recompute.SELECTIVE, true));
        // a micro-batch of 2 doubles everything
        assertEquals(2 * 750_780_416.0, ActivationMemory.perLayerBytes(L70, 8192, 2, 8, Recompute.SELECTIVE, false));
    }

    @Test
    void oneFOneBStagesHoldPMinusStageMicroBatches() {
        // pp 4, m 8: stage 0 holds 4 micro-batches, stage 3 holds 1 (+ the head: 4sbh + 4sbV/t
        // = 268,435,456 + 4·8192·128256/8 = 525,336,576 → 793,772,032).
        double layer = 134_217_728.0, working = 750_780_416.0;
        assertEquals(
                4 * 20 * layer + working,
                ActivationMemory.stageBytes(L70, 8192, 1, 8, Recompute.FULL, false, 20, 0, 4, 8));
        assertEquals(793_772_032.0, ActivationMemory.headBytes(L70, 8192, 1, 8, false));
        assertEquals(
                20 * layer + 793_772_032.0 + working,
                ActivationMemory.stageBytes(L70, 8192, 1, 8, Recompute.FULL, false, 20, 3, 4, 8));
        // fewer micro-batches than stages: only m are ever in flight
        assertEquals(
                2 * 20 * layer + working,
                ActivationMemory.stageBytes(L70, 8192, 1, 8, Recompute.FULL, false, 20, 0, 4, 2));
    }

    @Test
    void bubbleFraction() {
        // p 4, m 8: (4−1)/(8+4−1) = 3/11; p 1 has none
        assertEquals(3.0 / 11, CostModel.bubbleFraction(4, 8), 1e-15);
        assertEquals(0.0, CostModel.bubbleFraction(1, 8));
    }

    @Test
    void ringVolumes() {
        // all-reduce of S = 1 GB over 8 ranks: 2·7/8 = 1.75 GB sent per rank; reduce-scatter and
        // all-gather 7/8 each; at 100 GB/s and 10 µs per step: 1.75/100 + 14·10 µs = 0.01764 s
        assertEquals(1.75e9, Collectives.allReduceBytes(8, 1e9), 1e-3);
        assertEquals(0.875e9, Collectives.reduceScatterBytes(8, 1e9), 1e-3);
        assertEquals(0.875e9, Collectives.allGatherBytes(8, 1e9), 1e-3);
        Cluster.Link link = new Cluster.Link("test", 100e9, 10e-6);
        assertEquals(0.01764, Collectives.allReduceSeconds(8, 1e9, link), 1e-12);
        assertEquals(0.00875 + 7 * 10e-6, Collectives.reduceScatterSeconds(8, 1e9, link), 1e-12);
        assertEquals(0.0, Collectives.allReduceSeconds(1, 1e9, link));
        // 2 ranks: all-reduce moves S once each way
        assertEquals(1e9, Collectives.allReduceBytes(2, 1e9), 1e-3);
    }

    @Test
    void oneGpuWithoutRecomputeRunsAtTheEfficiency() {
        // world 1, no recompute, no communication: step = m · FLOPs / (peak · eff), so MFU = eff exactly
        GpuSpec g = GpuSpec.preset("h100").withMemoryGiB(1e6);
        CostModel cm = new CostModel(new Cluster(1, 1, g), TrainSetup.of(L8, 4, 2048));
        CostModel.StepEstimate e = cm.estimate(new Layout(1, 1, 1, 2, Recompute.NONE));
        assertEquals(2, e.microBatches());
        assertEquals(0.5, e.mfu(), 1e-12);
        double flops = TrainFlops.stepFlops(L8, 4, 2048, true);
        assertEquals(flops / (989.4e12 * 0.5), e.stepSeconds(), 1e-12);
        // FULL recompute adds one forward of every layer (⅓ of its FLOPs), not of the head
        CostModel.StepEstimate full = cm.estimate(new Layout(1, 1, 1, 2, Recompute.FULL));
        double layers = TrainFlops.stepFlops(L8, 4, 2048, false);
        assertEquals((flops + layers / 3) / (989.4e12 * 0.5), full.stepSeconds(), 1e-12);
    }

    @Test
    void stepTimeComposesComputeTpPpAndDp() {
        // 2 nodes × 8 h100, 8B, tp 8 pp 2 dp 1, mb 1, global 8, s 4096, selective, no ZeRO:
        // m = 8; stage compute = stage FLOPs / 8 / (peak·eff); TP: (16 layers · 4 + 1) all-reduces of
        // 2·4096·4096 bytes over 8 on NVLink; PP: 2 sends of the same bytes over IB; step = (8 + 1) · slowest.
        GpuSpec g = GpuSpec.preset("h100");
        Cluster c = new Cluster(2, 8, g);
        CostModel cm = new CostModel(c, TrainSetup.of(L8, 8, 4096));
        Layout l = new Layout(8, 2, 1, 1, Recompute.SELECTIVE);
        StagePlan plan = cm.stages(l);
        double bytes = 2.0 * 4096 * 4096;
        double ar = Collectives.allReduceSeconds(8, bytes, c.nvlink());
        double pp = 2 * (bytes / c.ib().bytesPerSec() + c.ib().latencySeconds());
        double slowest = 0;
        for (int s = 0; s < 2; s++) {
            int layers = plan.layerEnd(s) - plan.layerStart(s);
            double tp = (layers * 4 + 1) * ar;
            slowest = Math.max(slowest, cm.stageFlops(l, plan, s) / 8 / (989.4e12 * 0.5) + tp + pp);
        }
        CostModel.StepEstimate e = cm.estimate(l);
        assertEquals(9 * slowest, e.stepSeconds(), 1e-12);
        assertEquals(1.0 / 9, e.bubbleFraction(), 1e-15);
        assertEquals(0.0, e.dpCommSeconds());
        // PP bytes per GPU per step: 2 sends × 8 micro-batches × 33,554,432 bytes
        assertEquals(2 * 8 * bytes, e.ppBytesPerStep());
    }

    @Test
    void dataParallelAllReduceVersusZero1() {
        // 8B, 2 nodes × 8, tp 1 pp 1 dp 16: all-reduce of fp32 grads 4P over IB (the group spans nodes);
        // ZeRO-1: reduce-scatter 4P + all-gather of bf16 weights 2P → volume 6P·15/16 instead of 8P·15/16.
        Cluster c = new Cluster(2, 8, GpuSpec.preset("h100"));
        Layout l = new Layout(1, 1, 16, 1, Recompute.FULL);
        long p = L8.paramCount();
        TrainSetup setup = TrainSetup.of(L8, 16, 4096);
        CostModel.StepEstimate ar = new CostModel(c, setup).estimate(l);
        CostModel.StepEstimate z = new CostModel(c, setup.withZero1(true)).estimate(l);
        assertEquals(8.0 * p * 15 / 16, ar.dpBytesPerStep(), 1.0);
        assertEquals(6.0 * p * 15 / 16, z.dpBytesPerStep(), 1.0);
        assertEquals(Collectives.allReduceSeconds(16, 4.0 * p, c.ib()), ar.dpCommSeconds(), 1e-12);
    }

    @Test
    void groupsInsideANodeUseNvlink() {
        Cluster c = new Cluster(4, 8, GpuSpec.preset("h100"));
        assertEquals("NVLink", c.linkForSpan(8).name());
        assertEquals("NVLink", c.linkForSpan(4).name());
        assertEquals("IB", c.linkForSpan(16).name());
        assertEquals("IB", c.linkForSpan(3).name()); // 3 does not tile a node of 8
    }
}
