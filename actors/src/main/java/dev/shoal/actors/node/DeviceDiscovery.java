// Finds the devices of one node, one kind at a time. NodeAgent spawns one GpuWorker per device.
//
// Extension point: CpuRanks is built in; CUDA GPUs come from an implementation that asks
// nccl-native's availability check and is registered in META-INF/services under this interface
// (ShoalNode loads every registered DeviceDiscovery with java.util.ServiceLoader). Each discovery also
// says what one of its devices can do at best (its peak FLOP/s, for MFU) and where that number comes from.
package dev.shoal.actors.node;

import com.typesafe.config.Config;

public interface DeviceDiscovery {

    /** The device kind this discovery finds: WorkerInfo.CPU or WorkerInfo.CUDA. */
    String kind();

    /** How many devices of this kind the node offers; 0 when none. Throws with the key on bad config. */
    int count(Config config);

    /** Peak FLOP/s of device {@code index} for MFU, and its source; {@link Peak#UNKNOWN} when there is none. */
    default Peak peak(Config config, int index) {
        return Peak.UNKNOWN;
    }

    /** A device's peak FLOP/s (0: unknown) and where it came from, e.g. "configured", "h100 datasheet". */
    record Peak(double flops, String source) {
        public static final Peak UNKNOWN = new Peak(0, "");

        public Peak {
            if (!(flops >= 0) || Double.isInfinite(flops)) {
                throw new IllegalArgumentException("peak FLOP/s must be >= 0 and finite, got " + flops);
            }
            if (source == null) source = "";
        }
    }
}
