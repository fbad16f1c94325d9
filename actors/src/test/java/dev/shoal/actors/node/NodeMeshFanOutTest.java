// NodeMeshFanOut: one JoinMeshes / ConnectMeshes reaches each listed worker as its own JoinMesh (with its
// rank) / ConnectMesh (its rank's share), and comes back as ONE MeshReplies naming every rank in order:
// what it published, its refusal verbatim, or a timeout for a worker that never answers.
package dev.shoal.actors.node;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.shoal.actors.worker.GpuWorker;
import dev.shoal.actors.worker.MeshAssignment;
import dev.shoal.actors.worker.Rendezvous;
import dev.shoal.comm.ParallelDims;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentLinkedQueue;
import org.apache.pekko.actor.testkit.typed.javadsl.ActorTestKit;
import org.apache.pekko.actor.testkit.typed.javadsl.TestProbe;
import org.apache.pekko.actor.typed.ActorRef;
import org.apache.pekko.actor.typed.Behavior;
import org.apache.pekko.actor.typed.javadsl.Behaviors;
import org.apache.pekko.pattern.StatusReply;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

class NodeMeshFanOutTest {

    static ActorTestKit kit;

    @BeforeAll
    static void start() {
        kit = ActorTestKit.create();
    }

    @AfterAll
    static void stop() {
        kit.shutdownTestKit();
    }

    /** A worker that publishes its endpoint ("ok"), refuses ("busy"), or never answers ("silent"). */
    private static Behavior<GpuWorker.Command> worker(String kind, ConcurrentLinkedQueue<String> seen) {
        return Behaviors.receive(GpuWorker.Command.class)
                .onMessage(GpuWorker.JoinMesh.class, m -> {
                    int rank = m.mesh().rank();
                    seen.add(kind + " join rank " + rank + " epoch " + m.mesh().epoch());
                    if (kind.equals("ok"))
                        m.replyTo()
                                .tell(StatusReply.success(new GpuWorker.MeshPrepared(
                                        m.mesh().epoch(),
                                        rank,
                                        Map.of(
                                                Rendezvous.tcpKey(rank),
                                                ("h:" + rank).getBytes(StandardCharsets.UTF_8)))));
                    if (kind.equals("busy")) m.replyTo().tell(StatusReply.error("worker-cpu1: busy with job job-2"));
                    return Behaviors.same();
                })
                .onMessage(GpuWorker.ConnectMesh.class, m -> {
                    seen.add(kind + " connect " + m.rendezvous().entries().keySet());
                    if (!kind.equals("silent"))
                        m.replyTo()
                                .tell(StatusReply.success(
                                        new GpuWorker.MeshJoined(m.rendezvous().epoch(), 0)));
                    return Behaviors.same();
                })
                .onMessage(GpuWorker.LeaveMesh.class, m -> {
                    seen.add(kind + " leave " + m.epoch());
                    return Behaviors.same();
                })
                .build();
    }

    /** An actor that relays what it is sent, as NodeAgent does. */
    private static Behavior<NodeAgent.Command> relay() {
        return Behaviors.setup(ctx -> Behaviors.receive(NodeAgent.Command.class)
                .onMessage(NodeAgent.JoinMeshes.class, m -> {
                    NodeMeshFanOut.join(ctx, m);
                    return Behaviors.same();
                })
                .onMessage(NodeAgent.ConnectMeshes.class, m -> {
                    NodeMeshFanOut.connect(ctx, m);
                    return Behaviors.same();
                })
                .onMessage(NodeAgent.LeaveMeshes.class, m -> {
                    NodeMeshFanOut.leave(m);
                    return Behaviors.same();
                })
                .build());
    }

    @Test
    void eachWorkerGetsItsOwnMessageAndTheNodeAnswersOnceForAll() {
        ConcurrentLinkedQueue<String> seen = new ConcurrentLinkedQueue<>();
        ActorRef<GpuWorker.Command> ok = kit.spawn(worker("ok", seen));
        ActorRef<GpuWorker.Command> busy = kit.spawn(worker("busy", seen));
        ActorRef<GpuWorker.Command> silent = kit.spawn(worker("silent", seen));
        ActorRef<NodeAgent.Command> agent = kit.spawn(relay());
        ParallelDims dims = new ParallelDims(1, 1, 8, 8);
        MeshAssignment mesh = new MeshAssignment(5, 0, dims, 11, "/ckpt/step-10");
        TestProbe<NodeAgent.MeshReplies> replies = kit.createTestProbe();

        agent.tell(new NodeAgent.LeaveMeshes(new GpuWorker.LeaveMesh(4), List.of(ok, busy, silent)));
        agent.tell(new NodeAgent.JoinMeshes(
                mesh, List.of(ok, busy, silent), List.of(6, 2, 7), Duration.ofMillis(300), replies.ref()));
        NodeAgent.MeshReplies r = replies.receiveMessage(Duration.ofSeconds(5));
        assertEquals(5, r.epoch());
        assertFalse(r.connected());
        assertEquals(
                List.of(6, 2, 7),
                r.replies().stream().map(NodeAgent.MeshReply::rank).toList());
        NodeAgent.MeshReply a = r.replies().get(0),
                b = r.replies().get(1),
                c = r.replies().get(2);
        assertTrue(a.ok());
        assertEquals("h:6", new String(a.published().get(Rendezvous.tcpKey(6)), StandardCharsets.UTF_8));
        assertEquals("worker-cpu1: busy with job job-2", b.error());
        assertFalse(b.timedOut());
        assertTrue(c.timedOut(), c.toString());
        assertFalse(c.ok());
        // Each worker left epoch 4 before it got its own rank of epoch 5 (one sender, in order).
        Map<String, Integer> ranks = Map.of("ok", 6, "busy", 2, "silent", 7);
        ranks.forEach((kind, rank) -> assertEquals(
                List.of(kind + " leave 4", kind + " join rank " + rank + " epoch 5"),
                seen.stream().filter(e -> e.startsWith(kind + " ")).toList()));

        // Phase 2: each worker gets its own rank's share of the node's table.
        seen.clear();
        Rendezvous table = new Rendezvous(
                5,
                Map.of(
                        Rendezvous.tcpKey(6),
                        new byte[] {6},
                        Rendezvous.tcpKey(2),
                        new byte[] {2},
                        "other/flag",
                        new byte[] {1}));
        agent.tell(new NodeAgent.ConnectMeshes(
                table,
                new ParallelDims(8, 1, 1, 8),
                List.of(ok, busy),
                List.of(6, 2),
                Duration.ofSeconds(2),
                replies.ref()));
        NodeAgent.MeshReplies joined = replies.receiveMessage(Duration.ofSeconds(5));
        assertTrue(joined.connected());
        assertTrue(joined.replies().stream().allMatch(NodeAgent.MeshReply::ok), joined.toString());
        assertEquals(
                List.of(6, 2),
                joined.replies().stream().map(NodeAgent.MeshReply::rank).toList());
        assertEquals(2, seen.size());
        assertTrue(seen.contains("ok connect [other/flag, tcp/rank2, tcp/rank6]"), seen.toString());
    }
}
