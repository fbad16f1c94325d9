// The CPU ranks a node offers: shoal.node.cpu-ranks of them, each a GpuWorker on its own thread.
// Each rank's peak FLOP/s (for MFU) is shoal.node.cpu-peak-flops, or measured (CpuPeak).
// Guarantees: the count is in 0..1024; anything else throws naming the key.
package dev.shoal.actors.node;

import com.typesafe.config.Config;
import dev.shoal.actors.worker.WorkerInfo;

public final class CpuRanks implements DeviceDiscovery {

    public static final String KEY = "shoal.node.cpu-ranks";

    @Override
    public String kind() {
        return WorkerInfo.CPU;
    }

    @Override
    public int count(Config config) {
        int n = config.getInt(KEY);
        if (n < 0 || n > 1024) throw new IllegalArgumentException(KEY + " must be in 0..1024, got " + n);
        return n;
    }

    @Override
    public Peak peak(Config config, int index) {
        return CpuPeak.of(config);
    }
}
