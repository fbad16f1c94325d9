// The coordinator's peer-copy path end to end in one JVM, against a stand-in engine (PeerRunner below:
// no tensors) that publishes a copy endpoint per rank on its own "node", acknowledges a peer copy of
// every 2nd step with the next step, fails step 7 once, and cannot load peer copies. The coordinator
// journals the complete set of step 4, recovers from it (newer than any durable checkpoint: there is
// none), and when every rank's join fails with "peer copies unavailable" recovers again from the
// durable state (here the initial weights) and completes the job.
package dev.shoal.actors.coordinator;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.shoal.actors.TestConfigs;
import dev.shoal.actors.node.CpuRanks;
import dev.shoal.actors.node.JournalSchema;
import dev.shoal.actors.node.NodeAgent;
import dev.shoal.actors.worker.MeshAssignment;
import dev.shoal.actors.worker.PeerRestore;
import dev.shoal.actors.worker.Rendezvous;
import dev.shoal.actors.worker.StepResult;
import dev.shoal.actors.worker.StepRunner;
import dev.shoal.actors.worker.WorkerInfo;
import dev.shoal.proto.v1.Phase;
import java.io.IOException;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.atomic.AtomicBoolean;
import org.apache.pekko.actor.testkit.typed.javadsl.ActorTestKit;
import org.apache.pekko.actor.testkit.typed.javadsl.TestProbe;
import org.apache.pekko.actor.typed.ActorRef;
import org.apache.pekko.pattern.StatusReply;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class CoordinatorPeerFallbackTest {
    @TempDir
    Path dir;

    private ActorTestKit kit;

    @AfterEach
    void stop() {
        if (kit != null) kit.shutdownTestKit();
    }

    /** What every rank was asked: "join e<epoch> from <startStep> peers|durable". */
    static final List<String> JOINS = new CopyOnWriteArrayList<>();

    static final AtomicBoolean FAILED_ONCE = new AtomicBoolean();

    /** TEST DOUBLE: the control-plane side of an engine with peer copies, without tensors. */
    static final class PeerRunner implements StepRunner {
        private final WorkerInfo device;
        private long epoch;

        PeerRunner(WorkerInfo device) {
            this.device = device;
        }

        @Override
        public Map<String, byte[]> prepareMesh(MeshAssignment a) {
            // Each rank on a node of its own, so each has a buddy in the other replica.
            return Map.of(
                    PeerRestore.peerKey(a.rank()),
                    PeerRestore.peerEntry("node-" + device.id(), "127.0.0.1:" + (40000 + a.rank())));
        }

        @Override
        public void joinMesh(MeshAssignment a, Rendezvous table) throws Exception {
            boolean peers = table.entries().containsKey(PeerRestore.KEY);
            JOINS.add("join e" + a.epoch() + " from " + a.startStep() + (peers ? " peers" : " durable"));
            if (peers) {
                PeerRestore plan = PeerRestore.decode(table.bytes(PeerRestore.KEY));
                throw new IOException(PeerRestore.UNAVAILABLE + ": the holders of step " + plan.step() + " are gone");
            }
            epoch = a.epoch();
        }

        @Override
        public void joinMesh(MeshAssignment a) {
            throw new UnsupportedOperationException("needs the rendezvous");
        }

        @Override
        public StepResult runStep(long e, long step) throws Exception {
            if (step == 7 && e == 1 && FAILED_ONCE.compareAndSet(false, true)) {
                throw new IOException("injected failure at step 7");
            }
            // A copy every 2 steps, acknowledged with the next step's report.
            long acked = step > 1 && (step - 1) % 2 == 0 ? step - 1 : 0;
            return new StepResult(1.0 / step, 1000, Map.of(), 1, 1e-3, "", 0, -1, acked);
        }

        @Override
        public void abortMesh(long e) {}

        @Override
        public void close() {}
    }

    @Test
    void aPeerLoadThatFailsFallsBackToTheDurableState() {
        JOINS.clear();
        FAILED_ONCE.set(false);
        var config = TestConfigs.localH2(dir, "c-peer", "shoal.coordinator.recovery-grace = 1s");
        kit = ActorTestKit.create("shoal", config);
        JournalSchema.ensure(kit.system(), config, Duration.ofSeconds(30));
        var c2 = config.withValue(CpuRanks.KEY, com.typesafe.config.ConfigValueFactory.fromAnyRef(2));
        kit.spawn(NodeAgent.create(List.of(new CpuRanks()), c2, PeerRunner::new), "node-agent");
        ActorRef<Coordinator.Command> c =
                kit.spawn(Coordinator.create(CoordinatorSettings.from(config)), "coordinator");
        await(c, s -> s.workers().size() == 2, "2 registered workers");
        TestProbe<StatusReply<Coordinator.JobAccepted>> accepted = kit.createTestProbe();
        c.tell(new Coordinator.SubmitJob(
                CoordinatorTest.spec(2, 8, 2, 10).toBuilder()
                        .setPeerCopyEvery(2)
                        .build(),
                accepted.ref()));
        assertTrue(accepted.receiveMessage().isSuccess());
        Coordinator.Status done = await(c, s -> s.phase() == Phase.COMPLETED || s.phase() == Phase.FAILED, "the end");
        assertEquals(Phase.COMPLETED, done.phase(), done.message());
        assertEquals(10, done.step());
        // Mesh 1 from step 1; mesh 3 from the peer copies of step 4 (set 4 was complete when step 7
        // failed; set 6 was not); its load failed, so mesh 5 resumed from the durable state.
        assertEquals(
                List.of(
                        "join e1 from 1 durable",
                        "join e1 from 1 durable",
                        "join e3 from 5 peers",
                        "join e3 from 5 peers",
                        "join e5 from 1 durable",
                        "join e5 from 1 durable"),
                JOINS.stream().sorted().toList());
    }

    private Coordinator.Status await(
            ActorRef<Coordinator.Command> c, java.util.function.Predicate<Coordinator.Status> p, String what) {
        TestProbe<Coordinator.Status> probe = kit.createTestProbe();
        long deadline = System.nanoTime() + Duration.ofSeconds(30).toNanos();
        Coordinator.Status last = null;
        while (System.nanoTime() < deadline) {
            c.tell(new Coordinator.GetStatus(probe.ref()));
            last = probe.receiveMessage(Duration.ofSeconds(5));
            if (p.test(last)) return last;
            try {
                Thread.sleep(20);
            } catch (InterruptedException e) {
                throw new AssertionError(e);
            }
        }
        throw new AssertionError("timed out waiting for " + what + "; last status " + last);
    }
}
