// CPU ranks on the backend model through the worker's real step-runner path: two EngineStepRunners in
// this JVM (each with its own TCP transport on 127.0.0.1) form a tp 1 × pp 1 × dp 2 ZeRO-1 mesh of a
// job with cpu_engine = backend, take their replicas' batches as a DataLoader sends them and train 6
// steps, checkpointing after step 3:
// - the per-step losses and gradient norms equal the same job's on cpu_engine = llama (LlamaModel)
//   within fp32 summation order (1e-5 relative);
// - a new mesh epoch resumes from the committed checkpoint of step 3 and repeats steps 4–6 bit for bit;
// - layouts and options the backend engine cannot run are refused at rendezvous phase 1, naming the value.
package dev.shoal.actors.engine;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.shoal.actors.TestData;
import dev.shoal.actors.bench.TinyClusterJob;
import dev.shoal.actors.worker.MeshAssignment;
import dev.shoal.actors.worker.StepResult;
import dev.shoal.actors.worker.StepRunner;
import dev.shoal.actors.worker.WorkerInfo;
import dev.shoal.comm.ParallelDims;
import dev.shoal.proto.v1.JobSpec;
import dev.shoal.proto.v1.Parallelism;
import dev.shoal.runtime.train.JobConfig;
import dev.shoal.runtime.train.TrainData;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class EngineStepRunnerBackendTest {
    static final int STEPS = 6, SAVE_AT = 3;
    static final ParallelDims DP2 = ParallelDims.of(1, 1, 2);

    @TempDir
    static Path dir;

    static Path data;
    static ExecutorService pool;

    @BeforeAll
    static void prepare() throws Exception {
        pool = Executors.newFixedThreadPool(2);
        data = TestData.prepareBilingual(java.nio.file.Files.createDirectories(dir.resolve("corpus")), 60);
    }

    @AfterAll
    static void stop() {
        pool.shutdownNow();
    }

    static JobSpec spec(String engine, Path ckpt) {
        return TinyClusterJob.spec("backend-" + engine, data, ckpt, STEPS, 0, 0).toBuilder()
                .setParallelism(
                        Parallelism.newBuilder().setTp(1).setPp(1).setDp(2).setZero1(true))
                .setCpuEngine(engine)
                .build();
    }

    static EngineStepRunner runner(int i) throws Exception {
        return new EngineStepRunner(
                new WorkerInfo("pekko://shoal@127.0.0.1:2552", WorkerInfo.CPU, i), 1, Duration.ZERO, false);
    }

    /** One step's numbers as rank 0 reports them. */
    record Step(double loss, double gradNorm, String checkpoint) {}

    /**
     * Runs steps [from, to] of mesh epoch `epoch` on both runners (joining first, from `resume` when given),
     * feeding each replica its rows as the DataLoader would; checkpoints after SAVE_AT when `ckpt`.
     */
    static List<Step> run(List<EngineStepRunner> rs, JobSpec spec, long epoch, long from, long to, String resume)
            throws Exception {
        List<String> peers = List.of(rs.get(0).backendAddress(), rs.get(1).backendAddress());
        List<Future<?>> joins = new ArrayList<>();
        for (int r = 0; r < 2; r++) {
            MeshAssignment a = new MeshAssignment(epoch, r, DP2, from, resume, peers, spec);
            EngineStepRunner runner = rs.get(r);
            runner.prepareMesh(a);
            joins.add(pool.submit(() -> {
                runner.joinMesh(a);
                return null;
            }));
        }
        for (Future<?> f : joins) f.get(2, TimeUnit.MINUTES);
        JobConfig job = JobSpecs.toJobConfig(spec, 1);
        TrainData td = new TrainData(job, null);
        int t = job.seqLen(), per = job.globalBatch() / DP2.dp();
        List<Step> out = new ArrayList<>();
        for (long step = from; step <= to; step++) {
            // The loader's batch of each replica: inputs are positions 0..T−1, targets 1..T of its rows.
            for (int d = 0; d < 2; d++) {
                int[][] rows = td.replicaRows(step - 1, d, DP2.dp());
                int[] in = new int[per * t], tg = new int[per * t];
                for (int i = 0; i < per; i++) {
                    int[] seq = rows[d * per + i];
                    System.arraycopy(seq, 0, in, i * t, t);
                    System.arraycopy(seq, 1, tg, i * t, t);
                }
                rs.get(d).offerBatch(new StepRunner.Batch(epoch, step, d, in, tg));
            }
            long s = step;
            String ckpt = step == SAVE_AT ? spec.getCheckpointDir() : "";
            List<Future<StepResult>> res = new ArrayList<>();
            for (int r = 0; r < 2; r++) {
                EngineStepRunner runner = rs.get(r);
                res.add(pool.submit(() -> runner.runStep(epoch, s, false, ckpt, !ckpt.isEmpty())));
            }
            StepResult r0 = res.get(0).get(2, TimeUnit.MINUTES), r1 = res.get(1).get(2, TimeUnit.MINUTES);
            assertEquals(r0.loss(), r1.loss(), "both replicas report the DP-averaged loss");
            out.add(new Step(r0.loss(), r0.gradNorm(), r0.checkpointPath()));
        }
        return out;
    }

    @Test
    void backendRanksTrainLikeLlamaRanksAndResumeExactly() throws Exception {
        Path ckpt = dir.resolve("ckpt-backend");
        List<EngineStepRunner> rs = List.of(runner(0), runner(1));
        try {
            List<Step> backend = run(rs, spec("backend", ckpt), 1, 1, STEPS, "");
            List<Step> llama = run(rs, spec("llama", dir.resolve("ckpt-llama")), 2, 1, STEPS, "");
            for (int i = 0; i < STEPS; i++) {
                Step b = backend.get(i), l = llama.get(i);
                System.out.printf(
                        "step %d loss llama %.7f backend %.7f, norm %.6f %.6f%n",
                        i + 1, l.loss(), b.loss(), l.gradNorm(), b.gradNorm());
                assertEquals(l.loss(), b.loss(), 1e-5 * l.loss(), "loss of step " + (i + 1));
                assertEquals(l.gradNorm(), b.gradNorm(), 1e-5 * l.gradNorm(), "gradient norm of step " + (i + 1));
            }
            // Rank 0 reported the committed checkpoint of step 3 with that step (commitNow).
            String committed = backend.get(SAVE_AT - 1).checkpoint();
            assertFalse(committed.isEmpty(), "the checkpoint of step " + SAVE_AT + " is committed and reported");
            List<Step> resumed = run(rs, spec("backend", ckpt), 3, SAVE_AT + 1, STEPS, committed);
            for (int i = 0; i < STEPS - SAVE_AT; i++) {
                assertEquals(
                        backend.get(SAVE_AT + i).loss(), resumed.get(i).loss(), "resumed step " + (SAVE_AT + i + 1));
                assertEquals(backend.get(SAVE_AT + i).gradNorm(), resumed.get(i).gradNorm());
            }
        } finally {
            for (EngineStepRunner r : rs) r.close();
        }
    }

    @Test
    void whatTheBackendEngineCannotRunIsRefusedNamingTheValue() throws Exception {
        try (EngineStepRunner r = runner(7)) {
            JobSpec tp2 = spec("backend", dir.resolve("unused")).toBuilder()
                    .setParallelism(Parallelism.newBuilder().setTp(2).setPp(1).setDp(1))
                    .build();
            String e = assertThrows(
                            IllegalArgumentException.class,
                            () -> r.prepareMesh(
                                    new MeshAssignment(1, 0, ParallelDims.of(2, 1, 1), 1, "", List.of(), tp2)))
                    .getMessage();
            assertTrue(e.contains("cpu_engine backend runs data parallelism only") && e.contains("tp 2 × pp 1"), e);
            JobSpec peer = spec("backend", dir.resolve("unused")).toBuilder()
                    .setPeerCopyEvery(2)
                    .build();
            e = assertThrows(
                            IllegalArgumentException.class,
                            () -> r.prepareMesh(new MeshAssignment(1, 0, DP2, 1, "", List.of(), peer)))
                    .getMessage();
            assertTrue(e.contains("peer_copy_every is 2"), e);
            JobSpec odd = spec("gpu", dir.resolve("unused"));
            e = assertThrows(
                            IllegalArgumentException.class,
                            () -> r.prepareMesh(new MeshAssignment(1, 0, DP2, 1, "", List.of(), odd)))
                    .getMessage();
            assertTrue(e.contains("cpu_engine 'gpu'"), e);
        }
    }
}
