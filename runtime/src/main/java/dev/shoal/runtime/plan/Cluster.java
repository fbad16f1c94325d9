// A cluster of identical nodes: nodes × gpusPerNode GPUs of one kind. Knows which link a parallel
// group's collectives cross, given Shoal's mesh order (TP fastest, then DP, then PP; see
// dev.shoal.comm.ParallelDims): a group whose ranks all sit inside one node uses NVLink, any other IB.
// Guarantees: sizes are >= 1; link() never returns NVLink for a group that spans two nodes.
package dev.shoal.runtime.plan;

public record Cluster(int nodes, int gpusPerNode, GpuSpec gpu) {
    public Cluster {
        if (nodes < 1 || gpusPerNode < 1) {
            throw new IllegalArgumentException("cluster needs nodes >= 1 and gpus per node >= 1, got nodes " + nodes
                    + ", gpus per node " + gpusPerNode);
        }
        if (gpu == null) throw new IllegalArgumentException("cluster needs a gpu spec");
    }

    public int world() {
        return nodes * gpusPerNode;
    }

    /** A link's achievable bus bandwidth (bytes/s, one direction, per GPU) and per-step latency (s). */
    public record Link(String name, double bytesPerSec, double latencySeconds) {}

    public Link nvlink() {
        return new Link("NVLink", gpu.nvlinkBytesPerSec(), gpu.nvlinkLatencySeconds());
    }

    public Link ib() {
        return new Link("IB", gpu.ibBytesPerSec(), gpu.ibLatencySeconds());
    }

    /**
     * The link of a group whose members are {@code span} consecutive ranks apart in total (TP: tp; DP:
     * tp·dp; PP: the whole world). Groups start at multiples of their span, so a span that divides the
     * node's GPU count stays inside one node.
     */
    public Link linkForSpan(int span) {
        return span <= gpusPerNode && gpusPerNode % span == 0 ? nvlink() : ib();
    }
}
