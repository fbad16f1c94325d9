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
package dev.shoal.actors.control;

import dev.shoal.actors.coordinator.Coordinator;
import dev.shoal.actors.coordinator.JobSpecCheck;
import dev.shoal.proto.v1.CheckpointInfo;
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
import java.util.List;
import java.util.concurrent.CompletionException;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.TimeoutException;
import java.util.concurrent.atomic.AtomicLong;
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
    private final ActorRef<Coordinator.Command> coordinator;
    private final ControlSettings settings;

    JobServiceImpl(ActorSystem<?> system, ActorRef<Coordinator.Command> coordinator, ControlSettings settings) {
        this.system = system;
        this.coordinator = coordinator;
        this.settings = settings;
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
        withJob(req.getJobId(), out, s -> {
            out.onNext(toProto(s));
            out.onCompleted();
        });
    }

    @Override
    public void watch(WatchRequest req, StreamObserver<JobEvent> out) {
        ServerCallStreamObserver<JobEvent> call = (ServerCallStreamObserver<JobEvent>) out;
        WatchSession.Handle handle = new WatchSession.Handle();
        call.setOnCancelHandler(handle::cancel); // only allowed before this method returns
        withJob(req.getJobId(), out, s -> {
            if (terminal(s.phase())) {
                out.onCompleted(); // nothing will happen to this job any more
                return;
            }
            ActorRef<Object> session = system.systemActorOf(
                    WatchSession.create(s.jobId(), call, coordinator, settings.watchResubscribe()),
                    "control-watch-" + watches.incrementAndGet(),
                    Props.empty());
            handle.attach(session);
        });
    }

    @Override
    public void stop(StopRequest req, StreamObserver<StopResponse> out) {
        withJob(req.getJobId(), out, s -> {
            if (!active(s.phase())) {
                out.onError(Status.FAILED_PRECONDITION
                        .withDescription(
                                "job " + s.jobId() + " is not running (" + s.phase() + ": " + s.message() + ")")
                        .asRuntimeException());
                return;
            }
            this.<StatusReply<Done>>ask(Coordinator.StopJob::new, out, reply -> {
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
        withJob(req.getJobId(), out, s -> {
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
                s -> this.<StatusReply<Coordinator.ScaleAccepted>>ask(
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
    private void withJob(String jobId, StreamObserver<?> out, Consumer<Coordinator.Status> then) {
        this.<Coordinator.Status>ask(Coordinator.GetStatus::new, out, s -> {
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
                then.accept(s);
            }
        });
    }

    /** Asks the coordinator; a timeout becomes UNAVAILABLE, anything else INTERNAL. */
    private <T> void ask(Function<ActorRef<T>, Coordinator.Command> message, StreamObserver<?> out, Consumer<T> then) {
        CompletionStage<T> answer =
                AskPattern.ask(coordinator, message::apply, settings.askTimeout(), system.scheduler());
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
