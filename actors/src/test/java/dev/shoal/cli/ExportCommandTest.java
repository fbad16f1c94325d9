// `shoal export`: a checkpoint saved by a (tp 2, dp 1) mesh exports to an HF directory holding the
// trained weights (fp32: bit for bit), from its step folder or its root; bad paths, a bad --dtype, a
// corrupt or missing shard and an occupied --out are one line naming the file, exit code 2.
package dev.shoal.cli;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.shoal.comm.ParallelDims;
import dev.shoal.runtime.checkpoint.CheckpointDir;
import dev.shoal.runtime.checkpoint.Checkpointer;
import dev.shoal.runtime.checkpoint.TrainingState;
import dev.shoal.runtime.hf.HfCheckpoint;
import dev.shoal.runtime.model.LlamaConfig;
import dev.shoal.runtime.model.LlamaModel;
import dev.shoal.runtime.optim.AdamWConfig;
import dev.shoal.runtime.parallel.BatchPlan;
import dev.shoal.runtime.parallel.DataParallelOptimizer;
import dev.shoal.runtime.parallel.ParallelTrainer;
import dev.shoal.runtime.parallel.ThreadMesh;
import dev.shoal.runtime.parallel.TpPlan;
import dev.shoal.runtime.tensor.Compute;
import dev.shoal.runtime.tensor.Tensor;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class ExportCommandTest {
    static final LlamaConfig TINY = LlamaConfig.preset("tiny");

    @TempDir
    Path tmp;

    /** Trains tiny one step on a tp 2 mesh of threads, saves step 1 under root; returns the full weights. */
    static Map<String, Tensor> saveTrained(Path root) throws Exception {
        ParallelDims dims = ParallelDims.of(2, 1, 1);
        ExecutorService pool = Executors.newFixedThreadPool(2);
        int[][] batch = new int[2][9];
        Random rnd = new Random(3);
        for (int[] s : batch) for (int i = 0; i < s.length; i++) s[i] = rnd.nextInt(TINY.vocab());
        try (ThreadMesh mesh = new ThreadMesh(dims, 1, 60_000)) {
            List<Future<Map<String, Tensor>>> fs = new ArrayList<>();
            for (int r = 0; r < 2; r++) {
                int rank = r;
                fs.add(pool.submit(() -> {
                    Compute cx = Compute.cpu(1);
                    ParallelTrainer t = new ParallelTrainer(
                            TINY,
                            mesh.comms(rank),
                            BatchPlan.of(2, 1, 1),
                            8,
                            DataParallelOptimizer.Mode.REPLICATED,
                            AdamWConfig.llama(),
                            cx);
                    LlamaModel init = new LlamaModel(TINY, 1, 8, cx, false);
                    init.initRandom(5);
                    t.loadFull(init.params());
                    t.step(batch, 1e-3, 1.0);
                    try (Checkpointer ck = new Checkpointer(root, mesh.comms(rank), Checkpointer.Options.defaults())) {
                        ck.saveSync(t, new TrainingState(1, 5, "constant 1e-3", 1e-3, null, Map.of()));
                    }
                    Map<String, Tensor> copy = new LinkedHashMap<>();
                    t.model().params().forEach((k, v) -> copy.put(k, v.copy()));
                    return copy;
                }));
            }
            List<Map<String, Tensor>> shards =
                    List.of(fs.get(0).get(), fs.get(1).get());
            Map<String, Tensor> full = new LinkedHashMap<>();
            try (Compute cx = Compute.cpu(1)) {
                new LlamaModel(TINY, 1, 8, cx, false).params().forEach((k, v) -> full.put(k, Tensor.zeros(v.shape())));
            }
            new TpPlan(TINY, 2).gather(shards, full);
            return full;
        } finally {
            pool.shutdownNow();
        }
    }

    @Test
    void exportsTheTrainedWeightsAndRefusesBadInput() throws Exception {
        Path root = tmp.resolve("ckpt");
        Map<String, Tensor> want = saveTrained(root);
        Path step = CheckpointDir.stepDir(root, 1);

        // From the step folder, fp32: the same floats.
        Path out = tmp.resolve("hf");
        ShoalCliTest.Run r =
                ShoalCliTest.run("export", "--checkpoint", step.toString(), "--out", out.toString(), "--dtype", "fp32");
        assertEquals(0, r.code(), r.err());
        assertTrue(r.out().contains("exported"), r.out());
        try (Compute cx = Compute.cpu(1)) {
            LlamaModel m = HfCheckpoint.load(out, 1, 8, cx, false);
            for (String k : want.keySet())
                assertArrayEquals(want.get(k).toArray(), m.params().get(k).toArray(), k);
        }
        // From the root, bf16 by default.
        r = ShoalCliTest.run(
                "export",
                "--checkpoint",
                root.toString(),
                "--out",
                tmp.resolve("hf16").toString());
        assertEquals(0, r.code(), r.err());

        // User mistakes: exit 2, one line naming the path.
        r = ShoalCliTest.run(
                "export",
                "--checkpoint",
                tmp.resolve("nope").toString(),
                "--out",
                tmp.resolve("x").toString());
        assertEquals(2, r.code());
        assertTrue(r.err().contains("nope: no such directory"), r.err());
        r = ShoalCliTest.run(
                "export",
                "--checkpoint",
                step.toString(),
                "--out",
                tmp.resolve("x").toString(),
                "--dtype",
                "f8");
        assertEquals(2, r.code());
        assertTrue(r.err().contains("--dtype must be bf16 or fp32"), r.err());
        r = ShoalCliTest.run("export", "--checkpoint", step.toString(), "--out", out.toString());
        assertEquals(2, r.code());
        assertTrue(r.err().contains("already holds a checkpoint"), r.err());

        Path shard = step.resolve("rank-00001.shard");
        byte[] b = Files.readAllBytes(shard);
        b[b.length / 3] ^= 8;
        Files.write(shard, b);
        r = ShoalCliTest.run(
                "export",
                "--checkpoint",
                step.toString(),
                "--out",
                tmp.resolve("y").toString());
        assertEquals(2, r.code());
        assertTrue(r.err().contains("rank-00001.shard: CRC32C mismatch"), r.err());
        assertEquals(1, r.err().strip().lines().count(), r.err());
        // From the root, the only checkpoint is corrupt: named on stderr, then refused.
        r = ShoalCliTest.run(
                "export",
                "--checkpoint",
                root.toString(),
                "--out",
                tmp.resolve("z").toString());
        assertEquals(2, r.code());
        assertTrue(r.err().contains("skipping step-000001") && r.err().contains("holds no committed"), r.err());

        Files.delete(shard);
        r = ShoalCliTest.run(
                "export",
                "--checkpoint",
                step.toString(),
                "--out",
                tmp.resolve("w").toString());
        assertEquals(2, r.code());
        assertTrue(r.err().contains("rank-00001.shard: missing shard file"), r.err());
    }
}
