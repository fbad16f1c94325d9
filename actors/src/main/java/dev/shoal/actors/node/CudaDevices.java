// The CUDA GPUs a node offers: shoal.node.gpus = "auto" (every GPU the CUDA runtime sees, none when the
// native layer does not load), 0 (none), or a number that must be present. A GPU's peak FLOP/s (for MFU)
// is shoal.node.gpu-peak-flops when set, else the dense bf16 datasheet peak of the planner's preset its
// name matches (H100, H200, A100), else unknown (MFU then reads 0).
// Guarantees: "auto" never fails on a machine without CUDA; a number larger than the GPUs found, or a
// bad value, throws naming the key, the value and what was found (the node then refuses to start).
package dev.shoal.actors.node;

import com.typesafe.config.Config;
import dev.shoal.actors.worker.WorkerInfo;
import dev.shoal.cuda.NativeLibs;

public final class CudaDevices implements DeviceDiscovery {

    public static final String KEY = "shoal.node.gpus";

    @Override
    public String kind() {
        return WorkerInfo.CUDA;
    }

    @Override
    public int count(Config config) {
        int wanted = requested(config);
        if (wanted == 0) return 0;
        NativeLibs.Report libs = NativeLibs.report();
        int found = libs.gpuPresent() ? libs.deviceCount() : 0;
        if (wanted < 0) return found;
        if (wanted > found) {
            String why = found == 0
                    ? ": " + libs.whyUnavailable().lines().findFirst().orElse("")
                    : "";
            throw new IllegalArgumentException(KEY + " = " + wanted + " but " + found + " CUDA GPU(s) found" + why);
        }
        return wanted;
    }

    /** The configured count: -1 for "auto", else 0..1024; throws naming the key on anything else. */
    public static int requested(Config config) {
        String v = config.getString(KEY).strip().toLowerCase(java.util.Locale.ROOT);
        if (v.equals("auto")) return -1;
        try {
            int n = Integer.parseInt(v);
            if (n >= 0 && n <= 1024) return n;
        } catch (NumberFormatException e) {
            // fall through to the message below
        }
        throw new IllegalArgumentException(KEY + " must be auto or a number in 0..1024, got \"" + v + "\"");
    }

    public static final String PEAK_KEY = "shoal.node.gpu-peak-flops";

    @Override
    public Peak peak(Config config, int index) {
        double configured = config.hasPath(PEAK_KEY) ? config.getDouble(PEAK_KEY) : 0;
        if (configured < 0 || Double.isNaN(configured) || Double.isInfinite(configured)) {
            throw new IllegalArgumentException(
                    PEAK_KEY + " must be >= 0 FLOP/s (0: from the GPU's name), got " + configured);
        }
        if (configured > 0) return new Peak(configured, "configured (" + PEAK_KEY + ")");
        return datasheetPeak(dev.shoal.cuda.CudaDevice.get(index).name());
    }

    /** The planner preset's dense bf16 peak for a GPU named e.g. "NVIDIA H100 80GB HBM3"; UNKNOWN otherwise. */
    static Peak datasheetPeak(String gpuName) {
        String n = gpuName.toLowerCase(java.util.Locale.ROOT);
        for (String preset : java.util.List.of("h200", "h100", "a100")) {
            if (n.contains(preset)) {
                return new Peak(
                        dev.shoal.runtime.plan.GpuSpec.preset(preset).peakFlops(), preset + " datasheet (dense bf16)");
            }
        }
        return Peak.UNKNOWN;
    }
}
