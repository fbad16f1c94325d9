// Per-node registration and the per-node recovery probe, with scripted node agents: each agent registers
// once under NodeAgent.WORKERS_KEY and answers DescribeWorkers for its two child workers. The coordinator
// registers all four workers from the two descriptions, never asks a worker to Describe itself, probes
// each node once per recovery (O(nodes) messages), and loses all of a node's workers at once when its
// agent leaves the listing.
package dev.shoal.actors.coordinator;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.shoal.actors.TestConfigs;
import dev.shoal.actors.node.JournalSchema;
import dev.shoal.actors.node.NodeAgent;
import dev.shoal.actors.node.NodeMeshFanOut;
import dev.shoal.actors.worker.GpuWorker;
import dev.shoal.actors.worker.WorkerInfo;
import dev.shoal.proto.v1.JobSpec;
import dev.shoal.proto.v1.Parallelism;
import dev.shoal.proto.v1.Phase;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.Predicate;
import org.apache.pekko.actor.testkit.typed.javadsl.ActorTestKit;
import org.apache.pekko.actor.testkit.typed.javadsl.TestProbe;
import org.apache.pekko.actor.typed.ActorRef;
import org.apache.pekko.actor.typed.Behavior;
import org.apache.pekko.actor.typed.javadsl.Behaviors;
import org.apache.pekko.actor.typed.receptionist.Receptionist;
import org.apache.pekko.pattern.StatusReply;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class PerNodeRegistrationTest {

    @TempDir
    Path dir;

    ActorTestKit kit;
    final AtomicInteger directDescribes = new AtomicInteger();
    final AtomicInteger joinMeshes = new AtomicInteger(), connectMeshes = new AtomicInteger();
    final AtomicInteger leaveMeshes = new AtomicInteger(), workerJoins = new AtomicInteger();

    @AfterEach
    void stop() {
        if (kit != null) kit.shutdownTestKit();
    }

    /** A worker that joins every mesh, takes stepMillis per step and fails step {@code failStep} once. */
    private Behavior<GpuWorker.Command> worker(WorkerInfo info, long failStep, long stepMillis) {
        return Behaviors.setup(ctx -> {
            int[] rank = {-1};
            boolean[] failed = {false};
            return Behaviors.receive(GpuWorker.Command.class)
                    .onMessage(GpuWorker.Describe.class, m -> {
                        directDescribes.incrementAndGet();
                        m.replyTo().tell(info);
                        return Behaviors.same();
                    })
                    .onMessage(GpuWorker.JoinMesh.class, m -> {
                        workerJoins.incrementAndGet();
                        rank[0] = m.mesh().rank();
                        m.replyTo()
                                .tell(StatusReply.success(
                                        new GpuWorker.MeshPrepared(m.mesh().epoch(), rank[0], Map.of())));
                        return Behaviors.same();
                    })
                    .onMessage(GpuWorker.ConnectMesh.class, m -> {
                        long e = m.rendezvous().epoch();
                        m.replyTo().tell(StatusReply.success(new GpuWorker.MeshJoined(e, rank[0])));
                        return Behaviors.same();
                    })
                    .onMessage(GpuWorker.Step.class, m -> {
                        GpuWorker.StepReply r = m.step() == failStep && !failed[0]
                                ? new GpuWorker.StepFailed(m.epoch(), m.step(), rank[0], "injected")
                                : new GpuWorker.StepDone(
                                        m.epoch(), m.step(), rank[0], 1.0, 100, new GpuWorker.StepTimings(0, 0));
                        if (r instanceof GpuWorker.StepFailed) failed[0] = true;
                        ctx.scheduleOnce(Duration.ofMillis(stepMillis), m.replyTo(), r);
                        return Behaviors.same();
                    })
                    .onMessage(GpuWorker.LeaveMesh.class, m -> Behaviors.same())
                    .onMessage(GpuWorker.FeedBatch.class, m -> Behaviors.same())
                    .build();
        });
    }

    /** A node agent of two child workers (its children, as NodeAgent's), registered per node; counts DescribeWorkers. */
    private Behavior<NodeAgent.Command> agent(String node, AtomicInteger asked, long failStep, long stepMillis) {
        return Behaviors.setup(ctx -> {
            List<WorkerInfo> infos = new ArrayList<>();
            List<ActorRef<GpuWorker.Command>> refs = new ArrayList<>();
            for (int i = 0; i < 2; i++) {
                WorkerInfo info = new WorkerInfo(node, WorkerInfo.CPU, i);
                // This agent answers from what it knows: any Describe a worker gets came from the coordinator.
                ActorRef<GpuWorker.Command> ref =
                        ctx.spawn(worker(info, i == 1 ? failStep : -1, stepMillis), "worker-cpu" + i);
                infos.add(info);
                refs.add(ref);
            }
            ctx.getSystem().receptionist().tell(Receptionist.register(NodeAgent.WORKERS_KEY, ctx.getSelf()));
            return Behaviors.receive(NodeAgent.Command.class)
                    .onMessage(NodeAgent.DescribeWorkers.class, m -> {
                        asked.incrementAndGet();
                        m.replyTo().tell(new NodeAgent.NodeWorkers(node, infos, refs));
                        return Behaviors.same();
                    })
                    // The mesh protocol per node, as NodeAgent relays it to its workers.
                    .onMessage(NodeAgent.JoinMeshes.class, m -> {
                        joinMeshes.incrementAndGet();
                        NodeMeshFanOut.join(ctx, m);
                        return Behaviors.same();
                    })
                    .onMessage(NodeAgent.ConnectMeshes.class, m -> {
                        connectMeshes.incrementAndGet();
                        NodeMeshFanOut.connect(ctx, m);
                        return Behaviors.same();
                    })
                    .onMessage(NodeAgent.LeaveMeshes.class, m -> {
                        leaveMeshes.incrementAndGet();
                        NodeMeshFanOut.leave(m);
                        return Behaviors.same();
                    })
                    .build();
        });
    }

    private Coordinator.Status await(ActorRef<Coordinator.Command> c, Predicate<Coordinator.Status> p, String what) {
        TestProbe<Coordinator.Status> probe = kit.createTestProbe();
        long deadline = System.nanoTime() + Duration.ofSeconds(30).toNanos();
        Coordinator.Status last = null;
        while (System.nanoTime() < deadline) {
            c.tell(new Coordinator.GetStatus(probe.ref()));
            last = probe.receiveMessage(Duration.ofSeconds(20));
            if (p.test(last)) return last;
            try {
                Thread.sleep(20);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
        }
        throw new AssertionError("timed out waiting for " + what + "; last status " + last);
    }

    private static JobSpec spec(int dp, long steps) {
        return JobSpec.newBuilder()
                .setName("per-node")
                .setModel("tiny")
                .setSeqLen(64)
                .setGlobalBatch(8)
                .setMicroBatch(2)
                .setSteps(steps)
                .setParallelism(Parallelism.newBuilder().setTp(1).setPp(1).setDp(dp))
                .build();
    }

    private void submit(ActorRef<Coordinator.Command> c, JobSpec spec) {
        TestProbe<StatusReply<Coordinator.JobAccepted>> accepted = kit.createTestProbe();
        c.tell(new Coordinator.SubmitJob(spec, accepted.ref()));
        StatusReply<Coordinator.JobAccepted> reply = accepted.receiveMessage();
        assertTrue(
                reply.isSuccess(), () -> "submit refused: " + reply.getError().getMessage());
    }

    @Test
    void registrationAndTheRecoveryProbeAskEachNodeOnceAndNoWorker() {
        var config = TestConfigs.localH2(dir, "per-node-probe");
        kit = ActorTestKit.create("shoal", config);
        JournalSchema.ensure(kit.system(), config, Duration.ofSeconds(30));
        AtomicInteger askedA = new AtomicInteger(), askedB = new AtomicInteger();
        kit.spawn(agent("pekko://shoal@10.0.0.1:2552", askedA, 3, 1), "agent-a");
        kit.spawn(agent("pekko://shoal@10.0.0.2:2552", askedB, -1, 1), "agent-b");
        var c = kit.spawn(Coordinator.create(CoordinatorSettings.from(config)), "coordinator");
        await(c, s -> s.workerCount() == 4, "4 workers registered from 2 node descriptions");
        assertEquals(1, askedA.get());
        assertEquals(1, askedB.get());

        // Rank 1 fails step 3 once: RECOVERING probes each node once, then the same 4 ranks re-form.
        submit(c, spec(4, 6));
        Coordinator.Status done = await(c, s -> s.phase() == Phase.COMPLETED, "the job completed");
        assertEquals(3, done.meshEpoch(), "MeshLost (2), MeshFormed (3)");
        assertEquals(4, done.meshSize());
        assertEquals(6, done.step());
        assertEquals(2, askedA.get(), "registration + one probe");
        assertEquals(2, askedB.get(), "registration + one probe");
        assertEquals(0, directDescribes.get(), "no worker was asked directly");
        // Both meshes (epochs 1 and 3) went out per node: one JoinMeshes and one ConnectMeshes per node
        // and mesh, relayed to the 4 workers; the recovery told each node once to leave epoch 1.
        assertEquals(4, joinMeshes.get(), "2 nodes × 2 meshes");
        assertEquals(4, connectMeshes.get(), "2 nodes × 2 meshes");
        assertEquals(8, workerJoins.get(), "4 workers × 2 meshes, each JoinMesh relayed by its agent");
        assertTrue(leaveMeshes.get() >= 2, "each node left mesh epoch 1: " + leaveMeshes.get());
    }

    @Test
    void aNodeWhoseAgentLeavesTheListingLosesAllItsWorkersAndTheJobShrinks() {
        var config = TestConfigs.localH2(dir, "per-node-loss", "shoal.coordinator.recovery-grace = 0s");
        kit = ActorTestKit.create("shoal", config);
        JournalSchema.ensure(kit.system(), config, Duration.ofSeconds(30));
        AtomicInteger askedA = new AtomicInteger(), askedB = new AtomicInteger();
        kit.spawn(agent("pekko://shoal@10.0.0.1:2552", askedA, -1, 20), "agent-a");
        ActorRef<NodeAgent.Command> b = kit.spawn(agent("pekko://shoal@10.0.0.2:2552", askedB, -1, 20), "agent-b");
        var c = kit.spawn(Coordinator.create(CoordinatorSettings.from(config)), "coordinator");
        await(c, s -> s.workerCount() == 4, "4 workers registered");
        submit(c, spec(4, 60));
        await(c, s -> s.step() >= 3, "step 3");
        kit.stop(b); // node B is gone with both its workers (its agent leaves the listing)
        Coordinator.Status done = await(c, s -> s.phase() == Phase.COMPLETED, "the job completed on node A");
        assertEquals(2, done.workerCount(), "node B's two workers were lost together");
        assertTrue(done.workers().stream().allMatch(w -> w.info().node().equals("pekko://shoal@10.0.0.1:2552")));
        assertEquals(2, done.meshSize(), "dp 4 → 2 on node A");
        assertEquals(60, done.step());
        assertEquals(2, askedA.get(), "registration + one probe of node A");
        assertEquals(1, askedB.get(), "node B was not probed after it left");
        assertEquals(0, directDescribes.get());
    }

    @Test
    void aStatusPageHoldsAWindowOfTheWorkersWithTheWholeCounts() {
        var config = TestConfigs.localH2(dir, "per-node-pages");
        kit = ActorTestKit.create("shoal", config);
        JournalSchema.ensure(kit.system(), config, Duration.ofSeconds(30));
        kit.spawn(agent("pekko://shoal@10.0.0.1:2552", new AtomicInteger(), -1, 1), "agent-a");
        kit.spawn(agent("pekko://shoal@10.0.0.2:2552", new AtomicInteger(), -1, 1), "agent-b");
        var c = kit.spawn(Coordinator.create(CoordinatorSettings.from(config)), "coordinator");
        await(c, s -> s.workerCount() == 4, "4 workers registered");
        TestProbe<Coordinator.Status> probe = kit.createTestProbe();
        c.tell(new Coordinator.GetStatus(probe.ref(), 1, 2));
        Coordinator.Status page = probe.receiveMessage();
        assertEquals(4, page.workerCount());
        assertEquals(1, page.from());
        assertEquals(2, page.workers().size());
        assertTrue(!page.whole());
        Coordinator.Status whole = StatusPages.fetch(c, Duration.ofSeconds(5), kit.scheduler())
                .toCompletableFuture()
                .join();
        assertTrue(whole.whole());
        assertEquals(page.workers(), whole.workers().subList(1, 3));
    }
}
