// Enumerates the (tp, pp, dp, micro-batch, recompute) layouts of a model on a cluster, refuses the
// invalid ones with a reason, estimates memory and step time for the rest and ranks them: layouts that
// fit in GPU memory first, then by estimated step time.
// Rules: tp divides the GPUs of a node (TP stays on NVLink), the query heads and the KV heads (GQA), and
// the vocabulary (vocab-parallel embedding and head); pp ≤ layers, and pp divides the layers or the
// balanced StagePlan split's slowest stage is at most MAX_IMBALANCE × the mean stage cost (either way the
// balanced split is used and the cost model charges its slowest stage); dp = world / (tp·pp) and
// micro_batch × dp divides the global batch (BatchPlan); the worst stage's memory fits the GPU.
// Guarantees: every enumerated layout is either ranked or refused with a reason; the ranking is stable.
package dev.shoal.runtime.plan;

import dev.shoal.runtime.model.LlamaConfig;
import dev.shoal.runtime.parallel.BatchPlan;
import dev.shoal.runtime.parallel.StagePlan;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Locale;

public final class Planner {
    private Planner() {}

    /** The slowest pipeline stage may cost at most this much more than the mean stage. */
    public static final double MAX_IMBALANCE = 1.10;

    /** A layout with its estimates; {@code fits} when the worst stage fits the GPU's memory. */
    public record Candidate(
            Layout layout, StagePlan stages, MemoryModel.Estimate memory, CostModel.StepEstimate step, boolean fits) {}

    /** A layout (or a family of layouts, e.g. "tp 16") that was not planned, and why. */
    public record Refusal(String what, String reason) {}

    public record Result(Cluster cluster, TrainSetup setup, List<Candidate> ranked, List<Refusal> refused) {
        /** The layouts that fit, best first. */
        public List<Candidate> fitting() {
            return ranked.stream().filter(Candidate::fits).toList();
        }
    }

    public static Result plan(Cluster cluster, TrainSetup setup, List<Integer> microBatches, List<Recompute> rcs) {
        if (microBatches.isEmpty() || rcs.isEmpty()) {
            throw new IllegalArgumentException("the planner needs at least one micro-batch size and recompute policy");
        }
        for (int mb : microBatches) {
            if (mb < 1) throw new IllegalArgumentException("micro-batch sizes must be >= 1, got " + mb);
        }
        LlamaConfig cfg = setup.model();
        CostModel cost = new CostModel(cluster, setup);
        int world = cluster.world();
        List<Candidate> ranked = new ArrayList<>();
        List<Refusal> refused = new ArrayList<>();
        double memLimit = cluster.gpu().memoryBytes();
        for (int tp : divisors(world)) {
            String tpWhy = tpReason(cfg, cluster, tp);
            if (tpWhy != null) {
                refused.add(new Refusal("tp " + tp, tpWhy));
                continue;
            }
            for (int pp : divisors(world / tp)) {
                String ppWhy = ppReason(cfg, pp);
                if (ppWhy != null) {
                    refused.add(new Refusal("tp " + tp + " pp " + pp, ppWhy));
                    continue;
                }
                int dp = world / (tp * pp);
                for (int mb : microBatches) {
                    try {
                        BatchPlan.of(setup.globalBatch(), mb, dp);
                    } catch (IllegalArgumentException e) {
                        refused.add(new Refusal("tp " + tp + " pp " + pp + " dp " + dp + " mb " + mb, e.getMessage()));
                        continue;
                    }
                    for (Recompute rc : rcs) {
                        Layout l = new Layout(tp, pp, dp, mb, rc);
                        StagePlan stages = cost.stages(l);
                        CostModel.StepEstimate est = cost.estimate(l);
                        MemoryModel.Estimate mem = MemoryModel.worst(setup, l, stages, est.microBatches());
                        boolean fits = mem.totalBytes() <= memLimit;
                        ranked.add(new Candidate(l, stages, mem, est, fits));
                        if (!fits) {
                            refused.add(new Refusal(l.toString(), memoryReason(mem, cluster.gpu())));
                        }
                    }
                }
            }
        }
        ranked.sort(Comparator.comparing((Candidate c) -> !c.fits())
                .thenComparingDouble(c -> c.step().stepSeconds())
                .thenComparingDouble(c -> c.memory().totalBytes()));
        return new Result(cluster, setup, List.copyOf(ranked), List.copyOf(refused));
    }

    /** Why tp cannot be used, or null. */
    static String tpReason(LlamaConfig cfg, Cluster cluster, int tp) {
        List<String> why = new ArrayList<>();
        if (tp > cluster.gpusPerNode()) {
            why.add("tp " + tp + " > " + cluster.gpusPerNode() + " GPUs per node (tensor parallelism stays on NVLink)");
        } else if (cluster.gpusPerNode() % tp != 0) {
            why.add("tp " + tp + " does not divide the " + cluster.gpusPerNode() + " GPUs of a node");
        }
        if (tp > cfg.kvHeads()) {
            why.add("tp " + tp + " > " + cfg.kvHeads() + " kv heads");
        } else if (cfg.kvHeads() % tp != 0) {
            why.add("tp " + tp + " does not divide " + cfg.kvHeads() + " kv heads");
        }
        if (cfg.heads() % tp != 0) why.add("tp " + tp + " does not divide " + cfg.heads() + " heads");
        if (cfg.vocab() % tp != 0) why.add("tp " + tp + " does not divide the vocabulary of " + cfg.vocab());
        return why.isEmpty() ? null : String.join("; ", why);
    }

    /** Why pp cannot be used, or null. */
    static String ppReason(LlamaConfig cfg, int pp) {
        if (pp > cfg.layers()) return "pp " + pp + " > " + cfg.layers() + " layers";
        if (cfg.layers() % pp == 0) return null; // even layer counts; the cost model charges the head's stage
        StagePlan plan = StagePlan.balanced(cfg, pp);
        double imb = imbalance(cfg, plan);
        if (imb > MAX_IMBALANCE) {
            return String.format(
                    Locale.ROOT,
                    "pp %d does not divide %d layers evenly enough: the best split %s makes the slowest stage"
                            + " %.2f× the mean (limit %.2f×)",
                    pp,
                    cfg.layers(),
                    describe(plan),
                    imb,
                    MAX_IMBALANCE);
        }
        return null;
    }

    /** Slowest stage cost / mean stage cost, counting layer matmuls and the head on the last stage. */
    public static double imbalance(LlamaConfig cfg, StagePlan plan) {
        double lc = StagePlan.layerCost(cfg), hc = StagePlan.headCost(cfg);
        double max = 0;
        for (int s = 0; s < plan.stages(); s++) {
            double c = (plan.layerEnd(s) - plan.layerStart(s)) * lc + (s == plan.stages() - 1 ? hc : 0);
            max = Math.max(max, c);
        }
        return max / ((cfg.layers() * lc + hc) / plan.stages());
    }

    /** Layers per stage, e.g. "[27, 27, 26]+head". */
    public static String describe(StagePlan plan) {
        List<Integer> n = new ArrayList<>();
        for (int s = 0; s < plan.stages(); s++) n.add(plan.layerEnd(s) - plan.layerStart(s));
        return n + "+head";
    }

    static String memoryReason(MemoryModel.Estimate m, GpuSpec gpu) {
        return String.format(
                Locale.ROOT,
                "needs %.1f GiB > %.0f GiB on stage %d (weights %.1f, grads %.1f, optimizer %.1f, activations %.1f,"
                        + " reserve %.1f)",
                m.totalBytes() / GpuSpec.GIB,
                gpu.memoryGiB(),
                m.stage(),
                m.weightsBytes() / GpuSpec.GIB,
                m.gradsBytes() / GpuSpec.GIB,
                m.optimizerBytes() / GpuSpec.GIB,
                m.activationBytes() / GpuSpec.GIB,
                m.reserveBytes() / GpuSpec.GIB);
    }

    static List<Integer> divisors(int n) {
        List<Integer> d = new ArrayList<>();
        for (int i = 1; i <= n; i++) if (n % i == 0) d.add(i);
        return d;
    }
}
