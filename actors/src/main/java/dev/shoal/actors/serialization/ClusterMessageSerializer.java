// Pekko serializer for every ClusterMessage: converts the records of the actor protocols, the
// coordinator's events and its snapshot state to and from the protobuf messages of cluster.proto.
//
// Guarantees: one short, stable manifest per type (the journal stores it, so a manifest is never
// reused for another type); an unknown type or manifest throws NotSerializableException naming it;
// actor references travel in Pekko's serialization format and resolve on the receiving system.
package dev.shoal.actors.serialization;

import com.google.protobuf.InvalidProtocolBufferException;
import dev.shoal.actors.coordinator.Coordinator;
import dev.shoal.actors.node.NodeAgent;
import dev.shoal.actors.worker.GpuWorker;
import dev.shoal.actors.worker.MeshAssignment;
import dev.shoal.actors.worker.StepRunner;
import dev.shoal.actors.worker.WorkerInfo;
import dev.shoal.comm.ParallelDims;
import dev.shoal.proto.v1.JobEvent;
import dev.shoal.proto.v1.Parallelism;
import dev.shoal.proto.v1.cluster.CheckpointCommitted;
import dev.shoal.proto.v1.cluster.CommitCheckpoint;
import dev.shoal.proto.v1.cluster.CoordinatorSnapshot;
import dev.shoal.proto.v1.cluster.CoordinatorStatus;
import dev.shoal.proto.v1.cluster.DescribeWorker;
import dev.shoal.proto.v1.cluster.FeedBatch;
import dev.shoal.proto.v1.cluster.GetStatus;
import dev.shoal.proto.v1.cluster.JobAccepted;
import dev.shoal.proto.v1.cluster.JobCompleted;
import dev.shoal.proto.v1.cluster.JobFailed;
import dev.shoal.proto.v1.cluster.JobSubmitted;
import dev.shoal.proto.v1.cluster.JoinMesh;
import dev.shoal.proto.v1.cluster.LeaveMesh;
import dev.shoal.proto.v1.cluster.MeshFormed;
import dev.shoal.proto.v1.cluster.MeshJoined;
import dev.shoal.proto.v1.cluster.MeshLost;
import dev.shoal.proto.v1.cluster.RegisteredWorker;
import dev.shoal.proto.v1.cluster.ReserveWorker;
import dev.shoal.proto.v1.cluster.ScaleAccepted;
import dev.shoal.proto.v1.cluster.ScaleJob;
import dev.shoal.proto.v1.cluster.ScaleRequested;
import dev.shoal.proto.v1.cluster.Step;
import dev.shoal.proto.v1.cluster.StepDone;
import dev.shoal.proto.v1.cluster.StepFailed;
import dev.shoal.proto.v1.cluster.StepTimings;
import dev.shoal.proto.v1.cluster.StopJob;
import dev.shoal.proto.v1.cluster.SubmitJob;
import dev.shoal.proto.v1.cluster.Subscribe;
import dev.shoal.proto.v1.cluster.WorkerRegistered;
import dev.shoal.proto.v1.cluster.WorkerReservation;
import dev.shoal.proto.v1.cluster.WorkersLost;
import dev.shoal.proto.v1.cluster.WorkersRegistered;
import java.io.NotSerializableException;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.apache.pekko.actor.ExtendedActorSystem;
import org.apache.pekko.actor.typed.ActorRef;
import org.apache.pekko.actor.typed.ActorRefResolver;
import org.apache.pekko.actor.typed.javadsl.Adapter;
import org.apache.pekko.serialization.SerializerWithStringManifest;

public final class ClusterMessageSerializer extends SerializerWithStringManifest {

    /** Pekko serializer id; unique among the system's serializers (Pekko's own use 1-100). */
    public static final int IDENTIFIER = 7_401;

    // Coordinator commands and replies.
    private static final String SUBMIT_JOB = "SJ";
    private static final String GET_STATUS = "GS";
    private static final String COMMIT_CHECKPOINT = "CC";
    private static final String STOP_JOB = "SP";
    private static final String JOB_ACCEPTED = "JA";
    private static final String SCALE_JOB = "SC";
    private static final String SCALE_ACCEPTED = "SA";
    private static final String STATUS = "ST";
    private static final String SUBSCRIBE = "SU";
    private static final String PUBLISHED = "PE";
    // Worker protocol.
    private static final String DESCRIBE = "WD";
    private static final String WORKER_INFO = "WI";
    private static final String JOIN_MESH = "JM";
    private static final String MESH_JOINED = "MJ";
    private static final String LEAVE_MESH = "LM";
    private static final String MESH_PREPARED = "MP";
    private static final String CONNECT_MESH = "CM";
    private static final String STEP = "S";
    private static final String STEP_DONE = "SD";
    private static final String STEP_FAILED = "SF";
    private static final String FEED_BATCH = "FB";
    private static final String RESERVE = "RW";
    private static final String RESERVATION = "RA";
    // Node agent protocol (shoal status).
    private static final String DESCRIBE_NODE = "ND";
    private static final String NODE_REPORT = "NR";
    private static final String DESCRIBE_WORKERS = "NDW";
    private static final String NODE_WORKERS = "NW";
    // Coordinator events and snapshot (stored in the journal: never change these).
    private static final String JOB_SUBMITTED = "E-JS";
    private static final String WORKER_REGISTERED = "E-WR";
    private static final String WORKERS_REGISTERED = "E-WRS";
    private static final String WORKERS_LOST = "E-WL";
    private static final String MESH_FORMED = "E-MF";
    private static final String CHECKPOINT_COMMITTED = "E-CC";
    private static final String JOB_COMPLETED = "E-JC";
    private static final String JOB_FAILED = "E-JF";
    private static final String MESH_LOST = "E-ML";
    private static final String SCALE_REQUESTED = "E-SR";
    private static final String PEER_COPIES_COMPLETE = "E-PC";
    private static final String SNAPSHOT = "SN";

    private final ExtendedActorSystem system;
    private volatile ActorRefResolver resolver;
    private final NodeMeshCodec nodeMesh = new NodeMeshCodec(this::ref, this::resolve);

    public ClusterMessageSerializer(ExtendedActorSystem system) {
        this.system = system;
    }

    @Override
    public int identifier() {
        return IDENTIFIER;
    }

    // ------------------------------------------------------------------ manifest

    @Override
    public String manifest(Object o) {
        if (o instanceof Coordinator.SubmitJob) return SUBMIT_JOB;
        if (o instanceof Coordinator.GetStatus) return GET_STATUS;
        if (o instanceof Coordinator.CommitCheckpoint) return COMMIT_CHECKPOINT;
        if (o instanceof Coordinator.StopJob) return STOP_JOB;
        if (o instanceof Coordinator.JobAccepted) return JOB_ACCEPTED;
        if (o instanceof Coordinator.ScaleJob) return SCALE_JOB;
        if (o instanceof Coordinator.ScaleAccepted) return SCALE_ACCEPTED;
        if (o instanceof Coordinator.Status) return STATUS;
        if (o instanceof Coordinator.Subscribe) return SUBSCRIBE;
        if (o instanceof Coordinator.Published) return PUBLISHED;
        if (o instanceof GpuWorker.Describe) return DESCRIBE;
        if (o instanceof WorkerInfo) return WORKER_INFO;
        if (o instanceof GpuWorker.JoinMesh) return JOIN_MESH;
        if (o instanceof GpuWorker.MeshJoined) return MESH_JOINED;
        if (o instanceof GpuWorker.LeaveMesh) return LEAVE_MESH;
        if (o instanceof GpuWorker.MeshPrepared) return MESH_PREPARED;
        if (o instanceof GpuWorker.ConnectMesh) return CONNECT_MESH;
        if (o instanceof GpuWorker.Step) return STEP;
        if (o instanceof GpuWorker.StepDone) return STEP_DONE;
        if (o instanceof GpuWorker.StepFailed) return STEP_FAILED;
        if (o instanceof GpuWorker.FeedBatch) return FEED_BATCH;
        if (o instanceof GpuWorker.Reserve) return RESERVE;
        if (o instanceof GpuWorker.Reservation) return RESERVATION;
        if (o instanceof NodeAgent.DescribeNode) return DESCRIBE_NODE;
        if (o instanceof NodeAgent.NodeReport) return NODE_REPORT;
        if (o instanceof NodeAgent.DescribeWorkers) return DESCRIBE_WORKERS;
        if (o instanceof NodeAgent.NodeWorkers) return NODE_WORKERS;
        String perNode = NodeMeshCodec.manifest(o);
        if (perNode != null) return perNode;
        if (o instanceof Coordinator.JobSubmitted) return JOB_SUBMITTED;
        if (o instanceof Coordinator.WorkerRegistered) return WORKER_REGISTERED;
        if (o instanceof Coordinator.WorkersRegistered) return WORKERS_REGISTERED;
        if (o instanceof Coordinator.WorkersLost) return WORKERS_LOST;
        if (o instanceof Coordinator.MeshFormed) return MESH_FORMED;
        if (o instanceof Coordinator.CheckpointCommitted) return CHECKPOINT_COMMITTED;
        if (o instanceof Coordinator.JobCompleted) return JOB_COMPLETED;
        if (o instanceof Coordinator.JobFailed) return JOB_FAILED;
        if (o instanceof Coordinator.MeshLost) return MESH_LOST;
        if (o instanceof Coordinator.ScaleRequested) return SCALE_REQUESTED;
        if (o instanceof Coordinator.PeerCopiesComplete) return PEER_COPIES_COMPLETE;
        if (o instanceof Coordinator.State) return SNAPSHOT;
        throw new IllegalArgumentException(
                "no protobuf mapping for " + o.getClass().getName());
    }

    // ------------------------------------------------------------------ record -> bytes

    @Override
    public byte[] toBinary(Object o) {
        if (NodeMeshCodec.manifest(o) != null) return nodeMesh.encode(o);
        if (o instanceof Coordinator.SubmitJob m) {
            return SubmitJob.newBuilder()
                    .setSpec(m.spec())
                    .setReplyTo(ref(m.replyTo()))
                    .build()
                    .toByteArray();
        } else if (o instanceof Coordinator.GetStatus m) {
            return GetStatus.newBuilder()
                    .setReplyTo(ref(m.replyTo()))
                    .setFrom(m.from())
                    .setLimit(m.limit())
                    .build()
                    .toByteArray();
        } else if (o instanceof Coordinator.CommitCheckpoint m) {
            return CommitCheckpoint.newBuilder()
                    .setCheckpoint(m.checkpoint())
                    .setReplyTo(ref(m.replyTo()))
                    .build()
                    .toByteArray();
        } else if (o instanceof Coordinator.StopJob m) {
            return StopJob.newBuilder().setReplyTo(ref(m.replyTo())).build().toByteArray();
        } else if (o instanceof Coordinator.JobAccepted m) {
            return JobAccepted.newBuilder().setJobId(m.jobId()).build().toByteArray();
        } else if (o instanceof Coordinator.ScaleJob m) {
            return ScaleJob.newBuilder()
                    .setDp(m.dp())
                    .setCause(m.cause())
                    .setReplyTo(ref(m.replyTo()))
                    .build()
                    .toByteArray();
        } else if (o instanceof Coordinator.ScaleAccepted m) {
            return ScaleAccepted.newBuilder()
                    .setEffectiveStep(m.effectiveStep())
                    .build()
                    .toByteArray();
        } else if (o instanceof Coordinator.ScaleRequested m) {
            return ScaleRequested.newBuilder()
                    .setDp(m.dp())
                    .setCause(m.cause())
                    .build()
                    .toByteArray();
        } else if (o instanceof Coordinator.Status m) {
            CoordinatorStatus.Builder b = CoordinatorStatus.newBuilder()
                    .setJobId(m.jobId())
                    .setSpec(m.spec())
                    .setPhase(m.phase())
                    .setMeshEpoch(m.meshEpoch())
                    .addAllMeshRanks(m.meshRanks())
                    .setStep(m.step())
                    .addAllCheckpoints(m.checkpoints())
                    .setMessage(m.message())
                    .addAllRecent(m.recent())
                    .setWorkerCount(m.workerCount())
                    .setMeshSize(m.meshSize())
                    .setFrom(m.from());
            m.workers().forEach(w -> b.addWorkers(registered(w)));
            return b.build().toByteArray();
        } else if (o instanceof Coordinator.Subscribe m) {
            return Subscribe.newBuilder()
                    .setSubscriber(ref(m.subscriber()))
                    .build()
                    .toByteArray();
        } else if (o instanceof Coordinator.Published m) {
            return m.event().toByteArray();
        } else if (o instanceof GpuWorker.Describe m) {
            return DescribeWorker.newBuilder()
                    .setReplyTo(ref(m.replyTo()))
                    .build()
                    .toByteArray();
        } else if (o instanceof WorkerInfo m) {
            return info(m).toByteArray();
        } else if (o instanceof NodeAgent.DescribeNode m) {
            // Only a reply_to, as DescribeWorker.
            return DescribeWorker.newBuilder()
                    .setReplyTo(ref(m.replyTo()))
                    .build()
                    .toByteArray();
        } else if (o instanceof NodeAgent.NodeReport m) {
            return m.report().toByteArray();
        } else if (o instanceof NodeAgent.DescribeWorkers m) {
            return DescribeWorker.newBuilder()
                    .setReplyTo(ref(m.replyTo()))
                    .build()
                    .toByteArray();
        } else if (o instanceof NodeAgent.NodeWorkers m) {
            var b = dev.shoal.proto.v1.cluster.NodeWorkers.newBuilder()
                    .setNode(m.node())
                    .setSilent(m.silent());
            for (int i = 0; i < m.workers().size(); i++) {
                b.addWorkers(RegisteredWorker.newBuilder()
                        .setInfo(info(m.workers().get(i)))
                        .setRef(ref(m.refs().get(i))));
            }
            return b.build().toByteArray();
        } else if (o instanceof GpuWorker.JoinMesh m) {
            MeshAssignment a = m.mesh();
            return JoinMesh.newBuilder()
                    .setEpoch(a.epoch())
                    .setRank(a.rank())
                    .setDims(Parallelism.newBuilder()
                            .setTp(a.dims().tp())
                            .setPp(a.dims().pp())
                            .setDp(a.dims().dp()))
                    .setStartStep(a.startStep())
                    .setCheckpointPath(a.checkpointPath())
                    .setReplyTo(ref(m.replyTo()))
                    .addAllPeers(a.peers())
                    .setSpec(a.spec())
                    .setJobId(a.jobId())
                    .build()
                    .toByteArray();
        } else if (o instanceof GpuWorker.MeshJoined m) {
            return MeshJoined.newBuilder()
                    .setEpoch(m.epoch())
                    .setRank(m.rank())
                    .build()
                    .toByteArray();
        } else if (o instanceof GpuWorker.LeaveMesh m) {
            return LeaveMesh.newBuilder()
                    .setEpoch(m.epoch())
                    .setJobId(m.jobId())
                    .build()
                    .toByteArray();
        } else if (o instanceof GpuWorker.Reserve m) {
            return ReserveWorker.newBuilder()
                    .setJobId(m.jobId())
                    .setRelease(m.release())
                    .setReplyTo(ref(m.replyTo()))
                    .build()
                    .toByteArray();
        } else if (o instanceof GpuWorker.Reservation m) {
            return WorkerReservation.newBuilder()
                    .setWorkerId(m.workerId())
                    .setGranted(m.granted())
                    .setBusyWith(m.busyWith())
                    .build()
                    .toByteArray();
        } else if (o instanceof GpuWorker.MeshPrepared m) {
            return dev.shoal.proto.v1.cluster.MeshPrepared.newBuilder()
                    .setEpoch(m.epoch())
                    .setRank(m.rank())
                    .addAllPublished(entries(m.published()))
                    .build()
                    .toByteArray();
        } else if (o instanceof GpuWorker.ConnectMesh m) {
            return dev.shoal.proto.v1.cluster.ConnectMesh.newBuilder()
                    .setEpoch(m.rendezvous().epoch())
                    .addAllEntries(entries(m.rendezvous().entries()))
                    .setReplyTo(ref(m.replyTo()))
                    .build()
                    .toByteArray();
        } else if (o instanceof GpuWorker.Step m) {
            return Step.newBuilder()
                    .setEpoch(m.epoch())
                    .setStep(m.step())
                    .setReplyTo(ref(m.replyTo()))
                    .setEvaluate(m.evaluate())
                    .setCheckpointDir(m.checkpointDir())
                    .setCommitNow(m.commitNow())
                    .build()
                    .toByteArray();
        } else if (o instanceof GpuWorker.FeedBatch m) {
            StepRunner.Batch b = m.batch();
            FeedBatch.Builder f =
                    FeedBatch.newBuilder().setEpoch(b.epoch()).setStep(b.step()).setReplica(b.replica());
            for (int v : b.inputs()) f.addInputs(v);
            for (int v : b.targets()) f.addTargets(v);
            return f.build().toByteArray();
        } else if (o instanceof GpuWorker.StepDone m) {
            return StepDone.newBuilder()
                    .setEpoch(m.epoch())
                    .setStep(m.step())
                    .setRank(m.rank())
                    .setLoss(m.loss())
                    .setTokens(m.tokens())
                    .setTimings(StepTimings.newBuilder()
                            .setQueueSeconds(m.timings().queueSeconds())
                            .setComputeSeconds(m.timings().computeSeconds()))
                    .putAllValidation(m.validation())
                    .setGradNorm(m.gradNorm())
                    .setLr(m.lr())
                    .setCheckpointPath(m.checkpointPath())
                    .setCheckpointBytes(m.checkpointBytes())
                    .setPeerCopyStep(m.peerCopyStep())
                    .build()
                    .toByteArray();
        } else if (o instanceof Coordinator.PeerCopiesComplete m) {
            return dev.shoal.proto.v1.cluster.PeerCopiesComplete.newBuilder()
                    .setEpoch(m.epoch())
                    .setStep(m.step())
                    .addAllRanks(m.ranks())
                    .addAllBuddies(m.buddies())
                    .addAllEndpoints(m.endpoints())
                    .build()
                    .toByteArray();
        } else if (o instanceof GpuWorker.StepFailed m) {
            return StepFailed.newBuilder()
                    .setEpoch(m.epoch())
                    .setStep(m.step())
                    .setRank(m.rank())
                    .setError(m.error())
                    .build()
                    .toByteArray();
        } else if (o instanceof Coordinator.JobSubmitted m) {
            return JobSubmitted.newBuilder()
                    .setJobId(m.jobId())
                    .setSpec(m.spec())
                    .setUnixMillis(m.unixMillis())
                    .build()
                    .toByteArray();
        } else if (o instanceof Coordinator.WorkerRegistered m) {
            return WorkerRegistered.newBuilder()
                    .setWorker(registered(m.worker()))
                    .build()
                    .toByteArray();
        } else if (o instanceof Coordinator.WorkersRegistered m) {
            WorkersRegistered.Builder b = WorkersRegistered.newBuilder();
            m.workers().forEach(w -> b.addWorkers(registered(w)));
            return b.build().toByteArray();
        } else if (o instanceof Coordinator.WorkersLost m) {
            return WorkersLost.newBuilder()
                    .addAllWorkerIds(m.workerIds())
                    .setReason(m.reason())
                    .build()
                    .toByteArray();
        } else if (o instanceof Coordinator.MeshFormed m) {
            return MeshFormed.newBuilder()
                    .setEpoch(m.epoch())
                    .addAllRanks(m.ranks())
                    .setStartStep(m.startStep())
                    .build()
                    .toByteArray();
        } else if (o instanceof Coordinator.CheckpointCommitted m) {
            return CheckpointCommitted.newBuilder()
                    .setCheckpoint(m.checkpoint())
                    .build()
                    .toByteArray();
        } else if (o instanceof Coordinator.JobCompleted m) {
            return JobCompleted.newBuilder()
                    .setStep(m.step())
                    .setMessage(m.message())
                    .build()
                    .toByteArray();
        } else if (o instanceof Coordinator.MeshLost m) {
            return MeshLost.newBuilder()
                    .setEpoch(m.epoch())
                    .setStep(m.step())
                    .setCause(m.cause())
                    .build()
                    .toByteArray();
        } else if (o instanceof Coordinator.JobFailed m) {
            return JobFailed.newBuilder()
                    .setStep(m.step())
                    .setReason(m.reason())
                    .build()
                    .toByteArray();
        } else if (o instanceof Coordinator.State m) {
            CoordinatorSnapshot.Builder b = CoordinatorSnapshot.newBuilder()
                    .setJobId(m.jobId())
                    .setSpec(m.spec())
                    .setPhase(m.phase())
                    .setMeshEpoch(m.meshEpoch())
                    .addAllMeshRanks(m.meshRanks())
                    .setMeshStartStep(m.meshStartStep())
                    .addAllCheckpoints(m.checkpoints())
                    .setMessage(m.message())
                    .setLastStep(m.lastStep());
            m.workers().values().forEach(w -> b.addWorkers(registered(w)));
            return b.build().toByteArray();
        }
        throw new IllegalArgumentException(
                "no protobuf mapping for " + o.getClass().getName());
    }

    // ------------------------------------------------------------------ bytes -> record

    @Override
    public Object fromBinary(byte[] bytes, String manifest) throws NotSerializableException {
        try {
            return decode(bytes, manifest);
        } catch (InvalidProtocolBufferException | IllegalArgumentException e) {
            NotSerializableException n = new NotSerializableException(
                    "cannot decode cluster message with manifest " + manifest + ": " + e.getMessage());
            n.initCause(e);
            throw n;
        }
    }

    private Object decode(byte[] bytes, String manifest)
            throws InvalidProtocolBufferException, NotSerializableException {
        switch (manifest) {
            case NodeMeshCodec.JOIN_MESHES:
            case NodeMeshCodec.CONNECT_MESHES:
            case NodeMeshCodec.LEAVE_MESHES:
            case NodeMeshCodec.MESH_REPLIES:
                return nodeMesh.decode(manifest, bytes);
            case SUBMIT_JOB: {
                SubmitJob m = SubmitJob.parseFrom(bytes);
                return new Coordinator.SubmitJob(m.getSpec(), resolve(m.getReplyTo()));
            }
            case GET_STATUS: {
                GetStatus m = GetStatus.parseFrom(bytes);
                return m.getLimit() == 0
                        ? new Coordinator.GetStatus(resolve(m.getReplyTo()))
                        : new Coordinator.GetStatus(resolve(m.getReplyTo()), m.getFrom(), m.getLimit());
            }
            case COMMIT_CHECKPOINT: {
                CommitCheckpoint m = CommitCheckpoint.parseFrom(bytes);
                return new Coordinator.CommitCheckpoint(m.getCheckpoint(), resolve(m.getReplyTo()));
            }
            case STOP_JOB:
                return new Coordinator.StopJob(resolve(StopJob.parseFrom(bytes).getReplyTo()));
            case JOB_ACCEPTED:
                return new Coordinator.JobAccepted(JobAccepted.parseFrom(bytes).getJobId());
            case SCALE_JOB: {
                ScaleJob m = ScaleJob.parseFrom(bytes);
                return new Coordinator.ScaleJob(m.getDp(), m.getCause(), resolve(m.getReplyTo()));
            }
            case SCALE_ACCEPTED:
                return new Coordinator.ScaleAccepted(
                        ScaleAccepted.parseFrom(bytes).getEffectiveStep());
            case SCALE_REQUESTED: {
                ScaleRequested m = ScaleRequested.parseFrom(bytes);
                return new Coordinator.ScaleRequested(m.getDp(), m.getCause());
            }
            case STATUS: {
                CoordinatorStatus m = CoordinatorStatus.parseFrom(bytes);
                List<Coordinator.RegisteredWorker> workers = new ArrayList<>();
                m.getWorkersList().forEach(w -> workers.add(registered(w)));
                return new Coordinator.Status(
                        m.getJobId(),
                        m.getSpec(),
                        m.getPhase(),
                        m.getMeshEpoch(),
                        m.getMeshRanksList(),
                        m.getStep(),
                        workers,
                        m.getCheckpointsList(),
                        m.getMessage(),
                        m.getRecentList(),
                        Math.max(m.getWorkerCount(), m.getFrom() + workers.size()),
                        Math.max(m.getMeshSize(), m.getFrom() + m.getMeshRanksCount()),
                        m.getFrom());
            }
            case SUBSCRIBE:
                return new Coordinator.Subscribe(
                        resolve(Subscribe.parseFrom(bytes).getSubscriber()));
            case PUBLISHED:
                return new Coordinator.Published(JobEvent.parseFrom(bytes));
            case DESCRIBE:
                return new GpuWorker.Describe(
                        resolve(DescribeWorker.parseFrom(bytes).getReplyTo()));
            case WORKER_INFO:
                return info(dev.shoal.proto.v1.cluster.WorkerInfo.parseFrom(bytes));
            case DESCRIBE_NODE:
                return new NodeAgent.DescribeNode(
                        resolve(DescribeWorker.parseFrom(bytes).getReplyTo()));
            case NODE_REPORT:
                return new NodeAgent.NodeReport(dev.shoal.proto.v1.NodeReport.parseFrom(bytes));
            case DESCRIBE_WORKERS:
                return new NodeAgent.DescribeWorkers(
                        resolve(DescribeWorker.parseFrom(bytes).getReplyTo()));
            case NODE_WORKERS: {
                var m = dev.shoal.proto.v1.cluster.NodeWorkers.parseFrom(bytes);
                List<WorkerInfo> infos = new ArrayList<>();
                List<ActorRef<GpuWorker.Command>> refs = new ArrayList<>();
                for (RegisteredWorker w : m.getWorkersList()) {
                    infos.add(info(w.getInfo()));
                    refs.add(resolve(w.getRef()));
                }
                return new NodeAgent.NodeWorkers(m.getNode(), infos, refs, m.getSilent());
            }
            case JOIN_MESH: {
                JoinMesh m = JoinMesh.parseFrom(bytes);
                Parallelism p = m.getDims();
                ParallelDims dims =
                        new ParallelDims(p.getTp(), p.getPp(), p.getDp(), p.getTp() * p.getPp() * p.getDp());
                MeshAssignment a = new MeshAssignment(
                        m.getEpoch(),
                        m.getRank(),
                        dims,
                        m.getStartStep(),
                        m.getCheckpointPath(),
                        m.getPeersList(),
                        m.getSpec(),
                        m.getJobId());
                return new GpuWorker.JoinMesh(a, resolve(m.getReplyTo()));
            }
            case MESH_JOINED: {
                MeshJoined m = MeshJoined.parseFrom(bytes);
                return new GpuWorker.MeshJoined(m.getEpoch(), m.getRank());
            }
            case LEAVE_MESH: {
                LeaveMesh m = LeaveMesh.parseFrom(bytes);
                return new GpuWorker.LeaveMesh(m.getEpoch(), m.getJobId());
            }
            case RESERVE: {
                ReserveWorker m = ReserveWorker.parseFrom(bytes);
                return new GpuWorker.Reserve(m.getJobId(), m.getRelease(), resolve(m.getReplyTo()));
            }
            case RESERVATION: {
                WorkerReservation m = WorkerReservation.parseFrom(bytes);
                return new GpuWorker.Reservation(m.getWorkerId(), m.getGranted(), m.getBusyWith());
            }
            case MESH_PREPARED: {
                var m = dev.shoal.proto.v1.cluster.MeshPrepared.parseFrom(bytes);
                return new GpuWorker.MeshPrepared(m.getEpoch(), m.getRank(), entries(m.getPublishedList()));
            }
            case CONNECT_MESH: {
                var m = dev.shoal.proto.v1.cluster.ConnectMesh.parseFrom(bytes);
                return new GpuWorker.ConnectMesh(
                        new dev.shoal.actors.worker.Rendezvous(m.getEpoch(), entries(m.getEntriesList())),
                        resolve(m.getReplyTo()));
            }
            case STEP: {
                Step m = Step.parseFrom(bytes);
                return new GpuWorker.Step(
                        m.getEpoch(),
                        m.getStep(),
                        m.getEvaluate(),
                        m.getCheckpointDir(),
                        m.getCommitNow(),
                        resolve(m.getReplyTo()));
            }
            case FEED_BATCH: {
                FeedBatch m = FeedBatch.parseFrom(bytes);
                int[] in = new int[m.getInputsCount()], tg = new int[m.getTargetsCount()];
                for (int i = 0; i < in.length; i++) in[i] = m.getInputs(i);
                for (int i = 0; i < tg.length; i++) tg[i] = m.getTargets(i);
                return new GpuWorker.FeedBatch(new StepRunner.Batch(m.getEpoch(), m.getStep(), m.getReplica(), in, tg));
            }
            case STEP_DONE: {
                StepDone m = StepDone.parseFrom(bytes);
                return new GpuWorker.StepDone(
                        m.getEpoch(),
                        m.getStep(),
                        m.getRank(),
                        m.getLoss(),
                        m.getTokens(),
                        new GpuWorker.StepTimings(
                                m.getTimings().getQueueSeconds(), m.getTimings().getComputeSeconds()),
                        m.getValidationMap(),
                        m.getGradNorm(),
                        m.getLr(),
                        m.getCheckpointPath(),
                        m.getCheckpointBytes(),
                        m.getPeerCopyStep());
            }
            case PEER_COPIES_COMPLETE: {
                var m = dev.shoal.proto.v1.cluster.PeerCopiesComplete.parseFrom(bytes);
                return new Coordinator.PeerCopiesComplete(
                        m.getEpoch(), m.getStep(), m.getRanksList(), m.getBuddiesList(), m.getEndpointsList());
            }
            case STEP_FAILED: {
                StepFailed m = StepFailed.parseFrom(bytes);
                return new GpuWorker.StepFailed(m.getEpoch(), m.getStep(), m.getRank(), m.getError());
            }
            case JOB_SUBMITTED: {
                JobSubmitted m = JobSubmitted.parseFrom(bytes);
                return new Coordinator.JobSubmitted(m.getJobId(), m.getSpec(), m.getUnixMillis());
            }
            case WORKER_REGISTERED:
                return new Coordinator.WorkerRegistered(
                        registered(WorkerRegistered.parseFrom(bytes).getWorker()));
            case WORKERS_REGISTERED: {
                List<Coordinator.RegisteredWorker> ws = new ArrayList<>();
                WorkersRegistered.parseFrom(bytes).getWorkersList().forEach(w -> ws.add(registered(w)));
                return new Coordinator.WorkersRegistered(ws);
            }
            case WORKERS_LOST: {
                WorkersLost m = WorkersLost.parseFrom(bytes);
                return new Coordinator.WorkersLost(m.getWorkerIdsList(), m.getReason());
            }
            case MESH_FORMED: {
                MeshFormed m = MeshFormed.parseFrom(bytes);
                return new Coordinator.MeshFormed(m.getEpoch(), m.getRanksList(), m.getStartStep());
            }
            case CHECKPOINT_COMMITTED:
                return new Coordinator.CheckpointCommitted(
                        CheckpointCommitted.parseFrom(bytes).getCheckpoint());
            case JOB_COMPLETED: {
                JobCompleted m = JobCompleted.parseFrom(bytes);
                return new Coordinator.JobCompleted(m.getStep(), m.getMessage());
            }
            case MESH_LOST: {
                MeshLost m = MeshLost.parseFrom(bytes);
                return new Coordinator.MeshLost(m.getEpoch(), m.getStep(), m.getCause());
            }
            case JOB_FAILED: {
                JobFailed m = JobFailed.parseFrom(bytes);
                return new Coordinator.JobFailed(m.getStep(), m.getReason());
            }
            case SNAPSHOT: {
                CoordinatorSnapshot m = CoordinatorSnapshot.parseFrom(bytes);
                Map<String, Coordinator.RegisteredWorker> workers = new LinkedHashMap<>();
                m.getWorkersList().forEach(w -> {
                    Coordinator.RegisteredWorker r = registered(w);
                    workers.put(r.info().id(), r);
                });
                return new Coordinator.State(
                        m.getJobId(),
                        m.getSpec(),
                        m.getPhase(),
                        m.getMeshEpoch(),
                        m.getMeshRanksList(),
                        m.getMeshStartStep(),
                        workers,
                        m.getCheckpointsList(),
                        m.getMessage(),
                        m.getLastStep());
            }
            default:
                throw new NotSerializableException("unknown cluster message manifest \"" + manifest + "\"");
        }
    }

    // ------------------------------------------------------------------ helpers

    private static dev.shoal.proto.v1.cluster.WorkerInfo info(WorkerInfo w) {
        return dev.shoal.proto.v1.cluster.WorkerInfo.newBuilder()
                .setNode(w.node())
                .setDeviceKind(w.deviceKind())
                .setLocalIndex(w.localIndex())
                .setBackendAddress(w.backendAddress())
                .setPeakFlops(w.peakFlops())
                .setPeakSource(w.peakSource())
                .build();
    }

    private static WorkerInfo info(dev.shoal.proto.v1.cluster.WorkerInfo w) {
        return new WorkerInfo(
                w.getNode(),
                w.getDeviceKind(),
                w.getLocalIndex(),
                w.getBackendAddress(),
                w.getPeakFlops(),
                w.getPeakSource());
    }

    private static RegisteredWorker registered(Coordinator.RegisteredWorker w) {
        return RegisteredWorker.newBuilder()
                .setInfo(info(w.info()))
                .setRef(w.ref())
                .build();
    }

    private static Coordinator.RegisteredWorker registered(RegisteredWorker w) {
        return new Coordinator.RegisteredWorker(info(w.getInfo()), w.getRef());
    }

    private String ref(ActorRef<?> ref) {
        return resolver().toSerializationFormat(ref);
    }

    private <T> ActorRef<T> resolve(String ref) {
        if (ref.isEmpty()) throw new IllegalArgumentException("reply_to is empty");
        return resolver().resolveActorRef(ref);
    }

    private ActorRefResolver resolver() {
        ActorRefResolver r = resolver;
        if (r == null) {
            r = ActorRefResolver.get(Adapter.toTyped(system));
            resolver = r;
        }
        return r;
    }

    private static List<dev.shoal.proto.v1.cluster.RendezvousEntry> entries(Map<String, byte[]> m) {
        List<dev.shoal.proto.v1.cluster.RendezvousEntry> out = new ArrayList<>();
        m.forEach((k, v) -> out.add(dev.shoal.proto.v1.cluster.RendezvousEntry.newBuilder()
                .setKey(k)
                .setData(com.google.protobuf.ByteString.copyFrom(v))
                .build()));
        return out;
    }

    private static Map<String, byte[]> entries(List<dev.shoal.proto.v1.cluster.RendezvousEntry> l) {
        Map<String, byte[]> out = new LinkedHashMap<>();
        for (var e : l) out.put(e.getKey(), e.getData().toByteArray());
        return out;
    }
}
