// Rendezvous.forRank: each rank gets exactly its TP, DP and PP groups' TCP endpoints and its groups' NCCL
// ids (plus entries of other kinds), so the shares of one mesh grow as world × (tp + dp + pp), not world².
package dev.shoal.actors.worker;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.shoal.comm.ParallelDims;
import java.nio.charset.StandardCharsets;
import java.util.HashMap;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;
import org.junit.jupiter.api.Test;

class RendezvousTest {

    private static Rendezvous table(ParallelDims dims) {
        Map<String, byte[]> e = new HashMap<>();
        for (int r = 0; r < dims.world(); r++) {
            e.put(Rendezvous.tcpKey(r), ("10.0.0." + r + ":4000").getBytes(StandardCharsets.UTF_8));
            for (Rendezvous.Axis axis : Rendezvous.Axis.values()) {
                if (Rendezvous.isRoot(dims, r, axis)) e.put(Rendezvous.ncclKey(dims, r, axis), new byte[] {(byte) r});
            }
        }
        e.put("other/flag", new byte[] {1});
        return new Rendezvous(3, e);
    }

    @Test
    void aRankGetsItsGroupsEndpointsAndIdsAndNothingElse() {
        ParallelDims dims = new ParallelDims(2, 2, 3, 12);
        Rendezvous all = table(dims);
        for (int rank = 0; rank < dims.world(); rank++) {
            Rendezvous share = all.forRank(dims, rank);
            assertEquals(3, share.epoch());
            Set<Integer> peers = new TreeSet<>();
            peers.addAll(dims.tpGroup(rank));
            peers.addAll(dims.dpGroup(rank));
            peers.addAll(dims.ppGroup(rank));
            Set<String> want = new TreeSet<>();
            for (int p : peers) want.add(Rendezvous.tcpKey(p));
            for (Rendezvous.Axis axis : Rendezvous.Axis.values()) want.add(Rendezvous.ncclKey(dims, rank, axis));
            want.add("other/flag");
            assertEquals(want, share.entries().keySet(), "rank " + rank);
            for (int p : peers) assertEquals(all.tcpEndpoint(p), share.tcpEndpoint(p));
            int outsider = -1;
            for (int r = 0; r < dims.world() && outsider < 0; r++) if (!peers.contains(r)) outsider = r;
            int o = outsider;
            assertThrows(IllegalStateException.class, () -> share.tcpEndpoint(o), "rank " + o + " is no peer");
        }
    }

    @Test
    void theSharesOfABigMeshAreLinearInTheWorld() {
        ParallelDims dims = new ParallelDims(8, 8, 64, 4096);
        Rendezvous all = table(dims);
        long entries = 0;
        for (int rank = 0; rank < dims.world(); rank += 97)
            entries += all.forRank(dims, rank).entries().size();
        int sampled = (dims.world() + 96) / 97;
        // tp + dp + pp - 2 endpoints, 4 group ids, 1 other entry per rank; the whole table is 4096 + roots + 1.
        assertEquals((8 + 64 + 8 - 2) + 4 + 1, entries / (double) sampled, 0.0);
        assertTrue(all.entries().size() > 4096);
    }

    @Test
    void aNodesShareGivesEachOfItsRanksWhatTheWholeTableWould() {
        ParallelDims dims = new ParallelDims(2, 2, 3, 12);
        Rendezvous all = table(dims);
        for (int node = 0; node < dims.world() / 4; node++) {
            java.util.List<Integer> ranks = java.util.List.of(4 * node, 4 * node + 1, 4 * node + 2, 4 * node + 3);
            Rendezvous share = all.forRanks(dims, ranks);
            for (int rank : ranks) assertEquals(all.forRank(dims, rank), share.forRank(dims, rank), "rank " + rank);
            Set<String> union = new TreeSet<>();
            for (int rank : ranks)
                union.addAll(all.forRank(dims, rank).entries().keySet());
            assertEquals(union, share.entries().keySet(), "node " + node + " gets the union of its ranks' shares");
        }
        Rendezvous empty = new Rendezvous(3, Map.of());
        assertEquals(empty, empty.forRanks(dims, java.util.List.of(0, 5)));
    }
}
