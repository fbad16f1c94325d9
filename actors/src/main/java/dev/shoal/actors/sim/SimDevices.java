// The simulated GPUs of one node: shoal.sim.devices-per-node of them (0, the default, offers none),
// reported as CUDA devices so the coordinator places them as it would real GPUs. Pair it with the
// simulated engine (shoal.node.engine = dev.shoal.actors.sim.SimStepRunner$Factory).
// Guarantees: the count is in 0..1024; anything else throws naming the key.
package dev.shoal.actors.sim;

import com.typesafe.config.Config;
import dev.shoal.actors.node.DeviceDiscovery;
import dev.shoal.actors.worker.WorkerInfo;

public final class SimDevices implements DeviceDiscovery {

    public static final String KEY = "shoal.sim.devices-per-node";

    @Override
    public String kind() {
        return WorkerInfo.CUDA;
    }

    @Override
    public int count(Config config) {
        return perNode(config);
    }

    static int perNode(Config config) {
        int n = config.hasPath(KEY) ? config.getInt(KEY) : 0;
        if (n < 0 || n > 1024) throw new IllegalArgumentException(KEY + " must be in 0..1024, got " + n);
        return n;
    }
}
