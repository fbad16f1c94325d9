// Commit, recovery and retention: a corrupted byte, a missing shard, a torn manifest and a left-over
// temp folder are each passed over by latest() with one logged line naming the reason, and the
// previous checkpoint is used (and loads); a rank that fails to write makes rank 0 abandon the commit
// with that rank's error; retention keeps the last N plus every M-th and never the newest; the
// commit listener hears of a checkpoint only once its folder is complete; an async save, taken while
// training goes on, writes the same bytes as a sync save of the same state (the one with O_DIRECT
// where the file system supports it, the other buffered).
package dev.shoal.runtime.checkpoint;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.shoal.runtime.checkpoint.MeshRun.Layout;
import dev.shoal.runtime.tensor.Tensor;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.stream.Stream;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class CheckpointCommitTest {
    static final Layout LAYOUT = Layout.of(2, 1, 2, true);
    static Map<String, Tensor> init;

    @TempDir
    Path tmp;

    @BeforeAll
    static void weights() {
        init = MeshRun.initialWeights();
    }

    /** Trains LAYOUT and saves at each of the given steps (sync); returns the global state at each. */
    static List<Map<String, float[]>> saveAt(Path root, Checkpointer.Options o, long... steps) throws Exception {
        List<Map<String, float[]>> states = new ArrayList<>();
        try (MeshRun run = new MeshRun(LAYOUT, init)) {
            long done = 0;
            for (long s : steps) {
                run.train(done, s);
                done = s;
                run.onAll((r, t, c) -> {
                    try (Checkpointer ck = new Checkpointer(root, c, o)) {
                        return ck.saveSync(t, MeshRun.state(s));
                    }
                });
                states.add(run.global());
            }
        }
        return states;
    }

    static Map<String, float[]> loadGlobal(Path stepDir) throws Exception {
        try (MeshRun run = new MeshRun(Layout.of(1, 1, 1, false), null)) {
            run.onAll((r, t, c) -> CheckpointLoader.load(stepDir, t, c));
            return run.global();
        }
    }

    static void flipByte(Path f, long at) throws IOException {
        byte[] b = Files.readAllBytes(f);
        b[(int) at] ^= 0x40;
        Files.write(f, b);
    }

    static List<String> logOf(Path root, Optional<Path>[] out) throws IOException {
        List<String> log = Collections.synchronizedList(new ArrayList<>());
        out[0] = CheckpointDir.latest(root, true, log::add);
        return log;
    }

    @Test
    @SuppressWarnings("unchecked")
    void brokenCheckpointsArePassedOverWithAReason() throws Exception {
        Path root = tmp.resolve("ckpt");
        List<Map<String, float[]>> st =
                saveAt(root, Checkpointer.Options.defaults().withBlockBytes(4096), 2, 4);
        Path s2 = CheckpointDir.stepDir(root, 2), s4 = CheckpointDir.stepDir(root, 4);
        Optional<Path>[] got = new Optional[1];
        assertTrue(logOf(root, got).isEmpty());
        assertEquals(Optional.of(s4), got[0]);

        // 1. A corrupted byte in a shard: full verification finds it; a direct load fails naming the file.
        Path shard = s4.resolve("rank-00001.shard");
        flipByte(shard, Files.size(shard) / 2);
        List<String> log = logOf(root, got);
        assertEquals(Optional.of(s2), got[0]);
        assertEquals(1, log.size(), log.toString());
        assertTrue(
                log.get(0).contains("step-000004") && log.get(0).contains("rank-00001.shard: CRC32C mismatch"),
                log.get(0));
        Exception e = assertThrows(java.util.concurrent.ExecutionException.class, () -> loadGlobal(s4));
        assertTrue(e.getCause() instanceof CheckpointException, rootCause(e));
        assertTrue(e.getCause().getMessage().contains("rank-00001.shard: CRC32C mismatch"), rootCause(e));
        flipByte(shard, Files.size(shard) / 2);
        assertTrue(logOf(root, got).isEmpty());

        // 2. A missing shard file.
        Path moved = tmp.resolve("moved.shard");
        Files.move(s4.resolve("rank-00002.shard"), moved);
        log = logOf(root, got);
        assertEquals(Optional.of(s2), got[0]);
        assertEquals(1, log.size(), log.toString());
        assertTrue(log.get(0).contains("rank-00002.shard: missing shard file"), log.get(0));
        Files.move(moved, s4.resolve("rank-00002.shard"));

        // 3. A torn manifest.
        Path mf = s4.resolve(CheckpointDir.MANIFEST);
        byte[] whole = Files.readAllBytes(mf);
        Files.write(mf, java.util.Arrays.copyOf(whole, whole.length - 3));
        log = logOf(root, got);
        assertEquals(Optional.of(s2), got[0]);
        assertTrue(log.get(0).contains("manifest.pb") && log.get(0).contains("truncated"), log.get(0));
        Files.write(mf, whole);
        flipByte(mf, whole.length - 5);
        assertTrue(logOf(root, got).get(0).contains("CRC32C mismatch"));
        Files.write(mf, whole);

        // 4. A left-over temp folder of a later, uncommitted save.
        Path leftover = root.resolve("step-000006.tmp-e1");
        Files.createDirectories(leftover);
        Files.copy(s4.resolve("rank-00000.shard"), leftover.resolve("rank-00000.shard"));
        log = logOf(root, got);
        assertEquals(Optional.of(s4), got[0]);
        assertEquals(1, log.size(), log.toString());
        assertTrue(log.get(0).contains("step-000006.tmp-e1") && log.get(0).contains("uncommitted"), log.get(0));

        // The checkpoint latest() falls back to loads, and holds what was saved.
        Map<String, float[]> back = loadGlobal(s2);
        for (String k : st.get(0).keySet()) assertArrayEquals(st.get(0).get(k), back.get(k), k);
    }

    @Test
    void aRankThatFailsStopsTheCommit() throws Exception {
        Path root = tmp.resolve("ckpt");
        saveAt(root, Checkpointer.Options.defaults(), 2);
        // Rank 3 cannot create its shard file: a folder stands in its way.
        Files.createDirectories(root.resolve("step-000004.tmp-e1").resolve("rank-00003.shard"));
        Exception e = assertThrows(Exception.class, () -> saveAt(root, Checkpointer.Options.defaults(), 4));
        String msg = rootCause(e);
        assertTrue(msg.contains("rank 3") || msg.contains("rank-00003"), msg);
        assertEquals(Optional.of(CheckpointDir.stepDir(root, 2)), CheckpointDir.latest(root, true, s -> {}));
        assertTrue(!Files.exists(CheckpointDir.stepDir(root, 4)));
    }

    private static String rootCause(Throwable e) {
        StringBuilder sb = new StringBuilder();
        for (Throwable t = e; t != null; t = t.getCause())
            sb.append(t.getMessage()).append(" | ");
        return sb.toString();
    }

    @Test
    void retentionKeepsLastNAndEveryMth() throws Exception {
        Path root = tmp.resolve("ckpt");
        List<Long> durable = Collections.synchronizedList(new ArrayList<>());
        Checkpointer.Options o = Checkpointer.Options.defaults()
                .withRetention(new Retention(2, 4))
                .withListener(c -> {
                    // Durable means complete: the folder is in place and verifies.
                    try {
                        CheckpointDir.verify(c.dir(), true);
                    } catch (IOException ex) {
                        throw new AssertionError("listener told before the checkpoint was durable", ex);
                    }
                    durable.add(c.step());
                });
        saveAt(root, o, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10);
        assertEquals(List.of(1L, 2L, 3L, 4L, 5L, 6L, 7L, 8L, 9L, 10L), durable);
        assertEquals(List.of("step-000004", "step-000008", "step-000009", "step-000010"), names(root));
        // keep_last 1, keep_every 0: only the newest.
        assertEquals(java.util.Set.of(1L, 2L), new Retention(1, 0).toDelete(List.of(1L, 2L, 3L)));
    }

    static List<String> names(Path root) throws IOException {
        try (Stream<Path> s = Files.list(root)) {
            return s.map(p -> p.getFileName().toString()).sorted().toList();
        }
    }

    @Test
    void asyncSaveWritesTheSameBytesAsSyncWhileTrainingGoesOn() throws Exception {
        Path sync = tmp.resolve("sync"), async = tmp.resolve("async");
        try (MeshRun run = new MeshRun(LAYOUT, init)) {
            run.train(0, 2);
            // The sync save writes buffered, the async one with O_DIRECT where the file system has it.
            System.setProperty(Checkpointer.DIRECT_IO, "false");
            try {
                run.onAll((r, t, c) -> {
                    try (Checkpointer ck = new Checkpointer(sync, c, Checkpointer.Options.defaults())) {
                        return ck.saveSync(t, MeshRun.state(2));
                    }
                });
                assertTrue(!Checkpointer.lastWriteWasDirect());
            } finally {
                System.clearProperty(Checkpointer.DIRECT_IO);
            }
            java.util.concurrent.CountDownLatch trained = new java.util.concurrent.CountDownLatch(1);
            List<Checkpointer> cks = run.onAll((r, t, c) -> {
                Checkpointer ck = new Checkpointer(async, c, Checkpointer.Options.defaults());
                ck.beforeWrite(() -> {
                    try {
                        trained.await();
                    } catch (InterruptedException ex) {
                        throw new IllegalStateException(ex);
                    }
                });
                ck.save(t, MeshRun.state(2));
                return ck;
            });
            // Every writer is held until training has changed every parameter and moment.
            run.train(2, 4);
            trained.countDown();
            run.onAll((r, t, c) -> {
                cks.get(r).close();
                return null;
            });
        }
        System.out.println(
                "async save wrote its shards " + (Checkpointer.lastWriteWasDirect() ? "with O_DIRECT" : "buffered"));
        Path a = CheckpointDir.stepDir(sync, 2), b = CheckpointDir.stepDir(async, 2);
        assertEquals(names(a), names(b));
        for (String n : names(a)) {
            assertArrayEquals(Files.readAllBytes(a.resolve(n)), Files.readAllBytes(b.resolve(n)), n);
        }
    }
}
