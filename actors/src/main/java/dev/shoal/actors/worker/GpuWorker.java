// GpuWorker: the actor that owns one device (a GPU or a CPU rank) and runs its share of each step.
//
// Guarantees:
// - Compute (StepRunner.joinMesh / runStep / close) runs on this worker's own single thread, never
//   on a Pekko dispatcher; the actor only schedules work and forwards results.
// - Joining is two-phase (the rendezvous): JoinMesh → MeshPrepared(what this rank publishes), then
//   ConnectMesh(the gathered table) → MeshJoined. A ConnectMesh for any epoch but the one this worker
//   prepared last is refused; LeaveMesh aborts a mesh that is still being formed, too.
// - Mesh epochs only move forward: a JoinMesh older than one already seen is refused, a Step whose
//   epoch is not the joined mesh's is dropped, and a result of a mesh that was left meanwhile is
//   dropped (design invariant 6). Epochs are per job (each job slot's coordinator counts its own).
// - One job at a time (job slots > 1): while the worker is in, joining, or reserved for a mesh of
//   job A, a JoinMesh or ReserveWorker of job B is refused naming A, and a LeaveMesh of B is ignored.
//   Jobs without an id (one-job clusters) are all the same job: the single-slot behaviour is unchanged.
// - One step at a time: a Step that arrives while another runs is answered with StepFailed.
// - The runner is made when the worker starts (on the compute thread), so Describe already carries
//   its collective backend address; a FeedBatch of another epoch than the joined one is dropped.
package dev.shoal.actors.worker;

import dev.shoal.actors.ops.NodeOps;
import dev.shoal.actors.serialization.ClusterMessage;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import org.apache.pekko.actor.typed.ActorRef;
import org.apache.pekko.actor.typed.Behavior;
import org.apache.pekko.actor.typed.PostStop;
import org.apache.pekko.actor.typed.PreRestart;
import org.apache.pekko.actor.typed.javadsl.AbstractBehavior;
import org.apache.pekko.actor.typed.javadsl.ActorContext;
import org.apache.pekko.actor.typed.javadsl.Behaviors;
import org.apache.pekko.actor.typed.javadsl.Receive;
import org.apache.pekko.actor.typed.receptionist.ServiceKey;
import org.apache.pekko.pattern.StatusReply;

public final class GpuWorker extends AbstractBehavior<GpuWorker.Command> {

    /** Every worker registers under this key; the coordinator subscribes to it. */
    public static final ServiceKey<Command> SERVICE_KEY = ServiceKey.create(Command.class, "shoal-gpu-worker");

    // ------------------------------------------------------------------ protocol

    public sealed interface Command {}

    /** Asks the worker which device it owns. */
    public record Describe(ActorRef<WorkerInfo> replyTo) implements Command, ClusterMessage {}

    /** Rendezvous phase 1: prepare to join a mesh; answered with what this rank publishes for it. */
    public record JoinMesh(MeshAssignment mesh, ActorRef<StatusReply<MeshPrepared>> replyTo)
            implements Command, ClusterMessage {}

    /** The mesh of {@code epoch} of job {@code jobId} ("": whatever job) is gone: abort its communicators. */
    public record LeaveMesh(long epoch, String jobId) implements Command, ClusterMessage {
        public LeaveMesh {
            if (jobId == null) jobId = "";
        }

        public LeaveMesh(long epoch) {
            this(epoch, "");
        }
    }

    /**
     * Holds this worker for {@code jobId} for {@link #RESERVATION_TTL} while that job forms a mesh, or drops
     * the hold ({@code release}); answered with a {@link Reservation}: granted, or (release) whether the
     * worker is free for that job (a liveness probe that holds nothing).
     */
    public record Reserve(String jobId, boolean release, ActorRef<Reservation> replyTo)
            implements Command, ClusterMessage {}

    /** {@code busyWith}: the job that holds the worker when not granted ("" otherwise). */
    public record Reservation(String workerId, boolean granted, String busyWith) implements ClusterMessage {}

    /** How long a reservation holds a worker that no JoinMesh of its job reached. */
    public static final java.time.Duration RESERVATION_TTL = java.time.Duration.ofSeconds(30);

    /** Rendezvous phase 2: every rank's published entries; build communicators, load the shard; answered when ready. */
    public record ConnectMesh(Rendezvous rendezvous, ActorRef<StatusReply<MeshJoined>> replyTo)
            implements Command, ClusterMessage {}

    /** The answer to JoinMesh: the entries this rank publishes (key → bytes, see Rendezvous). */
    public record MeshPrepared(long epoch, int rank, java.util.Map<String, byte[]> published)
            implements ClusterMessage {
        public MeshPrepared {
            java.util.TreeMap<String, byte[]> copy = new java.util.TreeMap<>();
            if (published != null) published.forEach((k, v) -> copy.put(k, v.clone()));
            published = java.util.Collections.unmodifiableMap(copy);
        }

        @Override
        public boolean equals(Object o) {
            return o instanceof MeshPrepared p
                    && p.epoch == epoch
                    && p.rank == rank
                    && new Rendezvous(Math.max(1, epoch), published)
                            .equals(new Rendezvous(Math.max(1, epoch), p.published));
        }

        @Override
        public int hashCode() {
            return java.util.Objects.hash(epoch, rank, published.keySet());
        }
    }

    /**
     * Runs global step {@code step} of mesh {@code epoch}; then scores the held-out sets when
     * {@code evaluate}, and writes this rank's checkpoint shard under {@code checkpointDir} when set;
     * {@code commitNow} makes the step wait for that checkpoint's commit and report it (a boundary the
     * coordinator must see committed before it goes on: the last step, a rescale).
     */
    public record Step(
            long epoch,
            long step,
            boolean evaluate,
            String checkpointDir,
            boolean commitNow,
            ActorRef<StepReply> replyTo)
            implements Command, ClusterMessage {
        public Step {
            if (checkpointDir == null) checkpointDir = "";
        }

        public Step(long epoch, long step, boolean evaluate, String checkpointDir, ActorRef<StepReply> replyTo) {
            this(epoch, step, evaluate, checkpointDir, false, replyTo);
        }

        public Step(long epoch, long step, ActorRef<StepReply> replyTo) {
            this(epoch, step, false, "", replyTo);
        }
    }

    /** One step's micro-batches from this rank's DataLoader (see StepRunner.Batch). */
    public record FeedBatch(StepRunner.Batch batch) implements Command, ClusterMessage {}

    private record Prepared(
            MeshAssignment mesh,
            java.util.Map<String, byte[]> published,
            Throwable error,
            ActorRef<StatusReply<MeshPrepared>> replyTo)
            implements Command {}

    private record Joined(MeshAssignment mesh, Throwable error, ActorRef<StatusReply<MeshJoined>> replyTo)
            implements Command {}

    private record Finished(
            long epoch, long step, StepResult result, Throwable error, StepTimings timings, ActorRef<StepReply> replyTo)
            implements Command {}

    public record MeshJoined(long epoch, int rank) implements ClusterMessage {}

    /** The answer to a Step. */
    public sealed interface StepReply extends ClusterMessage {
        long epoch();

        long step();

        int rank();
    }

    /** {@code validation}: held-out loss per source name, at eval steps only (else empty). */
    public record StepDone(
            long epoch,
            long step,
            int rank,
            double loss,
            long tokens,
            StepTimings timings,
            java.util.Map<String, Double> validation,
            double gradNorm,
            double lr,
            String checkpointPath,
            long checkpointBytes,
            long peerCopyStep)
            implements StepReply {
        public StepDone {
            validation = validation == null
                    ? java.util.Map.of()
                    : java.util.Collections.unmodifiableMap(new java.util.LinkedHashMap<>(validation));
            if (checkpointPath == null) checkpointPath = "";
        }

        /** A step without an in-memory peer copy to report. */
        public StepDone(
                long epoch,
                long step,
                int rank,
                double loss,
                long tokens,
                StepTimings timings,
                java.util.Map<String, Double> validation,
                double gradNorm,
                double lr,
                String checkpointPath,
                long checkpointBytes) {
            this(
                    epoch,
                    step,
                    rank,
                    loss,
                    tokens,
                    timings,
                    validation,
                    gradNorm,
                    lr,
                    checkpointPath,
                    checkpointBytes,
                    0);
        }

        /** A step with an evaluation but without norm, LR or checkpoint. */
        public StepDone(
                long epoch,
                long step,
                int rank,
                double loss,
                long tokens,
                StepTimings timings,
                java.util.Map<String, Double> validation) {
            this(epoch, step, rank, loss, tokens, timings, validation, Double.NaN, Double.NaN, "", 0);
        }

        /** A step without an evaluation. */
        public StepDone(long epoch, long step, int rank, double loss, long tokens, StepTimings timings) {
            this(epoch, step, rank, loss, tokens, timings, java.util.Map.of());
        }
    }

    public record StepFailed(long epoch, long step, int rank, String error) implements StepReply {}

    /** Seconds from receipt of Step to the start of compute, and inside the StepRunner. */
    public record StepTimings(double queueSeconds, double computeSeconds) {}

    // ------------------------------------------------------------------ state

    private final WorkerInfo info; // with the runner's backend address
    private final StepRunner.Factory factory; // null: this node has no training engine
    private final ExecutorService compute;
    private Throwable createError; // the factory failed to make the runner
    private volatile StepRunner runner; // created and used on the compute thread; aborted from here
    private final java.util.Map<String, Long> highestEpochs = new java.util.HashMap<>(); // per job id
    private String meshJob = ""; // the job of the joined or joining mesh
    private long joiningEpoch = 0; // a JoinMesh accepted and not yet answered
    private String reservedFor = ""; // a Reserve granted to this job ...
    private long reservedUntilNanos; // ... until then
    private MeshAssignment prepared; // the mesh of the last JoinMesh answered, until it is joined or left
    private long joinedEpoch = 0; // 0: in no mesh
    private int joinedRank = -1;
    private long runningStep = -1; // -1: idle

    public static Behavior<Command> create(WorkerInfo info, StepRunner.Factory factory) {
        return Behaviors.setup(ctx -> new GpuWorker(ctx, info, factory));
    }

    private GpuWorker(ActorContext<Command> ctx, WorkerInfo info, StepRunner.Factory factory) {
        super(ctx);
        this.factory = factory;
        this.compute = Executors.newSingleThreadExecutor(r -> {
            Thread t = new Thread(r, "shoal-compute-" + info.deviceKind() + info.localIndex());
            t.setDaemon(true);
            return t;
        });
        String backend = "";
        if (factory != null) {
            try {
                runner = compute.submit(() -> factory.create(info)).get(60, TimeUnit.SECONDS);
                backend = runner.backendAddress();
            } catch (Exception e) {
                createError = cause(e instanceof java.util.concurrent.ExecutionException ? e.getCause() : e);
                ctx.getLog().error("{}: the training engine could not start: {}", info.id(), describe(createError));
            }
        }
        this.info = info.withBackend(backend);
    }

    // ------------------------------------------------------------------ handlers

    @Override
    public Receive<Command> createReceive() {
        return newReceiveBuilder()
                .onMessage(Describe.class, this::onDescribe)
                .onMessage(JoinMesh.class, this::onJoinMesh)
                .onMessage(Prepared.class, this::onPrepared)
                .onMessage(ConnectMesh.class, this::onConnectMesh)
                .onMessage(Joined.class, this::onJoined)
                .onMessage(LeaveMesh.class, this::onLeaveMesh)
                .onMessage(Reserve.class, this::onReserve)
                .onMessage(Step.class, this::onStep)
                .onMessage(FeedBatch.class, this::onFeedBatch)
                .onMessage(Finished.class, this::onFinished)
                .onSignal(PostStop.class, s -> onPostStop())
                .onSignal(PreRestart.class, s -> onPostStop())
                .build();
    }

    private Behavior<Command> onDescribe(Describe m) {
        m.replyTo().tell(info);
        return this;
    }

    private Behavior<Command> onJoinMesh(JoinMesh m) {
        MeshAssignment mesh = m.mesh();
        String other = busyWith();
        if (other != null && !other.equals(mesh.jobId())) {
            m.replyTo().tell(StatusReply.error(info.id() + ": " + BUSY + other));
            return this;
        }
        long highestEpoch = highest(mesh.jobId());
        if (mesh.epoch() < highestEpoch) {
            m.replyTo()
                    .tell(StatusReply.error(info.id() + ": mesh epoch " + mesh.epoch() + " is stale (already at "
                            + highestEpoch + ")"));
            return this;
        }
        if (factory == null) {
            m.replyTo()
                    .tell(StatusReply.error(info.id() + ": this node has no training engine (no "
                            + StepRunner.Factory.class.getName() + " on its classpath)"));
            return this;
        }
        if (runner == null) {
            m.replyTo()
                    .tell(StatusReply.error(
                            info.id() + ": the training engine could not start: " + describe(createError)));
            return this;
        }
        abortJoined();
        highestEpochs.put(mesh.jobId(), mesh.epoch());
        meshJob = mesh.jobId();
        joiningEpoch = mesh.epoch(); // joining from phase 1 (prepare) until Joined
        reservedFor = "";
        prepared = null;
        CompletableFuture<java.util.Map<String, byte[]>> work = CompletableFuture.supplyAsync(
                () -> {
                    try {
                        return runner.prepareMesh(mesh);
                    } catch (Exception e) {
                        throw new java.util.concurrent.CompletionException(e);
                    }
                },
                compute);
        getContext().pipeToSelf(work, (published, err) -> new Prepared(mesh, published, cause(err), m.replyTo()));
        return this;
    }

    private Behavior<Command> onPrepared(Prepared m) {
        long epoch = m.mesh().epoch();
        long highestEpoch = highest(m.mesh().jobId());
        boolean current = m.mesh().jobId().equals(meshJob) && epoch == joiningEpoch;
        if (epoch != highestEpoch) {
            m.replyTo().tell(StatusReply.error(info.id() + ": mesh epoch " + epoch + " superseded by " + highestEpoch));
        } else if (!current) {
            m.replyTo().tell(StatusReply.error(info.id() + ": mesh epoch " + epoch + " was left while joining"));
        } else if (m.error() != null) {
            joiningEpoch = 0;
            m.replyTo()
                    .tell(StatusReply.error(
                            info.id() + ": preparing mesh epoch " + epoch + " failed: " + describe(m.error())));
        } else {
            prepared = m.mesh();
            m.replyTo()
                    .tell(StatusReply.success(new MeshPrepared(epoch, m.mesh().rank(), m.published())));
        }
        return this;
    }

    private Behavior<Command> onConnectMesh(ConnectMesh m) {
        long epoch = m.rendezvous().epoch();
        MeshAssignment mesh = prepared;
        long highestEpoch = mesh == null ? 0 : highest(mesh.jobId());
        if (mesh == null || mesh.epoch() != epoch || epoch != highestEpoch || joiningEpoch != epoch) {
            // A stale (or unprepared) epoch: nothing is built for it.
            m.replyTo()
                    .tell(StatusReply.error(info.id() + ": rendezvous of mesh epoch " + epoch + " dropped: "
                            + (mesh == null ? "no mesh prepared" : "prepared epoch " + mesh.epoch())
                            + ", latest epoch " + highestEpoch));
            return this;
        }
        prepared = null;
        CompletableFuture<Void> work = CompletableFuture.runAsync(
                () -> {
                    try {
                        runner.joinMesh(mesh, m.rendezvous());
                    } catch (Exception e) {
                        throw new java.util.concurrent.CompletionException(e);
                    }
                },
                compute);
        getContext().pipeToSelf(work, (ok, err) -> new Joined(mesh, cause(err), m.replyTo()));
        return this;
    }

    private Behavior<Command> onJoined(Joined m) {
        long epoch = m.mesh().epoch();
        long highestEpoch = highest(m.mesh().jobId());
        boolean current = m.mesh().jobId().equals(meshJob) && epoch == joiningEpoch;
        if (current) joiningEpoch = 0;
        if (epoch != highestEpoch) {
            m.replyTo().tell(StatusReply.error(info.id() + ": mesh epoch " + epoch + " superseded by " + highestEpoch));
        } else if (!current) {
            m.replyTo().tell(StatusReply.error(info.id() + ": mesh epoch " + epoch + " was left while joining"));
        } else if (m.error() != null) {
            // A rendezvous that timed out or a peer that refused is a communicator error too.
            NodeOps.of(getContext().getSystem()).ifPresent(o -> o.recordStep(m.error(), 0));
            m.replyTo()
                    .tell(StatusReply.error(
                            info.id() + ": joining mesh epoch " + epoch + " failed: " + describe(m.error())));
        } else {
            joinedEpoch = epoch;
            joinedRank = m.mesh().rank();
            m.replyTo().tell(StatusReply.success(new MeshJoined(epoch, joinedRank)));
        }
        return this;
    }

    private Behavior<Command> onLeaveMesh(LeaveMesh m) {
        String job = m.jobId().isEmpty() ? meshJob : m.jobId();
        highestEpochs.merge(job, m.epoch(), Math::max);
        if (!job.equals(meshJob)) return this; // another job's mesh, left long ago
        if (prepared != null && prepared.epoch() <= m.epoch()) prepared = null;
        StepRunner r = runner;
        if (joiningEpoch != 0 && joiningEpoch <= m.epoch()) {
            // A joinMesh still forming its groups (a peer died mid-rendezvous): unblock it.
            if (r != null) r.abortMesh(joiningEpoch);
            joiningEpoch = 0;
        }
        if (joinedEpoch != 0 && joinedEpoch <= m.epoch()) abortJoined();
        return this;
    }

    private Behavior<Command> onReserve(Reserve m) {
        String other = busyWith();
        if (m.release()) { // drops this job's hold; answers whether the worker is free for the job
            if (m.jobId().equals(reservedFor)) reservedFor = "";
            String holder = busyWith();
            boolean free = holder == null || holder.equals(m.jobId());
            m.replyTo().tell(new Reservation(info.id(), free, free ? "" : holder));
        } else if (other != null && !other.equals(m.jobId())) {
            m.replyTo().tell(new Reservation(info.id(), false, other));
        } else {
            if (joinedEpoch == 0 && joiningEpoch == 0) {
                reservedFor = m.jobId();
                reservedUntilNanos = System.nanoTime() + RESERVATION_TTL.toNanos();
            }
            m.replyTo().tell(new Reservation(info.id(), true, ""));
        }
        return this;
    }

    /** The start of a refusal because the worker serves another job (then that job's id). */
    public static final String BUSY = "busy with job ";

    /** The job this worker is in, joining or reserved for; null when free. */
    private String busyWith() {
        if (joinedEpoch != 0 || joiningEpoch != 0) return meshJob;
        if (!reservedFor.isEmpty() && System.nanoTime() - reservedUntilNanos < 0) return reservedFor;
        return null;
    }

    private long highest(String job) {
        return highestEpochs.getOrDefault(job, 0L);
    }

    private Behavior<Command> onStep(Step m) {
        if (m.epoch() != joinedEpoch) {
            getContext()
                    .getLog()
                    .debug(
                            "{}: dropped step {} of stale mesh epoch {} (joined {})",
                            info.id(),
                            m.step(),
                            m.epoch(),
                            joinedEpoch);
            return this;
        }
        if (runningStep >= 0) {
            m.replyTo().tell(new StepFailed(m.epoch(), m.step(), joinedRank, "rank busy with step " + runningStep));
            return this;
        }
        runningStep = m.step();
        long received = System.nanoTime();
        StepRunner r = runner;
        CompletableFuture<Object[]> work = CompletableFuture.supplyAsync(
                () -> {
                    long start = System.nanoTime();
                    try {
                        StepResult result =
                                r.runStep(m.epoch(), m.step(), m.evaluate(), m.checkpointDir(), m.commitNow());
                        long end = System.nanoTime();
                        return new Object[] {result, new StepTimings((start - received) / 1e9, (end - start) / 1e9)};
                    } catch (Exception e) {
                        throw new java.util.concurrent.CompletionException(e);
                    }
                },
                compute);
        getContext()
                .pipeToSelf(
                        work,
                        (res, err) -> err == null
                                ? new Finished(
                                        m.epoch(),
                                        m.step(),
                                        (StepResult) res[0],
                                        null,
                                        (StepTimings) res[1],
                                        m.replyTo())
                                : new Finished(m.epoch(), m.step(), null, cause(err), null, m.replyTo()));
        return this;
    }

    private Behavior<Command> onFeedBatch(FeedBatch m) {
        StepRunner r = runner;
        if (m.batch().epoch() != joinedEpoch || r == null) {
            getContext()
                    .getLog()
                    .debug(
                            "{}: dropped batch of step {} of stale mesh epoch {} (joined {})",
                            info.id(),
                            m.batch().step(),
                            m.batch().epoch(),
                            joinedEpoch);
            return this;
        }
        r.offerBatch(m.batch());
        return this;
    }

    private Behavior<Command> onFinished(Finished m) {
        runningStep = -1;
        NodeOps.of(getContext().getSystem()).ifPresent(o -> {
            o.recordStep(m.error(), m.timings() == null ? 0 : m.timings().computeSeconds());
            if (m.result() != null && m.result().checkpointSeconds() >= 0) { // this rank's own save finished
                o.metrics().checkpointSaved(m.result().checkpointSeconds());
            }
        });
        if (m.epoch() != joinedEpoch) {
            getContext()
                    .getLog()
                    .debug("{}: dropped result of step {} of left mesh epoch {}", info.id(), m.step(), m.epoch());
            return this;
        }
        if (m.error() != null) {
            m.replyTo().tell(new StepFailed(m.epoch(), m.step(), joinedRank, describe(m.error())));
        } else {
            StepResult r = m.result();
            m.replyTo()
                    .tell(new StepDone(
                            m.epoch(),
                            m.step(),
                            joinedRank,
                            r.loss(),
                            r.tokens(),
                            m.timings(),
                            r.validation(),
                            r.gradNorm(),
                            r.lr(),
                            r.checkpointPath(),
                            r.checkpointBytes(),
                            r.peerCopyStep()));
        }
        return this;
    }

    private Behavior<Command> onPostStop() {
        abortJoined();
        compute.execute(() -> {
            StepRunner r = runner;
            if (r != null) r.close();
        });
        compute.shutdown();
        try {
            compute.awaitTermination(5, TimeUnit.SECONDS);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
        return this;
    }

    /** Aborts the joined mesh (unblocking a running step) and forgets it. */
    private void abortJoined() {
        StepRunner r = runner;
        if (joiningEpoch != 0 && r != null) r.abortMesh(joiningEpoch);
        joiningEpoch = 0;
        prepared = null;
        if (joinedEpoch != 0 && r != null) r.abortMesh(joinedEpoch);
        joinedEpoch = 0;
        joinedRank = -1;
    }

    private static Throwable cause(Throwable t) {
        while (t instanceof java.util.concurrent.CompletionException && t.getCause() != null) t = t.getCause();
        return t;
    }

    private static String describe(Throwable t) {
        return t.getMessage() == null ? t.getClass().getName() : t.getClass().getSimpleName() + ": " + t.getMessage();
    }
}
