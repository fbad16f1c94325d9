// A whole (tp, pp, dp) mesh of thread ranks in one JVM: one InJvmWorld group per TP group, per DP group
// and per pipeline, wired by ParallelDims' rank order (TP fastest, then DP, then PP).
// Guarantees: comms(rank).tp() of every rank of one TP group belongs to the same group, indexed by
// TP coordinate (likewise DP and PP); all groups share the mesh epoch and timeout.
package dev.shoal.runtime.parallel;

import dev.shoal.comm.Communicator;
import dev.shoal.comm.ParallelDims;
import dev.shoal.runtime.comm.InJvmWorld;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.function.Function;

public final class ThreadMesh implements AutoCloseable {
    private final ParallelDims dims;
    private final RankComms[] ranks;

    public ThreadMesh(ParallelDims dims, long epoch, long timeoutMillis) {
        this.dims = dims;
        int w = dims.world();
        Communicator[] tp = wire(dims::tpGroup, w, epoch, timeoutMillis);
        Communicator[] dp = wire(dims::dpGroup, w, epoch, timeoutMillis);
        Communicator[] pp = wire(dims::ppGroup, w, epoch, timeoutMillis);
        ranks = new RankComms[w];
        for (int r = 0; r < w; r++) {
            ranks[r] = new RankComms(r, dims.coord(r), tp[r], dp[r], pp[r]);
        }
    }

    /** For each rank, its communicator in the group that groupOf(rank) names (ordered by coordinate). */
    private static Communicator[] wire(
            Function<Integer, List<Integer>> groupOf, int world, long epoch, long timeoutMillis) {
        Communicator[] out = new Communicator[world];
        Map<List<Integer>, Communicator[]> made = new HashMap<>();
        for (int r = 0; r < world; r++) {
            List<Integer> g = groupOf.apply(r);
            Communicator[] comms = made.computeIfAbsent(g, k -> InJvmWorld.group(k.size(), epoch, timeoutMillis));
            out[r] = comms[g.indexOf(r)];
        }
        return out;
    }

    public ParallelDims dims() {
        return dims;
    }

    public RankComms comms(int globalRank) {
        return ranks[globalRank];
    }

    @Override
    public void close() {
        for (RankComms rc : ranks) {
            rc.tp().close();
            rc.dp().close();
            rc.pp().close();
        }
    }
}
