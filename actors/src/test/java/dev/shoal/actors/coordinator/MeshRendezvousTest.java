// MeshRendezvous, the coordinator's gather/hand-out of one mesh epoch: complete only when every rank
// answered, stale epochs and repeats dropped, conflicting keys named.
package dev.shoal.actors.coordinator;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.shoal.actors.worker.Rendezvous;
import dev.shoal.comm.ParallelDims;
import java.nio.charset.StandardCharsets;
import java.util.Map;
import java.util.Set;
import org.junit.jupiter.api.Test;

class MeshRendezvousTest {

    private static byte[] b(String s) {
        return s.getBytes(StandardCharsets.UTF_8);
    }

    @Test
    void gathersEveryRanksEntriesInAnyOrderAndHandsOutTheUnion() {
        MeshRendezvous rv = new MeshRendezvous(5, 3);
        assertEquals(MeshRendezvous.Outcome.WAITING, rv.offer(5, 2, Map.of("tcp/rank2", b("h:3"))));
        assertEquals(Set.of(0, 1), rv.missing());
        IllegalStateException early = assertThrows(IllegalStateException.class, rv::table);
        assertTrue(early.getMessage().contains("ranks [0, 1] have not answered"), early.getMessage());
        assertEquals(
                MeshRendezvous.Outcome.WAITING,
                rv.offer(5, 0, Map.of("tcp/rank0", b("h:1"), "nccl/world", new byte[] {9, 9})));
        assertEquals(MeshRendezvous.Outcome.COMPLETE, rv.offer(5, 1, Map.of("tcp/rank1", b("h:2"))));
        Rendezvous t = rv.table();
        assertEquals(5, t.epoch());
        assertEquals(
                Set.of("tcp/rank0", "tcp/rank1", "tcp/rank2", "nccl/world"),
                t.entries().keySet());
        assertEquals("h:2", t.tcpEndpoint(1));
        assertArrayEquals(new byte[] {9, 9}, t.bytes("nccl/world"));
    }

    @Test
    void staleEpochsAndRepeatedAnswersChangeNothing() {
        MeshRendezvous rv = new MeshRendezvous(7, 2);
        assertEquals(MeshRendezvous.Outcome.STALE, rv.offer(6, 0, Map.of("tcp/rank0", b("old"))));
        assertEquals(MeshRendezvous.Outcome.STALE, rv.offer(8, 0, Map.of("tcp/rank0", b("new"))));
        assertEquals(Set.of(0, 1), rv.missing());
        assertEquals(MeshRendezvous.Outcome.WAITING, rv.offer(7, 0, Map.of("tcp/rank0", b("a"))));
        assertEquals(MeshRendezvous.Outcome.DUPLICATE, rv.offer(7, 0, Map.of("tcp/rank0", b("b"))));
        assertEquals(MeshRendezvous.Outcome.COMPLETE, rv.offer(7, 1, Map.of()));
        assertEquals("a", rv.table().tcpEndpoint(0));
    }

    @Test
    void twoRanksPublishingOneKeyIsAConflictNamingBoth() {
        MeshRendezvous rv = new MeshRendezvous(1, 2);
        rv.offer(1, 0, Map.of("nccl/world", new byte[] {1}));
        assertEquals(MeshRendezvous.Outcome.CONFLICT, rv.offer(1, 1, Map.of("nccl/world", new byte[] {2})));
        assertTrue(rv.problem().contains("ranks 0 and 1 both published rendezvous entry 'nccl/world'"), rv.problem());
        assertThrows(IllegalArgumentException.class, () -> rv.offer(1, 2, Map.of()));
    }

    @Test
    void groupRootsAndNamesAgreeOnEveryMember() {
        ParallelDims d = ParallelDims.of(2, 2, 2); // rank = tp + 2·(dp + 2·pp)
        // rank 5 = tp 1, dp 0, pp 1: its DP group is [5, 7] with root 5; its TP group [4, 5] with root 4.
        assertEquals("nccl/dp/pp1/tp1", Rendezvous.ncclKey(d, 5, Rendezvous.Axis.DP));
        assertEquals(Rendezvous.ncclKey(d, 5, Rendezvous.Axis.DP), Rendezvous.ncclKey(d, 7, Rendezvous.Axis.DP));
        assertTrue(Rendezvous.isRoot(d, 5, Rendezvous.Axis.DP));
        assertTrue(!Rendezvous.isRoot(d, 7, Rendezvous.Axis.DP));
        assertTrue(!Rendezvous.isRoot(d, 5, Rendezvous.Axis.TP));
        assertTrue(Rendezvous.isRoot(d, 4, Rendezvous.Axis.TP));
        assertEquals("nccl/world", Rendezvous.ncclKey(d, 6, Rendezvous.Axis.WORLD));
        // Every group has exactly one root.
        for (Rendezvous.Axis a : Rendezvous.Axis.values()) {
            Map<String, Integer> roots = new java.util.HashMap<>();
            for (int r = 0; r < d.world(); r++) {
                if (Rendezvous.isRoot(d, r, a)) assertEquals(null, roots.put(Rendezvous.ncclKey(d, r, a), r));
            }
            for (int r = 0; r < d.world(); r++) assertTrue(roots.containsKey(Rendezvous.ncclKey(d, r, a)));
        }
        IllegalStateException missing =
                assertThrows(IllegalStateException.class, () -> new Rendezvous(3, Map.of()).bytes("nccl/world"));
        assertTrue(missing.getMessage().contains("mesh epoch 3 has no entry 'nccl/world'"), missing.getMessage());
    }
}
