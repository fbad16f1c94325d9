// The CUDA GPUs a node offers: shoal.node.gpus = "auto" (every GPU the CUDA runtime sees, none when the
// native layer does not load), 0 (none), or a number that must be present.
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
}
