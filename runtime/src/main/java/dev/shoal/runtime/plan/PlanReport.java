// The planner's result as text: a header with the model, cluster and batch, the ranked table of layouts
// that fit, the breakdown of the best one, and the refused layouts with their reasons (all of them with
// explain, otherwise a count per kind of reason).
// Guarantees: every number printed comes from the Result; nothing is recomputed here.
package dev.shoal.runtime.plan;

import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;

public final class PlanReport {
    private PlanReport() {}

    public static String render(Planner.Result r, int top, boolean explain) {
        StringBuilder sb = new StringBuilder();
        Cluster c = r.cluster();
        TrainSetup s = r.setup();
        GpuSpec g = c.gpu();
        f(
                sb,
                "%s (%.2fB params, %d layers, %d heads / %d kv heads) on %d nodes × %d %s = %d GPUs%n",
                s.model().name(),
                s.model().paramCount() / 1e9,
                s.model().layers(),
                s.model().heads(),
                s.model().kvHeads(),
                c.nodes(),
                c.gpusPerNode(),
                g.name(),
                c.world());
        f(
                sb,
                "GPU: %.0f GiB, %.1f TFLOP/s bf16 × efficiency %.2f; NVLink %.0f GB/s, IB %.0f GB/s per GPU (bus bw)%n",
                g.memoryGiB(),
                g.peakFlops() / 1e12,
                g.efficiency(),
                g.nvlinkBytesPerSec() / GpuSpec.GB,
                g.ibBytesPerSec() / GpuSpec.GB);
        f(
                sb,
                "batch: %d sequences × %d tokens = %.2fM tokens/step; ZeRO-1 %s; sequence parallel %s; reserve %.1f"
                        + " GiB/GPU%n%n",
                s.globalBatch(),
                s.seqLen(),
                (double) s.globalBatch() * s.seqLen() / 1e6,
                s.zero1() ? "on" : "off",
                s.sequenceParallel() ? "on" : "off",
                s.reserveGiB());
        List<Planner.Candidate> fit = r.fitting();
        if (fit.isEmpty()) {
            sb.append("no layout fits in ").append(fmt("%.0f", g.memoryGiB())).append(" GiB per GPU");
            if (!s.zero1() || !s.sequenceParallel()) {
                sb.append(" (")
                        .append(s.zero1() ? "" : "--zero1 ")
                        .append(s.sequenceParallel() ? "" : "--sequence-parallel ");
                sb.append("or more nodes may help)");
            }
            sb.append(".\n");
        } else {
            f(
                    sb,
                    "%d layouts fit; best %d by estimated step time (memory in GiB per GPU, worst stage):%n",
                    fit.size(),
                    Math.min(top, fit.size()));
            f(
                    sb,
                    "%3s %3s %3s %4s %3s %5s %-9s %7s %6s %6s %6s %6s %7s %8s %5s %9s%n",
                    "#",
                    "tp",
                    "pp",
                    "dp",
                    "mb",
                    "m",
                    "recompute",
                    "weights",
                    "grads",
                    "optim",
                    "activ",
                    "total",
                    "bubble",
                    "step s",
                    "MFU",
                    "tokens/s");
            for (int i = 0; i < Math.min(top, fit.size()); i++) {
                row(sb, i + 1, fit.get(i));
            }
            sb.append('\n');
            breakdown(sb, fit.get(0), c);
        }
        refusals(sb, r.refused(), explain);
        return sb.toString();
    }

    private static void row(StringBuilder sb, int rank, Planner.Candidate cand) {
        Layout l = cand.layout();
        MemoryModel.Estimate m = cand.memory();
        CostModel.StepEstimate e = cand.step();
        f(
                sb,
                "%3d %3d %3d %4d %3d %5d %-9s %7.1f %6.1f %6.1f %6.1f %6.1f %6.1f%% %8.2f %4.1f%% %9.0f%n",
                rank,
                l.tp(),
                l.pp(),
                l.dp(),
                l.microBatch(),
                e.microBatches(),
                l.recompute().label(),
                m.weightsBytes() / GpuSpec.GIB,
                m.gradsBytes() / GpuSpec.GIB,
                m.optimizerBytes() / GpuSpec.GIB,
                m.activationBytes() / GpuSpec.GIB,
                m.totalBytes() / GpuSpec.GIB,
                100 * e.bubbleFraction(),
                e.stepSeconds(),
                100 * e.mfu(),
                e.tokensPerSecond());
    }

    private static void breakdown(StringBuilder sb, Planner.Candidate best, Cluster c) {
        Layout l = best.layout();
        CostModel.StepEstimate e = best.step();
        f(sb, "best: %s, stages %s%n", l, Planner.describe(best.stages()));
        f(
                sb,
                "  one micro-batch on the slowest stage: compute %.1f ms + TP all-reduce %.1f ms + PP send %.1f ms%n",
                1e3 * e.computeSeconds(),
                1e3 * e.tpCommSeconds(),
                1e3 * e.ppCommSeconds());
        f(
                sb,
                "  pipeline (m + p − 1) = %d × that = %.2f s (bubble %.1f%%); DP sync %.2f s; step %.2f s, MFU %.1f%%%n",
                e.microBatches() + l.pp() - 1,
                e.pipelineSeconds(),
                100 * e.bubbleFraction(),
                e.dpCommSeconds(),
                e.stepSeconds(),
                100 * e.mfu());
        f(
                sb,
                "  sent per GPU per step: TP %.1f GB, PP %.2f GB, DP %.1f GB; memory reserve %.1f GiB included%n%n",
                e.tpBytesPerStep() / GpuSpec.GB,
                e.ppBytesPerStep() / GpuSpec.GB,
                e.dpBytesPerStep() / GpuSpec.GB,
                best.memory().reserveBytes() / GpuSpec.GIB);
    }

    private static void refusals(StringBuilder sb, List<Planner.Refusal> refused, boolean explain) {
        if (refused.isEmpty()) return;
        if (explain) {
            f(sb, "refused (%d):%n", refused.size());
            for (Planner.Refusal r : refused) {
                f(sb, "  %-32s %s%n", r.what(), r.reason());
            }
            return;
        }
        Map<String, Integer> kinds = new LinkedHashMap<>();
        for (Planner.Refusal r : refused) {
            kinds.merge(kind(r.reason()), 1, Integer::sum);
        }
        StringBuilder k = new StringBuilder();
        kinds.forEach((what, n) ->
                k.append(k.length() == 0 ? "" : ", ").append(n).append(' ').append(what));
        f(sb, "refused %d (%s); --explain lists each with its reason%n", refused.size(), k);
    }

    private static String kind(String reason) {
        if (reason.startsWith("needs ")) return "out of memory";
        if (reason.startsWith("dp ")) return "batch does not divide";
        if (reason.startsWith("pp ")) return "pipeline split";
        return "tensor parallel size";
    }

    private static String fmt(String format, Object... args) {
        return String.format(Locale.ROOT, format, args);
    }

    private static void f(StringBuilder sb, String format, Object... args) {
        sb.append(fmt(format, args));
    }
}
