// The coordinator's RESCALING in one JVM with the test StepRunner: a ScaleJob is journaled as
// ScaleRequested, the step after the request checkpoints, the mesh re-forms at the new dp from that
// checkpoint under a new epoch, and the Watch events carry the cause and the timings; refusals name
// the value and their kind (INVALID_SCALE: the request is wrong). Engine-level proof: ClusterRescaleTest.
package dev.shoal.actors.coordinator;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.typesafe.config.ConfigValueFactory;
import dev.shoal.actors.TestConfigs;
import dev.shoal.actors.node.CpuRanks;
import dev.shoal.actors.node.JournalSchema;
import dev.shoal.actors.node.NodeAgent;
import dev.shoal.actors.worker.TestStepRunner;
import dev.shoal.proto.v1.JobSpec;
import dev.shoal.proto.v1.Parallelism;
import dev.shoal.proto.v1.Phase;
import dev.shoal.proto.v1.PhaseChange;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.function.Predicate;
import org.apache.pekko.actor.testkit.typed.javadsl.ActorTestKit;
import org.apache.pekko.actor.testkit.typed.javadsl.TestProbe;
import org.apache.pekko.actor.typed.ActorRef;
import org.apache.pekko.pattern.StatusReply;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class CoordinatorRescaleTest {

    @TempDir
    Path dir;

    ActorTestKit kit;

    @AfterEach
    void stop() {
        if (kit != null) kit.shutdownTestKit();
    }

    static JobSpec spec(int dp, long steps, String ckptDir) {
        return JobSpec.newBuilder()
                .setName("rescale")
                .setModel("tiny")
                .setSeqLen(64)
                .setGlobalBatch(6)
                .setMicroBatch(1)
                .setSteps(steps)
                .setCheckpointDir(ckptDir)
                .setParallelism(Parallelism.newBuilder().setTp(1).setPp(1).setDp(dp))
                .build();
    }

    private ActorRef<Coordinator.Command> start(int ranks, TestStepRunner.Factory factory) {
        var config = TestConfigs.localH2(dir, "c-rescale");
        kit = ActorTestKit.create("shoal", config);
        JournalSchema.ensure(kit.system(), config, Duration.ofSeconds(30));
        kit.spawn(
                NodeAgent.create(
                        List.of(new CpuRanks()),
                        config.withValue(CpuRanks.KEY, ConfigValueFactory.fromAnyRef(ranks)),
                        factory),
                "node-agent");
        var c = kit.spawn(Coordinator.create(CoordinatorSettings.from(config)), "coordinator");
        await(c, s -> s.workers().size() == ranks, ranks + " registered workers");
        return c;
    }

    private Coordinator.Status await(ActorRef<Coordinator.Command> c, Predicate<Coordinator.Status> p, String what) {
        TestProbe<Coordinator.Status> probe = kit.createTestProbe();
        long deadline = System.nanoTime() + Duration.ofSeconds(20).toNanos();
        Coordinator.Status last = null;
        while (System.nanoTime() < deadline) {
            c.tell(new Coordinator.GetStatus(probe.ref()));
            last = probe.receiveMessage(Duration.ofSeconds(15));
            if (p.test(last)) return last;
            try {
                Thread.sleep(10);
            } catch (InterruptedException e) {
                throw new AssertionError(e);
            }
        }
        throw new AssertionError("timed out waiting for " + what + "; last status " + last);
    }

    private StatusReply<Coordinator.ScaleAccepted> scale(ActorRef<Coordinator.Command> c, int dp) {
        TestProbe<StatusReply<Coordinator.ScaleAccepted>> probe = kit.createTestProbe();
        c.tell(new Coordinator.ScaleJob(dp, "test", probe.ref()));
        return probe.receiveMessage(Duration.ofSeconds(10));
    }

    private void submit(ActorRef<Coordinator.Command> c, JobSpec spec) {
        TestProbe<StatusReply<Coordinator.JobAccepted>> probe = kit.createTestProbe();
        c.tell(new Coordinator.SubmitJob(spec, probe.ref()));
        StatusReply<Coordinator.JobAccepted> r = probe.receiveMessage();
        assertTrue(r.isSuccess(), () -> "submit refused: " + r.getError().getMessage());
    }

    @Test
    void aScaleReformsAtTheNextStepBoundaryFromACheckpointTakenThere() {
        var factory = new TestStepRunner.Factory(5, -1, true);
        var c = start(3, factory);
        TestProbe<Coordinator.Published> events = kit.createTestProbe();
        c.tell(new Coordinator.Subscribe(events.ref()));
        submit(c, spec(2, 40, "/ckpt"));
        Coordinator.Status before = await(c, s -> s.phase() == Phase.TRAINING && s.step() >= 3, "step 3");
        assertEquals(2, before.meshRanks().size());

        factory.hold(true); // steps wait while the test acts (a fast machine would finish the job first)
        StatusReply<Coordinator.ScaleAccepted> up = scale(c, 3);
        factory.hold(false);
        assertTrue(up.isSuccess(), () -> up.getError().getMessage());
        long effective = up.getValue().effectiveStep();
        Coordinator.Status grown =
                await(c, s -> s.phase() == Phase.TRAINING && s.meshRanks().size() == 3, "the dp 3 mesh");
        // The step after the one running at the request checkpointed; the new mesh starts after it.
        assertEquals(
                List.of(effective - 1),
                grown.checkpoints().stream().map(x -> x.getStep()).toList());
        assertEquals(3, grown.spec().getParallelism().getDp(), "the job's dp is now 3");
        assertEquals(before.meshEpoch() + 1, grown.meshEpoch());
        String joined = "join " + grown.meshEpoch() + " 2 " + effective + " /ckpt/step-" + (effective - 1);
        assertTrue(
                factory.runners.values().stream().anyMatch(r -> r.calls.contains(joined)),
                () -> "a rank joined with '" + joined + "': " + factory.runners);

        // Shrink back to 2; the boundary again reloads a committed step.
        Coordinator.Status at = await(c, s -> s.step() >= effective + 2, "two steps on dp 3");
        factory.hold(true);
        assertTrue(scale(c, 2).isSuccess());
        factory.hold(false);
        Coordinator.Status shrunk =
                await(c, s -> s.phase() == Phase.TRAINING && s.meshRanks().size() == 2, "the dp 2 mesh");
        assertEquals(at.meshEpoch() + 1, shrunk.meshEpoch());
        Coordinator.Status done = await(c, s -> s.phase() == Phase.COMPLETED, "COMPLETED");
        assertEquals(40, done.step());

        // Watch: TRAINING → RESCALING (cause) → TRAINING (timings), then the first step after it.
        List<PhaseChange> changes = new ArrayList<>();
        while (true) {
            var e = events.receiveMessage(Duration.ofSeconds(5)).event();
            if (e.hasPhase()) changes.add(e.getPhase());
            if (e.hasPhase() && e.getPhase().getTo() == Phase.COMPLETED) break;
        }
        List<String> path =
                changes.stream().map(p -> p.getFrom() + ">" + p.getTo()).toList();
        assertEquals(
                List.of(
                        "IDLE>FORMING",
                        "FORMING>TRAINING",
                        "TRAINING>RESCALING",
                        "RESCALING>TRAINING",
                        "TRAINING>TRAINING",
                        "TRAINING>RESCALING",
                        "RESCALING>TRAINING",
                        "TRAINING>TRAINING",
                        "TRAINING>COMPLETED"),
                path);
        String cause = changes.get(2).getCause();
        assertTrue(cause.startsWith("rescaling dp 2 → 3 after step " + (effective - 1) + ": test"), cause);
        String formed = changes.get(3).getCause();
        assertTrue(formed.contains("drain") && formed.contains("re-mesh") && formed.contains("reload"), formed);
        assertTrue(
                changes.get(4).getCause().startsWith("rescale to dp 3 done: step " + effective),
                changes.get(4).getCause());
    }

    @Test
    void refusalsNameTheValueAndTheirKind() {
        var c = start(3, new TestStepRunner.Factory(30, -1, true));
        assertEquals("no running job (phase IDLE)", scale(c, 2).getError().getMessage());
        submit(c, spec(2, 200, "/ckpt"));
        await(c, s -> s.phase() == Phase.TRAINING && s.step() >= 1, "training");

        String batch = scale(c, 4).getError().getMessage();
        assertTrue(batch.startsWith(Coordinator.INVALID_SCALE + "dp 4: global_batch 6 is not divisible"), batch);
        String many = scale(c, 6).getError().getMessage();
        assertEquals("dp 6: tp 1 × pp 1 × dp 6 = 6 ranks, but 3 are registered; dp 1, 2 or 3 would fit", many);
        assertEquals("the mesh already runs at dp 2", scale(c, 2).getError().getMessage());
        assertTrue(scale(c, 0).getError().getMessage().startsWith(Coordinator.INVALID_SCALE), "dp 0");
        assertEquals(Phase.TRAINING, await(c, s -> true, "status").phase(), "refusals change nothing");
    }

    @Test
    void aJobWithoutCheckpointDirCannotBeRescaled() {
        var c = start(2, new TestStepRunner.Factory(30, -1, true));
        submit(c, spec(1, 200, ""));
        await(c, s -> s.phase() == Phase.TRAINING && s.step() >= 1, "training");
        String e = scale(c, 2).getError().getMessage();
        assertTrue(e.contains("no checkpoint_dir"), e);
    }
}
