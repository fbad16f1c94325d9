// One open Watch stream: a short-lived actor on the node that serves the call. It subscribes to the
// coordinator, forwards the events of its job to the gRPC stream, and ends the stream when the job
// completes or fails.
//
// Guarantees:
// - Every stream call (onNext / onCompleted) happens on this actor, one at a time.
// - The subscription is renewed every `resubscribe` (idempotent at the coordinator), so a coordinator
//   that moved to another node picks the stream up again; each renewal also asks for the job's
//   phase and ends the stream if the job ended while an event was lost in the move.
// - A client that disconnects stops this actor; the coordinator death-watches it and drops it.
package dev.shoal.actors.control;

import dev.shoal.actors.coordinator.Coordinator;
import dev.shoal.proto.v1.JobEvent;
import io.grpc.stub.ServerCallStreamObserver;
import java.time.Duration;
import org.apache.pekko.actor.typed.ActorRef;
import org.apache.pekko.actor.typed.Behavior;
import org.apache.pekko.actor.typed.javadsl.ActorContext;
import org.apache.pekko.actor.typed.javadsl.Behaviors;

final class WatchSession {

    private WatchSession() {}

    /** The client went away. */
    private enum Cancelled {
        INSTANCE
    }

    /** Time to renew the subscription and check the phase. */
    private enum Renew {
        INSTANCE
    }

    /** Links the gRPC cancel handler (set before the session exists) to the session actor. */
    static final class Handle {
        private ActorRef<Object> session;
        private boolean cancelled;

        synchronized void cancel() {
            cancelled = true;
            if (session != null) session.tell(Cancelled.INSTANCE);
        }

        synchronized void attach(ActorRef<Object> s) {
            session = s;
            if (cancelled) s.tell(Cancelled.INSTANCE);
        }
    }

    static Behavior<Object> create(
            String jobId,
            ServerCallStreamObserver<JobEvent> out,
            ActorRef<Coordinator.Command> coordinator,
            Duration resubscribe) {
        return Behaviors.setup(ctx -> Behaviors.withTimers(timers -> {
            renew(ctx, coordinator);
            timers.startTimerWithFixedDelay(Renew.INSTANCE, resubscribe);
            return Behaviors.receive(Object.class)
                    .onMessage(Coordinator.Published.class, p -> {
                        JobEvent e = p.event();
                        if (!e.getJobId().equals(jobId)) return Behaviors.same();
                        if (!send(out, e)) return Behaviors.stopped();
                        if (e.hasPhase() && JobServiceImpl.terminal(e.getPhase().getTo())) {
                            return finish(out);
                        }
                        return Behaviors.same();
                    })
                    .onMessage(Coordinator.Status.class, s -> {
                        boolean over = !s.jobId().equals(jobId) || JobServiceImpl.terminal(s.phase());
                        return over ? finish(out) : Behaviors.same();
                    })
                    .onMessage(Renew.class, r -> {
                        renew(ctx, coordinator);
                        return Behaviors.same();
                    })
                    .onMessage(Cancelled.class, c -> Behaviors.stopped())
                    .build();
        }));
    }

    private static void renew(ActorContext<Object> ctx, ActorRef<Coordinator.Command> coordinator) {
        coordinator.tell(new Coordinator.Subscribe(ctx.getSelf().narrow()));
        coordinator.tell(new Coordinator.GetStatus(ctx.getSelf().narrow()));
    }

    /** False when the stream is gone (cancelled meanwhile): the session then stops. */
    private static boolean send(ServerCallStreamObserver<JobEvent> out, JobEvent e) {
        if (out.isCancelled()) return false;
        try {
            out.onNext(e);
            return true;
        } catch (RuntimeException ex) {
            return false;
        }
    }

    private static Behavior<Object> finish(ServerCallStreamObserver<JobEvent> out) {
        try {
            if (!out.isCancelled()) out.onCompleted();
        } catch (RuntimeException ignored) {
            // the client left while the job ended
        }
        return Behaviors.stopped();
    }
}
