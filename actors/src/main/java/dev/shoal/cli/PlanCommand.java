// `shoal plan`: which tensor/pipeline/data-parallel layouts a Llama model can train with on a cluster,
// how much memory each needs per GPU and how long a step should take (runtime/plan does the math).
// Guarantees: exit 0 when at least one layout fits, 1 when none does (the report still says why), 2 for a
// user mistake (unknown model or gpu, bad size), printed as one line naming the value.
package dev.shoal.cli;

import dev.shoal.runtime.hf.HfConfig;
import dev.shoal.runtime.hf.HfFormatException;
import dev.shoal.runtime.model.LlamaConfig;
import dev.shoal.runtime.plan.Cluster;
import dev.shoal.runtime.plan.GpuSpec;
import dev.shoal.runtime.plan.PlanReport;
import dev.shoal.runtime.plan.Planner;
import dev.shoal.runtime.plan.Recompute;
import dev.shoal.runtime.plan.TrainSetup;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.Callable;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

@Command(
        name = "plan",
        mixinStandardHelpOptions = true,
        description = "Rank the (tp, pp, dp, micro-batch, recompute) layouts of a Llama model on a GPU cluster by"
                + " memory per GPU and estimated step time (Megatron / Korthikanti formulas; see docs/plan.md).")
public final class PlanCommand implements Callable<Integer> {

    @Option(
            names = "--model",
            required = true,
            paramLabel = "NAME|DIR",
            description = "A preset (llama3-8b, llama3-70b, small, tiny) or a Hugging Face directory with config.json.")
    String model;

    @Option(names = "--nodes", required = true, paramLabel = "N", description = "Nodes in the cluster.")
    int nodes;

    @Option(names = "--gpus-per-node", defaultValue = "8", description = "GPUs per node (${DEFAULT-VALUE}).")
    int gpusPerNode;

    @Option(names = "--gpu", defaultValue = "h100", description = "GPU type: h100, h200, a100 (${DEFAULT-VALUE}).")
    String gpu;

    @Option(names = "--global-batch", defaultValue = "512", description = "Sequences per step (${DEFAULT-VALUE}).")
    int globalBatch;

    @Option(names = "--seq-len", defaultValue = "8192", description = "Tokens per sequence (${DEFAULT-VALUE}).")
    int seqLen;

    @Option(
            names = "--micro-batch",
            split = ",",
            paramLabel = "LIST",
            description = "Micro-batch sizes to consider, e.g. 1,2,4 (default 1,2,4).")
    List<Integer> microBatches = new ArrayList<>(List.of(1, 2, 4));

    @Option(
            names = "--recompute",
            split = ",",
            paramLabel = "LIST",
            description = "Recompute policies to consider: none, selective, full (default all three).")
    List<String> recompute = new ArrayList<>(List.of("none", "selective", "full"));

    @Option(names = "--zero1", description = "Shard the fp32 master weights and Adam moments over DP (ZeRO-1).")
    boolean zero1;

    @Option(names = "--sequence-parallel", description = "Megatron sequence parallelism inside TP groups.")
    boolean sequenceParallel;

    @Option(
            names = "--reserve-gib",
            defaultValue = "4",
            description = "Memory per GPU kept back for CUDA context and NCCL (${DEFAULT-VALUE}).")
    double reserveGiB;

    @Option(names = "--gpu-mem-gib", paramLabel = "GIB", description = "Override the GPU's memory.")
    Double memGiB;

    @Option(names = "--peak-tflops", paramLabel = "TF", description = "Override the dense bf16 peak, TFLOP/s.")
    Double peakTflops;

    @Option(
            names = "--efficiency",
            paramLabel = "F",
            description = "Achievable fraction of peak for the step's FLOPs (default 0.5).")
    Double efficiency;

    @Option(names = "--nvlink-gbps", paramLabel = "GB/s", description = "Override NVLink bus bandwidth per GPU.")
    Double nvlinkGBps;

    @Option(names = "--ib-gbps", paramLabel = "GB/s", description = "Override inter-node bus bandwidth per GPU.")
    Double ibGBps;

    @Option(names = "--top", defaultValue = "10", description = "Layouts to list (${DEFAULT-VALUE}).")
    int top;

    @Option(names = "--explain", description = "List every refused layout with its reason.")
    boolean explain;

    @CommandLine.Spec
    CommandLine.Model.CommandSpec spec;

    @Override
    public Integer call() {
        LlamaConfig cfg = model();
        Planner.Result result;
        try {
            GpuSpec g = GpuSpec.preset(gpu);
            if (memGiB != null) g = g.withMemoryGiB(memGiB);
            if (peakTflops != null) g = g.withPeakFlops(peakTflops * 1e12);
            if (efficiency != null) g = g.withEfficiency(efficiency);
            if (nvlinkGBps != null) g = g.withNvlinkBytesPerSec(nvlinkGBps * GpuSpec.GB);
            if (ibGBps != null) g = g.withIbBytesPerSec(ibGBps * GpuSpec.GB);
            if (top < 1) throw new IllegalArgumentException("--top must be >= 1, got " + top);
            Cluster cluster = new Cluster(nodes, gpusPerNode, g);
            TrainSetup setup = new TrainSetup(cfg, globalBatch, seqLen, zero1, sequenceParallel, reserveGiB);
            List<Recompute> rcs =
                    recompute.stream().map(Recompute::parse).distinct().toList();
            result = Planner.plan(
                    cluster, setup, microBatches.stream().distinct().toList(), rcs);
        } catch (IllegalArgumentException e) {
            throw new ShoalCli.UserError(e.getMessage());
        }
        ShoalCli.printTo(
                spec.commandLine().getOut(),
                PlanReport.render(result, top, explain).stripTrailing());
        return result.fitting().isEmpty() ? 1 : 0;
    }

    private LlamaConfig model() {
        Path dir = Path.of(model);
        if (Files.isDirectory(dir)) {
            try {
                return HfConfig.read(dir);
            } catch (HfFormatException e) {
                throw new ShoalCli.UserError(e.getMessage());
            } catch (IOException e) {
                throw new ShoalCli.UserError("--model " + model + ": cannot read config.json: " + e.getMessage());
            }
        }
        try {
            return LlamaConfig.preset(model);
        } catch (IllegalArgumentException e) {
            throw new ShoalCli.UserError(e.getMessage());
        }
    }
}
