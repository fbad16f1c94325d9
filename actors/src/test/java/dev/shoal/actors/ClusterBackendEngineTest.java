// A cluster job that chooses the backend model for its CPU ranks (cpu_engine = backend): two `shoal
// node` JVMs on 127.0.0.1, one CPU rank each, train the tiny model at tp 1 × pp 1 × dp 2 with ZeRO-1
// through the coordinator, the DP group spanning the JVMs. Each rank trains BackendLlama on the CPU
// tensor backend; the per-step losses must equal the single-process Trainer's (LlamaModel) within 1e-5
// and the job's checkpoints must be committed in the sharded format. Tagged slow: it runs in CI.
package dev.shoal.actors;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import dev.shoal.actors.bench.TinyClusterJob;
import dev.shoal.actors.coordinator.Coordinator;
import dev.shoal.actors.node.LocalCluster;
import dev.shoal.proto.v1.JobSpec;
import dev.shoal.proto.v1.Parallelism;
import dev.shoal.proto.v1.Phase;
import dev.shoal.proto.v1.StepMetrics;
import dev.shoal.runtime.checkpoint.CheckpointDir;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

@Tag("slow")
class ClusterBackendEngineTest {
    static final int STEPS = 8;

    @TempDir
    Path dir;

    private LocalCluster cluster;

    @AfterEach
    void stop() {
        if (cluster != null) cluster.close();
    }

    @Test
    void twoJvmsTrainTheBackendModelLikeTheSingleProcessTrainer() throws Exception {
        Path data = TestData.prepareBilingual(dir, 300);
        Path ckpt = dir.resolve("ckpt");
        JobSpec spec = TinyClusterJob.spec("cluster-backend", data, ckpt, STEPS, 0, 4).toBuilder()
                .setParallelism(
                        Parallelism.newBuilder().setTp(1).setPp(1).setDp(2).setZero1(true))
                .setCpuEngine("backend")
                .build();
        List<JsonNode> ref = ClusterTrainTest.reference(spec, dir.resolve("ref"));

        cluster = LocalCluster.start(
                dir.resolve("cluster"),
                new int[] {1, 1},
                List.of("-Dshoal.node.engine=dev.shoal.actors.engine.EngineStepRunner$Factory"),
                Duration.ofSeconds(60));
        cluster.awaitStatus(s -> s.workers().size() == 2, "2 registered ranks", Duration.ofSeconds(30));
        cluster.submit(spec);
        Coordinator.Status end = cluster.awaitStatus(
                s -> s.phase() == Phase.COMPLETED || s.phase() == Phase.FAILED,
                "the job to end",
                Duration.ofSeconds(90));
        assertEquals(Phase.COMPLETED, end.phase(), () -> end.message() + cluster.logTails());
        assertEquals(STEPS, end.step());

        List<StepMetrics> steps = end.recent();
        assertEquals(STEPS, steps.size(), steps::toString);
        for (int s = 1; s <= STEPS; s++) {
            StepMetrics m = steps.get(s - 1);
            double want = ref.get(s).get("loss").asDouble();
            System.out.printf("step %d loss Trainer %.7f cluster (backend) %.7f%n", s, want, m.getLoss());
            assertEquals(want, m.getLoss(), 1e-5 * want, "loss of step " + s);
            assertEquals(ref.get(s).get("lr").asDouble(), m.getLr(), 1e-12, "lr of step " + s);
            assertEquals(ref.get(s).get("grad_norm").asDouble(), m.getGradNorm(), 1e-5 * m.getGradNorm());
        }
        // The checkpoints of steps 4 and 8: committed, every shard intact.
        for (long s : new long[] {4, 8}) {
            Path stepDir = CheckpointDir.stepDir(ckpt, s);
            assertTrue(Files.isDirectory(stepDir), "checkpoint of step " + s + " in " + ckpt);
            assertEquals(2, CheckpointDir.verify(stepDir, true).getMesh().getDp());
        }
    }
}
