// Coordinator: the cluster singleton that owns the job. It is an event-sourced actor: the job spec,
// the registered workers, the mesh epochs and the committed checkpoints are rebuilt from the
// journal wherever the singleton (re)starts.
//
// Phases: IDLE → FORMING → TRAINING ⇄ RECOVERING | RESCALING → COMPLETED | FAILED. A lost mesh
// worker, a StepFailed or a step timeout starts RECOVERING: MeshLost is journaled (new epoch), the
// old mesh is aborted, the live workers are probed, RemeshPolicy picks the mesh and the job goes on
// from the last committed checkpoint (see Recovery and docs/cluster.md "Recovery"). ScaleJob or
// auto-grow journals ScaleRequested (RESCALING); training goes on to a step boundary with a committed
// checkpoint, then the mesh re-forms at the new dp from it (see Rescale, RescalePolicy).
//
// Guarantees:
// - Only the coordinator decides the mesh; every mesh gets a new, higher epoch (invariant 6).
// - Events are metadata only; steps are not journaled, checkpoints and phase changes are. After a
//   move, training resumes under a new epoch from the last committed checkpoint (invariant 3).
// - Workers come and go through the Receptionist: per node (NodeAgent.WORKERS_KEY, the agent describes
//   all its workers in one answer; see NodeListing) or per worker (GpuWorker.SERVICE_KEY); a worker
//   counts as lost only once the cluster removed its node (the split brain resolver downed it), not on
//   a blip. The recovery probe asks each per-node agent once for all its workers (O(nodes) messages).
// - Subscribers (the control plane's Watch streams; not persisted, death-watched) get a PhaseChange
//   after every persisted phase or mesh change, a StepMetrics for every step all ranks finished, and
//   every committed checkpoint.
// - With job slots > 1 (JobSlots) each slot is one Coordinator; a "shared" one forms its mesh only
//   from workers it reserved (WorkerReserver) and waits in FORMING while too few are free.
package dev.shoal.actors.coordinator;

import dev.shoal.actors.cluster.Asks;
import dev.shoal.actors.node.NodeAgent;
import dev.shoal.actors.serialization.ClusterMessage;
import dev.shoal.actors.worker.GpuWorker;
import dev.shoal.actors.worker.MeshAssignment;
import dev.shoal.actors.worker.WorkerInfo;
import dev.shoal.comm.ParallelDims;
import dev.shoal.proto.v1.CheckpointInfo;
import dev.shoal.proto.v1.JobEvent;
import dev.shoal.proto.v1.JobSpec;
import dev.shoal.proto.v1.Phase;
import dev.shoal.proto.v1.PhaseChange;
import dev.shoal.proto.v1.StepMetrics;
import java.util.ArrayList;
import java.util.Collections;
import java.util.Comparator;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.UUID;
import org.apache.pekko.Done;
import org.apache.pekko.actor.typed.ActorRef;
import org.apache.pekko.actor.typed.ActorRefResolver;
import org.apache.pekko.actor.typed.Behavior;
import org.apache.pekko.actor.typed.javadsl.ActorContext;
import org.apache.pekko.actor.typed.javadsl.Behaviors;
import org.apache.pekko.actor.typed.javadsl.TimerScheduler;
import org.apache.pekko.actor.typed.receptionist.Receptionist;
import org.apache.pekko.pattern.StatusReply;
import org.apache.pekko.persistence.typed.PersistenceId;
import org.apache.pekko.persistence.typed.RecoveryCompleted;
import org.apache.pekko.persistence.typed.javadsl.CommandHandler;
import org.apache.pekko.persistence.typed.javadsl.Effect;
import org.apache.pekko.persistence.typed.javadsl.EventHandler;
import org.apache.pekko.persistence.typed.javadsl.EventSourcedBehavior;
import org.apache.pekko.persistence.typed.javadsl.RetentionCriteria;
import org.apache.pekko.persistence.typed.javadsl.SignalHandler;

public final class Coordinator extends EventSourcedBehavior<Coordinator.Command, Coordinator.Event, Coordinator.State> {

    // ================================================================== state

    /** A worker the coordinator knows, with the serialized reference it talks to. */
    public record RegisteredWorker(WorkerInfo info, String ref) {}

    /**
     * Everything the journal knows. {@code workers} keeps registration order; {@code lastStep} is the
     * last completed step that an event recorded (a checkpoint, a mesh start, the end of the job).
     */
    public record State(
            String jobId,
            JobSpec spec,
            Phase phase,
            long meshEpoch,
            List<String> meshRanks,
            long meshStartStep,
            Map<String, RegisteredWorker> workers,
            List<CheckpointInfo> checkpoints,
            String message,
            long lastStep)
            implements ClusterMessage {

        public State {
            meshRanks = List.copyOf(meshRanks);
            workers = Collections.unmodifiableMap(new LinkedHashMap<>(workers));
            checkpoints = List.copyOf(checkpoints);
        }

        public static State empty() {
            return new State("", JobSpec.getDefaultInstance(), Phase.IDLE, 0, List.of(), 0, Map.of(), List.of(), "", 0);
        }

        public boolean active() {
            return phase == Phase.FORMING
                    || phase == Phase.TRAINING
                    || phase == Phase.RECOVERING
                    || phase == Phase.RESCALING;
        }

        public long lastCheckpointStep() {
            return checkpoints.isEmpty()
                    ? 0
                    : checkpoints.get(checkpoints.size() - 1).getStep();
        }

        /** The state after {@code e}; pure. */
        State apply(Event e) {
            if (e instanceof JobSubmitted s) {
                return new State(
                        s.jobId(),
                        s.spec(),
                        Phase.FORMING,
                        meshEpoch,
                        List.of(),
                        0,
                        workers,
                        List.of(),
                        "submitted",
                        0);
            } else if (e instanceof WorkerRegistered r) {
                Map<String, RegisteredWorker> w = new LinkedHashMap<>(workers);
                w.put(r.worker().info().id(), r.worker());
                return with(w);
            } else if (e instanceof WorkersRegistered r) {
                Map<String, RegisteredWorker> w = new LinkedHashMap<>(workers);
                for (RegisteredWorker x : r.workers()) w.put(x.info().id(), x);
                return with(w);
            } else if (e instanceof WorkersLost l) {
                Map<String, RegisteredWorker> w = new LinkedHashMap<>(workers);
                l.workerIds().forEach(w::remove);
                return with(w);
            } else if (e instanceof MeshFormed m) {
                return new State(
                        jobId,
                        spec,
                        Phase.TRAINING,
                        m.epoch(),
                        m.ranks(),
                        m.startStep(),
                        workers,
                        checkpoints,
                        "training from step " + m.startStep() + " on mesh epoch " + m.epoch(),
                        m.startStep() - 1);
            } else if (e instanceof CheckpointCommitted c) {
                List<CheckpointInfo> cs = new ArrayList<>(checkpoints);
                cs.add(c.checkpoint());
                return new State(
                        jobId,
                        spec,
                        phase,
                        meshEpoch,
                        meshRanks,
                        meshStartStep,
                        workers,
                        cs,
                        message,
                        Math.max(lastStep, c.checkpoint().getStep()));
            } else if (e instanceof MeshLost l) {
                return new State(
                        jobId,
                        spec,
                        Phase.RECOVERING,
                        l.epoch(),
                        meshRanks,
                        meshStartStep,
                        workers,
                        checkpoints,
                        l.cause(),
                        Math.max(lastStep, l.step()));
            } else if (e instanceof ScaleRequested r) {
                var par = spec.getParallelism().toBuilder().setDp(r.dp());
                return new State(
                        jobId,
                        spec.toBuilder().setParallelism(par).build(),
                        Phase.RESCALING,
                        meshEpoch,
                        meshRanks,
                        meshStartStep,
                        workers,
                        checkpoints,
                        r.cause(),
                        lastStep);
            } else if (e instanceof JobCompleted c) {
                return new State(
                        jobId,
                        spec,
                        Phase.COMPLETED,
                        meshEpoch,
                        meshRanks,
                        meshStartStep,
                        workers,
                        checkpoints,
                        c.message(),
                        c.step());
            } else if (e instanceof JobFailed f) {
                return new State(
                        jobId,
                        spec,
                        Phase.FAILED,
                        meshEpoch,
                        meshRanks,
                        meshStartStep,
                        workers,
                        checkpoints,
                        f.reason(),
                        f.step());
            }
            throw new IllegalStateException(
                    "unknown coordinator event " + e.getClass().getName());
        }

        private State with(Map<String, RegisteredWorker> w) {
            return new State(
                    jobId, spec, phase, meshEpoch, meshRanks, meshStartStep, w, checkpoints, message, lastStep);
        }
    }

    // ================================================================== commands

    public sealed interface Command {}

    /** Starts a job; answered with its id, or with every problem of the spec. */
    public record SubmitJob(JobSpec spec, ActorRef<StatusReply<JobAccepted>> replyTo)
            implements Command, ClusterMessage {}

    /**
     * Asks for the status with one page of the worker list and of the mesh ranks: entries {@code from} to
     * {@code from + limit - 1} of each (the counts are always whole), so a Status stays well under
     * Artery's frame at any size. {@link StatusPages#fetch} assembles every page.
     */
    public record GetStatus(ActorRef<Status> replyTo, int from, int limit) implements Command, ClusterMessage {
        public GetStatus {
            if (from < 0) throw new IllegalArgumentException("status page from " + from + " < 0");
            if (limit < 1 || limit > StatusPages.MAX_PAGE)
                throw new IllegalArgumentException(
                        "status page limit " + limit + " is not in 1.." + StatusPages.MAX_PAGE);
        }

        /** The first page (the counts, and the first {@link StatusPages#PAGE} workers and ranks). */
        public GetStatus(ActorRef<Status> replyTo) {
            this(replyTo, 0, StatusPages.PAGE);
        }
    }

    /** Records a checkpoint whose every shard is durable (invariant 4). */
    public record CommitCheckpoint(CheckpointInfo checkpoint, ActorRef<StatusReply<Done>> replyTo)
            implements Command, ClusterMessage {}

    /** Ends the running job after its current step; committed checkpoints stay. */
    public record StopJob(ActorRef<StatusReply<Done>> replyTo) implements Command, ClusterMessage {}

    /** Starts sending {@link Published} events to {@code subscriber} until it stops; idempotent. */
    public record Subscribe(ActorRef<Published> subscriber) implements Command, ClusterMessage {}

    /**
     * Re-forms the running job's mesh at {@code dp} at the next step boundary (RESCALING); answered
     * with the first step trained at the new size, or a refusal (INVALID_SCALE: a wrong request).
     */
    public record ScaleJob(int dp, String cause, ActorRef<StatusReply<ScaleAccepted>> replyTo)
            implements Command, ClusterMessage {}

    public record ScaleAccepted(long effectiveStep) implements ClusterMessage {}

    /** The start of a refusal of ScaleJob whose request is wrong (the control plane maps it to INVALID_ARGUMENT). */
    public static final String INVALID_SCALE = "invalid scale: ";

    /** One event for subscribers: a phase change, the metrics of a finished step, or a checkpoint. */
    public record Published(JobEvent event) implements ClusterMessage {}

    /** The start of a refusal of SubmitJob whose spec is wrong (the control plane maps it to INVALID_ARGUMENT). */
    public static final String INVALID_SPEC = "invalid job spec: ";

    public record JobAccepted(String jobId) implements ClusterMessage {}

    public record Status(
            String jobId,
            JobSpec spec,
            Phase phase,
            long meshEpoch,
            List<String> meshRanks,
            long step,
            List<RegisteredWorker> workers,
            List<CheckpointInfo> checkpoints,
            String message,
            List<StepMetrics> recent,
            int workerCount,
            int meshSize,
            int from)
            implements ClusterMessage {
        public Status {
            meshRanks = List.copyOf(meshRanks);
            workers = List.copyOf(workers);
            checkpoints = List.copyOf(checkpoints);
            recent = recent == null ? List.of() : List.copyOf(recent);
        }

        /** A whole status: every worker and rank (in this JVM, or assembled by StatusPages). */
        public Status(
                String jobId,
                JobSpec spec,
                Phase phase,
                long meshEpoch,
                List<String> meshRanks,
                long step,
                List<RegisteredWorker> workers,
                List<CheckpointInfo> checkpoints,
                String message,
                List<StepMetrics> recent) {
            this(
                    jobId,
                    spec,
                    phase,
                    meshEpoch,
                    meshRanks,
                    step,
                    workers,
                    checkpoints,
                    message,
                    recent,
                    workers.size(),
                    meshRanks.size(),
                    0);
        }

        /** Whether this page holds every worker and rank. */
        public boolean whole() {
            return from == 0 && workers.size() == workerCount && meshRanks.size() == meshSize;
        }

        public Status(
                String jobId,
                JobSpec spec,
                Phase phase,
                long meshEpoch,
                List<String> meshRanks,
                long step,
                List<RegisteredWorker> workers,
                List<CheckpointInfo> checkpoints,
                String message) {
            this(jobId, spec, phase, meshEpoch, meshRanks, step, workers, checkpoints, message, List.of());
        }
    }

    private record WorkersListed(Set<ActorRef<GpuWorker.Command>> refs) implements Command {}

    /** The Receptionist's listing of node agents that register per node (NodeAgent.WORKERS_KEY). */
    private record AgentsListed(Set<ActorRef<NodeAgent.Command>> agents) implements Command {}

    /** A node agent's answer to DescribeWorkers (registration). */
    private record NodeDescribed(ActorRef<NodeAgent.Command> agent, NodeAgent.NodeWorkers workers, Throwable error)
            implements Command {}

    /** A node agent's answer (or silence) to the probe of a recovery round: which of {@code ids} live. */
    private record NodeProbeAnswer(int round, List<String> ids, Set<String> alive) implements Command {}

    private record WorkerDescribed(ActorRef<GpuWorker.Command> ref, WorkerInfo info, Throwable error)
            implements Command {}

    /** Journals the registrations described so far (Registrations.FLUSH_AFTER after the first). */
    private record FlushRegistrations() implements Command {}

    /** Forms a new mesh for the job (after a submit, or to resume after the singleton moved). */
    private record FormMesh() implements Command {}

    private record JoinAnswer(long epoch, int rank, Throwable error) implements Command {}

    /** A node agent's answer to JoinMeshes ({@code connected} false) or ConnectMeshes for {@code ranks}. */
    private record NodeMeshAnswer(
            long epoch, boolean connected, List<Integer> ranks, NodeAgent.MeshReplies replies, Throwable error)
            implements Command {}

    /** A rank's answer to JoinMesh (rendezvous phase 1; see MeshRendezvous). */
    private record PreparedAnswer(long epoch, int rank, GpuWorker.MeshPrepared prepared, Throwable error)
            implements Command {}

    private record StepAnswer(GpuWorker.StepReply reply) implements Command {}

    private record RunNextStep() implements Command {}

    private record StepTimedOut(long epoch, long step) implements Command {}

    /** A DataLoader of mesh {@code epoch} cannot feed its replica. */
    record LoaderFailed(long epoch, int replica, String reason) implements Command {}

    /** The checkpoint reported with a step is committed and journaled: go on after that step. */
    private record CheckpointDone(long step) implements Command {}

    private record SubscriberGone(ActorRef<Published> subscriber) implements Command {}

    /** A worker's answer (or silence) to the liveness probe of a recovery round. */
    private record ProbeAnswer(int round, String workerId, boolean alive) implements Command {}

    private record ProbeAgain(int round) implements Command {}

    /** Journals a newly complete set of in-memory peer copies. */
    private record RecordPeerCopies(PeerCopiesComplete event) implements Command {}

    /** WorkerReserver's answer: the workers held for this job, and who holds the others. */
    record WorkersReserved(long attempt, List<String> granted, Map<String, String> busy, int silent)
            implements Command {}

    // ================================================================== events

    public sealed interface Event extends ClusterMessage {}

    public record JobSubmitted(String jobId, JobSpec spec, long unixMillis) implements Event {}

    /** One worker's registration: written by older coordinators, still replayed. */
    public record WorkerRegistered(RegisteredWorker worker) implements Event {}

    /** The workers described since the last registration event (see Registrations). */
    public record WorkersRegistered(List<RegisteredWorker> workers) implements Event {
        public WorkersRegistered {
            workers = List.copyOf(workers);
        }
    }

    public record WorkersLost(List<String> workerIds, String reason) implements Event {
        public WorkersLost {
            workerIds = List.copyOf(workerIds);
        }
    }

    /** Rank i of the mesh is worker {@code ranks.get(i)}; training starts at {@code startStep}. */
    public record MeshFormed(long epoch, List<String> ranks, long startStep) implements Event {
        public MeshFormed {
            ranks = List.copyOf(ranks);
        }
    }

    public record CheckpointCommitted(CheckpointInfo checkpoint) implements Event {}

    public record JobCompleted(long step, String message) implements Event {}

    public record JobFailed(long step, String reason) implements Event {}

    /** The mesh before {@code epoch} is gone after step {@code step}: RECOVERING under {@code epoch}. */
    public record MeshLost(long epoch, long step, String cause) implements Event {}

    /** The job's dp becomes {@code dp}: RESCALING until the mesh re-forms at the next step boundary. */
    public record ScaleRequested(int dp, String cause) implements Event {}

    /**
     * Every rank of mesh {@code epoch} has its in-memory peer copy of {@code step} held by its buddy
     * (PeerRecovery); per rank of that mesh: its worker id, its buddy's rank (-1: none) and the endpoint
     * of its copy service. State is unchanged; PeerRecovery follows it.
     */
    public record PeerCopiesComplete(
            long epoch, long step, List<String> ranks, List<Integer> buddies, List<String> endpoints) implements Event {
        public PeerCopiesComplete {
            ranks = List.copyOf(ranks);
            buddies = List.copyOf(buddies);
            endpoints = List.copyOf(endpoints);
            if (buddies.size() != ranks.size() || endpoints.size() != ranks.size()) {
                throw new IllegalArgumentException("peer copies of step " + step + ": " + ranks.size() + " ranks, "
                        + buddies.size() + " buddies, " + endpoints.size() + " endpoints");
            }
        }
    }

    // ================================================================== behavior

    /** A mesh being formed: ranks that have not yet answered JoinMesh. Not persisted. */
    private record Forming(long epoch, List<String> ranks, long startStep, Set<Integer> pending, ParallelDims dims) {}

    /** The running step: ranks that have not yet answered, and the answers so far. Not persisted. */
    private static final class Training {
        final long epoch;
        final List<ActorRef<GpuWorker.Command>> ranks;
        final List<ActorRef<DataLoader.Command>> loaders;
        long lastCompleted;
        long step = -1;
        final Set<Integer> pending = new HashSet<>();
        StepRound round;

        Training(
                long epoch,
                List<ActorRef<GpuWorker.Command>> ranks,
                List<ActorRef<DataLoader.Command>> loaders,
                long lastCompleted) {
            this.epoch = epoch;
            this.ranks = ranks;
            this.loaders = loaders;
            this.lastCompleted = lastCompleted;
        }
    }

    /** Steps whose metrics GetStatus returns. */
    static final int RECENT_STEPS = 256;

    private final ActorContext<Command> ctx;
    private final TimerScheduler<Command> timers;
    private final CoordinatorSettings settings;
    private final boolean shared; // one of several job slots: workers are reserved before a mesh forms
    private long reserveAttempt; // the running WorkerReserver's attempt; 0: none
    private String waiting = ""; // why job waitingJob, FORMING, waits for workers (GetStatus); "": not waiting
    private String waitingJob = "";
    private final ActorRefResolver resolver;
    private final WorkerRefs refs; // resolved worker refs, by serialized form
    private final ActorRef<GpuWorker.StepReply> stepAdapter;
    private final Set<String> describing = new HashSet<>();
    private final Registrations registering = new Registrations(); // described, not yet journaled
    private Set<String> lastListing = Set.of(); // serialized refs of the latest Receptionist listing
    private boolean workersListed; // a per-worker listing came in (reconcile waits for both kinds)
    private final NodeListing nodes = new NodeListing(); // agents registered per node
    private Forming forming;
    private MeshRendezvous rendezvous; // the forming mesh's gathered rendezvous entries
    private Training training;
    private boolean resumeOnListing;
    private Recovery recovery; // the running or last recovery; null: none since start
    private boolean recoveryFirstStep; // publish the first step after a recovery
    private int recoveriesInARow; // since a step beyond lostAtStep finished
    private Rescale rescale; // the running or last rescale; null: none since start
    private boolean registeredDuringRescale; // new workers came while RESCALING (auto-grow looks again after)
    private long lostAtStep = -1; // progress when the last mesh was lost
    private final PeerRecovery peers = new PeerRecovery(); // in-memory peer copies (follows the journal)
    /** How long a worker gets to answer a recovery probe (a dead JVM never does). */
    static final java.time.Duration PROBE_TIMEOUT = java.time.Duration.ofSeconds(2);

    private final java.util.ArrayDeque<StepMetrics> recent = new java.util.ArrayDeque<>(); // latest steps
    private StepMfu stepMfu = StepMfu.UNKNOWN; // model FLOPs and peak of the current mesh (ops: MFU)
    // Subscribers and what they were last told; not persisted (see publish / announce).
    private final Set<ActorRef<Published>> subscribers = new HashSet<>();
    private Phase announcedPhase = Phase.IDLE;
    private long announcedEpoch = 0;
    private long phaseSinceNanos = System.nanoTime();

    public static Behavior<Command> create(CoordinatorSettings settings) {
        return create(settings, settings.persistenceId(), false);
    }

    /** One job slot journaling under {@code persistenceId}; {@code shared}: one of several (see JobSlots). */
    public static Behavior<Command> create(CoordinatorSettings settings, String persistenceId, boolean shared) {
        return Behaviors.setup(ctx -> Behaviors.withTimers(timers -> {
            // One adapter for both keys (a second adapter of the same message class would replace the first).
            ActorRef<Receptionist.Listing> listings = ctx.messageAdapter(
                    Receptionist.Listing.class,
                    l -> l.isForKey(NodeAgent.WORKERS_KEY)
                            ? new AgentsListed(l.getAllServiceInstances(NodeAgent.WORKERS_KEY))
                            : new WorkersListed(l.getAllServiceInstances(GpuWorker.SERVICE_KEY)));
            ctx.getSystem().receptionist().tell(Receptionist.subscribe(GpuWorker.SERVICE_KEY, listings));
            ctx.getSystem().receptionist().tell(Receptionist.subscribe(NodeAgent.WORKERS_KEY, listings));
            return new Coordinator(ctx, timers, settings, persistenceId, shared);
        }));
    }

    private Coordinator(
            ActorContext<Command> ctx,
            TimerScheduler<Command> timers,
            CoordinatorSettings settings,
            String persistenceId,
            boolean shared) {
        super(PersistenceId.ofUniqueId(persistenceId));
        this.ctx = ctx;
        this.timers = timers;
        this.settings = settings;
        this.shared = shared;
        this.resolver = ActorRefResolver.get(ctx.getSystem());
        this.refs = new WorkerRefs(resolver);
        this.stepAdapter = ctx.messageAdapter(GpuWorker.StepReply.class, StepAnswer::new);
    }

    @Override
    public State emptyState() {
        return State.empty();
    }

    @Override
    public RetentionCriteria retentionCriteria() {
        return RetentionCriteria.snapshotEvery(settings.snapshotEvery(), settings.keepSnapshots());
    }

    @Override
    public EventHandler<State, Event> eventHandler() {
        return newEventHandlerBuilder().forAnyState().onAnyEvent((state, e) -> {
            peers.apply(e); // the in-memory peer copies: not part of State
            return e instanceof PeerCopiesComplete ? state : state.apply(e);
        });
    }

    @Override
    public SignalHandler<State> signalHandler() {
        return newSignalHandlerBuilder()
                .onSignal(RecoveryCompleted.class, (state, signal) -> {
                    announcedPhase = state.phase();
                    announcedEpoch = state.meshEpoch();
                    phaseSinceNanos = System.nanoTime();
                    // Progress of a running job is not journaled: resume it under a new epoch once the
                    // receptionist has told which workers are still there.
                    resumeOnListing = state.active();
                    ctx.getLog()
                            .info(
                                    "coordinator recovered: job '{}' {} at mesh epoch {}, {} workers, {} checkpoints",
                                    state.jobId(),
                                    state.phase(),
                                    state.meshEpoch(),
                                    state.workers().size(),
                                    state.checkpoints().size());
                })
                .build();
    }

    @Override
    public CommandHandler<Command, Event, State> commandHandler() {
        return newCommandHandlerBuilder()
                .forAnyState()
                .onCommand(SubmitJob.class, this::onSubmit)
                .onCommand(GetStatus.class, this::onGetStatus)
                .onCommand(CommitCheckpoint.class, this::onCommitCheckpoint)
                .onCommand(StopJob.class, this::onStop)
                .onCommand(ScaleJob.class, this::onScale)
                .onCommand(WorkersListed.class, this::onWorkersListed)
                .onCommand(WorkerDescribed.class, this::onWorkerDescribed)
                .onCommand(AgentsListed.class, this::onAgentsListed)
                .onCommand(NodeDescribed.class, this::onNodeDescribed)
                .onCommand(NodeProbeAnswer.class, this::onNodeProbeAnswer)
                .onCommand(FlushRegistrations.class, (state, cmd) -> flushRegistrations(state))
                .onCommand(FormMesh.class, this::onFormMesh)
                .onCommand(JoinAnswer.class, this::onJoinAnswer)
                .onCommand(PreparedAnswer.class, this::onPreparedAnswer)
                .onCommand(NodeMeshAnswer.class, this::onNodeMeshAnswer)
                .onCommand(StepAnswer.class, this::onStepAnswer)
                .onCommand(RunNextStep.class, (state, cmd) -> nextStep(state))
                .onCommand(StepTimedOut.class, this::onStepTimedOut)
                .onCommand(LoaderFailed.class, this::onLoaderFailed)
                .onCommand(CheckpointDone.class, this::onCheckpointDone)
                .onCommand(Subscribe.class, this::onSubscribe)
                .onCommand(ProbeAnswer.class, this::onProbeAnswer)
                .onCommand(WorkersReserved.class, this::onWorkersReserved)
                .onCommand(RecordPeerCopies.class, this::onRecordPeerCopies)
                .onCommand(ProbeAgain.class, (state, cmd) -> {
                    if (recovery == null || cmd.round() != recovery.round || state.phase() != Phase.RECOVERING)
                        return Effect().none();
                    probe(state);
                    return Effect().none();
                })
                .onCommand(SubscriberGone.class, (state, cmd) -> {
                    subscribers.remove(cmd.subscriber());
                    return Effect().none();
                })
                .build();
    }

    // ------------------------------------------------------------------ job commands

    private Effect<Event, State> onSubmit(State state, SubmitJob cmd) {
        if (state.active()) {
            return Effect()
                    .reply(
                            cmd.replyTo(),
                            StatusReply.error("job " + state.jobId() + " is " + state.phase()
                                    + "; stop it before submitting another"));
        }
        List<String> problems = shared
                ? JobSpecCheck.problemsOnShared(cmd.spec(), state.workers().size())
                : JobSpecCheck.problems(cmd.spec(), state.workers().size());
        if (!problems.isEmpty()) {
            return Effect().reply(cmd.replyTo(), StatusReply.error(INVALID_SPEC + String.join("; ", problems)));
        }
        String jobId = "job-" + UUID.randomUUID();
        return Effect()
                .persist(new JobSubmitted(jobId, cmd.spec(), System.currentTimeMillis()))
                .thenRun(this::announce)
                .thenRun(s -> ctx.getSelf().tell(new FormMesh()))
                .thenReply(cmd.replyTo(), s -> StatusReply.success(new JobAccepted(jobId)));
    }

    private Effect<Event, State> onGetStatus(State state, GetStatus cmd) {
        long step = training != null ? Math.max(training.lastCompleted, state.lastStep()) : state.lastStep();
        return Effect()
                .reply(
                        cmd.replyTo(),
                        StatusPages.page(
                                new Status(
                                        state.jobId(),
                                        state.spec(),
                                        state.phase(),
                                        state.meshEpoch(),
                                        state.meshRanks(),
                                        step,
                                        new ArrayList<>(state.workers().values()),
                                        state.checkpoints(),
                                        state.phase() == Phase.FORMING && waitingJob.equals(state.jobId())
                                                ? waiting
                                                : state.message(),
                                        new ArrayList<>(recent)),
                                cmd.from(),
                                cmd.limit()));
    }

    private Effect<Event, State> onCommitCheckpoint(State state, CommitCheckpoint cmd) {
        CheckpointInfo c = cmd.checkpoint();
        String problem = null;
        if (state.jobId().isEmpty() || state.phase() == Phase.FAILED || state.phase() == Phase.FORMING) {
            problem = "no job can take a checkpoint now (phase " + state.phase() + ")";
        } else if (c.getPath().isBlank()) {
            problem = "checkpoint path is empty";
        } else if (c.getStep() <= state.lastCheckpointStep()) {
            problem = "checkpoint step " + c.getStep() + " is not after the last committed step "
                    + state.lastCheckpointStep();
        } else if (c.getStep() > state.spec().getSteps()) {
            problem = "checkpoint step " + c.getStep() + " is beyond the job's "
                    + state.spec().getSteps() + " steps";
        } else if (c.getMeshEpoch() < 1 || c.getMeshEpoch() > state.meshEpoch()) {
            problem = "checkpoint mesh epoch " + c.getMeshEpoch() + " is not in 1.." + state.meshEpoch();
        }
        if (problem != null) return Effect().reply(cmd.replyTo(), StatusReply.error(problem));
        return Effect()
                .persist(new CheckpointCommitted(c))
                .thenRun(s -> publish(s, JobEvent.newBuilder().setCheckpoint(c)))
                .thenReply(cmd.replyTo(), s -> StatusReply.success(Done.getInstance()));
    }

    private Effect<Event, State> onStop(State state, StopJob cmd) {
        if (!state.active()) {
            return Effect().reply(cmd.replyTo(), StatusReply.error("no running job (phase " + state.phase() + ")"));
        }
        long step = progress(state);
        return Effect()
                .persist(new JobCompleted(step, "stopped by request after step " + step))
                .thenRun(this::announce)
                .thenRun(this::leaveMesh)
                .thenReply(cmd.replyTo(), s -> StatusReply.success(Done.getInstance()));
    }

    // ------------------------------------------------------------------ workers

    private Effect<Event, State> onWorkersListed(State state, WorkersListed cmd) {
        Set<String> listed = new HashSet<>();
        // One pass over the registered workers per listing (a listing names every worker: at 4096
        // ranks a scan per listed worker made registration quadratic).
        Set<String> known = new HashSet<>();
        for (RegisteredWorker w : state.workers().values()) known.add(w.ref());
        known.addAll(registering.refs());
        for (ActorRef<GpuWorker.Command> ref : cmd.refs()) {
            String s = resolver.toSerializationFormat(ref);
            listed.add(s);
            if (!known.contains(s) && describing.add(s)) describe(ref);
        }
        lastListing = listed;
        workersListed = true;
        return reconcile(state);
    }

    /** Whether the Receptionist offers the worker {@code ref}: listed itself, or by its listed node agent. */
    private boolean offered(String ref) {
        return lastListing.contains(ref) || nodes.offers(ref);
    }

    /**
     * After a listing or a node's description: journals the registered workers no longer offered (and the
     * mesh loss if one was in the job); resumes a job the singleton recovered. Waits for both listings.
     */
    private Effect<Event, State> reconcile(State state) {
        if (!workersListed || !nodes.received()) return Effect().none();
        registering.retainListed(this::offered); // described, then gone before being journaled
        List<String> lost = new ArrayList<>();
        for (RegisteredWorker w : state.workers().values()) {
            if (!offered(w.ref())) lost.add(w.info().id());
        }
        List<Event> events = new ArrayList<>();
        if (!lost.isEmpty()) {
            events.add(new WorkersLost(lost, "removed from the cluster"));
            String hit =
                    lost.stream().filter(id -> inJob(state, id)).findFirst().orElse(null);
            if (hit != null) {
                events.add(
                        lostEvent(state, "worker " + hit + " left the cluster (downed) after step " + progress(state)));
            }
        }
        boolean resume = resumeOnListing;
        resumeOnListing = false;
        var effect = events.isEmpty() ? Effect().none() : Effect().persist(events);
        boolean lostMesh = events.stream().anyMatch(e -> e instanceof MeshLost || e instanceof JobFailed);
        return effect.thenRun(s -> {
            announce(s);
            if (lostMesh) {
                afterLost(s);
            } else if (!s.active()) {
                leaveMesh(s);
            } else if (resume) {
                ctx.getLog()
                        .info("resuming job {} from step {} under a new mesh", s.jobId(), s.lastCheckpointStep() + 1);
                ctx.getSelf().tell(new FormMesh());
            }
        });
    }

    private Effect<Event, State> onWorkerDescribed(State state, WorkerDescribed cmd) {
        String ref = resolver.toSerializationFormat(cmd.ref());
        describing.remove(ref);
        if (cmd.error() != null) {
            // Still listed: ask again (a busy node may answer late; no new listing would ask for it).
            boolean again = lastListing.contains(ref) && describing.add(ref);
            ctx.getLog()
                    .warn(
                            "worker {} did not describe itself: {}{}",
                            ref,
                            cmd.error().toString(),
                            again ? "; asking again" : "");
            if (again) describe(cmd.ref());
            return describing.isEmpty() && !nodes.asking()
                    ? flushRegistrations(state)
                    : Effect().none();
        }
        RegisteredWorker w = new RegisteredWorker(cmd.info(), ref);
        if (!w.equals(state.workers().get(cmd.info().id())) && registering.add(w)) {
            timers.startSingleTimer("register", new FlushRegistrations(), Registrations.FLUSH_AFTER);
        }
        // One journal write per listing's worth of workers, not one per worker.
        return describing.isEmpty() && !nodes.asking()
                ? flushRegistrations(state)
                : Effect().none();
    }

    private Effect<Event, State> onAgentsListed(State state, AgentsListed cmd) {
        Map<String, ActorRef<NodeAgent.Command>> agents = new LinkedHashMap<>();
        for (ActorRef<NodeAgent.Command> a : cmd.agents()) agents.put(resolver.toSerializationFormat(a), a);
        for (ActorRef<NodeAgent.Command> a : nodes.listed(agents)) describeNode(a);
        return reconcile(state);
    }

    private void describeNode(ActorRef<NodeAgent.Command> agent) {
        Asks.ask(
                ctx,
                NodeAgent.NodeWorkers.class,
                agent,
                settings.describeTimeout(),
                NodeAgent.DescribeWorkers::new,
                (workers, err) -> new NodeDescribed(agent, workers, err));
    }

    /** One node's workers: buffered for the next WorkersRegistered; those it no longer offers are lost. */
    private Effect<Event, State> onNodeDescribed(State state, NodeDescribed cmd) {
        String agent = resolver.toSerializationFormat(cmd.agent());
        if (cmd.error() != null) {
            boolean again = nodes.failed(agent);
            ctx.getLog()
                    .warn(
                            "node agent {} did not describe its workers: {}{}",
                            agent,
                            cmd.error().toString(),
                            again ? "; asking again" : "");
            if (again) describeNode(cmd.agent());
            return Effect().none();
        }
        NodeAgent.NodeWorkers nw = cmd.workers();
        List<RegisteredWorker> described = new ArrayList<>();
        for (int i = 0; i < nw.workers().size(); i++)
            described.add(new RegisteredWorker(
                    nw.workers().get(i),
                    resolver.toSerializationFormat(nw.refs().get(i))));
        if (!nodes.described(
                agent, described.stream().map(RegisteredWorker::ref).toList()))
            return Effect().none(); // the agent left meanwhile
        if (nw.silent() > 0 && nodes.failed(agent)) {
            // Some workers were still starting (a busy node): register these, ask for the rest again.
            ctx.getLog().info("node agent {}: {} worker(s) not described yet; asking again", agent, nw.silent());
            describeNode(cmd.agent());
        }
        for (RegisteredWorker w : described) {
            if (!w.equals(state.workers().get(w.info().id())) && registering.add(w)) {
                timers.startSingleTimer("register", new FlushRegistrations(), Registrations.FLUSH_AFTER);
            }
        }
        // Journal the losses first (a restarted node's workers come back under new refs), then the batch.
        if (describing.isEmpty() && !nodes.asking()) ctx.getSelf().tell(new FlushRegistrations());
        return reconcile(state);
    }

    private void describe(ActorRef<GpuWorker.Command> ref) {
        Asks.ask(
                ctx,
                WorkerInfo.class,
                ref,
                settings.describeTimeout(),
                GpuWorker.Describe::new,
                (info, err) -> new WorkerDescribed(ref, info, err));
    }

    /** Journals the workers described since the last flush; auto-grow may rescale onto them. */
    private Effect<Event, State> flushRegistrations(State state) {
        timers.cancel("register");
        List<RegisteredWorker> batch = registering.drain();
        if (batch.isEmpty()) return Effect().none();
        int fresh = (int) batch.stream()
                .filter(w -> !state.workers().containsKey(w.info().id()))
                .count();
        if (fresh > 0 && state.phase() == Phase.RESCALING) registeredDuringRescale = true;
        ScaleRequested grow = autoGrow(state, state.workers().size() + fresh);
        if (grow == null) return Effect().persist(new WorkersRegistered(batch));
        return Effect().persist(List.of(new WorkersRegistered(batch), grow)).thenRun(s -> rescaling(s, grow));
    }

    // ------------------------------------------------------------------ mesh forming

    private Effect<Event, State> onFormMesh(State state, FormMesh cmd) {
        if (!state.active() || forming != null) return Effect().none();
        if (state.phase() == Phase.RECOVERING) {
            // The singleton moved during a recovery: probe afresh.
            if (recovery == null) recovery = new Recovery(state.message(), state.meshRanks());
            probe(state);
            return Effect().none();
        }
        var par = state.spec().getParallelism();
        int world = par.getTp() * par.getPp() * par.getDp();
        List<RegisteredWorker> all = new ArrayList<>(state.workers().values());
        if (all.size() < world) {
            return fail(state, "only " + all.size() + " ranks are registered; the job needs tp × pp × dp = " + world);
        }
        if (shared) return reserveWorkers(state);
        return formMesh(state, all, new ParallelDims(par.getTp(), par.getPp(), par.getDp(), world));
    }

    /** Asks the first dims.world() of {@code all} (node, kind, index order) to join the next mesh epoch. */
    private Effect<Event, State> formMesh(State state, List<RegisteredWorker> all, ParallelDims dims) {
        int world = dims.world();
        all = new ArrayList<>(all);
        // TP is the fastest axis: keeping a node's devices on consecutive ranks keeps TP groups in a node.
        all.sort(Comparator.comparing((RegisteredWorker w) -> w.info().node())
                .thenComparing(w -> w.info().deviceKind())
                .thenComparingInt(w -> w.info().localIndex()));
        List<String> ranks =
                all.subList(0, world).stream().map(w -> w.info().id()).toList();
        long epoch = state.meshEpoch() + 1;
        long startStep = peers.resumeAfter(epoch, state.lastCheckpointStep()) + 1;
        String checkpoint = state.checkpoints().isEmpty()
                ? ""
                : state.checkpoints().get(state.checkpoints().size() - 1).getPath();
        JobSpec spec = meshSpec(state.spec(), world);
        // Rendezvous, phase 1: every rank says what its backend publishes (onPreparedAnswer gathers it).
        rendezvous = new MeshRendezvous(epoch, world);
        Set<Integer> pending = new HashSet<>();
        for (int rank = 0; rank < world; rank++) pending.add(rank);
        // One JoinMeshes per node agent for all its ranks (the agent hands each worker its JoinMesh)...
        MeshAssignment template =
                new MeshAssignment(epoch, 0, dims, startStep, checkpoint, List.of(), spec, meshJob(state));
        RanksByNode byNode = RanksByNode.of(ranks, id -> agentOfWorker(state, id));
        byNode.nodes()
                .forEach((agent, rs) -> Asks.ask(
                        ctx,
                        NodeAgent.MeshReplies.class,
                        nodes.ref(agent),
                        nodeAnswerTimeout(),
                        replyTo -> new NodeAgent.JoinMeshes(
                                template, workerRefs(state, ranks, rs), rs, settings.formingTimeout(), replyTo),
                        (replies, err) -> new NodeMeshAnswer(epoch, false, rs, replies, err)));
        // ... and a JoinMesh to each worker registered on its own.
        for (int rank : byNode.direct()) {
            MeshAssignment mesh =
                    new MeshAssignment(epoch, rank, dims, startStep, checkpoint, List.of(), spec, meshJob(state));
            int r = rank;
            Asks.askWithStatus(
                    ctx,
                    GpuWorker.MeshPrepared.class,
                    workerRef(state, ranks.get(rank)),
                    settings.formingTimeout(),
                    replyTo -> new GpuWorker.JoinMesh(mesh, replyTo),
                    (prepared, err) -> new PreparedAnswer(epoch, r, prepared, err));
        }
        forming = new Forming(epoch, ranks, startStep, pending, dims);
        ctx.getLog().info("forming mesh epoch {} of {} ranks from step {}", epoch, world, startStep);
        return Effect().none();
    }

    /** Rendezvous: gathers phase-1 answers; when all are in, hands the table out (phase 2, ConnectMesh). */
    private Effect<Event, State> onPreparedAnswer(State state, PreparedAnswer cmd) {
        MeshRendezvous rv = rendezvous;
        if (forming == null || rv == null || cmd.epoch() != forming.epoch() || cmd.epoch() != rv.epoch())
            return Effect().none(); // a stale epoch
        if (cmd.error() != null) return onJoinAnswer(state, new JoinAnswer(cmd.epoch(), cmd.rank(), cmd.error()));
        MeshRendezvous.Outcome o =
                rv.offer(cmd.epoch(), cmd.rank(), cmd.prepared().published());
        if (o == MeshRendezvous.Outcome.CONFLICT) {
            return onJoinAnswer(
                    state, new JoinAnswer(cmd.epoch(), cmd.rank(), new IllegalStateException(rv.problem())));
        }
        if (o != MeshRendezvous.Outcome.COMPLETE) return Effect().none();
        var par = state.spec().getParallelism();
        int world = forming.ranks().size();
        var table = peers.onTable(
                rv.table(),
                forming.ranks(),
                ParallelDims.of(par.getTp(), par.getPp(), world / (par.getTp() * par.getPp())),
                state.spec().getPeerCopyEvery(),
                state.jobId(),
                ctx.getLog());
        ParallelDims dims = forming.dims();
        List<String> ranks = forming.ranks();
        RanksByNode byNode = RanksByNode.of(ranks, id -> agentOfWorker(state, id));
        // Per node agent: the union of its ranks' shares (each rank's groups' entries: O(world) in all, not
        // world²); the agent hands each worker its own share.
        byNode.nodes().forEach((agent, rs) -> {
            var share = table.forRanks(dims, rs);
            Asks.ask(
                    ctx,
                    NodeAgent.MeshReplies.class,
                    nodes.ref(agent),
                    nodeAnswerTimeout(),
                    replyTo -> new NodeAgent.ConnectMeshes(
                            share, dims, workerRefs(state, ranks, rs), rs, settings.formingTimeout(), replyTo),
                    (replies, err) -> new NodeMeshAnswer(table.epoch(), true, rs, replies, err));
        });
        for (int rank : byNode.direct()) {
            int r = rank;
            var share = table.forRank(dims, rank);
            Asks.askWithStatus(
                    ctx,
                    GpuWorker.MeshJoined.class,
                    workerRef(state, forming.ranks().get(rank)),
                    settings.formingTimeout(),
                    replyTo -> new GpuWorker.ConnectMesh(share, replyTo),
                    (joined, err) -> new JoinAnswer(table.epoch(), r, err));
        }
        return Effect().none();
    }

    private Effect<Event, State> onJoinAnswer(State state, JoinAnswer cmd) {
        if (forming == null || cmd.epoch() != forming.epoch()) return Effect().none();
        if (cmd.error() != null) {
            String reason = "rank " + cmd.rank() + " (" + forming.ranks().get(cmd.rank()) + ") did not join mesh epoch "
                    + cmd.epoch() + ": " + cmd.error().getMessage();
            List<String> ranks = forming.ranks();
            // A silent rank (ask timeout) may have died while joining: recover; an answered refusal fails.
            boolean silent = cmd.error() instanceof java.util.concurrent.TimeoutException;
            if (PeerRecovery.isPeerLoadFailure(cmd.error()) && state.phase() == Phase.RECOVERING) {
                peers.loadFailed(); // recover again, from the durable checkpoint
                return recover(state, reason + "; falling back to the durable checkpoint");
            }
            if (silent && state.phase() != Phase.FORMING) return recover(state, reason);
            forming = null;
            tellLeave(state, ranks, cmd.epoch());
            if (shared && state.phase() == Phase.FORMING && reason.contains(GpuWorker.BUSY)) {
                return waitForWorkers(state, reason); // another slot took the worker first
            }
            return fail(state, reason);
        }
        forming.pending().remove(cmd.rank());
        if (!forming.pending().isEmpty()) return Effect().none();
        Forming f = forming;
        forming = null;
        if (state.phase() == Phase.RECOVERING && recovery != null) {
            recovery.formedNanos = System.nanoTime();
            recovery.resumeStep = f.startStep();
            recoveryFirstStep = true;
        }
        if (state.phase() == Phase.RESCALING && rescale != null) rescale.formed(f.startStep());
        return Effect()
                .persist(new MeshFormed(f.epoch(), f.ranks(), f.startStep()))
                .thenRun(this::announce)
                .thenRun(this::startTraining);
    }

    // ------------------------------------------------------------------ training steps

    private void startTraining(State state) {
        List<ActorRef<GpuWorker.Command>> refs = new ArrayList<>();
        for (String id : state.meshRanks()) refs.add(workerRef(state, id));
        recent.clear();
        // One DataLoader per DP replica when the job names its data (control-plane jobs may not).
        List<ActorRef<DataLoader.Command>> loaders = state.spec().getSourcesCount() == 0
                ? List.of()
                : DataLoader.spawnAll(
                        ctx, meshSpec(state.spec(), refs.size()), state.meshEpoch(), refs, state.meshStartStep());
        training = new Training(state.meshEpoch(), refs, loaders, state.meshStartStep() - 1);
        stepMfu = StepMfu.of(
                state.spec(),
                state.meshRanks().stream()
                        .map(id -> state.workers().get(id).info())
                        .toList());
        ctx.getSelf().tell(new RunNextStep());
    }

    private Effect<Event, State> onStepAnswer(State state, StepAnswer cmd) {
        Training t = training;
        if (t == null || !stepping(state)) return Effect().none();
        GpuWorker.StepReply r = cmd.reply();
        if (r.epoch() != t.epoch || r.step() != t.step || !t.pending.contains(r.rank()))
            return Effect().none();
        if (r instanceof GpuWorker.StepFailed f) {
            // The data plane saw it first (e.g. a peer's connection reset): recover now, not after downing.
            return recover(state, "rank " + f.rank() + " failed step " + f.step() + ": " + f.error());
        }
        t.pending.remove(r.rank());
        t.round.add((GpuWorker.StepDone) r);
        PeerCopiesComplete copies = peers.acked(t.epoch, r.rank(), ((GpuWorker.StepDone) r).peerCopyStep());
        if (copies != null) ctx.getSelf().tell(new RecordPeerCopies(copies));
        if (!t.pending.isEmpty()) return Effect().none();
        timers.cancel("step");
        StepRound round = t.round;
        StepMetrics metrics = stepMfu.apply(round.metrics(state.spec()));
        remember(metrics);
        publish(state, JobEvent.newBuilder().setStep(metrics));
        // A checkpoint counts only once a rank reports its folder committed, every shard durable (invariant 4).
        CheckpointInfo ckpt;
        try {
            ckpt = round.committed(state.spec().getSteps());
        } catch (IllegalStateException e) {
            return fail(state, e.getMessage());
        }
        if (ckpt == null || ckpt.getStep() <= state.lastCheckpointStep()) return stepCompleted(state, round.step());
        return Effect()
                .persist(new CheckpointCommitted(ckpt))
                .thenRun(s -> publish(s, JobEvent.newBuilder().setCheckpoint(ckpt)))
                .thenRun(s -> CheckpointRetention.applyLater(s.spec(), s.checkpoints(), ctx.getLog()::info))
                .thenRun(s -> ctx.getSelf().tell(new CheckpointDone(round.step())));
    }

    private Effect<Event, State> onCheckpointDone(State state, CheckpointDone cmd) {
        if (training == null || training.step != cmd.step()) return Effect().none();
        return stepCompleted(state, cmd.step());
    }

    /** Logs and publishes the first step on a new mesh (TRAINING → TRAINING) with its episode's time. */
    private void publishFirstStep(State state, String summary, long sinceNanos) {
        ctx.getLog().info("job {}: {}", state.jobId(), summary);
        publish(
                state,
                JobEvent.newBuilder()
                        .setPhase(PhaseChange.newBuilder()
                                .setFrom(Phase.TRAINING)
                                .setTo(Phase.TRAINING)
                                .setMeshEpoch(state.meshEpoch())
                                .setCause(summary)
                                .setSeconds((System.nanoTime() - sinceNanos) / 1e9)));
    }

    private Effect<Event, State> stepCompleted(State state, long step) {
        Training t = training;
        t.lastCompleted = step;
        t.round = null;
        if (step > lostAtStep) recoveriesInARow = 0;
        if (recoveryFirstStep && recovery != null) {
            recoveryFirstStep = false;
            publishFirstStep(state, recovery.firstStepSummary(step), recovery.detectedNanos);
        }
        ScaleRequested grow = null;
        if (rescale != null && rescale.firstStepPending) {
            rescale.firstStepPending = false;
            publishFirstStep(state, rescale.firstStepSummary(step), rescale.boundaryNanos);
            // Workers that registered while the mesh re-formed (auto-grow took the first batch): grow again
            // onto them (only onto new workers: a requested shrink leaves the freed ones alone).
            if (registeredDuringRescale) grow = autoGrow(state, state.workers().size());
            registeredDuringRescale = false;
        }
        for (ActorRef<DataLoader.Command> l : t.loaders) l.tell(new DataLoader.Advance(t.epoch, step));
        if (grow != null) {
            ScaleRequested g = grow;
            return Effect().persist(g).thenRun(s -> rescaling(s, g));
        }
        return nextStep(state);
    }

    private Effect<Event, State> onLoaderFailed(State state, LoaderFailed cmd) {
        if (training == null || training.epoch != cmd.epoch()) return Effect().none();
        return fail(state, "the data loader of replica " + cmd.replica() + " failed: " + cmd.reason());
    }

    /** Keeps the metrics of the latest steps for GetStatus. */
    private void remember(StepMetrics m) {
        recent.addLast(m);
        while (recent.size() > RECENT_STEPS) recent.removeFirst();
    }

    /** Starts the step after the last completed one, or completes the job after its last step. */
    private Effect<Event, State> nextStep(State state) {
        Training t = training;
        if (t == null || !stepping(state) || !t.pending.isEmpty())
            return Effect().none();
        if (t.lastCompleted >= state.spec().getSteps()) {
            long step = t.lastCompleted;
            stopLoaders();
            training = null;
            return Effect()
                    .persist(new JobCompleted(step, "trained all " + step + " steps"))
                    .thenRun(this::announce)
                    .thenRun(this::leaveMesh);
        }
        // RESCALING: re-form once the last completed step's state is committed; else checkpoint this step.
        boolean rescaleBoundary = state.phase() == Phase.RESCALING;
        if (rescaleBoundary && t.lastCompleted == state.lastCheckpointStep()) return reformAtBoundary(state);
        t.step = t.lastCompleted + 1;
        JobSpec spec = state.spec();
        boolean last = t.step == spec.getSteps();
        boolean evaluate = last || (spec.getEvalInterval() > 0 && t.step % spec.getEvalInterval() == 0);
        boolean checkpoint = !spec.getCheckpointDir().isBlank()
                && (last
                        || rescaleBoundary
                        || (spec.getCheckpointInterval() > 0 && t.step % spec.getCheckpointInterval() == 0));
        String ckptDir = checkpoint ? spec.getCheckpointDir() : "";
        t.round = new StepRound(t.epoch, t.step, t.ranks.size(), ckptDir);
        for (int rank = 0; rank < t.ranks.size(); rank++) {
            t.pending.add(rank);
            t.ranks
                    .get(rank)
                    .tell(new GpuWorker.Step(
                            t.epoch, t.step, evaluate, ckptDir, checkpoint && (last || rescaleBoundary), stepAdapter));
        }
        timers.startSingleTimer("step", new StepTimedOut(t.epoch, t.step), settings.stepTimeout());
        return Effect().none();
    }

    private Effect<Event, State> onStepTimedOut(State state, StepTimedOut cmd) {
        if (training == null || training.epoch != cmd.epoch() || training.step != cmd.step())
            return Effect().none();
        return recover(
                state,
                "step " + cmd.step() + " took longer than " + settings.stepTimeout() + " on ranks "
                        + new java.util.TreeSet<>(training.pending));
    }

    // ------------------------------------------------------------------ recovery

    /** Journals MeshLost (or JobFailed after too many recoveries in a row), then aborts and probes. */
    private Effect<Event, State> recover(State state, String cause) {
        return Effect().persist(lostEvent(state, cause)).thenRun(this::announce).thenRun(this::afterLost);
    }

    /** The event that ends the current mesh; drops the transient progress. */
    private Event lostEvent(State state, String cause) {
        long step = progress(state);
        long epoch = Math.max(state.meshEpoch(), forming != null ? forming.epoch() : 0) + 1;
        List<String> old = new ArrayList<>(state.meshRanks());
        if (forming != null) old.addAll(forming.ranks());
        stopLoaders();
        forming = null;
        training = null;
        timers.cancel("step");
        lostAtStep = Math.max(lostAtStep, step);
        rescale = null;
        if (++recoveriesInARow > settings.maxRecoveries()) {
            ctx.getLog().warn("job {} failed: {} ({} recoveries in a row)", state.jobId(), cause, recoveriesInARow - 1);
            return new JobFailed(
                    step,
                    cause + " (after " + settings.maxRecoveries() + " recoveries in a row without getting past step "
                            + step + "; the last committed checkpoint is step " + state.lastCheckpointStep() + ")");
        }
        ctx.getLog().warn("job {} RECOVERING (mesh epoch {}): {}", state.jobId(), epoch, cause);
        recovery = new Recovery(cause, old);
        return new MeshLost(epoch, step, cause);
    }

    /** After MeshLost: tells the old mesh's workers to abort (StepRunner.abortMesh) and probes them all. */
    private void afterLost(State state) {
        if (state.phase() != Phase.RECOVERING) {
            leaveMesh(state);
            return;
        }
        // Probe first: its O(nodes) asks do not queue behind O(ranks) LeaveMesh on the way out; every
        // LeaveMesh still goes before the next JoinMesh (sent after the probe's answers), in order.
        probe(state);
        tellLeave(state, recovery.oldRanks, state.meshEpoch() - 1);
    }

    /**
     * Asks every registered worker whether it lives: once per node agent (registered per node) for all its
     * workers, else each worker; a dead JVM stays silent.
     */
    private void probe(State state) {
        int round = recovery.newRound(state.workers().keySet());
        Map<String, List<RegisteredWorker>> byAgent = new LinkedHashMap<>();
        for (RegisteredWorker w : state.workers().values()) {
            String id = w.info().id();
            String agent = shared ? null : nodes.agentOf(w.ref());
            if (agent != null) {
                byAgent.computeIfAbsent(agent, a -> new ArrayList<>()).add(w);
                continue;
            }
            if (shared) { // a worker that serves another job is not available to this one
                Asks.ask(
                        ctx,
                        GpuWorker.Reservation.class,
                        resolver.<GpuWorker.Command>resolveActorRef(w.ref()),
                        PROBE_TIMEOUT,
                        r -> new GpuWorker.Reserve(state.jobId(), true, r), // asks, holds nothing
                        (r, err) -> new ProbeAnswer(round, id, err == null && r.granted()));
                continue;
            }
            Asks.ask(
                    ctx,
                    WorkerInfo.class,
                    refs.resolve(w.ref()),
                    PROBE_TIMEOUT,
                    GpuWorker.Describe::new,
                    (info, err) -> new ProbeAnswer(round, id, err == null));
        }
        byAgent.forEach((agent, group) -> {
            List<String> ids = group.stream().map(w -> w.info().id()).toList();
            Asks.ask(
                    ctx,
                    NodeAgent.NodeWorkers.class,
                    nodes.ref(agent),
                    PROBE_TIMEOUT,
                    NodeAgent.DescribeWorkers::new,
                    (nw, err) -> new NodeProbeAnswer(round, ids, err == null ? aliveOf(group, nw) : Set.of()));
        });
        if (state.workers().isEmpty()) ctx.getSelf().tell(new ProbeAnswer(round, "", false));
    }

    /** The ids of {@code group} that {@code nw} names with the same reference (a new one: restarted, not alive). */
    private Set<String> aliveOf(List<RegisteredWorker> group, NodeAgent.NodeWorkers nw) {
        Set<String> answered = new HashSet<>();
        for (var ref : nw.refs()) answered.add(resolver.toSerializationFormat(ref));
        Set<String> alive = new HashSet<>();
        for (RegisteredWorker w : group)
            if (answered.contains(w.ref())) alive.add(w.info().id());
        return alive;
    }

    private Effect<Event, State> onNodeProbeAnswer(State state, NodeProbeAnswer cmd) {
        if (recovery == null || state.phase() != Phase.RECOVERING || forming != null)
            return Effect().none();
        if (!recovery.answerAll(cmd.round(), cmd.ids(), cmd.alive()))
            return Effect().none();
        return probed(state);
    }

    private Effect<Event, State> onProbeAnswer(State state, ProbeAnswer cmd) {
        if (recovery == null || state.phase() != Phase.RECOVERING || forming != null)
            return Effect().none();
        if (!recovery.answer(cmd.round(), cmd.workerId(), cmd.alive()))
            return Effect().none();
        return probed(state);
    }

    /** The probe round is complete: re-form on the live workers (or wait out the grace, or fail). */
    private Effect<Event, State> probed(State state) {
        var par = state.spec().getParallelism();
        List<RegisteredWorker> alive = new ArrayList<>();
        for (String id : recovery.alive) alive.add(state.workers().get(id));
        RemeshPolicy.Decision d = RemeshPolicy.decide(
                alive.size(),
                par.getTp(),
                par.getPp(),
                par.getDp(),
                state.spec().getGlobalBatch(),
                state.spec().getMicroBatch());
        if (!d.full(par.getDp()) && !recovery.graceOver(settings.recoveryGrace())) {
            // Wait a while for lost ranks to come back (a restarted node) before shrinking.
            timers.startSingleTimer("probe", new ProbeAgain(recovery.round), java.time.Duration.ofSeconds(1));
            return Effect().none();
        }
        if (!d.ok()) {
            return fail(
                    state,
                    "cannot recover from '" + recovery.cause + "': " + d.refusal()
                            + "; the last committed checkpoint is step " + state.lastCheckpointStep());
        }
        recovery.remeshedNanos = System.nanoTime();
        PeerRecovery.Decision source = peers.decide(state.meshEpoch() + 1, state.lastCheckpointStep(), recovery.alive);
        recovery.layout = "tp " + d.dims().tp() + " × pp " + d.dims().pp() + " × dp "
                + d.dims().dp() + "; " + source.summary();
        ctx.getLog().info("job {}: recovery resumes from the {}", state.jobId(), source.summary());
        ctx.getLog().info("job {}: re-forming on {} of {} live ranks", state.jobId(), recovery.layout, alive.size());
        return formMesh(state, alive, d.dims());
    }

    private Effect<Event, State> onRecordPeerCopies(State state, RecordPeerCopies cmd) {
        PeerCopiesComplete e = cmd.event();
        if (!state.active() || state.meshEpoch() != e.epoch()) return Effect().none(); // that mesh is gone
        return Effect().persist(e).thenRun(s -> ctx.getLog()
                .info(
                        "job {}: peer copies of step {} complete on mesh epoch {} (every rank's shard held by its"
                                + " buddy)",
                        s.jobId(),
                        e.step(),
                        e.epoch()));
    }

    /** The job's spec as one mesh of {@code world} ranks runs it: dp = world / (tp × pp), batch unchanged. */
    static JobSpec meshSpec(JobSpec spec, int world) {
        var par = spec.getParallelism();
        int dp = world / (par.getTp() * par.getPp());
        if (dp == par.getDp()) return spec;
        return spec.toBuilder().setParallelism(par.toBuilder().setDp(dp)).build();
    }

    // ------------------------------------------------------------------ rescale

    private Effect<Event, State> onScale(State state, ScaleJob cmd) {
        if (!state.active()) {
            return Effect().reply(cmd.replyTo(), StatusReply.error("no running job (phase " + state.phase() + ")"));
        }
        RescalePolicy.Decision d = RescalePolicy.request(
                cmd.dp(), rescaleView(state), state.workers().size());
        if (!d.ok()) {
            String why = (d.kind() == RescalePolicy.Kind.INVALID ? INVALID_SCALE : "") + d.refusal();
            return Effect().reply(cmd.replyTo(), StatusReply.error(why));
        }
        ScaleRequested e = scaleEvent(state, cmd.dp(), cmd.cause().isBlank() ? "requested" : cmd.cause());
        long effective = boundaryStep(state) + 1;
        return Effect()
                .persist(e)
                .thenRun(s -> rescaling(s, e))
                .thenReply(cmd.replyTo(), s -> StatusReply.success(new ScaleAccepted(effective)));
    }

    /** Auto-grow (shoal.coordinator.auto-grow): a ScaleRequested when {@code registered} ranks hold more replicas. */
    private ScaleRequested autoGrow(State state, int registered) {
        if (!settings.autoGrow() || training == null || state.phase() != Phase.TRAINING) return null;
        RescalePolicy.Job job = rescaleView(state);
        int dp = RescalePolicy.grow(
                registered, job.tp(), job.pp(), job.meshDp(), job.maxDp(), job.globalBatch(), job.microBatch());
        if (dp == 0 || !RescalePolicy.request(dp, job, registered).ok()) return null;
        return scaleEvent(state, dp, "auto-grow: " + registered + " ranks registered");
    }

    private ScaleRequested scaleEvent(State state, int dp, String why) {
        RescalePolicy.Job job = rescaleView(state);
        return new ScaleRequested(
                dp, "rescaling dp " + job.meshDp() + " → " + dp + " after step " + boundaryStep(state) + ": " + why);
    }

    /** After ScaleRequested is journaled: announce RESCALING; the step loop finds the boundary. */
    private void rescaling(State state, ScaleRequested e) {
        rescale = new Rescale(e.dp(), e.cause());
        ctx.getLog().info("job {} RESCALING: {}", state.jobId(), e.cause());
        announce(state);
        ctx.getSelf().tell(new RunNextStep());
    }

    /** What RescalePolicy needs to know of the running job. */
    private RescalePolicy.Job rescaleView(State state) {
        var par = state.spec().getParallelism();
        int maxDp = par.getMaxDp() > 0 ? par.getMaxDp() : settings.maxDp();
        return new RescalePolicy.Job(
                training == null ? Phase.FORMING : state.phase(),
                par.getTp(),
                par.getPp(),
                state.meshRanks().size() / (par.getTp() * par.getPp()),
                state.spec().getGlobalBatch(),
                state.spec().getMicroBatch(),
                maxDp,
                !state.spec().getCheckpointDir().isBlank(),
                training == null ? state.lastStep() : boundaryStep(state),
                state.spec().getSteps());
    }

    /** The step whose committed state a rescale asked for now reloads: the running step if it checkpoints. */
    private long boundaryStep(State state) {
        Training t = training;
        if (t == null) return state.lastStep();
        if (!t.pending.isEmpty() && t.round != null)
            return t.round.checkpointDir().isEmpty() ? t.step + 1 : t.step;
        return t.lastCompleted == state.lastCheckpointStep() ? t.lastCompleted : t.lastCompleted + 1;
    }

    /** RESCALING at a step whose state is committed: leave the old mesh, form the new one from it. */
    private Effect<Event, State> reformAtBoundary(State state) {
        int dp = state.spec().getParallelism().getDp();
        if (rescale == null) rescale = new Rescale(dp, state.message()); // the singleton moved meanwhile
        rescale.boundaryNanos = System.nanoTime();
        leaveMesh(state);
        var par = state.spec().getParallelism();
        int world = par.getTp() * par.getPp() * dp;
        List<RegisteredWorker> all = new ArrayList<>(state.workers().values());
        if (all.size() < world) {
            return recover(
                    state,
                    "rescale to dp " + dp + " needs " + world + " ranks; only " + all.size() + " are registered");
        }
        rescale.remeshedNanos = System.nanoTime();
        ctx.getLog()
                .info(
                        "job {}: re-forming at dp {} from the checkpoint of step {}",
                        state.jobId(),
                        dp,
                        state.lastCheckpointStep());
        return formMesh(state, all, new ParallelDims(par.getTp(), par.getPp(), dp, world));
    }

    /** TRAINING or RESCALING: the mesh trains steps. */
    private static boolean stepping(State state) {
        return state.phase() == Phase.TRAINING || state.phase() == Phase.RESCALING;
    }

    // ------------------------------------------------------------------ helpers

    private Effect<Event, State> fail(State state, String reason) {
        long step = progress(state);
        stopLoaders();
        forming = null;
        training = null;
        timers.cancel("step");
        ctx.getLog().warn("job {} failed: {}", state.jobId(), reason);
        return Effect()
                .persist(new JobFailed(step, reason))
                .thenRun(this::announce)
                .thenRun(this::leaveMesh);
    }

    /** Tells every worker of the journaled mesh that it is gone, and drops the transient progress. */
    private void leaveMesh(State state) {
        stopLoaders();
        training = null;
        forming = null;
        timers.cancel("step");
        tellLeave(state, state.meshRanks(), state.meshEpoch());
    }

    // ------------------------------------------------------------------ job slots (shared workers)

    /** The job id a worker is told (shared slots), or "" (one job per cluster: any mesh may take it). */
    private String meshJob(State state) {
        return shared ? state.jobId() : "";
    }

    /** Asks every registered worker to hold itself for this job; the answer is WorkersReserved. */
    private Effect<Event, State> reserveWorkers(State state) {
        if (reserveAttempt != 0) return Effect().none();
        reserveAttempt = System.nanoTime();
        Map<String, ActorRef<GpuWorker.Command>> refs = new LinkedHashMap<>();
        for (RegisteredWorker w : state.workers().values()) refs.put(w.info().id(), resolver.resolveActorRef(w.ref()));
        ctx.spawnAnonymous(
                WorkerReserver.create(state.jobId(), refs, settings.describeTimeout(), reserveAttempt, ctx.getSelf()));
        return Effect().none();
    }

    private Effect<Event, State> onWorkersReserved(State state, WorkersReserved cmd) {
        if (cmd.attempt() != reserveAttempt) return Effect().none();
        reserveAttempt = 0;
        var par = state.spec().getParallelism();
        int world = par.getTp() * par.getPp() * par.getDp();
        boolean use = state.phase() == Phase.FORMING
                && forming == null
                && cmd.granted().size() >= world;
        // Sorted as formMesh sorts, so the held workers it does not take are the ones released.
        List<RegisteredWorker> held = new ArrayList<>();
        for (String id : cmd.granted())
            if (state.workers().containsKey(id)) held.add(state.workers().get(id));
        held.sort(Comparator.comparing((RegisteredWorker w) -> w.info().node())
                .thenComparing(w -> w.info().deviceKind())
                .thenComparingInt(w -> w.info().localIndex()));
        for (int i = use ? world : 0; i < held.size(); i++) {
            resolver.<GpuWorker.Command>resolveActorRef(held.get(i).ref())
                    .tell(new GpuWorker.Reserve(
                            state.jobId(), true, ctx.getSystem().ignoreRef()));
        }
        if (state.phase() != Phase.FORMING || forming != null) return Effect().none();
        if (!use) {
            return waitForWorkers(
                    state,
                    "waiting for " + world + " free ranks: " + cmd.granted().size() + " of "
                            + state.workers().size()
                            + " registered are free"
                            + (cmd.busy().isEmpty() ? "" : ", busy: " + WorkerReserver.busySummary(cmd.busy()))
                            + (cmd.silent() > 0 ? ", " + cmd.silent() + " silent" : ""));
        }
        waitingJob = "";
        return formMesh(state, held, new ParallelDims(par.getTp(), par.getPp(), par.getDp(), world));
    }

    /** Tries forming again in about a second (jittered, so two slots that collided do not collide again). */
    private Effect<Event, State> waitForWorkers(State state, String why) {
        if (!why.equals(waiting)) ctx.getLog().info("job {}: {}", state.jobId(), why);
        waiting = why;
        waitingJob = state.jobId();
        long ms = 500 + java.util.concurrent.ThreadLocalRandom.current().nextLong(1000);
        timers.startSingleTimer("form-wait", new FormMesh(), java.time.Duration.ofMillis(ms));
        return Effect().none();
    }

    private void stopLoaders() {
        if (training != null) training.loaders.forEach(ctx::stop);
    }

    private long progress(State state) {
        return training != null ? Math.max(training.lastCompleted, state.lastStep()) : state.lastStep();
    }

    private boolean inJob(State state, String workerId) {
        if (!state.active()) return false;
        if (forming != null) return forming.ranks().contains(workerId);
        // A recovered FORMING job has no mesh yet: FormMesh checks the remaining ranks.
        return stepping(state) && state.meshRanks().contains(workerId);
        // (RECOVERING without a forming mesh: the probe decides who is alive.)
    }

    private ActorRef<GpuWorker.Command> workerRef(State state, String workerId) {
        return refs.resolve(state.workers().get(workerId).ref());
    }

    /**
     * Tells the known workers of {@code ids} that mesh {@code epoch} is gone: one LeaveMeshes per node agent
     * (registered per node), a LeaveMesh to each worker registered on its own. A worker's mesh messages all
     * take the same way (its agent, or direct), so a LeaveMesh reaches it before the next JoinMesh.
     */
    private void tellLeave(State state, java.util.Collection<String> ids, long epoch) {
        GpuWorker.LeaveMesh leave = new GpuWorker.LeaveMesh(epoch, meshJob(state));
        List<String> known = ids.stream().filter(state.workers()::containsKey).toList();
        RanksByNode byNode = RanksByNode.of(known, id -> agentOfWorker(state, id));
        byNode.nodes().forEach((agent, rs) -> nodes.ref(agent)
                .tell(new NodeAgent.LeaveMeshes(leave, workerRefs(state, known, rs))));
        for (int i : byNode.direct()) workerRef(state, known.get(i)).tell(leave);
    }

    /** The listed node agent (serialized ref) of a registered worker, or null (it registered on its own). */
    private String agentOfWorker(State state, String workerId) {
        RegisteredWorker w = state.workers().get(workerId);
        return w == null ? null : nodes.agentOf(w.ref());
    }

    /** The references of {@code ids.get(i)} for each i of {@code indices}. */
    private List<ActorRef<GpuWorker.Command>> workerRefs(State state, List<String> ids, List<Integer> indices) {
        List<ActorRef<GpuWorker.Command>> out = new ArrayList<>(indices.size());
        for (int i : indices) out.add(workerRef(state, ids.get(i)));
        return out;
    }

    /** How long a node agent gets for a JoinMeshes / ConnectMeshes: its workers' time, and a margin to answer. */
    private java.time.Duration nodeAnswerTimeout() {
        return settings.formingTimeout().plus(NODE_ANSWER_MARGIN);
    }

    static final java.time.Duration NODE_ANSWER_MARGIN = java.time.Duration.ofSeconds(1);

    /**
     * A node agent's answers for its ranks (rendezvous phase 1, or phase 2 when {@code connected}), handled
     * as each rank's own answer would be; an agent that did not answer at all is a silent first rank.
     */
    private Effect<Event, State> onNodeMeshAnswer(State state, NodeMeshAnswer cmd) {
        if (forming == null || cmd.epoch() != forming.epoch()) return Effect().none(); // a stale epoch
        if (cmd.error() != null)
            return onJoinAnswer(state, new JoinAnswer(cmd.epoch(), cmd.ranks().get(0), cmd.error()));
        List<Integer> named =
                cmd.replies().replies().stream().map(NodeAgent.MeshReply::rank).toList();
        if (named.size() != cmd.ranks().size() || !new HashSet<>(named).equals(new HashSet<>(cmd.ranks()))) {
            // An agent answers for each rank it was given once, and for no other.
            return onJoinAnswer(
                    state,
                    new JoinAnswer(
                            cmd.epoch(),
                            cmd.ranks().get(0),
                            new IllegalStateException(
                                    "its node agent answered for ranks " + named + ", not " + cmd.ranks())));
        }
        Effect<Event, State> effect = Effect().none();
        for (NodeAgent.MeshReply r : cmd.replies().replies()) {
            Throwable err = r.ok()
                    ? null
                    : r.timedOut()
                            ? new java.util.concurrent.TimeoutException(r.error())
                            : new IllegalStateException(r.error());
            effect = cmd.connected()
                    ? onJoinAnswer(state, new JoinAnswer(cmd.epoch(), r.rank(), err))
                    : onPreparedAnswer(
                            state,
                            new PreparedAnswer(
                                    cmd.epoch(),
                                    r.rank(),
                                    err == null
                                            ? new GpuWorker.MeshPrepared(cmd.epoch(), r.rank(), r.published())
                                            : null,
                                    err));
            if (forming == null || forming.epoch() != cmd.epoch()) return effect; // formed, failed or recovering
        }
        return effect;
    }

    // ------------------------------------------------------------------ subscribers (control plane)

    private Effect<Event, State> onSubscribe(State state, Subscribe cmd) {
        if (subscribers.add(cmd.subscriber())) ctx.watchWith(cmd.subscriber(), new SubscriberGone(cmd.subscriber()));
        return Effect().none();
    }

    /** Sends one event of the current job to every subscriber. */
    private void publish(State state, JobEvent.Builder event) {
        if (subscribers.isEmpty()) return;
        Published p = new Published(event.setJobId(state.jobId())
                .setUnixMillis(System.currentTimeMillis())
                .build());
        for (ActorRef<Published> s : subscribers) s.tell(p);
    }

    /** After a persisted event: a PhaseChange if the phase or the mesh epoch moved since the last one. */
    private void announce(State state) {
        if (state.phase() == announcedPhase && state.meshEpoch() == announcedEpoch) return;
        long now = System.nanoTime();
        PhaseChange change = PhaseChange.newBuilder()
                .setFrom(announcedPhase)
                .setTo(state.phase())
                .setMeshEpoch(state.meshEpoch())
                .setCause(
                        announcedPhase == Phase.RECOVERING && state.phase() == Phase.TRAINING && recovery != null
                                ? state.message() + "; " + recovery.formedSummary()
                                : announcedPhase == Phase.RESCALING
                                                && state.phase() == Phase.TRAINING
                                                && rescale != null
                                        ? state.message() + "; " + rescale.formedSummary()
                                        : state.message())
                .setSeconds((now - phaseSinceNanos) / 1e9)
                .build();
        if (state.phase() != announcedPhase) phaseSinceNanos = now;
        announcedPhase = state.phase();
        announcedEpoch = state.meshEpoch();
        publish(state, JobEvent.newBuilder().setPhase(change));
    }
}
