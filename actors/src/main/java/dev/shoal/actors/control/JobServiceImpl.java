// JobService (job_service.proto) served on every node: each call becomes an ask to the coordinator
// singleton, and its answer (or refusal) a gRPC reply with a status code the CLI can act on.
//
// Status codes: INVALID_ARGUMENT for a spec with problems (every one named by field); NOT_FOUND for a
// job id the coordinator does not know (it keeps the latest job; an empty id means that job);
// FAILED_PRECONDITION when the cluster's state refuses the call (a job is already running, the job
// is not running; a Scale the cluster cannot take now); UNAVAILABLE when the coordinator does not
// answer within shoal.grpc.ask-timeout. Scale: INVALID_ARGUMENT for a dp that can never work (below 1,
// not dividing the global batch, above max_dp), FAILED_PRECONDITION for one the cluster cannot take
// now (too few registered ranks, the job not TRAINING, no checkpoint_dir, the mesh already at it).
//
// Job slots (shoal.coordinator.job-slots > 1): Submit goes to a slot without a running job (trying
// the next free one when a slot refuses because it just got busy; FAILED_PRECONDITION naming every
// slot's job when none is free); Get, Watch, Stop and ListCheckpoints go to the slot that holds the
// job id (an empty id: the only job, or the only running one). With one slot nothing changes.
package dev.shoal.actors.control;

import dev.shoal.actors.coordinator.Coordinator;
import dev.shoal.actors.coordinator.JobSpecCheck;
import dev.shoal.actors.coordinator.StatusPages;
import dev.shoal.proto.v1.CheckpointInfo;
import dev.shoal.proto.v1.ClusterView;
import dev.shoal.proto.v1.GetClusterRequest;
import dev.shoal.proto.v1.GetRequest;
import dev.shoal.proto.v1.JobEvent;
import dev.shoal.proto.v1.JobServiceGrpc;
import dev.shoal.proto.v1.JobStatus;
import dev.shoal.proto.v1.ListCheckpointsRequest;
import dev.shoal.proto.v1.ListCheckpointsResponse;
import dev.shoal.proto.v1.Phase;
import dev.shoal.proto.v1.ScaleRequest;
import dev.shoal.proto.v1.ScaleResponse;
import dev.shoal.proto.v1.StopRequest;
import dev.shoal.proto.v1.StopResponse;
import dev.shoal.proto.v1.SubmitRequest;
import dev.shoal.proto.v1.SubmitResponse;
import dev.shoal.proto.v1.WatchRequest;
import io.grpc.Status;
import io.grpc.stub.ServerCallStreamObserver;
import io.grpc.stub.StreamObserver;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.TimeoutException;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.BiConsumer;
import java.util.function.Consumer;
import org.apache.pekko.Done;
import org.apache.pekko.actor.typed.ActorRef;
import org.apache.pekko.actor.typed.ActorSystem;
import org.apache.pekko.actor.typed.Props;
import org.apache.pekko.actor.typed.javadsl.AskPattern;
import org.apache.pekko.japi.function.Function;
import org.apache.pekko.pattern.StatusReply;

final class JobServiceImpl extends JobServiceGrpc.JobServiceImplBase {

    private final AtomicLong watches = new AtomicLong();

    private final ActorSystem<?> system;
    private final List<ActorRef<Coordinator.Command>> slots; // slot 0 first
    private final ControlSettings settings;

    JobServiceImpl(ActorSystem<?> system, List<ActorRef<Coordinator.Command>> slots, ControlSettings settings) {
        if (slots.isEmpty()) throw new IllegalArgumentException("no coordinator slots");
        this.system = system;
        this.slots = List.copyOf(slots);
        this.settings = settings;
    }

    JobServiceImpl(ActorSystem<?> system, ActorRef<Coordinator.Command> coordinator, ControlSettings settings) {
        this(system, List.of(coordinator), settings);
    }

    // ------------------------------------------------------------------ calls

    @Override
    public void submit(SubmitRequest req, StreamObserver<SubmitResponse> out) {
        List<String> problems = JobSpecCheck.specProblems(req.getSpec());
        if (!problems.isEmpty()) {
            out.onError(Status.INVALID_ARGUMENT
                    .withDescription(Coordinator.INVALID_SPEC + String.join("; ", problems))
                    .asRuntimeException());
            return;
        }
        if (slots.size() > 1) {
            submitToFreeSlot(req, out);
            return;
        }
        this.<StatusReply<Coordinator.JobAccepted>>ask(r -> new Coordinator.SubmitJob(req.getSpec(), r), out, reply -> {
            if (reply.isSuccess()) {
                out.onNext(SubmitResponse.newBuilder()
                        .setJobId(reply.getValue().jobId())
                        .build());
                out.onCompleted();
            } else {
                String msg = reply.getError().getMessage();
                Status code =
                        msg.startsWith(Coordinator.INVALID_SPEC) ? Status.INVALID_ARGUMENT : Status.FAILED_PRECONDITION;
                out.onError(code.withDescription(msg).asRuntimeException());
            }
        });
    }

    @Override
    public void get(GetRequest req, StreamObserver<JobStatus> out) {
        withJob(req.getJobId(), out, (s, slot) -> {
            if (!req.getIncludeCluster()) { // cheap: what pollers (watch loops, sweeps) ask for
                out.onNext(toProto(s));
                out.onCompleted();
                return;
            }
            ClusterViews.gather(system, s, agentTimeout()).whenComplete((view, err) -> {
                JobStatus.Builder b = toProto(s).toBuilder();
                if (view != null) b.setCluster(view);
                out.onNext(b.build());
                out.onCompleted();
            });
        });
    }

    @Override
    public void getCluster(GetClusterRequest req, StreamObserver<ClusterView> out) {
        askStatus(slots.get(0), out, s -> ClusterViews.gather(system, s.jobId().isEmpty() ? null : s, agentTimeout())
                .whenComplete((view, err) -> {
                    if (err != null) {
                        out.onError(
                                Status.INTERNAL.withDescription(err.toString()).asRuntimeException());
                        return;
                    }
                    out.onNext(view);
                    out.onCompleted();
                }));
    }

    /** How long `shoal status` waits for each node agent's report (a silent node shows "no answer"). */
    private java.time.Duration agentTimeout() {
        java.time.Duration cap = java.time.Duration.ofSeconds(2);
        return settings.askTimeout().compareTo(cap) < 0 ? settings.askTimeout() : cap;
    }

    @Override
    public void watch(WatchRequest req, StreamObserver<JobEvent> out) {
        ServerCallStreamObserver<JobEvent> call = (ServerCallStreamObserver<JobEvent>) out;
        WatchSession.Handle handle = new WatchSession.Handle();
        call.setOnCancelHandler(handle::cancel); // only allowed before this method returns
        withJob(req.getJobId(), out, (s, slot) -> {
            if (terminal(s.phase())) {
                out.onCompleted(); // nothing will happen to this job any more
                return;
            }
            ActorRef<Object> session = system.systemActorOf(
                    WatchSession.create(s.jobId(), call, slot, settings.watchResubscribe()),
                    "control-watch-" + watches.incrementAndGet(),
                    Props.empty());
            handle.attach(session);
        });
    }

    @Override
    public void stop(StopRequest req, StreamObserver<StopResponse> out) {
        withJob(req.getJobId(), out, (s, slot) -> {
            if (!active(s.phase())) {
                out.onError(Status.FAILED_PRECONDITION
                        .withDescription(
                                "job " + s.jobId() + " is not running (" + s.phase() + ": " + s.message() + ")")
                        .asRuntimeException());
                return;
            }
            this.<StatusReply<Done>>ask(slot, Coordinator.StopJob::new, out, reply -> {
                if (reply.isSuccess()) {
                    out.onNext(
                            StopResponse.newBuilder().setPhase(Phase.COMPLETED).build());
                    out.onCompleted();
                } else {
                    out.onError(Status.FAILED_PRECONDITION
                            .withDescription(reply.getError().getMessage())
                            .asRuntimeException());
                }
            });
        });
    }

    @Override
    public void listCheckpoints(ListCheckpointsRequest req, StreamObserver<ListCheckpointsResponse> out) {
        withJob(req.getJobId(), out, (s, slot) -> {
            out.onNext(ListCheckpointsResponse.newBuilder()
                    .addAllCheckpoints(s.checkpoints())
                    .build());
            out.onCompleted();
        });
    }

    @Override
    public void scale(ScaleRequest req, StreamObserver<ScaleResponse> out) {
        withJob(
                req.getJobId(),
                out,
                (s, slot) -> this.<StatusReply<Coordinator.ScaleAccepted>>ask(
                        slot,
                        r -> new Coordinator.ScaleJob(req.getDp(), "requested through the control plane", r),
                        out,
                        reply -> {
                            if (reply.isSuccess()) {
                                out.onNext(ScaleResponse.newBuilder()
                                        .setEffectiveStep(reply.getValue().effectiveStep())
                                        .build());
                                out.onCompleted();
                            } else {
                                String msg = reply.getError().getMessage();
                                Status code = msg.startsWith(Coordinator.INVALID_SCALE)
                                        ? Status.INVALID_ARGUMENT
                                        : Status.FAILED_PRECONDITION;
                                out.onError(code.withDescription("job " + s.jobId() + ": " + msg)
                                        .asRuntimeException());
                            }
                        }));
    }

    // ------------------------------------------------------------------ helpers

    /** Asks the coordinator for its status and runs {@code then} if it knows {@code jobId} ("" = its job). */
    private void withJob(
            String jobId, StreamObserver<?> out, BiConsumer<Coordinator.Status, ActorRef<Coordinator.Command>> then) {
        if (slots.size() > 1) {
            withSlotJob(jobId, out, then);
            return;
        }
        ActorRef<Coordinator.Command> coordinator = slots.get(0);
        askStatus(coordinator, out, s -> {
            if (s.jobId().isEmpty()) {
                out.onError(Status.NOT_FOUND
                        .withDescription("no job has been submitted to this cluster")
                        .asRuntimeException());
            } else if (!jobId.isEmpty() && !jobId.equals(s.jobId())) {
                out.onError(Status.NOT_FOUND
                        .withDescription("unknown job id '" + jobId + "'; the coordinator's job is " + s.jobId()
                                + " (it keeps the latest job only)")
                        .asRuntimeException());
            } else {
                then.accept(s, coordinator);
            }
        });
    }

    // ------------------------------------------------------------------ job slots

    /** Every slot's status (null where a slot did not answer in time), slot order. */
    private CompletableFuture<List<Coordinator.Status>> statuses() {
        List<CompletableFuture<Coordinator.Status>> asks = new ArrayList<>();
        for (ActorRef<Coordinator.Command> slot : slots) {
            asks.add(StatusPages.fetch(slot, settings.askTimeout(), system.scheduler())
                    .toCompletableFuture()
                    .exceptionally(e -> null));
        }
        return CompletableFuture.allOf(asks.toArray(CompletableFuture[]::new))
                .thenApply(v -> asks.stream().map(CompletableFuture::join).toList());
    }

    private void submitToFreeSlot(SubmitRequest req, StreamObserver<SubmitResponse> out) {
        statuses().whenComplete((all, error) -> {
            if (error != null) {
                out.onError(Status.INTERNAL.withDescription(error.toString()).asRuntimeException());
                return;
            }
            if (all.stream().allMatch(java.util.Objects::isNull)) {
                out.onError(unavailable());
                return;
            }
            List<Integer> free = new ArrayList<>();
            for (int k = 0; k < all.size(); k++) {
                if (all.get(k) != null && !active(all.get(k).phase())) free.add(k);
            }
            trySlots(req, free, 0, all, out);
        });
    }

    /** Submits to free.get(i); a slot that got busy meanwhile passes the job on to the next one. */
    private void trySlots(
            SubmitRequest req,
            List<Integer> free,
            int i,
            List<Coordinator.Status> all,
            StreamObserver<SubmitResponse> out) {
        if (i >= free.size()) {
            StringBuilder b = new StringBuilder();
            for (int k = 0; k < all.size(); k++) {
                Coordinator.Status s = all.get(k);
                b.append(k == 0 ? "" : ", ")
                        .append(s == null ? "slot " + k + " not answering" : s.jobId() + " " + s.phase());
            }
            out.onError(Status.FAILED_PRECONDITION
                    .withDescription("all " + slots.size() + " job slots are busy (" + b
                            + "); submit again when one ends, or raise shoal.coordinator.job-slots")
                    .asRuntimeException());
            return;
        }
        this.<StatusReply<Coordinator.JobAccepted>>ask(
                slots.get(free.get(i)), r -> new Coordinator.SubmitJob(req.getSpec(), r), out, reply -> {
                    if (reply.isSuccess()) {
                        out.onNext(SubmitResponse.newBuilder()
                                .setJobId(reply.getValue().jobId())
                                .build());
                        out.onCompleted();
                    } else if (reply.getError().getMessage().startsWith(Coordinator.INVALID_SPEC)) {
                        out.onError(Status.INVALID_ARGUMENT
                                .withDescription(reply.getError().getMessage())
                                .asRuntimeException());
                    } else {
                        trySlots(req, free, i + 1, all, out);
                    }
                });
    }

    /** The slot holding {@code jobId}; "" picks the only job, else the only running one. */
    private void withSlotJob(
            String jobId, StreamObserver<?> out, BiConsumer<Coordinator.Status, ActorRef<Coordinator.Command>> then) {
        statuses().whenComplete((all, error) -> {
            if (error != null) {
                out.onError(Status.INTERNAL.withDescription(error.toString()).asRuntimeException());
                return;
            }
            List<Integer> withJob = new ArrayList<>();
            List<Integer> running = new ArrayList<>();
            for (int k = 0; k < all.size(); k++) {
                Coordinator.Status s = all.get(k);
                if (s == null || s.jobId().isEmpty()) continue;
                if (jobId.isEmpty() || jobId.equals(s.jobId())) withJob.add(k);
                if (active(s.phase())) running.add(k);
            }
            int k = -1;
            if (!jobId.isEmpty() && !withJob.isEmpty()) k = withJob.get(0);
            else if (jobId.isEmpty() && withJob.size() == 1) k = withJob.get(0);
            else if (jobId.isEmpty() && running.size() == 1) k = running.get(0);
            if (k >= 0) {
                try {
                    then.accept(all.get(k), slots.get(k));
                } catch (RuntimeException e) {
                    out.onError(Status.INTERNAL.withDescription(e.toString()).asRuntimeException());
                }
            } else if (all.stream().anyMatch(java.util.Objects::isNull)
                    && all.stream()
                            .allMatch(s -> s == null
                                    || s.jobId().isEmpty()
                                    || !s.jobId().equals(jobId))) {
                out.onError(
                        all.stream().allMatch(java.util.Objects::isNull)
                                ? unavailable()
                                : Status.NOT_FOUND
                                        .withDescription("job '" + jobId + "' is not on the job slots that answered"
                                                + " (some did not answer within "
                                                + settings.askTimeout().toSeconds()
                                                + " s)")
                                        .asRuntimeException());
            } else if (withJob.isEmpty() && jobId.isEmpty()) {
                out.onError(Status.NOT_FOUND
                        .withDescription("no job has been submitted to this cluster")
                        .asRuntimeException());
            } else if (jobId.isEmpty()) {
                StringBuilder b = new StringBuilder();
                for (int j : withJob)
                    b.append(b.length() == 0 ? "" : ", ")
                            .append(all.get(j).jobId())
                            .append(' ')
                            .append(all.get(j).phase());
                out.onError(Status.NOT_FOUND
                        .withDescription("this cluster has " + withJob.size() + " jobs (" + b + "): name one")
                        .asRuntimeException());
            } else {
                out.onError(Status.NOT_FOUND
                        .withDescription("unknown job id '" + jobId + "'; each of the " + slots.size()
                                + " job slots keeps its latest job only")
                        .asRuntimeException());
            }
        });
    }

    private RuntimeException unavailable() {
        return Status.UNAVAILABLE
                .withDescription("the coordinator did not answer within "
                        + settings.askTimeout().toSeconds()
                        + " s (is a node with role \"node\" up and the cluster formed?)")
                .asRuntimeException();
    }

    /** Asks slot 0's coordinator (the only one of a one-job cluster). */
    private <T> void ask(Function<ActorRef<T>, Coordinator.Command> message, StreamObserver<?> out, Consumer<T> then) {
        ask(slots.get(0), message, out, then);
    }

    /** Asks the coordinator; a timeout becomes UNAVAILABLE, anything else INTERNAL. */
    private <T> void ask(
            ActorRef<Coordinator.Command> coordinator,
            Function<ActorRef<T>, Coordinator.Command> message,
            StreamObserver<?> out,
            Consumer<T> then) {
        answer(AskPattern.ask(coordinator, message::apply, settings.askTimeout(), system.scheduler()), out, then);
    }

    /** The coordinator's whole status (asked page by page, see StatusPages), as {@link #ask} answers. */
    private void askStatus(
            ActorRef<Coordinator.Command> coordinator, StreamObserver<?> out, Consumer<Coordinator.Status> then) {
        answer(StatusPages.fetch(coordinator, settings.askTimeout(), system.scheduler()), out, then);
    }

    /** Runs {@code then} on the answer; a timeout becomes UNAVAILABLE, anything else INTERNAL. */
    private <T> void answer(CompletionStage<T> answer, StreamObserver<?> out, Consumer<T> then) {
        answer.whenComplete((value, error) -> {
            if (error == null) {
                try {
                    then.accept(value);
                } catch (RuntimeException e) {
                    out.onError(Status.INTERNAL.withDescription(e.toString()).asRuntimeException());
                }
                return;
            }
            Throwable t = error instanceof CompletionException && error.getCause() != null ? error.getCause() : error;
            if (t instanceof TimeoutException) {
                out.onError(Status.UNAVAILABLE
                        .withDescription("the coordinator did not answer within "
                                + settings.askTimeout().toSeconds()
                                + " s (is a node with role \"node\" up and the cluster formed?)")
                        .asRuntimeException());
            } else {
                out.onError(Status.INTERNAL.withDescription(t.toString()).asRuntimeException());
            }
        });
    }

    static JobStatus toProto(Coordinator.Status s) {
        List<CheckpointInfo> cs = s.checkpoints();
        JobStatus.Builder b = JobStatus.newBuilder()
                .setJobId(s.jobId())
                .setSpec(s.spec())
                .setPhase(s.phase())
                .setMeshEpoch(s.meshEpoch())
                .setStep(s.step())
                .setLastCheckpointStep(cs.isEmpty() ? 0 : cs.get(cs.size() - 1).getStep())
                .setMessage(s.message())
                .addAllMeshRanks(s.meshRanks());
        s.workers().forEach(w -> b.addWorkers(w.info().id()));
        return b.build();
    }

    static boolean terminal(Phase p) {
        return p == Phase.COMPLETED || p == Phase.FAILED;
    }

    static boolean active(Phase p) {
        return p == Phase.FORMING || p == Phase.TRAINING || p == Phase.RECOVERING || p == Phase.RESCALING;
    }
}
