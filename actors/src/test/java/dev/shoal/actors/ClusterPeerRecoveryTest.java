// Recovery from the in-memory peer copies, with real processes: three `shoal node` JVMs (2 + 1 + 1 CPU
// ranks) train the ClusterTrainTest job at tp 2 × dp 2 (ZeRO-1) with durable checkpoints every 8 steps
// and in-memory peer copies every 2 (peer_copy_every). Once the coordinator has journaled the complete
// peer-copy set of step 10 (every rank's shard held by its buddy on another node), node 2 (rank 3) is
// killed with SIGKILL while step 12 runs, and not restarted. The job re-forms on the whole TP pair left
// (tp 2 × dp 1) and resumes from the step-10 peer copies — not the step-8 durable checkpoint: rank 3's
// shard comes from its buddy (rank 1, node 0), rank 2's from its own surviving worker (node 1), and the
// new ranks reshard them from memory. The run completes; every step's loss agrees with the
// uninterrupted single-process Trainer within the recovery tests' 2e-5, and the data audit passes
// (steps 11–12 of the lost mesh rolled back, every sample of every kept step consumed exactly once).
// The nodes run the real engine behind PacedEngineStepRunner (steps of at least 400 ms), so that the
// kill lands before the next set (step 12) completes. Tagged slow.
package dev.shoal.actors;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import dev.shoal.actors.coordinator.Coordinator;
import dev.shoal.actors.node.LocalCluster;
import dev.shoal.proto.v1.JobSpec;
import dev.shoal.proto.v1.Phase;
import dev.shoal.proto.v1.StepMetrics;
import dev.shoal.runtime.data.DataAudit;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

@Tag("slow")
class ClusterPeerRecoveryTest {
    static final int STEPS = 16;
    static final double TOL = 2e-5; // ClusterRecoveryTest's shrink tolerance (dp 2 → 1 reorders float sums)

    @TempDir
    Path dir;

    private LocalCluster cluster;

    @AfterEach
    void stop() {
        if (cluster != null) cluster.close();
    }

    @Test
    void aNodeKilledAfterAPeerCopyResumesFromTheCopyNotTheOlderDurableCheckpoint() throws Exception {
        Path data = ClusterTrainTest.prepare(dir);
        Path ckpt = dir.resolve("ckpt");
        JobSpec spec = ClusterTrainTest.spec(data, ckpt).toBuilder()
                .setSteps(STEPS)
                .setCheckpointInterval(8)
                .setEvalInterval(0)
                .setPeerCopyEvery(2)
                .build();
        long t0 = System.nanoTime();
        List<JsonNode> ref = ClusterTrainTest.reference(spec, dir.resolve("ref"));
        double refSeconds = (System.nanoTime() - t0) / 1e9;

        cluster = LocalCluster.start(
                dir.resolve("cluster"),
                new int[] {2, 1, 1},
                List.of(
                        "-Dshoal.node.engine=dev.shoal.actors.engine.PacedEngineStepRunner$Factory",
                        "-Dshoal.test.min-step-millis=400",
                        "-Dshoal.coordinator.recovery-grace=1s",
                        "-Dshoal.coordinator.step-timeout=30s",
                        "-Dshoal.audit.enabled=on"),
                Duration.ofSeconds(60));
        cluster.awaitStatus(s -> s.workers().size() == 4, "4 registered ranks", Duration.ofSeconds(30));
        // The watch stream's phase changes (what `shoal watch` shows).
        java.util.Queue<String> phases = new java.util.concurrent.ConcurrentLinkedQueue<>();
        org.apache.pekko.actor.typed.ActorRef<Coordinator.Published> watcher = cluster.client()
                .systemActorOf(
                        org.apache.pekko.actor.typed.javadsl.Behaviors.receive(Coordinator.Published.class)
                                .onMessage(Coordinator.Published.class, p -> {
                                    if (p.event().hasPhase()) {
                                        var c = p.event().getPhase();
                                        phases.add(c.getFrom() + " -> " + c.getTo() + ": " + c.getCause());
                                    }
                                    return org.apache.pekko.actor.typed.javadsl.Behaviors.same();
                                })
                                .build(),
                        "peer-recovery-watch",
                        org.apache.pekko.actor.typed.Props.empty());
        cluster.coordinator().tell(new Coordinator.Subscribe(watcher));
        cluster.submit(spec);

        // 1. Wait for the journaled peer-copy set of step 10, then kill node 2 (rank 3).
        String complete = "peer copies of step 10 complete";
        long deadline = System.nanoTime() + Duration.ofSeconds(60).toNanos();
        while (!logs().contains(complete)) {
            assertTrue(System.nanoTime() < deadline, () -> "no '" + complete + "' in the logs\n" + cluster.logTails());
            Thread.sleep(20);
        }
        Coordinator.Status before = cluster.status(Duration.ofSeconds(5));
        long killedAt = System.nanoTime();
        cluster.kill(2);
        assertEquals(Phase.TRAINING, before.phase(), before::message);
        long durable = before.checkpoints().get(before.checkpoints().size() - 1).getStep();
        assertEquals(8, durable, "the newest durable checkpoint when node 2 died");
        assertTrue(before.step() >= 11 && before.step() < 13, "killed during step 12, after step " + before.step());

        // 2. The job re-forms on the TP pair left and resumes from the step-10 copies.
        Coordinator.Status reformed = cluster.awaitStatus(
                s -> (s.phase() == Phase.TRAINING && s.meshEpoch() > before.meshEpoch() + 1)
                        || !ClusterRecoveryTest.active(s),
                "a smaller mesh",
                Duration.ofSeconds(60));
        double remeshed = (System.nanoTime() - killedAt) / 1e9;
        assertEquals(Phase.TRAINING, reformed.phase(), () -> reformed.message() + cluster.logTails());
        assertEquals(2, reformed.meshRanks().size(), "one whole tp 2 replica");
        Coordinator.Status done =
                cluster.awaitStatus(s -> !ClusterRecoveryTest.active(s), "the run to end", Duration.ofSeconds(60));
        assertEquals(Phase.COMPLETED, done.phase(), () -> done.message() + cluster.logTails());
        assertEquals(STEPS, done.step());
        String logs = logs();
        assertTrue(
                logs.contains("recovery resumes from the state from the in-memory peer copies of step 10"),
                () -> "the coordinator did not say it resumes from the step-10 peer copies\n" + cluster.logTails());
        assertTrue(logs.contains("loaded the in-memory peer copies of step 10"), cluster::logTails);
        assertTrue(
                phases.stream()
                        .anyMatch(p -> p.startsWith("RECOVERING -> TRAINING")
                                && p.contains("state from the in-memory peer copies of step 10 (newer than the durable"
                                        + " checkpoint of step 8")),
                () -> "no watch event names the source: " + phases);
        assertEquals(11, done.recent().get(0).getStep(), "the new mesh's first step follows the peer copy");
        assertEquals(STEPS - 10, done.recent().size(), "steps 11..16 on the new mesh");

        // 3. Losses: the uninterrupted Trainer's, within the recovery tests' tolerance.
        double worst = 0;
        for (StepMetrics m : done.recent()) {
            double want = ref.get((int) m.getStep()).get("loss").asDouble();
            worst = Math.max(worst, Math.abs(m.getLoss() - want));
            assertEquals(want, m.getLoss(), TOL, "loss of step " + m.getStep());
            assertEquals(4 * 32, m.getTokens(), "global batch unchanged");
        }
        assertEquals(
                STEPS, done.checkpoints().get(done.checkpoints().size() - 1).getStep());

        // 4. Exactly-once data: steps 1–10 from the dp 2 mesh, 11–16 from the dp 1 mesh.
        DataAudit.Report audit = ClusterRecoveryTest.audit(ckpt, spec);
        assertTrue(audit.rolledBackRankSteps() > 0, "the lost mesh's steps after 10 were rolled back: " + audit);
        assertTrue(audit.stepsByEpoch().size() >= 2, "steps from both meshes: " + audit);
        System.out.printf(
                "cluster peer recovery: tiny, tp 2 x dp 2 ZeRO-1 over 3 JVMs, durable every 8, peer copies every 2;"
                        + " node 2 killed after step %d (durable %d); tp 2 x dp 1 TRAINING %.2f s after the kill,"
                        + " resumed from the step-10 peer copies; worst |loss - Trainer| %.2e; reference %.1f s; %s;"
                        + " box shared with other builds%n",
                before.step(), durable, remeshed, worst, refSeconds, audit);
    }

    private String logs() throws java.io.IOException {
        StringBuilder b = new StringBuilder();
        for (Path p : cluster.logs()) {
            if (Files.isRegularFile(p)) b.append(Files.readString(p));
        }
        return b.toString();
    }
}
