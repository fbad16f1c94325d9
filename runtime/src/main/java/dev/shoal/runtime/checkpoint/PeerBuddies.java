// Who keeps whose in-memory peer copy: the buddy of a rank is the rank at the same (tp, pp) position
// in the next DP replica (replica d + 1, then d + 2, ... wrapping around) whose node differs from the
// rank's own node. A copy on the same node would die with it, so a rank with no such replica (dp 1, or
// every replica of its position on its node) gets no buddy and sends no copy.
// Guarantees: pure and deterministic (the coordinator and every rank compute the same map from the
// mesh and the node of each rank); a buddy is never the rank itself nor on its node.
package dev.shoal.runtime.checkpoint;

import dev.shoal.comm.ParallelDims;
import java.util.List;

public final class PeerBuddies {
    private PeerBuddies() {}

    /** Marks a rank without a buddy. */
    public static final int NONE = -1;

    /**
     * The buddy of every rank of {@code dims}, or NONE; {@code nodeOfRank} names the node of each
     * global rank (any string that is equal exactly for ranks on one machine).
     */
    public static int[] of(ParallelDims dims, List<String> nodeOfRank) {
        if (nodeOfRank.size() != dims.world()) {
            throw new IllegalArgumentException(
                    "mesh " + dims + " has " + dims.world() + " ranks, got " + nodeOfRank.size() + " node names");
        }
        int[] buddy = new int[dims.world()];
        for (int r = 0; r < dims.world(); r++) {
            ParallelDims.Coord c = dims.coord(r);
            buddy[r] = NONE;
            for (int d = 1; d < dims.dp(); d++) {
                int other = dims.rank(c.tp(), c.pp(), (c.dp() + d) % dims.dp());
                if (!nodeOfRank.get(other).equals(nodeOfRank.get(r))) {
                    buddy[r] = other;
                    break;
                }
            }
        }
        return buddy;
    }

    /** The ranks without a buddy, as text for a log line ("" when every rank has one). */
    public static String without(int[] buddy) {
        StringBuilder b = new StringBuilder();
        for (int r = 0; r < buddy.length; r++) {
            if (buddy[r] == NONE) b.append(b.isEmpty() ? "" : ", ").append(r);
        }
        return b.toString();
    }
}
