// The coordinator in one JVM: spec validation against registered ranks, a job trained to the end,
// failures, checkpoint commits, and a coordinator restart that resumes under a new mesh epoch.
package dev.shoal.actors.coordinator;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.typesafe.config.Config;
import dev.shoal.actors.TestConfigs;
import dev.shoal.actors.node.CpuRanks;
import dev.shoal.actors.node.JournalSchema;
import dev.shoal.actors.node.NodeAgent;
import dev.shoal.actors.worker.TestStepRunner;
import dev.shoal.proto.v1.CheckpointInfo;
import dev.shoal.proto.v1.JobSpec;
import dev.shoal.proto.v1.Parallelism;
import dev.shoal.proto.v1.Phase;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.function.Predicate;
import org.apache.pekko.Done;
import org.apache.pekko.actor.testkit.typed.javadsl.ActorTestKit;
import org.apache.pekko.actor.testkit.typed.javadsl.TestProbe;
import org.apache.pekko.actor.typed.ActorRef;
import org.apache.pekko.pattern.StatusReply;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class CoordinatorTest {

    @TempDir
    Path dir;

    ActorTestKit kit;

    @AfterEach
    void stop() {
        if (kit != null) kit.shutdownTestKit();
    }

    static JobSpec spec(int dp, int global, int micro, long steps) {
        return JobSpec.newBuilder()
                .setName("test")
                .setModel("tiny")
                .setSeqLen(64)
                .setGlobalBatch(global)
                .setMicroBatch(micro)
                .setSteps(steps)
                .setParallelism(Parallelism.newBuilder().setTp(1).setPp(1).setDp(dp))
                .build();
    }

    static CheckpointInfo checkpoint(long step) {
        return CheckpointInfo.newBuilder()
                .setStep(step)
                .setPath("/ckpt/step-" + step)
                .setMeshEpoch(1)
                .build();
    }

    /** A testkit whose system has {@code ranks} CPU ranks and a coordinator; returns the coordinator. */
    private ActorRef<Coordinator.Command> start(Config config, int ranks, TestStepRunner.Factory factory) {
        kit = ActorTestKit.create("shoal", config);
        JournalSchema.ensure(kit.system(), config, Duration.ofSeconds(30));
        if (ranks > 0) {
            Config c = config.withValue(CpuRanks.KEY, com.typesafe.config.ConfigValueFactory.fromAnyRef(ranks));
            kit.spawn(NodeAgent.create(List.of(new CpuRanks()), c, factory), "node-agent");
        }
        return kit.spawn(Coordinator.create(CoordinatorSettings.from(config)), "coordinator");
    }

    private Coordinator.Status await(ActorRef<Coordinator.Command> c, Predicate<Coordinator.Status> p, String what) {
        TestProbe<Coordinator.Status> probe = kit.createTestProbe();
        long deadline = System.nanoTime() + Duration.ofSeconds(20).toNanos();
        Coordinator.Status last = null;
        while (System.nanoTime() < deadline) {
            c.tell(new Coordinator.GetStatus(probe.ref()));
            last = probe.receiveMessage(Duration.ofSeconds(5));
            if (p.test(last)) return last;
            sleep(20);
        }
        throw new AssertionError("timed out waiting for " + what + "; last status " + last);
    }

    private String submitError(ActorRef<Coordinator.Command> c, JobSpec spec) {
        TestProbe<StatusReply<Coordinator.JobAccepted>> probe = kit.createTestProbe();
        c.tell(new Coordinator.SubmitJob(spec, probe.ref()));
        StatusReply<Coordinator.JobAccepted> r = probe.receiveMessage();
        assertTrue(r.isError(), () -> "expected a refusal of " + spec);
        return r.getError().getMessage();
    }

    private String submit(ActorRef<Coordinator.Command> c, JobSpec spec) {
        TestProbe<StatusReply<Coordinator.JobAccepted>> probe = kit.createTestProbe();
        c.tell(new Coordinator.SubmitJob(spec, probe.ref()));
        StatusReply<Coordinator.JobAccepted> r = probe.receiveMessage();
        assertTrue(r.isSuccess(), () -> "submit refused: " + r.getError().getMessage());
        return r.getValue().jobId();
    }

    private StatusReply<Done> commit(ActorRef<Coordinator.Command> c, CheckpointInfo info) {
        TestProbe<StatusReply<Done>> probe = kit.createTestProbe();
        c.tell(new Coordinator.CommitCheckpoint(info, probe.ref()));
        return probe.receiveMessage();
    }

    @Test
    void refusesSpecsThatDoNotFitTheRegisteredRanks() {
        var c = start(TestConfigs.localH2(dir, "c-validate"), 2, new TestStepRunner.Factory(0, -1));
        await(c, s -> s.workers().size() == 2, "2 registered workers");

        String world = submitError(c, spec(3, 12, 1, 10));
        assertTrue(world.contains("tp 1 × pp 1 × dp 3 = 3 ≠ world 2"), world);
        assertTrue(world.contains("dp 2 would fit"), world);

        String batch = submitError(c, spec(2, 10, 2, 10));
        assertTrue(batch.contains("global_batch 10 is not divisible by micro_batch 2 × parallelism.dp 2 = 4"), batch);
        assertTrue(batch.contains("dp sizes that work: [1, 5]"), batch);

        String fields = submitError(c, spec(2, 8, 1, 0).toBuilder().setName("").build());
        assertTrue(fields.contains("name is empty"), fields);
        assertTrue(fields.contains("steps must be >= 1, got 0"), fields);
        assertEquals(Phase.IDLE, await(c, s -> true, "status").phase());
    }

    @Test
    void refusesAJobBeforeAnyRankIsRegistered() {
        var c = start(TestConfigs.localH2(dir, "c-empty"), 0, null);
        String e = submitError(c, spec(1, 8, 1, 10));
        assertTrue(e.contains("no ranks are registered yet"), e);
    }

    @Test
    void trainsEveryStepOnEveryRankOnceAndCompletes() {
        var factory = new TestStepRunner.Factory(0, -1);
        var c = start(TestConfigs.localH2(dir, "c-train"), 2, factory);
        await(c, s -> s.workers().size() == 2, "2 registered workers");
        String job = submit(c, spec(2, 8, 2, 5));
        Coordinator.Status done = await(c, s -> s.phase() == Phase.COMPLETED, "COMPLETED");
        assertEquals(job, done.jobId());
        assertEquals(5, done.step());
        assertEquals(1, done.meshEpoch());
        assertEquals(2, done.meshRanks().size());
        assertEquals("trained all 5 steps", done.message());
        assertEquals(2, factory.runners.size());
        for (TestStepRunner r : factory.runners.values()) {
            // After the last step the mesh is left (an "abort 1" may follow); nothing else runs.
            List<String> work =
                    r.calls.stream().filter(x -> !x.startsWith("abort")).toList();
            assertEquals("join 1", work.get(0).substring(0, 6));
            assertEquals(List.of("step 1 1", "step 1 2", "step 1 3", "step 1 4", "step 1 5"), work.subList(1, 6));
            assertEquals(6, work.size());
        }
    }

    @Test
    void aStepThatFailsAfterEveryRecoveryFailsTheJobNamingRankAndCause() {
        var c = start(
                TestConfigs.localH2(dir, "c-fail", "shoal.coordinator.max-recoveries = 2"),
                2,
                new TestStepRunner.Factory(0, 3));
        await(c, s -> s.workers().size() == 2, "2 registered workers");
        submit(c, spec(2, 8, 2, 10));
        Coordinator.Status failed = await(c, s -> s.phase() == Phase.FAILED, "FAILED");
        assertTrue(failed.message().contains("failed step 3"), failed.message());
        assertTrue(failed.message().contains("injected failure at step 3"), failed.message());
        assertTrue(failed.message().contains("after 2 recoveries in a row"), failed.message());
        assertEquals(2, failed.step());
        // Each recovery journaled MeshLost (epoch + 1) and formed a new mesh (epoch + 1): 1 + 2 × 2.
        assertEquals(5, failed.meshEpoch());
    }

    @Test
    void aStepSlowerThanTheTimeoutFailsTheJobNamingTheRanks() {
        var c = start(
                TestConfigs.localH2(
                        dir, "c-slow", "shoal.coordinator.step-timeout = 300ms\nshoal.coordinator.max-recoveries = 0"),
                1,
                new TestStepRunner.Factory(3_000, -1));
        await(c, s -> s.workers().size() == 1, "1 registered worker");
        submit(c, spec(1, 4, 1, 10));
        Coordinator.Status failed = await(c, s -> s.phase() == Phase.FAILED, "FAILED");
        assertTrue(failed.message().contains("step 1 took longer than PT0.3S on ranks [0]"), failed.message());
    }

    @Test
    void aRankThatCannotJoinTheMeshFailsTheJobSayingWhy() {
        var c = start(TestConfigs.localH2(dir, "c-nojoin"), 1, null);
        await(c, s -> s.workers().size() == 1, "1 registered worker");
        submit(c, spec(1, 4, 1, 10));
        Coordinator.Status failed = await(c, s -> s.phase() == Phase.FAILED, "FAILED");
        assertTrue(failed.message().contains("did not join mesh epoch 1"), failed.message());
        assertTrue(failed.message().contains("no training engine"), failed.message());
    }

    @Test
    void checkpointsAreCommittedInOrderAndValidated() {
        var c = start(TestConfigs.localH2(dir, "c-ckpt"), 1, new TestStepRunner.Factory(20, -1));
        await(c, s -> s.workers().size() == 1, "1 registered worker");
        assertTrue(commit(c, checkpoint(1)).isError(), "no job yet");
        submit(c, spec(1, 4, 1, 1000));
        await(c, s -> s.phase() == Phase.TRAINING, "TRAINING");
        assertTrue(commit(c, checkpoint(2)).isSuccess());
        assertTrue(commit(c, checkpoint(2)).getError().getMessage().contains("not after the last committed step 2"));
        assertTrue(commit(c, checkpoint(5).toBuilder().setPath("").build())
                .getError()
                .getMessage()
                .contains("path is empty"));
        assertTrue(commit(c, checkpoint(5000)).getError().getMessage().contains("beyond the job's 1000 steps"));
        assertTrue(commit(c, checkpoint(4)).isSuccess());
        assertEquals(
                List.of(checkpoint(2), checkpoint(4)),
                await(c, s -> true, "status").checkpoints());
    }

    @Test
    void evalAndCheckpointStepsAreOrderedAndACheckpointCountsOnlyWithEveryShard() {
        var factory = new TestStepRunner.Factory(0, -1, true);
        var c = start(TestConfigs.localH2(dir, "c-eval"), 2, factory);
        await(c, s -> s.workers().size() == 2, "2 registered workers");
        JobSpec spec = spec(2, 4, 1, 6).toBuilder()
                .setEvalInterval(2)
                .setCheckpointInterval(3)
                .setCheckpointDir("/ckpt")
                .build();
        submit(c, spec);
        Coordinator.Status done = await(c, s -> s.phase() == Phase.COMPLETED, "completion");
        for (TestStepRunner r : factory.runners.values()) {
            assertEquals(
                    List.of(
                            "2 eval=true ckpt=",
                            "3 eval=false ckpt=/ckpt",
                            "4 eval=true ckpt=",
                            "6 eval=true ckpt=/ckpt"),
                    r.orders);
        }
        assertEquals(
                List.of(3L, 6L),
                done.checkpoints().stream().map(CheckpointInfo::getStep).toList());
        assertEquals("/ckpt/step-6", done.checkpoints().get(1).getPath());
        assertEquals(200, done.checkpoints().get(1).getBytes(), "both shards' bytes");
        assertEquals(6, done.recent().size());
        assertEquals(1.0 / 4, done.recent().get(3).getLoss(), 1e-12);
        assertEquals(2.0 / 4, done.recent().get(3).getValidation(0).getLoss(), 1e-12);
        assertEquals(0, done.recent().get(2).getValidationCount());
    }

    @Test
    void aCheckpointWithoutDurableShardsFailsTheJobAndIsNotCommitted() {
        var c = start(TestConfigs.localH2(dir, "c-shards"), 2, new TestStepRunner.Factory(0, -1, false));
        await(c, s -> s.workers().size() == 2, "2 registered workers");
        submit(
                c,
                spec(2, 4, 1, 6).toBuilder()
                        .setCheckpointInterval(3)
                        .setCheckpointDir("/ckpt")
                        .build());
        Coordinator.Status failed = await(c, s -> s.phase() == Phase.FAILED, "the failure");
        // Checkpoints are reported when committed, possibly steps later; the job's last one must come with it.
        assertTrue(failed.message().contains("no rank reported it committed"), failed.message());
        assertTrue(failed.checkpoints().isEmpty(), failed.checkpoints()::toString);
        assertEquals(5, failed.step(), "step 6 is discarded");
    }

    @Test
    void aRestartedCoordinatorResumesFromTheLastCheckpointUnderANewEpoch() {
        var factory = new TestStepRunner.Factory(20, -1);
        Config config = TestConfigs.localH2(dir, "c-resume", "shoal.coordinator.snapshot-every = 2");
        var c = start(config, 2, factory);
        await(c, s -> s.workers().size() == 2, "2 registered workers");
        String job = submit(c, spec(2, 8, 2, 100)); // ~2 s of steps: still running when the coordinator stops
        await(c, s -> s.step() >= 3, "step 3");
        assertTrue(commit(c, checkpoint(3)).isSuccess());
        kit.stop(c);

        // Same workers, new coordinator incarnation: it replays the journal and forms epoch 2.
        var again = kit.spawn(Coordinator.create(CoordinatorSettings.from(config)), "coordinator-2");
        Coordinator.Status done = await(again, s -> s.phase() == Phase.COMPLETED, "COMPLETED after restart");
        assertEquals(job, done.jobId());
        assertEquals(2, done.meshEpoch());
        assertEquals(100, done.step());
        for (TestStepRunner r : factory.runners.values()) {
            assertTrue(
                    r.calls.stream().anyMatch(x -> x.startsWith("join 2 ") && x.endsWith(" 4 /ckpt/step-3")),
                    () -> "no join of epoch 2 at step 4 from the checkpoint: " + r.calls);
            assertTrue(r.calls.contains("step 2 4"), () -> "epoch 2 did not restart at step 4: " + r.calls);
        }
    }

    // ------------------------------------------------------------------ journal recovery

    @Test
    void aNewActorSystemRecoversTheJobFromTheH2Journal() {
        recoversAcrossActorSystems(() -> TestConfigs.localH2(dir, "c-recover", "shoal.coordinator.snapshot-every = 3"));
    }

    @Test
    void aNewActorSystemRecoversTheJobFromThePostgresJournal() {
        String id = "c-recover-" + java.util.UUID.randomUUID();
        Config pg = TestConfigs.localPostgres(id, "shoal.coordinator.snapshot-every = 3");
        org.junit.jupiter.api.Assumptions.assumeTrue(
                pg != null,
                "SHOAL_TEST_PG_URL, SHOAL_TEST_PG_USER, SHOAL_TEST_PG_PASSWORD are not set (.ci/run sets them)");
        recoversAcrossActorSystems(() -> pg);
    }

    private void recoversAcrossActorSystems(java.util.function.Supplier<Config> config) {
        var c = start(config.get(), 2, new TestStepRunner.Factory(10, -1));
        await(c, s -> s.workers().size() == 2, "2 registered workers");
        String job = submit(c, spec(2, 8, 2, 100_000));
        await(c, s -> s.step() >= 2, "step 2");
        assertTrue(commit(c, checkpoint(1)).isSuccess());
        assertTrue(commit(c, checkpoint(2)).isSuccess());
        Coordinator.Status before = await(c, s -> true, "status");
        kit.shutdownTestKit(); // the whole ActorSystem goes away
        kit = null;

        // A new system without workers: the job, its mesh and checkpoints come back from the journal;
        // its mesh workers are gone: RECOVERING finds no live rank and (after the grace) fails, saying why.
        var recovered = start(
                com.typesafe.config.ConfigFactory.parseString("shoal.coordinator.recovery-grace = 1s")
                        .withFallback(config.get()),
                0,
                null);
        Coordinator.Status after = await(recovered, s -> s.phase() == Phase.FAILED, "FAILED after recovery");
        assertEquals(job, after.jobId());
        assertEquals(before.spec(), after.spec());
        assertEquals(before.meshEpoch() + 1, after.meshEpoch(), "MeshLost opened a new epoch");
        assertEquals(before.meshRanks(), after.meshRanks());
        assertEquals(List.of(checkpoint(1), checkpoint(2)), after.checkpoints());
        assertTrue(after.message().contains("left the cluster"), after.message());
        assertTrue(after.message().contains("no full replica is left: 0 live rank(s)"), after.message());
        assertTrue(after.message().contains("last committed checkpoint is step 2"), after.message());
        assertEquals(0, after.workers().size());
    }

    private static void sleep(long ms) {
        try {
            Thread.sleep(ms);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }
}
