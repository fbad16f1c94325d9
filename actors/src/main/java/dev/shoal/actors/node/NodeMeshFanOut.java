// NodeMeshFanOut: the node agent's side of the per-node mesh protocol (agents registered per node). The
// coordinator sends a node's agent ONE JoinMeshes, ConnectMeshes or LeaveMeshes for all of that node's
// workers of a mesh; this hands each listed worker its own JoinMesh (the mesh with that worker's rank),
// ConnectMesh (its rank's share of the node's rendezvous table) or LeaveMesh, locally, and answers the
// coordinator once for the node. At 4096 GPUs on 8-GPU nodes a mesh round is 512 messages each way
// between the coordinator and the nodes instead of 4096.
//
// Guarantees: every worker gets exactly the message the coordinator would have sent it directly, in the
// order the agent received them (one agent, one sender: a LeaveMesh sent before a JoinMeshes reaches the
// worker first); the reply names every listed rank once, in the listed order, with what the worker
// answered, its refusal verbatim, or a timeout after the message's timeout (a worker that never answers
// counts as silent, as an ask timeout of the direct protocol does). Uses no agent state: the asks run
// under one child actor per message (Asks.askAll: no futures, no thread per answer).
package dev.shoal.actors.node;

import dev.shoal.actors.cluster.Asks;
import dev.shoal.actors.worker.GpuWorker;
import dev.shoal.actors.worker.MeshAssignment;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeoutException;
import org.apache.pekko.actor.typed.ActorRef;
import org.apache.pekko.actor.typed.javadsl.ActorContext;
import org.apache.pekko.pattern.StatusReply;

public final class NodeMeshFanOut {
    private NodeMeshFanOut() {}

    /** Validates a fan-out's lists: one rank per worker, each inside the world, none twice. */
    static void check(String what, int workers, List<Integer> ranks, int world) {
        if (workers != ranks.size() || workers == 0) {
            throw new IllegalArgumentException(
                    what + " names " + workers + " workers and " + ranks.size() + " ranks (needs one rank per worker)");
        }
        if (new HashSet<>(ranks).size() != ranks.size()) {
            throw new IllegalArgumentException(what + " names a rank twice: " + ranks);
        }
        for (int r : ranks) {
            if (r < 0 || r >= world)
                throw new IllegalArgumentException(what + ": rank " + r + " is outside world " + world);
        }
    }

    /** Phase 1: each worker prepares its rank of the mesh; one MeshReplies with what each published. */
    public static void join(ActorContext<?> ctx, NodeAgent.JoinMeshes m) {
        MeshAssignment t = m.mesh();
        Asks.askAll(
                ctx,
                NodeMeshFanOut.<GpuWorker.MeshPrepared>statusReply(),
                m.workers(),
                m.timeout(),
                i -> {
                    MeshAssignment mine = new MeshAssignment(
                            t.epoch(),
                            m.ranks().get(i),
                            t.dims(),
                            t.startStep(),
                            t.checkpointPath(),
                            t.peers(),
                            t.spec(),
                            t.jobId());
                    return replyTo -> new GpuWorker.JoinMesh(mine, replyTo);
                },
                m.replyTo(),
                answers -> replies(t.epoch(), false, m.ranks(), answers));
    }

    /** Phase 2: each worker connects with its rank's share of the node's table; one MeshReplies. */
    public static void connect(ActorContext<?> ctx, NodeAgent.ConnectMeshes m) {
        Asks.askAll(
                ctx,
                NodeMeshFanOut.<GpuWorker.MeshJoined>statusReply(),
                m.workers(),
                m.timeout(),
                i -> {
                    var share = m.table().forRank(m.dims(), m.ranks().get(i));
                    return replyTo -> new GpuWorker.ConnectMesh(share, replyTo);
                },
                m.replyTo(),
                answers -> replies(m.table().epoch(), true, m.ranks(), answers));
    }

    public static void leave(NodeAgent.LeaveMeshes m) {
        for (ActorRef<GpuWorker.Command> w : m.workers()) w.tell(m.leave());
    }

    @SuppressWarnings({"unchecked", "rawtypes"})
    private static <R> Class<StatusReply<R>> statusReply() {
        return (Class) StatusReply.class;
    }

    private static <R> NodeAgent.MeshReplies replies(
            long epoch, boolean connected, List<Integer> ranks, List<Asks.Answer<StatusReply<R>>> answers) {
        List<NodeAgent.MeshReply> out = new ArrayList<>();
        for (int i = 0; i < answers.size(); i++) out.add(reply(ranks.get(i), answers.get(i)));
        return new NodeAgent.MeshReplies(epoch, connected, out);
    }

    private static <R> NodeAgent.MeshReply reply(int rank, Asks.Answer<StatusReply<R>> a) {
        if (a.error() instanceof TimeoutException) {
            return new NodeAgent.MeshReply(rank, Map.of(), a.error().getMessage(), true);
        }
        if (a.error() != null) {
            return new NodeAgent.MeshReply(
                    rank, Map.of(), String.valueOf(a.error().getMessage()), false);
        }
        if (a.value().isError()) {
            Throwable e = a.value().getError();
            return new NodeAgent.MeshReply(
                    rank, Map.of(), e.getMessage() == null ? e.getClass().getName() : e.getMessage(), false);
        }
        Map<String, byte[]> published =
                a.value().getValue() instanceof GpuWorker.MeshPrepared p ? p.published() : Map.of();
        return new NodeAgent.MeshReply(rank, published, "", false);
    }
}
