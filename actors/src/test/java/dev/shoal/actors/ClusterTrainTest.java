// The cluster trains: three `shoal node` JVMs on 127.0.0.1 (2 + 1 + 1 CPU ranks) run a tiny-model
// CPT job for 20 steps at tp 2 × dp 2 (ZeRO-1), the TP group of ranks 2 and 3 and both DP groups
// spanning JVMs. Its per-step losses must equal the single-process Trainer's (`shoal train`) for the
// same seed, data and batch within 1e-5, its checkpoints (the runtime's sharded format) must be
// committed only with every rank's shard on disk, every step must pass the data audit, and rank 0 must
// write the metrics JSONL. The job checkpoints every 5 steps with retention checkpoint_keep_last 1 +
// checkpoint_keep_every 10: of the journaled checkpoints 5, 10, 15, 20 the coordinator deletes 5 and 15
// (and the reference Trainer its own 5 and 15). Tagged slow: it runs in CI.
package dev.shoal.actors;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import dev.shoal.actors.bench.TinyClusterJob;
import dev.shoal.actors.coordinator.Coordinator;
import dev.shoal.actors.engine.JobSpecs;
import dev.shoal.actors.node.LocalCluster;
import dev.shoal.proto.v1.CheckpointInfo;
import dev.shoal.proto.v1.JobSpec;
import dev.shoal.proto.v1.Phase;
import dev.shoal.proto.v1.SourceLoss;
import dev.shoal.proto.v1.StepMetrics;
import dev.shoal.proto.v1.checkpoint.CheckpointManifest;
import dev.shoal.runtime.checkpoint.CheckpointDir;
import dev.shoal.runtime.data.DataAudit;
import dev.shoal.runtime.data.MixtureSampler;
import dev.shoal.runtime.train.JobConfig;
import dev.shoal.runtime.train.MetricsLog;
import dev.shoal.runtime.train.Trainer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

@Tag("slow")
class ClusterTrainTest {

    static final int STEPS = 20;
    static final double TOL = 1e-5;

    @TempDir
    Path dir;

    private LocalCluster cluster;

    @AfterEach
    void stop() {
        if (cluster != null) cluster.close();
    }

    /** A small bilingual dataset: the project's synthetic corpus through the byte-level tokenizer. */
    static Path prepare(Path dir) throws Exception {
        return TestData.prepareBilingual(dir, 300);
    }

    static JobSpec spec(Path data, Path ckpt) {
        return TinyClusterJob.spec("cluster-train", data, ckpt, STEPS, 10, 10);
    }

    @Test
    void threeJvmsTrainTp2Dp2LikeTheSingleProcessTrainer() throws Exception {
        long t0 = System.nanoTime();
        Path data = prepare(dir);
        Path ckpt = dir.resolve("ckpt");
        JobSpec spec = spec(data, ckpt).toBuilder()
                .setCheckpointInterval(5)
                .setCheckpointKeepLast(1)
                .setCheckpointKeepEvery(10)
                .build();

        // The reference: `shoal train`'s Trainer on one thread, same spec, its own output folder.
        List<JsonNode> ref = reference(spec, dir.resolve("ref"));
        double refSeconds = (System.nanoTime() - t0) / 1e9;

        // The cluster: 2 + 1 + 1 ranks; rank order is node address, then device index.
        long c0 = System.nanoTime();
        cluster = LocalCluster.start(
                dir.resolve("cluster"),
                new int[] {2, 1, 1},
                List.of(
                        "-Dshoal.node.engine=dev.shoal.actors.engine.EngineStepRunner$Factory",
                        "-Dshoal.audit.enabled=on"),
                Duration.ofSeconds(60));
        double upSeconds = (System.nanoTime() - c0) / 1e9;
        cluster.awaitStatus(s -> s.workers().size() == 4, "4 registered ranks", Duration.ofSeconds(30));
        cluster.submit(spec);
        long s0 = System.nanoTime();
        Coordinator.Status end = cluster.awaitStatus(
                s -> s.phase() == Phase.COMPLETED || s.phase() == Phase.FAILED,
                "the job to end",
                Duration.ofSeconds(60));
        double trainSeconds = (System.nanoTime() - s0) / 1e9;
        assertEquals(Phase.COMPLETED, end.phase(), () -> end.message() + cluster.logTails());
        assertEquals(STEPS, end.step());

        // Per-step losses against the single-process trainer.
        List<StepMetrics> steps = end.recent();
        assertEquals(STEPS, steps.size(), steps::toString);
        double worst = 0;
        for (int s = 1; s <= STEPS; s++) {
            StepMetrics m = steps.get(s - 1);
            assertEquals(s, m.getStep());
            double want = ref.get(s).get("loss").asDouble();
            worst = Math.max(worst, Math.abs(m.getLoss() - want));
            assertEquals(want, m.getLoss(), TOL, "loss of step " + s);
            assertEquals(ref.get(s).get("lr").asDouble(), m.getLr(), 1e-12, "lr of step " + s);
            assertEquals(ref.get(s).get("grad_norm").asDouble(), m.getGradNorm(), 1e-3 * m.getGradNorm());
            assertEquals(4 * 32, m.getTokens());
        }
        // Per-source validation at the eval steps (10 and 20), as the trainer scored them.
        for (int s : new int[] {10, 20}) {
            StepMetrics m = steps.get(s - 1);
            assertEquals(2, m.getValidationCount(), m::toString);
            for (SourceLoss l : m.getValidationList()) {
                double want = ref.get(s).get("val_loss").get(l.getSource()).asDouble();
                assertEquals(want, l.getLoss(), 1e-4, "val loss of " + l.getSource() + " at step " + s);
            }
        }
        assertEquals(0, steps.get(4).getValidationCount());

        // Checkpoints: committed at 5, 10, 15 and 20 in the runtime's sharded format, each with all four
        // shards durable on disk and every CRC block intact; the manifest records the mesh that saved it.
        // Retention (keep the last 1 plus every 10th) then leaves only step-000010 and step-000020.
        assertEquals(
                List.of(5L, 10L, 15L, 20L),
                end.checkpoints().stream().map(CheckpointInfo::getStep).toList());
        List<String> kept = List.of("step-000010", "step-000020");
        assertEquals(kept, awaitStepDirs(ckpt, kept, Duration.ofSeconds(20)), "retention in the cluster");
        assertEquals(kept, stepDirs(dir.resolve("ref")), "retention in the single-process Trainer");
        for (CheckpointInfo c : end.checkpoints()) {
            assertEquals(ckpt.resolve(String.format("step-%06d", c.getStep())).toString(), c.getPath());
            if (c.getStep() % 10 != 0) continue;
            CheckpointManifest m = CheckpointDir.verify(Path.of(c.getPath()), true);
            assertEquals(4, m.getFilesCount());
            assertEquals(c.getStep(), m.getState().getStep());
            assertEquals(
                    List.of(2, 1, 2),
                    List.of(
                            m.getMesh().getTp(),
                            m.getMesh().getPp(),
                            m.getMesh().getDp()));
            assertTrue(m.getMesh().getZero1());
            long bytes = 0;
            for (int r = 0; r < 4; r++) {
                Path shard = Path.of(c.getPath(), String.format("rank-%05d.shard", r));
                assertTrue(Files.isRegularFile(shard), shard + " missing");
                bytes += Files.size(shard);
            }
            assertEquals(bytes, c.getBytes());
            assertEquals(1, c.getMeshEpoch());
        }

        // The data audit: every sample of every step consumed exactly once, in the planned order.
        JobConfig job = JobSpecs.toJobConfig(spec, 1);
        DataAudit.Report audit = DataAudit.check(
                DataAudit.read(ckpt.resolve("audit")),
                MixtureSampler.fromPrepared(job.data().dir(), job.mixtureSpec(), false),
                STEPS);
        assertEquals(java.util.Map.of(1L, (long) STEPS), audit.stepsByEpoch(), audit::toString);
        assertEquals(0, audit.rolledBackRankSteps());

        // Rank 0's metrics log: step 0 (validation before training) and every step.
        List<JsonNode> lines = MetricsLog.read(ckpt.resolve("metrics.jsonl"));
        assertEquals(STEPS + 1, lines.size());
        assertEquals(
                ref.get(0).get("val_loss").get("zh").asDouble(),
                lines.get(0).get("val_loss").get("zh").asDouble(),
                1e-4);
        System.out.printf(
                "cluster train: tiny, tp 2 x dp 2 (ZeRO-1) over 3 JVMs, %d steps: worst |loss - Trainer| %.2e;"
                        + " reference %.1f s, 3 nodes up %.1f s, training %.1f s (%.2f s/step)%n",
                STEPS, worst, refSeconds, upSeconds, trainSeconds, trainSeconds / STEPS);
    }

    /** The names of root's folders that look like step folders (step-…, .deleting-step-…), sorted. */
    static List<String> stepDirs(Path root) throws java.io.IOException {
        try (var s = Files.list(root)) {
            return s.map(p -> p.getFileName().toString())
                    .filter(n -> n.contains("step-"))
                    .sorted()
                    .toList();
        }
    }

    /** Waits until root's step folders are {@code want} (retention runs in the background); the last seen. */
    static List<String> awaitStepDirs(Path root, List<String> want, Duration timeout) throws Exception {
        long deadline = System.nanoTime() + timeout.toNanos();
        List<String> seen = stepDirs(root);
        while (!seen.equals(want) && System.nanoTime() < deadline) {
            Thread.sleep(50);
            seen = stepDirs(root);
        }
        return seen;
    }

    /** The uninterrupted run: `shoal train`'s Trainer on one thread, same spec, in refDir; its metric lines. */
    static List<JsonNode> reference(JobSpec spec, Path refDir) throws Exception {
        JobConfig job = JobSpecs.toJobConfig(spec, 1);
        JobConfig refJob = new JobConfig(
                job.name(),
                job.model(),
                job.data(),
                job.seqLen(),
                job.globalBatch(),
                job.microBatch(),
                job.steps(),
                job.seed(),
                1,
                job.lr(),
                job.optimizer(),
                job.evalInterval(),
                job.evalBatches(),
                job.checkpointInterval(),
                refDir,
                refDir.resolve("metrics.jsonl"),
                job.checkpointKeepLast(),
                job.checkpointKeepEvery());
        try (Trainer t = new Trainer(refJob, null, null)) {
            t.run(false, Long.MAX_VALUE);
        }
        return MetricsLog.read(refDir.resolve("metrics.jsonl"));
    }
}
