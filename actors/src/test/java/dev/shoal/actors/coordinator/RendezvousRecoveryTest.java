// The coordinator's two-phase rendezvous with scripted workers: a mesh's table is handed out only once
// every rank published; a rank lost mid-rendezvous (it never answered phase 1, then its actor stopped)
// sends the job RECOVERING, the survivors leave the half-formed epoch, and the next epoch gathers and
// hands out a fresh table; a phase-1 answer of the abandoned epoch that arrives late is dropped.
package dev.shoal.actors.coordinator;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.shoal.actors.TestConfigs;
import dev.shoal.actors.node.JournalSchema;
import dev.shoal.actors.worker.GpuWorker;
import dev.shoal.actors.worker.WorkerInfo;
import dev.shoal.proto.v1.JobSpec;
import dev.shoal.proto.v1.Parallelism;
import dev.shoal.proto.v1.Phase;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.atomic.AtomicReference;
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

class RendezvousRecoveryTest {

    @TempDir
    Path dir;

    ActorTestKit kit;
    final List<String> log = new CopyOnWriteArrayList<>();

    @AfterEach
    void stop() {
        if (kit != null) kit.shutdownTestKit();
    }

    /**
     * A worker that publishes "tcp/rank<R>" → "<id>@<epoch>" in phase 1 (unless silent: then it keeps the
     * reply address in {@code held}), logs every ConnectMesh with its table, and completes every step.
     */
    private Behavior<GpuWorker.Command> worker(
            WorkerInfo info, boolean silent, AtomicReference<ActorRef<StatusReply<GpuWorker.MeshPrepared>>> held) {
        return Behaviors.setup(ctx -> {
            ctx.getSystem().receptionist().tell(Receptionist.register(GpuWorker.SERVICE_KEY, ctx.getSelf()));
            int[] rank = {-1};
            String id = "w" + info.localIndex();
            return Behaviors.receive(GpuWorker.Command.class)
                    .onMessage(GpuWorker.Describe.class, m -> {
                        m.replyTo().tell(info);
                        return Behaviors.same();
                    })
                    .onMessage(GpuWorker.JoinMesh.class, m -> {
                        long e = m.mesh().epoch();
                        rank[0] = m.mesh().rank();
                        log.add(id + " prepare " + e + " rank " + rank[0]);
                        if (silent) {
                            held.set(m.replyTo());
                        } else {
                            byte[] addr = (id + "@" + e).getBytes(StandardCharsets.UTF_8);
                            m.replyTo()
                                    .tell(StatusReply.success(new GpuWorker.MeshPrepared(
                                            e, rank[0], Map.of("tcp/rank" + rank[0], addr))));
                        }
                        return Behaviors.same();
                    })
                    .onMessage(GpuWorker.ConnectMesh.class, m -> {
                        var t = m.rendezvous();
                        StringBuilder sb = new StringBuilder(id + " connect " + t.epoch());
                        for (int r = 0; r < t.entries().size(); r++)
                            sb.append(' ').append(t.tcpEndpoint(r));
                        log.add(sb.toString());
                        m.replyTo().tell(StatusReply.success(new GpuWorker.MeshJoined(t.epoch(), rank[0])));
                        return Behaviors.same();
                    })
                    .onMessage(GpuWorker.LeaveMesh.class, m -> {
                        log.add(id + " leave " + m.epoch());
                        return Behaviors.same();
                    })
                    .onMessage(GpuWorker.Step.class, m -> {
                        m.replyTo()
                                .tell(new GpuWorker.StepDone(
                                        m.epoch(), m.step(), rank[0], 1.0, 100, new GpuWorker.StepTimings(0, 0)));
                        return Behaviors.same();
                    })
                    .onMessage(GpuWorker.FeedBatch.class, m -> Behaviors.same())
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
            sleep(20);
        }
        throw new AssertionError("timed out waiting for " + what + "; last status " + last + "; log " + log);
    }

    private void awaitLog(String line) {
        long deadline = System.nanoTime() + Duration.ofSeconds(20).toNanos();
        while (!log.contains(line)) {
            if (System.nanoTime() > deadline) throw new AssertionError("no '" + line + "' in " + log);
            sleep(10);
        }
    }

    @Test
    void aRankLostMidRendezvousStartsRecoveryAndTheNextEpochGetsAFreshTable() {
        var config = TestConfigs.localH2(dir, "rv-lost");
        kit = ActorTestKit.create("shoal", config);
        JournalSchema.ensure(kit.system(), config, Duration.ofSeconds(30));
        String node = "pekko://shoal@127.0.0.1:2552";
        AtomicReference<ActorRef<StatusReply<GpuWorker.MeshPrepared>>> held = new AtomicReference<>();
        kit.spawn(worker(new WorkerInfo(node, WorkerInfo.CPU, 0), false, held), "w0");
        ActorRef<GpuWorker.Command> lost = kit.spawn(worker(new WorkerInfo(node, WorkerInfo.CPU, 1), true, held), "w1");
        var c = kit.spawn(Coordinator.create(CoordinatorSettings.from(config)), "coordinator");
        await(c, s -> s.workers().size() == 2, "2 registered workers");

        JobSpec spec = JobSpec.newBuilder()
                .setName("rv")
                .setModel("tiny")
                .setSeqLen(64)
                .setGlobalBatch(8)
                .setMicroBatch(2)
                .setSteps(2)
                .setParallelism(Parallelism.newBuilder().setTp(1).setPp(1).setDp(2))
                .build();
        TestProbe<StatusReply<Coordinator.JobAccepted>> accepted = kit.createTestProbe();
        c.tell(new Coordinator.SubmitJob(spec, accepted.ref()));
        StatusReply<Coordinator.JobAccepted> reply = accepted.receiveMessage();
        assertTrue(
                reply.isSuccess(), () -> "submit refused: " + reply.getError().getMessage());

        // Epoch 1: w0 (rank 0) publishes, w1 (rank 1) never does; no table may go out.
        awaitLog("w0 prepare 1 rank 0");
        awaitLog("w1 prepare 1 rank 1");
        sleep(300);
        assertTrue(log.stream().noneMatch(l -> l.contains("connect")), log::toString);
        // A spare rank joins the cluster meanwhile (it is not in epoch 1's mesh).
        kit.spawn(worker(new WorkerInfo(node, WorkerInfo.CPU, 2), false, held), "w2");
        await(c, s -> s.workers().size() == 3, "the spare registered");

        // w1 is lost mid-rendezvous: RECOVERING, w0 leaves epoch 1, epoch 3 forms on w0 and w2.
        kit.stop(lost);
        awaitLog("w0 leave 1");
        awaitLog("w0 connect 3 w0@3 w2@3");
        awaitLog("w2 connect 3 w0@3 w2@3");

        // A phase-1 answer of the abandoned epoch arriving late is dropped: no table for epoch 1.
        held.get()
                .tell(StatusReply.success(new GpuWorker.MeshPrepared(
                        1, 1, Map.of("tcp/rank1", "w1@1".getBytes(StandardCharsets.UTF_8)))));
        Coordinator.Status done = await(c, s -> s.phase() == Phase.COMPLETED, "the job completed");
        assertEquals(3, done.meshEpoch());
        assertEquals(2, done.step());
        assertFalse(log.stream().anyMatch(l -> l.contains("connect 1")), log::toString);
        assertEquals(1, log.stream().filter(l -> l.startsWith("w0 connect")).count(), log::toString);
    }

    private static void sleep(long ms) {
        try {
            Thread.sleep(ms);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }
}
