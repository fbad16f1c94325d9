// Asks: request–response between actors without CompletionStages. Pekko's javadsl asks (ActorContext.ask,
// AskPattern.ask) complete a Scala Future converted to a CompletableFuture whose continuations always run
// on CompletableFuture's default async pool; on a machine with 2 cores that pool is one NEW THREAD per
// answer (ForkJoinPool's common parallelism is 1), which made every answer of a 4096-rank mesh round
// start and end a thread. Here each ask is a small child actor instead: it sends the request with itself
// as the reply address, and turns the first answer, or a timeout, into a message to the asker.
//
// Guarantees: exactly one message reaches `to` per ask (the answer's, or a TimeoutException's after
// `timeout`), and askAll sends exactly one, with the answers in the targets' order, once every target
// answered or timed out; the child actors stop after that (late answers go to dead letters); requests
// are built and sent on the asker's thread (their factories may read its state), answers reach it only
// as its own messages.
package dev.shoal.actors.cluster;

import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.TimeoutException;
import java.util.function.BiFunction;
import java.util.function.Function;
import java.util.function.IntFunction;
import org.apache.pekko.actor.typed.ActorRef;
import org.apache.pekko.actor.typed.Behavior;
import org.apache.pekko.actor.typed.RecipientRef;
import org.apache.pekko.actor.typed.javadsl.ActorContext;
import org.apache.pekko.actor.typed.javadsl.Behaviors;
import org.apache.pekko.pattern.StatusReply;

public final class Asks {
    private Asks() {}

    /** One target's answer: its value, or why there is none (a TimeoutException: no answer in time). */
    public record Answer<Res>(Res value, Throwable error) {
        public boolean ok() {
            return error == null;
        }
    }

    private enum Tick {
        TIMEOUT
    }

    private record Slot<Res>(int index, Answer<Res> answer) {}

    /**
     * Asks {@code target} {@code request(replyTo)} and tells the asker {@code map(answer, null)}, or
     * {@code map(null, TimeoutException)} after {@code timeout}: ActorContext.ask without a future.
     */
    public static <Req, Res, T> void ask(
            ActorContext<T> ctx,
            Class<Res> resClass,
            RecipientRef<Req> target,
            Duration timeout,
            Function<ActorRef<Res>, Req> request,
            BiFunction<Res, Throwable, T> map) {
        send(ctx.spawnAnonymous(once(resClass, target, timeout, ctx.getSelf(), map)), target, request);
    }

    /** Sends the request from the asker's thread (its factory may read the asker's state), the child as reply address. */
    private static <Req, Res> void send(
            ActorRef<Object> child, RecipientRef<Req> target, Function<ActorRef<Res>, Req> request) {
        target.tell(request.apply(child.<Res>narrow()));
    }

    /**
     * As {@link #ask} for an answer wrapped in a StatusReply: a success maps to {@code map(value, null)}, an
     * error reply to {@code map(null, its error)} (ActorContext.askWithStatus without a future).
     */
    @SuppressWarnings({"unchecked", "rawtypes"})
    public static <Req, Res, T> void askWithStatus(
            ActorContext<T> ctx,
            Class<Res> resClass,
            RecipientRef<Req> target,
            Duration timeout,
            Function<ActorRef<StatusReply<Res>>, Req> request,
            BiFunction<Res, Throwable, T> map) {
        Class<StatusReply<Res>> cls = (Class) StatusReply.class;
        ask(ctx, cls, target, timeout, request, (reply, err) -> {
            if (err != null) return map.apply(null, err);
            return reply.isSuccess() ? map.apply(reply.getValue(), null) : map.apply(null, reply.getError());
        });
    }

    /**
     * Asks target i {@code request.apply(i)} for every i, and tells {@code to} {@code done(answers)} once all
     * answered or timed out (answers in the targets' order). The asks run under one child of {@code ctx}.
     */
    public static <Req, Res, T> void askAll(
            ActorContext<?> ctx,
            Class<Res> resClass,
            List<? extends RecipientRef<Req>> targets,
            Duration timeout,
            IntFunction<Function<ActorRef<Res>, Req>> request,
            ActorRef<T> to,
            Function<List<Answer<Res>>, T> done) {
        if (targets.isEmpty()) {
            to.tell(done.apply(List.of()));
            return;
        }
        List<RecipientRef<Req>> all = List.copyOf(targets);
        ActorRef<Object> gatherer = ctx.spawnAnonymous(Behaviors.<Object>setup(c -> {
            @SuppressWarnings("unchecked")
            Answer<Res>[] answers = new Answer[all.size()];
            int[] missing = {all.size()};
            return Behaviors.receive(Object.class)
                    .onMessage(Slot.class, s -> {
                        @SuppressWarnings("unchecked")
                        Slot<Res> slot = (Slot<Res>) s;
                        if (answers[slot.index()] == null) {
                            answers[slot.index()] = slot.answer();
                            missing[0]--;
                        }
                        if (missing[0] > 0) return Behaviors.same();
                        to.tell(done.apply(new ArrayList<>(Arrays.asList(answers))));
                        return Behaviors.stopped();
                    })
                    .build();
        }));
        for (int i = 0; i < all.size(); i++) {
            int index = i;
            ActorRef<Object> child = ctx.spawnAnonymous(once(
                    resClass,
                    all.get(i),
                    timeout,
                    gatherer,
                    (Res res, Throwable err) -> new Slot<>(index, new Answer<>(res, err))));
            send(child, all.get(i), request.apply(i));
        }
    }

    /** The child of one ask (its request is sent by the asker): forwards the first answer or the timeout, stops. */
    private static <Res, T> Behavior<Object> once(
            Class<Res> resClass,
            RecipientRef<?> target,
            Duration timeout,
            ActorRef<? super T> to,
            BiFunction<Res, Throwable, ? extends T> map) {
        return Behaviors.setup(c -> Behaviors.withTimers(timers -> {
            timers.startSingleTimer(Tick.TIMEOUT, timeout);
            return Behaviors.receive(Object.class)
                    .onMessageEquals(Tick.TIMEOUT, () -> {
                        to.tell(map.apply(
                                null,
                                new TimeoutException(
                                        "no answer from " + target + " within " + timeout.toMillis() + " ms")));
                        return Behaviors.stopped();
                    })
                    .onAnyMessage(m -> {
                        if (!resClass.isInstance(m)) return Behaviors.unhandled();
                        to.tell(map.apply(resClass.cast(m), null));
                        return Behaviors.stopped();
                    })
                    .build();
        }));
    }
}
