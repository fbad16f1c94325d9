// NodeMeshCodec: the protobuf form of the per-node mesh protocol (NodeAgent.JoinMeshes, ConnectMeshes,
// LeaveMeshes, MeshReplies; cluster.proto "per-node mesh fan-out"), for ClusterMessageSerializer.
// Guarantees: decode(encode(m)) equals m field by field (rendezvous bytes compared by content); actor
// references travel in Pekko's serialization format through the serializer's own ref/resolve.
package dev.shoal.actors.serialization;

import com.google.protobuf.ByteString;
import com.google.protobuf.InvalidProtocolBufferException;
import dev.shoal.actors.node.NodeAgent;
import dev.shoal.actors.worker.GpuWorker;
import dev.shoal.actors.worker.MeshAssignment;
import dev.shoal.actors.worker.Rendezvous;
import dev.shoal.comm.ParallelDims;
import dev.shoal.proto.v1.Parallelism;
import dev.shoal.proto.v1.cluster.ConnectMeshes;
import dev.shoal.proto.v1.cluster.JoinMesh;
import dev.shoal.proto.v1.cluster.JoinMeshes;
import dev.shoal.proto.v1.cluster.LeaveMesh;
import dev.shoal.proto.v1.cluster.LeaveMeshes;
import dev.shoal.proto.v1.cluster.NodeMeshReplies;
import dev.shoal.proto.v1.cluster.NodeMeshReply;
import dev.shoal.proto.v1.cluster.RendezvousEntry;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.function.Function;
import org.apache.pekko.actor.typed.ActorRef;

final class NodeMeshCodec {
    static final String JOIN_MESHES = "NJM";
    static final String CONNECT_MESHES = "NCM";
    static final String LEAVE_MESHES = "NLM";
    static final String MESH_REPLIES = "NMR";

    private final Function<ActorRef<?>, String> ref;
    private final Function<String, ActorRef<?>> resolve;

    NodeMeshCodec(Function<ActorRef<?>, String> ref, Function<String, ActorRef<?>> resolve) {
        this.ref = ref;
        this.resolve = resolve;
    }

    /** The manifest of {@code o}, or null when it is not a message of this protocol. */
    static String manifest(Object o) {
        if (o instanceof NodeAgent.JoinMeshes) return JOIN_MESHES;
        if (o instanceof NodeAgent.ConnectMeshes) return CONNECT_MESHES;
        if (o instanceof NodeAgent.LeaveMeshes) return LEAVE_MESHES;
        if (o instanceof NodeAgent.MeshReplies) return MESH_REPLIES;
        return null;
    }

    byte[] encode(Object o) {
        if (o instanceof NodeAgent.JoinMeshes m) {
            MeshAssignment a = m.mesh();
            return JoinMeshes.newBuilder()
                    .setMesh(JoinMesh.newBuilder()
                            .setEpoch(a.epoch())
                            .setRank(a.rank())
                            .setDims(dims(a.dims()))
                            .setStartStep(a.startStep())
                            .setCheckpointPath(a.checkpointPath())
                            .addAllPeers(a.peers())
                            .setSpec(a.spec())
                            .setJobId(a.jobId()))
                    .addAllWorkers(refs(m.workers()))
                    .addAllRanks(m.ranks())
                    .setTimeoutMillis(m.timeout().toMillis())
                    .setReplyTo(ref.apply(m.replyTo()))
                    .build()
                    .toByteArray();
        } else if (o instanceof NodeAgent.ConnectMeshes m) {
            return ConnectMeshes.newBuilder()
                    .setEpoch(m.table().epoch())
                    .addAllEntries(entries(m.table().entries()))
                    .setDims(dims(m.dims()))
                    .addAllWorkers(refs(m.workers()))
                    .addAllRanks(m.ranks())
                    .setTimeoutMillis(m.timeout().toMillis())
                    .setReplyTo(ref.apply(m.replyTo()))
                    .build()
                    .toByteArray();
        } else if (o instanceof NodeAgent.LeaveMeshes m) {
            return LeaveMeshes.newBuilder()
                    .setLeave(LeaveMesh.newBuilder()
                            .setEpoch(m.leave().epoch())
                            .setJobId(m.leave().jobId()))
                    .addAllWorkers(refs(m.workers()))
                    .build()
                    .toByteArray();
        } else if (o instanceof NodeAgent.MeshReplies m) {
            NodeMeshReplies.Builder b =
                    NodeMeshReplies.newBuilder().setEpoch(m.epoch()).setConnected(m.connected());
            for (NodeAgent.MeshReply r : m.replies()) {
                b.addReplies(NodeMeshReply.newBuilder()
                        .setRank(r.rank())
                        .addAllPublished(entries(r.published()))
                        .setError(r.error())
                        .setTimedOut(r.timedOut()));
            }
            return b.build().toByteArray();
        }
        throw new IllegalArgumentException(
                "not a per-node mesh message: " + o.getClass().getName());
    }

    @SuppressWarnings("unchecked")
    Object decode(String manifest, byte[] bytes) throws InvalidProtocolBufferException {
        switch (manifest) {
            case JOIN_MESHES: {
                JoinMeshes m = JoinMeshes.parseFrom(bytes);
                JoinMesh j = m.getMesh();
                MeshAssignment a = new MeshAssignment(
                        j.getEpoch(),
                        j.getRank(),
                        dims(j.getDims()),
                        j.getStartStep(),
                        j.getCheckpointPath(),
                        j.getPeersList(),
                        j.getSpec(),
                        j.getJobId());
                return new NodeAgent.JoinMeshes(
                        a,
                        workers(m.getWorkersList()),
                        m.getRanksList(),
                        Duration.ofMillis(m.getTimeoutMillis()),
                        (ActorRef<NodeAgent.MeshReplies>) resolve.apply(m.getReplyTo()));
            }
            case CONNECT_MESHES: {
                ConnectMeshes m = ConnectMeshes.parseFrom(bytes);
                return new NodeAgent.ConnectMeshes(
                        new Rendezvous(m.getEpoch(), entries(m.getEntriesList())),
                        dims(m.getDims()),
                        workers(m.getWorkersList()),
                        m.getRanksList(),
                        Duration.ofMillis(m.getTimeoutMillis()),
                        (ActorRef<NodeAgent.MeshReplies>) resolve.apply(m.getReplyTo()));
            }
            case LEAVE_MESHES: {
                LeaveMeshes m = LeaveMeshes.parseFrom(bytes);
                return new NodeAgent.LeaveMeshes(
                        new GpuWorker.LeaveMesh(
                                m.getLeave().getEpoch(), m.getLeave().getJobId()),
                        workers(m.getWorkersList()));
            }
            case MESH_REPLIES: {
                NodeMeshReplies m = NodeMeshReplies.parseFrom(bytes);
                List<NodeAgent.MeshReply> replies = new ArrayList<>();
                for (NodeMeshReply r : m.getRepliesList()) {
                    replies.add(new NodeAgent.MeshReply(
                            r.getRank(), entries(r.getPublishedList()), r.getError(), r.getTimedOut()));
                }
                return new NodeAgent.MeshReplies(m.getEpoch(), m.getConnected(), replies);
            }
            default:
                throw new IllegalArgumentException("not a per-node mesh manifest: " + manifest);
        }
    }

    private List<String> refs(List<ActorRef<GpuWorker.Command>> workers) {
        List<String> out = new ArrayList<>(workers.size());
        for (ActorRef<GpuWorker.Command> w : workers) out.add(ref.apply(w));
        return out;
    }

    @SuppressWarnings("unchecked")
    private List<ActorRef<GpuWorker.Command>> workers(List<String> refs) {
        List<ActorRef<GpuWorker.Command>> out = new ArrayList<>(refs.size());
        for (String r : refs) out.add((ActorRef<GpuWorker.Command>) resolve.apply(r));
        return out;
    }

    private static Parallelism dims(ParallelDims d) {
        return Parallelism.newBuilder()
                .setTp(d.tp())
                .setPp(d.pp())
                .setDp(d.dp())
                .build();
    }

    private static ParallelDims dims(Parallelism p) {
        return new ParallelDims(p.getTp(), p.getPp(), p.getDp(), p.getTp() * p.getPp() * p.getDp());
    }

    private static List<RendezvousEntry> entries(Map<String, byte[]> m) {
        List<RendezvousEntry> out = new ArrayList<>(m.size());
        m.forEach((k, v) -> out.add(RendezvousEntry.newBuilder()
                .setKey(k)
                .setData(ByteString.copyFrom(v))
                .build()));
        return out;
    }

    private static Map<String, byte[]> entries(List<RendezvousEntry> l) {
        Map<String, byte[]> out = new LinkedHashMap<>();
        for (RendezvousEntry e : l) out.put(e.getKey(), e.getData().toByteArray());
        return out;
    }
}
