// Asks: an ask is answered by exactly one message to the asker — the answer, the StatusReply's error, or
// a TimeoutException after the timeout — and askAll by one message with every answer in the targets'
// order once all answered or timed out.
package dev.shoal.actors.cluster;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.time.Duration;
import java.util.List;
import java.util.concurrent.TimeoutException;
import org.apache.pekko.actor.testkit.typed.javadsl.ActorTestKit;
import org.apache.pekko.actor.testkit.typed.javadsl.TestProbe;
import org.apache.pekko.actor.typed.ActorRef;
import org.apache.pekko.actor.typed.Behavior;
import org.apache.pekko.actor.typed.javadsl.Behaviors;
import org.apache.pekko.pattern.StatusReply;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

class AsksTest {

    static ActorTestKit kit;

    @BeforeAll
    static void start() {
        kit = ActorTestKit.create();
    }

    @AfterAll
    static void stop() {
        kit.shutdownTestKit();
    }

    record Question(int n, ActorRef<Integer> replyTo) {}

    record CheckedQuestion(int n, ActorRef<StatusReply<Integer>> replyTo) {}

    /** Doubles n; stays silent for n < 0. */
    static Behavior<Question> doubler() {
        return Behaviors.receiveMessage(q -> {
            if (q.n() >= 0) q.replyTo().tell(2 * q.n());
            return Behaviors.same();
        });
    }

    /** Answers n, or an error for odd n. */
    static Behavior<CheckedQuestion> checker() {
        return Behaviors.receiveMessage(q -> {
            q.replyTo().tell(q.n() % 2 == 0 ? StatusReply.success(q.n()) : StatusReply.error("odd: " + q.n()));
            return Behaviors.same();
        });
    }

    /** What reached the asker: the answer or the error. */
    record Got(Object value, Throwable error) {}

    /** An asker that asks once on start and reports what came back. */
    static Behavior<Got> asking(
            java.util.function.Consumer<org.apache.pekko.actor.typed.javadsl.ActorContext<Got>> ask,
            ActorRef<Got> report) {
        return Behaviors.setup(ctx -> {
            ask.accept(ctx);
            return Behaviors.receiveMessage(g -> {
                report.tell(g);
                return Behaviors.same();
            });
        });
    }

    @Test
    void anAskGetsTheAnswerOrATimeoutExactlyOnce() {
        ActorRef<Question> d = kit.spawn(doubler());
        TestProbe<Got> report = kit.createTestProbe();
        kit.spawn(asking(
                ctx -> Asks.ask(
                        ctx,
                        Integer.class,
                        d,
                        Duration.ofSeconds(3),
                        r -> new Question(21, r),
                        (v, e) -> new Got(v, e)),
                report.ref()));
        Got g = report.receiveMessage();
        assertEquals(42, g.value());
        assertNull(g.error());

        kit.spawn(asking(
                ctx -> Asks.ask(
                        ctx,
                        Integer.class,
                        d,
                        Duration.ofMillis(200),
                        r -> new Question(-1, r),
                        (v, e) -> new Got(v, e)),
                report.ref()));
        Got t = report.receiveMessage(Duration.ofSeconds(3));
        assertNull(t.value());
        assertInstanceOf(TimeoutException.class, t.error());
        report.expectNoMessage(Duration.ofMillis(300));
    }

    @Test
    void aStatusReplyErrorComesBackAsTheError() {
        ActorRef<CheckedQuestion> c = kit.spawn(checker());
        TestProbe<Got> report = kit.createTestProbe();
        for (int n : new int[] {4, 5}) {
            kit.spawn(asking(
                    ctx -> Asks.askWithStatus(
                            ctx,
                            Integer.class,
                            c,
                            Duration.ofSeconds(3),
                            r -> new CheckedQuestion(n, r),
                            (v, e) -> new Got(v, e)),
                    report.ref()));
            Got g = report.receiveMessage();
            if (n == 4) assertEquals(4, g.value());
            else assertEquals("odd: 5", g.error().getMessage());
        }
    }

    @Test
    void askAllAnswersOnceWithEveryAnswerInOrder() {
        ActorRef<Question> d = kit.spawn(doubler());
        TestProbe<List<Asks.Answer<Integer>>> done = kit.createTestProbe();
        int[] ns = {3, -1, 5};
        kit.spawn(Behaviors.<Object>setup(ctx -> {
            Asks.askAll(
                    ctx,
                    Integer.class,
                    List.of(d, d, d),
                    Duration.ofMillis(300),
                    i -> r -> new Question(ns[i], r),
                    done.ref(),
                    answers -> answers);
            return Behaviors.empty();
        }));
        List<Asks.Answer<Integer>> answers = done.receiveMessage(Duration.ofSeconds(3));
        assertEquals(3, answers.size());
        assertEquals(6, answers.get(0).value());
        assertInstanceOf(TimeoutException.class, answers.get(1).error());
        assertEquals(10, answers.get(2).value());
        assertTrue(answers.get(0).ok() && !answers.get(1).ok());
        done.expectNoMessage(Duration.ofMillis(300));

        kit.spawn(Behaviors.<Object>setup(ctx -> {
            Asks.askAll(
                    ctx,
                    Integer.class,
                    List.<ActorRef<Question>>of(),
                    Duration.ofSeconds(1),
                    i -> r -> null,
                    done.ref(),
                    a -> a);
            return Behaviors.empty();
        }));
        assertEquals(List.of(), done.receiveMessage());
    }
}
