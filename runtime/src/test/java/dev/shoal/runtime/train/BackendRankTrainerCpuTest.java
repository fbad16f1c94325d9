// CPU ranks on the backend model (BackendRankTrainer.onCpu: BackendLlama on CpuBackend, fp32), as a
// cluster job with train.cpu-engine = backend runs them, checked against the CPU engine's own trainer:
// - two DP ranks (in-JVM DP group) follow RankTrainer's (LlamaModel's) losses and gradient norms step for
//   step within fp32 summation order (1e-5 relative);
// - their checkpoint (after SAVE_AT) resumes in a fresh pair with bit-identical losses, and loads on a
//   LlamaModel rank with the saved weights bit for bit;
// - ZeRO-1 ranks take the replicated ranks' steps bit for bit.
package dev.shoal.runtime.train;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.shoal.comm.Communicator;
import dev.shoal.comm.ParallelDims;
import dev.shoal.runtime.backend.TensorBackend;
import dev.shoal.runtime.checkpoint.CheckpointDir;
import dev.shoal.runtime.checkpoint.CheckpointLoader;
import dev.shoal.runtime.checkpoint.Checkpointer;
import dev.shoal.runtime.checkpoint.TrainingState;
import dev.shoal.runtime.comm.InJvmWorld;
import dev.shoal.runtime.model.LlamaModel;
import dev.shoal.runtime.parallel.RankComms;
import dev.shoal.runtime.tensor.Compute;
import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class BackendRankTrainerCpuTest {
    static final int SAVE_AT = 3, END = 5;

    @TempDir
    static Path dir;

    static JobConfig job;

    @BeforeAll
    static void data() throws IOException {
        TrainFixture.prepare(dir);
        job = JobConfigReader.load(TrainFixture.config(dir, "cpu-backend.conf", "ckpt-unused", ""));
    }

    static TrainingState state(long step) {
        return TrainFixture.state(job, step);
    }

    /** One step's loss and pre-clip gradient norm. */
    record Step(double loss, double norm) {}

    /**
     * DP rank `rank` of 2 on the CPU backend: loads `from` (or starts from the job's init), trains to END,
     * saving after SAVE_AT into `saveRoot` when given; fills `weightsAtSave` (rank 0) after SAVE_AT.
     */
    static List<Step> cpuBackendRank(
            int rank, Communicator dp, Path from, Path saveRoot, LlamaModel weightsAtSave, boolean zero1)
            throws IOException {
        ParallelDims dims = ParallelDims.of(1, 1, 2);
        List<Step> steps = new ArrayList<>();
        try (BackendRankTrainer t = BackendRankTrainer.onCpu(job, dims, dp, zero1);
                Checkpointer ck = saveRoot == null
                        ? null
                        : new Checkpointer(
                                saveRoot,
                                BackendRankTrainerCheckpointTest.comms(dims, rank, dp),
                                Checkpointer.Options.defaults())) {
            assertEquals(TensorBackend.Precision.F32, t.backend().computeType());
            long start = 0;
            if (from != null) {
                start = t.load(from).state().step();
                assertEquals(SAVE_AT, start);
            }
            for (long s = start; s < END; s++) {
                BackendRankTrainer.StepMetrics m = t.step(s, t.rows(s));
                steps.add(new Step(m.loss(), m.gradNorm()));
                if (s + 1 == SAVE_AT && ck != null) {
                    t.save(ck, state(SAVE_AT));
                    ck.await();
                }
                if (s + 1 == SAVE_AT && weightsAtSave != null) t.downloadParams(weightsAtSave);
            }
        }
        return steps;
    }

    static List<List<Step>> pair(Path from, Path saveRoot, LlamaModel weightsAtSave, boolean zero1) throws Exception {
        Communicator[] dp = InJvmWorld.group(2, 1, 60_000);
        ExecutorService pool = Executors.newFixedThreadPool(2);
        try {
            Future<List<Step>> r0 = pool.submit(() -> cpuBackendRank(0, dp[0], from, saveRoot, weightsAtSave, zero1));
            Future<List<Step>> r1 = pool.submit(() -> cpuBackendRank(1, dp[1], from, saveRoot, null, zero1));
            return List.of(r0.get(3, TimeUnit.MINUTES), r1.get(3, TimeUnit.MINUTES));
        } finally {
            pool.shutdownNow();
        }
    }

    @Test
    void cpuBackendRanksFollowLlamaModelAndResumeExactly() throws Exception {
        var cfg = TrainData.modelConfig(job);
        Path root = dir.resolve("cpu-backend-ckpt");
        try (Compute cx = Compute.cpu(1)) {
            LlamaModel atSave = new LlamaModel(cfg, 1, 1, cx, false);
            // 1. Two CPU-backend ranks train to END, saving after SAVE_AT.
            List<List<Step>> first = pair(null, root, atSave, false);
            assertEquals(first.get(0), first.get(1), "both replicas report the DP-averaged numbers");

            // 2. The CPU engine's trainer (LlamaModel, tp 1 × pp 1 × dp 1: the same global batch) takes the same steps.
            ParallelDims one = ParallelDims.of(1, 1, 1);
            RankComms comms = BackendRankTrainerCheckpointTest.comms(one, 0, InJvmWorld.group(1, 1, 30_000)[0]);
            try (RankTrainer ref = new RankTrainer(job, one, comms, RankTrainer.Options.of(job, one))) {
                for (int s = 0; s < END; s++) {
                    RankTrainer.StepMetrics want = ref.step(s);
                    Step got = first.get(0).get(s);
                    System.out.printf(
                            "step %d loss LlamaModel %.7f backend %.7f, norm %.6f %.6f%n",
                            s, want.loss(), got.loss(), want.gradNorm(), got.norm());
                    assertEquals(want.loss(), got.loss(), 1e-5 * want.loss(), "loss of step " + s);
                    assertEquals(want.gradNorm(), got.norm(), 1e-5 * want.gradNorm(), "gradient norm of step " + s);
                }
            }

            // 3. A fresh pair resumes from the checkpoint: the same losses, bit for bit.
            Path stepDir = CheckpointDir.stepDir(root, SAVE_AT);
            List<List<Step>> resumed = pair(stepDir, null, null, false);
            assertEquals(first.get(0).subList(SAVE_AT, END), resumed.get(0), "resumed from the checkpoint");

            // 4. A LlamaModel rank loads the same checkpoint: the saved weights, bit for bit.
            try (RankTrainer cpu = new RankTrainer(job, one, comms, RankTrainer.Options.of(job, one))) {
                var restored = CheckpointLoader.load(stepDir, cpu.trainer(), comms);
                assertEquals(SAVE_AT, restored.state().step());
                BackendRankTrainerCheckpointTest.assertSameWeights(
                        atSave,
                        cpu.trainer().model().params(),
                        "LlamaModel rank loading the backend ranks' checkpoint");
            }
        }
    }

    @Test
    void zero1CpuBackendRanksTakeTheReplicatedSteps() throws Exception {
        List<List<Step>> zero = pair(null, null, null, true);
        List<List<Step>> repl = pair(null, null, null, false);
        assertEquals(zero.get(0), zero.get(1), "both ZeRO-1 replicas report the DP-averaged numbers");
        assertEquals(repl.get(0), zero.get(0), "ZeRO-1 steps are the replicated steps, bit for bit");
    }

    @Test
    void otherLayoutsAreRefusedNamingTheValues() {
        Communicator[] dp = InJvmWorld.group(1, 1, 30_000);
        JobConfigException e = assertThrows(
                JobConfigException.class, () -> BackendRankTrainer.onCpu(job, ParallelDims.of(2, 1, 1), dp[0], false));
        assertTrue(e.getMessage().contains("tp 2 × pp 1"), e.getMessage());
    }
}
