// Finds the devices of one node, one kind at a time. NodeAgent spawns one GpuWorker per device.
//
// Extension point: CpuRanks is built in; CUDA GPUs come from an implementation that asks
// nccl-native's availability check and is registered in META-INF/services under this interface
// (ShoalNode loads every registered DeviceDiscovery with java.util.ServiceLoader).
package dev.shoal.actors.node;

import com.typesafe.config.Config;

public interface DeviceDiscovery {

    /** The device kind this discovery finds: WorkerInfo.CPU or WorkerInfo.CUDA. */
    String kind();

    /** How many devices of this kind the node offers; 0 when none. Throws with the key on bad config. */
    int count(Config config);
}
