// Feeds a node's NodeMetrics from the coordinator's event stream: subscribes to the singleton (through
// its proxy, wherever it runs) and hands every JobEvent to NodeMetrics.onEvent, so every node's
// /metrics shows the job's progress, not only the node that hosts the coordinator.
//
// Guarantees: the subscription is renewed every `renew` (the coordinator's Subscribe is idempotent),
// so a coordinator that moved to another node feeds this node again within one period.
package dev.shoal.actors.ops;

import dev.shoal.actors.coordinator.Coordinator;
import java.time.Duration;
import org.apache.pekko.actor.typed.ActorRef;
import org.apache.pekko.actor.typed.Behavior;
import org.apache.pekko.actor.typed.javadsl.Behaviors;

final class MetricsFeed {

    private MetricsFeed() {}

    /** Timer tick: subscribe again. */
    private enum Renew {
        INSTANCE
    }

    static Behavior<Object> create(ActorRef<Coordinator.Command> coordinator, NodeMetrics metrics, Duration renew) {
        return Behaviors.setup(ctx -> Behaviors.withTimers(timers -> {
            coordinator.tell(new Coordinator.Subscribe(ctx.getSelf().narrow()));
            timers.startTimerWithFixedDelay(Renew.INSTANCE, renew);
            return Behaviors.receive(Object.class)
                    .onMessage(Coordinator.Published.class, p -> {
                        metrics.onEvent(p.event());
                        return Behaviors.same();
                    })
                    .onMessage(Renew.class, r -> {
                        coordinator.tell(new Coordinator.Subscribe(ctx.getSelf().narrow()));
                        return Behaviors.same();
                    })
                    .build();
        }));
    }
}
