// Reductions that allReduce and reduceScatter apply element-wise across the ranks of a group.
// Guarantees: AVG is SUM divided by the group size, computed in the buffer's precision.
package dev.shoal.comm;

public enum ReduceOp {
    SUM,
    AVG,
    MAX
}
