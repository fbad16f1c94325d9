// What the planner needs to know about one GPU model and the links around it: memory, dense bf16 peak,
// the fraction of that peak large training matmuls reach, and the bus bandwidth and per-message latency
// of collectives inside a node (NVLink) and between nodes (InfiniBand/RoCE, one NIC per GPU).
// Guarantees: every value is positive and finite (efficiency in (0, 1]); presets are the vendors'
// datasheet numbers, named in the comments, and each can be overridden with the with… methods.
package dev.shoal.runtime.plan;

import dev.shoal.runtime.cuda.TrainFlops;
import java.util.List;
import java.util.Locale;
import java.util.Map;

public record GpuSpec(
        String name,
        double memoryGiB, // usable HBM per GPU
        double peakFlops, // dense bf16 tensor-core FLOP/s
        double efficiency, // achievable fraction of peakFlops for the step's FLOPs
        double nvlinkBytesPerSec, // one direction, per GPU, achievable collective bus bandwidth inside a node
        double ibBytesPerSec, // one direction, per GPU, achievable bus bandwidth between nodes
        double nvlinkLatencySeconds, // per ring step inside a node
        double ibLatencySeconds) { // per ring step between nodes

    public GpuSpec {
        check(name, "memory GiB", memoryGiB);
        check(name, "peak FLOP/s", peakFlops);
        check(name, "NVLink bandwidth", nvlinkBytesPerSec);
        check(name, "IB bandwidth", ibBytesPerSec);
        if (!(efficiency > 0 && efficiency <= 1)) {
            throw new IllegalArgumentException(
                    "gpu '" + name + "': efficiency " + efficiency + " must be in (0, 1] (a fraction of peak)");
        }
        if (!(nvlinkLatencySeconds >= 0) || !(ibLatencySeconds >= 0)) {
            throw new IllegalArgumentException("gpu '" + name + "': link latencies must be >= 0, got NVLink "
                    + nvlinkLatencySeconds + " s, IB " + ibLatencySeconds + " s");
        }
    }

    private static void check(String name, String what, double v) {
        if (!(v > 0) || Double.isInfinite(v)) {
            throw new IllegalArgumentException("gpu '" + name + "': " + what + " must be > 0, got " + v);
        }
    }

    public double memoryBytes() {
        return memoryGiB * GIB;
    }

    public static final double GIB = 1024.0 * 1024 * 1024;
    public static final double GB = 1e9;

    /** Default achievable fraction of peak for a large bf16 training step (Megatron reports 0.4–0.55 MFU). */
    public static final double DEFAULT_EFFICIENCY = 0.5;

    /**
     * Achievable fraction of a link's nominal one-direction bandwidth for a large ring collective (the
     * nccl-tests bus bandwidth NVIDIA publishes is about 80% of nominal on NVLink and on 400G IB).
     */
    public static final double LINK_EFFICIENCY = 0.8;

    /**
     * Presets. NVLink: H100/H200 SXM NVLink 4 is 900 GB/s both directions (450 each way), A100 SXM NVLink
     * 3 600 GB/s (300 each way). IB: one 400 Gb/s NDR NIC per GPU (50 GB/s) on H100/H200 nodes, one 200
     * Gb/s HDR NIC per GPU (25 GB/s) on A100 nodes. Peaks: H100/H200 SXM 989.4 TFLOP/s dense bf16, A100
     * 312 TFLOP/s. Memory: H100 80 GiB, H200 141 GB (≈ 140 GiB as nvidia-smi reports), A100 80 GiB.
     */
    public static final Map<String, GpuSpec> PRESETS = Map.of(
            "h100",
            new GpuSpec(
                    "h100",
                    80,
                    TrainFlops.H100_SXM_BF16_PEAK,
                    DEFAULT_EFFICIENCY,
                    450 * GB * LINK_EFFICIENCY,
                    50 * GB * LINK_EFFICIENCY,
                    3e-6,
                    8e-6),
            "h200",
            new GpuSpec(
                    "h200",
                    140,
                    TrainFlops.H100_SXM_BF16_PEAK,
                    DEFAULT_EFFICIENCY,
                    450 * GB * LINK_EFFICIENCY,
                    50 * GB * LINK_EFFICIENCY,
                    3e-6,
                    8e-6),
            "a100",
            new GpuSpec(
                    "a100",
                    80,
                    312e12,
                    DEFAULT_EFFICIENCY,
                    300 * GB * LINK_EFFICIENCY,
                    25 * GB * LINK_EFFICIENCY,
                    3e-6,
                    8e-6));

    public static List<String> presetNames() {
        return PRESETS.keySet().stream().sorted().toList();
    }

    /** A preset by name; an unknown name is an error that names it and lists the known ones. */
    public static GpuSpec preset(String name) {
        GpuSpec g = PRESETS.get(name.toLowerCase(Locale.ROOT));
        if (g == null) {
            throw new IllegalArgumentException("unknown gpu '" + name + "'; known gpus: " + presetNames());
        }
        return g;
    }

    public GpuSpec withMemoryGiB(double v) {
        return new GpuSpec(
                name,
                v,
                peakFlops,
                efficiency,
                nvlinkBytesPerSec,
                ibBytesPerSec,
                nvlinkLatencySeconds,
                ibLatencySeconds);
    }

    public GpuSpec withPeakFlops(double v) {
        return new GpuSpec(
                name,
                memoryGiB,
                v,
                efficiency,
                nvlinkBytesPerSec,
                ibBytesPerSec,
                nvlinkLatencySeconds,
                ibLatencySeconds);
    }

    public GpuSpec withEfficiency(double v) {
        return new GpuSpec(
                name,
                memoryGiB,
                peakFlops,
                v,
                nvlinkBytesPerSec,
                ibBytesPerSec,
                nvlinkLatencySeconds,
                ibLatencySeconds);
    }

    public GpuSpec withNvlinkBytesPerSec(double v) {
        return new GpuSpec(
                name, memoryGiB, peakFlops, efficiency, v, ibBytesPerSec, nvlinkLatencySeconds, ibLatencySeconds);
    }

    public GpuSpec withIbBytesPerSec(double v) {
        return new GpuSpec(
                name, memoryGiB, peakFlops, efficiency, nvlinkBytesPerSec, v, nvlinkLatencySeconds, ibLatencySeconds);
    }
}
