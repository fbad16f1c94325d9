// The in-memory peer copies, in one JVM: buddy choice; a PeerShard holds exactly the durable shard's
// bytes and index; shards sent over PeerCopyService to a store and fetched back load at other layouts
// (resharding from memory) to the saved state bit for bit; a damaged copy or a missing rank is refused
// naming it; the store keeps at most two copies per sender and drops older mesh epochs.
package dev.shoal.runtime.checkpoint;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.shoal.comm.ParallelDims;
import dev.shoal.proto.v1.checkpoint.CheckpointManifest;
import dev.shoal.proto.v1.checkpoint.RankIndex;
import dev.shoal.runtime.checkpoint.MeshRun.Layout;
import dev.shoal.runtime.tensor.Tensor;
import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class PeerCheckpointTest {
    static final long STEP = 2;
    static final Duration T = Duration.ofSeconds(10);
    static Map<String, Tensor> init;

    @TempDir
    Path tmp;

    @BeforeAll
    static void weights() {
        init = MeshRun.initialWeights();
    }

    @Test
    void buddyIsTheSamePositionInTheNextReplicaOnAnotherNode() {
        // tp 2 × dp 2 over nodes a (ranks 0, 1), b (rank 2), c (rank 3): replica 0 ↔ replica 1.
        assertArrayEquals(
                new int[] {2, 3, 0, 1}, PeerBuddies.of(ParallelDims.of(2, 1, 2), List.of("a", "a", "b", "c")));
        // dp 3, one replica per node except replicas 0 and 1 sharing node a: rank 0 skips to replica 2.
        assertArrayEquals(new int[] {2, 2, 0}, PeerBuddies.of(ParallelDims.of(1, 1, 3), List.of("a", "a", "b")));
        // No other replica, or every replica on one node: no buddy, and the log text says who.
        int[] none = PeerBuddies.of(ParallelDims.of(2, 1, 1), List.of("a", "b"));
        assertArrayEquals(new int[] {PeerBuddies.NONE, PeerBuddies.NONE}, none);
        assertEquals("0, 1", PeerBuddies.without(none));
        assertArrayEquals(
                new int[] {-1, -1, -1, -1}, PeerBuddies.of(ParallelDims.of(1, 2, 2), List.of("a", "a", "a", "a")));
        // pp 2 × dp 2, a node per replica: each stage's rank pairs with the same stage of the other replica.
        ParallelDims d = ParallelDims.of(1, 2, 2);
        List<String> nodes = new ArrayList<>();
        for (int r = 0; r < 4; r++) nodes.add("n" + d.coord(r).dp());
        int[] b = PeerBuddies.of(d, nodes);
        for (int r = 0; r < 4; r++) {
            assertEquals(d.coord(r).pp(), d.coord(b[r]).pp());
            assertEquals(d.coord(r).tp(), d.coord(b[r]).tp());
            assertTrue(!nodes.get(r).equals(nodes.get(b[r])));
        }
        assertEquals("", PeerBuddies.without(b));
        assertThrows(IllegalArgumentException.class, () -> PeerBuddies.of(d, List.of("a")));
    }

    @Test
    void peerCopiesHoldTheDurableShardAndReloadAtOtherLayouts() throws Exception {
        Layout saving = Layout.of(2, 1, 2, true);
        PeerCopyStore[] stores = {new PeerCopyStore(), new PeerCopyStore()};
        PeerCopyService[] servers = {
            PeerCopyService.start("127.0.0.1", stores[0]), PeerCopyService.start("127.0.0.1", stores[1])
        };
        try {
            Map<String, float[]> saved;
            List<PeerShard> shards;
            Path stepDir;
            try (MeshRun run = new MeshRun(saving, init)) {
                run.train(0, STEP);
                shards = run.onAll((r, t, c) -> PeerShard.snapshot(t, c, MeshRun.state(STEP), 4096));
                List<Path> dirs = run.onAll((r, t, c) -> {
                    try (Checkpointer ck = new Checkpointer(
                            tmp, c, Checkpointer.Options.defaults().withBlockBytes(4096))) {
                        return ck.saveSync(t, MeshRun.state(STEP));
                    }
                });
                stepDir = dirs.get(0);
                saved = run.global();
                run.train(STEP, STEP + 1); // the trainers move on; the copies must not
            }
            // 1. Same bytes and the same tensor list, state and mesh as the durable shards.
            CheckpointManifest durable = CheckpointDir.verify(stepDir, true);
            for (PeerShard s : shards) {
                byte[] file = Files.readAllBytes(stepDir.resolve(CheckpointDir.shardFile(s.rank())));
                byte[] mem = new byte[(int) s.bytes()];
                s.slice(0, mem.length).get(mem);
                assertArrayEquals(file, mem, "rank " + s.rank() + ": peer copy bytes = durable shard bytes");
                assertEquals(durable.getState(), s.index().getState());
                assertEquals(durable.getMesh(), s.index().getMesh());
            }
            List<RankIndex> indexes = shards.stream().map(PeerShard::index).toList();
            CheckpointManifest m = PeerCheckpoint.manifest(indexes);
            assertEquals(durable.getTensorsList(), m.getTensorsList());
            assertEquals(durable.getFilesList(), m.getFilesList());

            // 2. Each rank's copy goes to store r % 2 over TCP; the index comes back as sent.
            for (PeerShard s : shards) {
                PeerCopyService.send(servers[s.rank() % 2].endpoint(), s, T);
                assertEquals(
                        s.index(),
                        PeerCopyService.fetchIndex(servers[s.rank() % 2].endpoint(), s.meshEpoch(), s.rank(), STEP, T));
            }
            long epoch = shards.get(0).meshEpoch();
            assertNull(PeerCopyService.fetchIndex(servers[0].endpoint(), epoch, 1, STEP, T), "rank 1 is in store 1");
            for (PeerShard s : shards) s.release();

            // 3. Load at other layouts from the copies, fetched over TCP: the saved state bit for bit.
            for (Layout target : List.of(Layout.of(2, 1, 1, false), Layout.of(1, 1, 1, false), saving)) {
                try (MeshRun run = new MeshRun(target, null)) {
                    List<CheckpointLoader.Restored> res = run.onAll((r, t, c) -> PeerCheckpoint.load(
                            m,
                            rank -> PeerCopyService.fetchShard(servers[rank % 2].endpoint(), epoch, rank, STEP, T),
                            t,
                            c));
                    for (CheckpointLoader.Restored x : res) {
                        assertEquals(STEP, x.state().step());
                        assertEquals(STEP, x.adamwSteps());
                        assertEquals(MeshRun.SEED, x.state().seed());
                        assertEquals("ckpt-test", x.state().extra().get("job"));
                    }
                    CheckpointReshardTest.assertStateEquals(saved, run.global(), "loaded from peers at " + target);
                }
            }

            // 4. A damaged byte in a held copy is refused, naming the rank and the tensor.
            PeerShard held = stores[1].get(epoch, 1, STEP);
            ByteBuffer b = held.slice(100, 4);
            b.putInt(0, b.getInt(0) ^ 0x01000000);
            held.release();
            try (MeshRun run = new MeshRun(Layout.of(1, 1, 1, false), null)) {
                Exception e = assertThrows(
                        Exception.class,
                        () -> run.onAll((r, t, c) ->
                                PeerCheckpoint.load(m, rank -> stores[rank % 2].get(epoch, rank, STEP), t, c)));
                assertTrue(String.valueOf(e.getMessage()).contains("rank 1's copy of"), e.getMessage());
                assertTrue(String.valueOf(e.getMessage()).contains("CRC32C mismatch"), e.getMessage());
            }
            // 5. A set without every rank is not a checkpoint.
            CheckpointException missing =
                    assertThrows(CheckpointException.class, () -> PeerCheckpoint.manifest(indexes.subList(0, 3)));
            assertTrue(missing.getMessage().contains("no shard of rank 3"), missing.getMessage());
        } finally {
            for (PeerCopyService s : servers) s.close();
            for (PeerCopyStore s : stores) s.close();
        }
    }

    @Test
    void theStoreKeepsTwoCopiesPerSenderAndDropsOlderMeshEpochs() throws Exception {
        try (MeshRun run = new MeshRun(Layout.of(1, 1, 1, false), init);
                PeerCopyStore store = new PeerCopyStore()) {
            long one = 0;
            for (long step : new long[] {2, 4, 6}) {
                PeerShard s = run.onAll((r, t, c) -> PeerShard.snapshot(t, c, MeshRun.state(step), 4096))
                        .get(0);
                one = s.bytes();
                store.put(s);
            }
            long e = run.onAll((r, t, c) -> c.tp().epoch()).get(0);
            assertNull(store.get(e, 0, 2), "the oldest of three copies is dropped");
            PeerShard four = store.get(e, 0, 4);
            assertEquals(4, four.step());
            four.release();
            assertEquals(2 * one, store.bytesHeld());
            assertTrue(store.describe().contains("rank 0 steps [4, 6]"), store.describe());
            assertNull(store.get(e + 1, 0, 4), "another epoch's copy is not this one");
        }
    }
}
