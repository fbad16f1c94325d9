// One compute device of one node, as the coordinator knows it: the node's cluster address, the
// device kind ("cpu" or "cuda") and the device's index on that node.
// Guarantees: all fields are set; id() is unique in a cluster and stable across coordinator moves.
package dev.shoal.actors.worker;

import dev.shoal.actors.serialization.ClusterMessage;

public record WorkerInfo(String node, String deviceKind, int localIndex) implements ClusterMessage {

    public static final String CPU = "cpu";
    public static final String CUDA = "cuda";

    public WorkerInfo {
        if (node == null || node.isBlank()) throw new IllegalArgumentException("worker node address is empty");
        if (!CPU.equals(deviceKind) && !CUDA.equals(deviceKind)) {
            throw new IllegalArgumentException("worker device kind must be cpu or cuda, got \"" + deviceKind + "\"");
        }
        if (localIndex < 0) throw new IllegalArgumentException("worker local index " + localIndex + " < 0");
    }

    /** e.g. "pekko://shoal@10.0.0.5:2552/cuda3". */
    public String id() {
        return node + "/" + deviceKind + localIndex;
    }
}
