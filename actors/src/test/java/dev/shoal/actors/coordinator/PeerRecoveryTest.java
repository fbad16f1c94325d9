// The coordinator's bookkeeping of the in-memory peer copies: a set is complete only when every rank
// of the mesh acknowledged the same step; the recovery source is the peer copies only when they are
// newer than the durable checkpoint and every shard has a live holder, else the durable checkpoint,
// and the reason says which; the plan rides in the rendezvous table of the mesh it was made for.
package dev.shoal.actors.coordinator;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.shoal.actors.worker.PeerRestore;
import dev.shoal.actors.worker.Rendezvous;
import dev.shoal.comm.ParallelDims;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import org.junit.jupiter.api.Test;
import org.slf4j.LoggerFactory;

class PeerRecoveryTest {
    static final List<String> WORKERS = List.of("w0", "w1", "w2", "w3");
    static final List<String> NODES = List.of("a", "a", "b", "c");

    /** The rendezvous of a tp 2 × dp 2 mesh over nodes a (ranks 0, 1), b (2), c (3). */
    static Rendezvous table(long epoch) {
        Map<String, byte[]> e = new HashMap<>();
        for (int r = 0; r < 4; r++)
            e.put(PeerRestore.peerKey(r), PeerRestore.peerEntry(NODES.get(r), "h:" + (9000 + r)));
        return new Rendezvous(epoch, e);
    }

    static PeerRecovery onMesh(long epoch) {
        PeerRecovery p = new PeerRecovery();
        p.onTable(table(epoch), WORKERS, ParallelDims.of(2, 1, 2), 2, "job", LoggerFactory.getLogger("test"));
        return p;
    }

    @Test
    void aSetIsCompleteOnlyWhenEveryRankAcknowledgedTheSameStep() {
        PeerRecovery p = onMesh(3);
        assertNull(p.acked(3, 0, 2));
        assertNull(p.acked(3, 1, 2));
        assertNull(p.acked(3, 2, 2));
        assertNull(p.acked(2, 3, 2), "an ack of another mesh epoch does not count");
        assertNull(p.acked(3, 3, 0), "0: nothing to report");
        Coordinator.PeerCopiesComplete c = p.acked(3, 3, 2);
        assertEquals(2, c.step());
        assertEquals(3, c.epoch());
        assertEquals(List.of(2, 3, 0, 1), c.buddies());
        assertEquals(List.of("h:9000", "h:9001", "h:9002", "h:9003"), c.endpoints());
        // Rank 3 lags: step 4 completes only once it reports 4, and once only.
        for (int r = 0; r < 3; r++) assertNull(p.acked(3, r, 4));
        assertEquals(4, p.acked(3, 3, 4).step());
        assertNull(p.acked(3, 3, 4));
    }

    @Test
    void recoveryUsesPeerCopiesOnlyWhenNewerAndEveryShardHasALiveHolder() {
        PeerRecovery p = onMesh(3);
        Coordinator.PeerCopiesComplete ten = new Coordinator.PeerCopiesComplete(
                3, 10, WORKERS, List.of(2, 3, 0, 1), List.of("h:9000", "h:9001", "h:9002", "h:9003"));
        p.apply(ten);

        // Node c (worker w3, rank 3) is gone: its shard is held by its buddy, rank 1 (w1); rank 1's own
        // buddy was rank 3, so only w1 itself holds rank 1's shard.
        PeerRecovery.Decision d = p.decide(5, 8, Set.of("w0", "w1", "w2"));
        assertTrue(d.fromPeers(), d.summary());
        assertEquals(10, d.step());
        assertEquals(
                List.of(List.of("h:9000", "h:9002"), List.of("h:9001"), List.of("h:9002", "h:9000"), List.of("h:9001")),
                d.restore().holders());
        assertTrue(d.summary().contains("in-memory peer copies of step 10"), d.summary());
        assertEquals(10, p.resumeAfter(5, 8), "mesh 5 resumes after the peer step");
        assertEquals(8, p.resumeAfter(6, 8), "another mesh epoch: the durable step");
        // The plan rides in mesh 5's rendezvous table, and round-trips.
        Rendezvous t = p.onTable(
                table(5),
                List.of("w0", "w1", "w2"),
                ParallelDims.of(1, 1, 3),
                2,
                "job",
                LoggerFactory.getLogger("test"));
        assertEquals(d.restore(), PeerRestore.decode(t.bytes(PeerRestore.KEY)));

        // Not newer than the durable checkpoint: durable, and it says why.
        PeerRecovery.Decision older = PeerRecovery.choose(ten, false, 12, Set.copyOf(WORKERS));
        assertFalse(older.fromPeers());
        assertEquals(12, older.step());
        assertTrue(older.why().contains("not newer"), older.why());
        // Rank 3 and its buddy rank 1 both gone: no holder of rank 3's shard.
        PeerRecovery.Decision lost = PeerRecovery.choose(ten, false, 8, Set.of("w0", "w2"));
        // (w1 holds ranks 1 and 3's copies; with w1 and w3 gone rank 1 has no holder)
        assertFalse(lost.fromPeers());
        assertTrue(lost.why().contains("rank 1's shard has no live holder"), lost.why());
        // No set, or a failed load of it: durable.
        assertFalse(PeerRecovery.choose(null, false, 8, Set.copyOf(WORKERS)).fromPeers());
        p.loadFailed();
        PeerRecovery.Decision after = p.decide(7, 8, Set.copyOf(WORKERS));
        assertFalse(after.fromPeers());
        assertTrue(after.why().contains("failed"), after.why());
        assertTrue(PeerRecovery.isPeerLoadFailure(
                new RuntimeException("IOException: " + PeerRestore.UNAVAILABLE + ": x")));
    }

    @Test
    void aMeshWithARankWithoutABuddyNeverCompletesASet() {
        PeerRecovery p = new PeerRecovery();
        Map<String, byte[]> e = new HashMap<>();
        e.put(PeerRestore.peerKey(0), PeerRestore.peerEntry("a", "h:1"));
        e.put(PeerRestore.peerKey(1), PeerRestore.peerEntry("a", "h:2"));
        p.onTable(
                new Rendezvous(2, e),
                List.of("w0", "w1"),
                ParallelDims.of(1, 1, 2),
                2,
                "job",
                LoggerFactory.getLogger("test"));
        assertNull(p.acked(2, 0, 2)); // (neither rank has a buddy on another node, so none would ack)
        assertNull(p.acked(2, 1, 4));
    }
}
