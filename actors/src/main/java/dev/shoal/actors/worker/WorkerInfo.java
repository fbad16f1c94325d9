// One compute device of one node, as the coordinator knows it: the node's cluster address, the
// device kind ("cpu" or "cuda"), the device's index on that node, and the "host:port" its
// collective backend listens on (the rendezvous address the coordinator hands to every rank), and
// the device's peak FLOP/s with where that number came from (for MFU; 0 and "" when unknown).
// Guarantees: node, kind and index are set; peakFlops >= 0 and finite; id() is unique in a cluster
// and stable across coordinator moves (it does not include the backend address, which changes when a
// worker restarts).
package dev.shoal.actors.worker;

import dev.shoal.actors.serialization.ClusterMessage;

public record WorkerInfo(
        String node, String deviceKind, int localIndex, String backendAddress, double peakFlops, String peakSource)
        implements ClusterMessage {

    public static final String CPU = "cpu";
    public static final String CUDA = "cuda";

    public WorkerInfo {
        if (node == null || node.isBlank()) throw new IllegalArgumentException("worker node address is empty");
        if (!CPU.equals(deviceKind) && !CUDA.equals(deviceKind)) {
            throw new IllegalArgumentException("worker device kind must be cpu or cuda, got \"" + deviceKind + "\"");
        }
        if (localIndex < 0) throw new IllegalArgumentException("worker local index " + localIndex + " < 0");
        if (backendAddress == null) backendAddress = "";
        if (!(peakFlops >= 0) || Double.isInfinite(peakFlops)) {
            throw new IllegalArgumentException("worker peak FLOP/s must be >= 0 and finite, got " + peakFlops);
        }
        if (peakSource == null) peakSource = "";
    }

    /** A device whose peak is not known. */
    public WorkerInfo(String node, String deviceKind, int localIndex, String backendAddress) {
        this(node, deviceKind, localIndex, backendAddress, 0, "");
    }

    /** A device without a collective backend address (yet). */
    public WorkerInfo(String node, String deviceKind, int localIndex) {
        this(node, deviceKind, localIndex, "");
    }

    /** The same device, reachable for collectives at {@code address} ("host:port"). */
    public WorkerInfo withBackend(String address) {
        return new WorkerInfo(node, deviceKind, localIndex, address, peakFlops, peakSource);
    }

    /** The same device with its peak FLOP/s ({@code source}: e.g. "configured", "measured", "h100 datasheet"). */
    public WorkerInfo withPeak(double flops, String source) {
        return new WorkerInfo(node, deviceKind, localIndex, backendAddress, flops, source);
    }

    /** e.g. "pekko://shoal@10.0.0.5:2552/cuda3". */
    public String id() {
        return node + "/" + deviceKind + localIndex;
    }

    /** The node's host, e.g. "10.0.0.5" for "pekko://shoal@10.0.0.5:2552". */
    public String host() {
        int at = node.indexOf('@');
        int colon = node.lastIndexOf(':');
        if (at < 0 || colon < at) return node;
        return node.substring(at + 1, colon);
    }
}
