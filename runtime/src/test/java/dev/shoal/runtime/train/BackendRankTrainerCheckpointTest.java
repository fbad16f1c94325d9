// GPU-rank checkpoints in the sharded format, checked on every build through the host stand-in of
// the GPU (HostOps: the same BackendLlama code, offsets and kernel semantics, in host memory; its
// "device" addresses are host addresses, so two ranks average gradients over an in-JVM DP group):
// - two GPU ranks (dp 2) save after step 3; a fresh pair loading it continues with bit-identical losses
//   (master weights, both AdamW moments and the AdamW step count all came back);
// - a CPU rank (the engine's RankTrainer, tp 1 × pp 1 × dp 1) loads the GPU checkpoint: its fp32
//   weights equal the GPU ranks' master weights bit for bit, and it continues within bf16 tolerance;
// - the CPU rank's own checkpoint loads into a GPU rank, weights again bit for bit.
// The same round trip on a real GPU is BackendRankTrainerGpuTest's checkpoint test.
package dev.shoal.runtime.train;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.shoal.comm.Communicator;
import dev.shoal.comm.ParallelDims;
import dev.shoal.runtime.checkpoint.CheckpointDir;
import dev.shoal.runtime.checkpoint.Checkpointer;
import dev.shoal.runtime.checkpoint.FlatRank;
import dev.shoal.runtime.checkpoint.TrainingState;
import dev.shoal.runtime.comm.InJvmWorld;
import dev.shoal.runtime.cuda.HostOps;
import dev.shoal.runtime.model.LlamaModel;
import dev.shoal.runtime.parallel.RankComms;
import dev.shoal.runtime.tensor.Compute;
import dev.shoal.runtime.tensor.Tensor;
import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class BackendRankTrainerCheckpointTest {
    static final int SAVE_AT = 3, END = 5;

    @TempDir
    static Path dir;

    static JobConfig job;

    @BeforeAll
    static void data() throws IOException {
        TrainFixture.prepare(dir);
        job = JobConfigReader.load(TrainFixture.config(dir, "gpu-ckpt.conf", "ckpt-unused", ""));
    }

    static TrainingState state(long step) {
        return TrainFixture.state(job, step);
    }

    static RankComms comms(ParallelDims dims, int rank, Communicator dp) {
        return new RankComms(
                rank, dims.coord(rank), InJvmWorld.group(1, 1, 30_000)[0], dp, InJvmWorld.group(1, 1, 30_000)[0]);
    }

    /**
     * DP rank `rank` of 2 on the host stand-in: loads `from` (or starts from the job's init), trains to
     * END, saving after SAVE_AT into `saveRoot` when given; returns the losses of steps [start, END) and
     * fills `weightsAtSave` (rank 0) with the master weights after SAVE_AT.
     */
    static List<Double> gpuRank(
            int rank, Communicator dp, Path from, Path saveRoot, LlamaModel weightsAtSave, boolean zero1)
            throws IOException {
        ParallelDims dims = ParallelDims.of(1, 1, 2);
        List<Double> losses = new ArrayList<>();
        try (HostOps ops = new HostOps();
                BackendRankTrainer t = new BackendRankTrainer(job, dims, dp, ops, zero1);
                Checkpointer ck = saveRoot == null
                        ? null
                        : new Checkpointer(saveRoot, comms(dims, rank, dp), Checkpointer.Options.defaults())) {
            long start = 0;
            if (from != null) {
                // Odd-sized chunks on ZeRO-1 ranks: a load cut into pieces that straddle tensors and the rank's range.
                long chunk = zero1 ? TrainData.modelConfig(job).paramCount() / 3 + 7 : 64L << 20;
                start = t.load(from, chunk).state().step();
                assertEquals(SAVE_AT, start);
                assertEquals(SAVE_AT, t.stepsDone());
            }
            for (long s = start; s < END; s++) {
                losses.add(t.step(s, t.rows(s)).loss());
                if (s + 1 == SAVE_AT && ck != null) {
                    t.save(ck, state(SAVE_AT));
                    ck.await();
                }
                if (s + 1 == SAVE_AT && weightsAtSave != null) t.downloadParams(weightsAtSave);
            }
        }
        return losses;
    }

    static List<List<Double>> gpuPair(Path from, Path saveRoot, LlamaModel weightsAtSave) throws Exception {
        return gpuPair(from, saveRoot, weightsAtSave, false);
    }

    static List<List<Double>> gpuPair(Path from, Path saveRoot, LlamaModel weightsAtSave, boolean zero1)
            throws Exception {
        Communicator[] dp = InJvmWorld.group(2, 1, 60_000);
        ExecutorService pool = Executors.newFixedThreadPool(2);
        try {
            Future<List<Double>> r0 = pool.submit(() -> gpuRank(0, dp[0], from, saveRoot, weightsAtSave, zero1));
            Future<List<Double>> r1 = pool.submit(() -> gpuRank(1, dp[1], from, saveRoot, null, zero1));
            return List.of(r0.get(3, TimeUnit.MINUTES), r1.get(3, TimeUnit.MINUTES));
        } finally {
            pool.shutdownNow();
        }
    }

    static void assertSameWeights(LlamaModel want, Map<String, Tensor> got, String what) {
        for (Map.Entry<String, Tensor> e : want.params().entrySet()) {
            Tensor w = e.getValue(), g = got.get(e.getKey());
            assertEquals(w.numel(), g.numel(), e.getKey());
            for (long i = 0; i < w.numel(); i++) {
                if (Float.floatToRawIntBits(w.get(i)) != Float.floatToRawIntBits(g.get(i))) {
                    throw new AssertionError(
                            what + ": '" + e.getKey() + "' element " + i + " is " + g.get(i) + ", saved " + w.get(i));
                }
            }
        }
    }

    @Test
    void gpuCheckpointsResumeExactlyAndLoadOnCpuRanksAndBack() throws Exception {
        var cfg = TrainData.modelConfig(job);
        Path gpuRoot = dir.resolve("gpu-ckpt");
        try (Compute cx = Compute.cpu(1)) {
            LlamaModel atSave = new LlamaModel(cfg, 1, 1, cx, false);
            // 1. Two GPU ranks train to END, saving after SAVE_AT.
            List<List<Double>> first = gpuPair(null, gpuRoot, atSave);
            assertEquals(first.get(0), first.get(1), "both replicas report the DP-averaged losses");
            Path stepDir = CheckpointDir.stepDir(gpuRoot, SAVE_AT);
            List<Double> tail = first.get(0).subList(SAVE_AT, END);

            // 2. A fresh GPU pair resumes from it: the same losses, bit for bit.
            List<List<Double>> resumed = gpuPair(stepDir, null, null);
            assertEquals(tail, resumed.get(0), "GPU ranks resumed from the GPU checkpoint");

            // 3. A CPU rank (tp 1 × pp 1 × dp 1) loads the GPU checkpoint and continues.
            ParallelDims one = ParallelDims.of(1, 1, 1);
            RankComms cpuComms = comms(one, 0, InJvmWorld.group(1, 1, 30_000)[0]);
            Path cpuRoot = dir.resolve("cpu-ckpt");
            try (RankTrainer cpu = new RankTrainer(job, one, cpuComms, RankTrainer.Options.of(job, one))) {
                var restored = dev.shoal.runtime.checkpoint.CheckpointLoader.load(stepDir, cpu.trainer(), cpuComms);
                assertEquals(SAVE_AT, restored.state().step());
                assertEquals(ParallelDims.of(1, 1, 2), restored.savedMesh());
                assertSameWeights(atSave, cpu.trainer().model().params(), "CPU rank loading the GPU checkpoint");
                for (long s = SAVE_AT; s < END; s++) {
                    double want = tail.get((int) (s - SAVE_AT)),
                            got = cpu.step(s).loss();
                    assertTrue(
                            Math.abs(got - want) <= 3e-2 * want,
                            "step " + s + ": CPU " + got + " vs GPU " + want + " after the same checkpoint");
                }
                // 4. The CPU rank's checkpoint (after END) loads into a GPU rank, bit for bit.
                LlamaModel cpuWeights = new LlamaModel(cfg, 1, 1, cx, false);
                for (Map.Entry<String, Tensor> e :
                        cpu.trainer().model().params().entrySet()) {
                    cpuWeights.params().get(e.getKey()).copyFrom(e.getValue());
                }
                try (Checkpointer ck = new Checkpointer(cpuRoot, cpuComms, Checkpointer.Options.defaults())) {
                    ck.save(cpu.trainer(), state(END));
                    ck.await();
                }
                try (HostOps ops = new HostOps();
                        BackendRankTrainer g =
                                new BackendRankTrainer(job, one, InJvmWorld.group(1, 1, 30_000)[0], ops)) {
                    assertEquals(
                            END,
                            g.load(CheckpointDir.stepDir(cpuRoot, END)).state().step());
                    LlamaModel back = new LlamaModel(cfg, 1, 1, cx, false);
                    g.downloadParams(back);
                    assertSameWeights(cpuWeights, back.params(), "GPU rank loading the CPU checkpoint");
                }
            }
        }
    }

    @Test
    void zero1GpuRanksTrainExactlyLikeReplicatedOnesAndShareCheckpoints() throws Exception {
        var cfg = TrainData.modelConfig(job);
        Path root = dir.resolve("gpu-zero1");
        try (Compute cx = Compute.cpu(1)) {
            LlamaModel zeroAtSave = new LlamaModel(cfg, 1, 1, cx, false),
                    replAtSave = new LlamaModel(cfg, 1, 1, cx, false);
            List<List<Double>> zero = gpuPair(null, root, zeroAtSave, true);
            List<List<Double>> repl = gpuPair(null, null, replAtSave, false);
            assertEquals(zero.get(0), zero.get(1), "both ZeRO-1 replicas report the DP-averaged losses");
            assertEquals(repl.get(0), zero.get(0), "ZeRO-1 steps are the replicated steps, bit for bit");
            assertSameWeights(replAtSave, zeroAtSave.params(), "gathered ZeRO-1 master weights");
            Path stepDir = CheckpointDir.stepDir(root, SAVE_AT);
            assertTrue(CheckpointDir.verify(stepDir, false).getMesh().getZero1(), "the manifest records ZeRO-1");
            List<Double> tail = zero.get(0).subList(SAVE_AT, END);
            // The ZeRO-1 checkpoint resumes replicated ranks and ZeRO-1 ranks alike.
            assertEquals(tail, gpuPair(stepDir, null, null, false).get(0), "replicated ranks from ZeRO-1's checkpoint");
            assertEquals(tail, gpuPair(stepDir, null, null, true).get(1), "ZeRO-1 ranks from ZeRO-1's checkpoint");
        }
    }

    @Test
    void flatRanksRefuseRangesThatAreNotTheirs() throws IOException {
        var cfg = TrainData.modelConfig(job);
        long p = cfg.paramCount();
        long[] r0 = FlatRank.saveRange(p, 3, 0), r2 = FlatRank.saveRange(p, 3, 2);
        assertEquals(0, r0[0]);
        assertEquals(p, r2[1]);
        try (Tensor a = Tensor.zeros(4);
                Tensor b = Tensor.zeros(5)) {
            var e = assertThrows(IllegalArgumentException.class, () -> new FlatRank(cfg, 0, a, a, b, 0));
            assertTrue(e.getMessage().contains("exp_avg_sq 5"), e.getMessage());
            e = assertThrows(IllegalArgumentException.class, () -> new FlatRank(cfg, p - 2, a, a, a, 0));
            assertTrue(e.getMessage().contains("outside the " + p), e.getMessage());
        }
    }
}
