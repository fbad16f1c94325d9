// WorkerReserver: a short-lived child of a job slot's Coordinator that asks every registered worker to
// hold itself for the slot's job (GpuWorker.Reserve) and answers once with the workers that did, the
// jobs that hold the others, and how many stayed silent (a dead JVM, or slower than the timeout).
//
// Guarantees: exactly one WorkersReserved per run, at the latest `timeout` after it started; it
// stops itself after answering. A worker's hold expires on its own (GpuWorker.RESERVATION_TTL), so a
// coordinator that dies between reserving and forming strands no worker for long.
package dev.shoal.actors.coordinator;

import dev.shoal.actors.cluster.Asks;
import dev.shoal.actors.worker.GpuWorker;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import org.apache.pekko.actor.typed.ActorRef;
import org.apache.pekko.actor.typed.Behavior;
import org.apache.pekko.actor.typed.javadsl.Behaviors;

final class WorkerReserver {
    private WorkerReserver() {}

    /** One worker's answer; {@code reservation} null: no answer in time. */
    private record Answer(String workerId, GpuWorker.Reservation reservation) {}

    static Behavior<Answer> create(
            String jobId,
            Map<String, ActorRef<GpuWorker.Command>> workers,
            Duration timeout,
            long attempt,
            ActorRef<Coordinator.Command> replyTo) {
        return Behaviors.setup(ctx -> {
            Set<String> pending = new HashSet<>(workers.keySet());
            List<String> granted = new ArrayList<>();
            Map<String, String> busy = new TreeMap<>();
            if (pending.isEmpty()) {
                replyTo.tell(new Coordinator.WorkersReserved(attempt, granted, busy, 0));
                return Behaviors.stopped();
            }
            workers.forEach((id, ref) -> Asks.ask(
                    ctx,
                    GpuWorker.Reservation.class,
                    ref,
                    timeout,
                    r -> new GpuWorker.Reserve(jobId, false, r),
                    (r, err) -> new Answer(id, err == null ? r : null)));
            return Behaviors.receiveMessage(a -> {
                if (!pending.remove(a.workerId())) return Behaviors.same();
                GpuWorker.Reservation r = a.reservation();
                if (r != null && r.granted()) granted.add(a.workerId());
                else if (r != null) busy.put(a.workerId(), r.busyWith());
                if (!pending.isEmpty()) return Behaviors.same();
                int silent = workers.size() - granted.size() - busy.size();
                replyTo.tell(new Coordinator.WorkersReserved(attempt, granted, busy, silent));
                return Behaviors.stopped();
            });
        });
    }

    /** "2 ranks with job-a…, 1 with job-b…" for a waiting job's status line. */
    static String busySummary(Map<String, String> busy) {
        Map<String, Integer> perJob = new TreeMap<>();
        for (String job : busy.values()) perJob.merge(job, 1, Integer::sum);
        StringBuilder b = new StringBuilder();
        perJob.forEach((job, n) -> b.append(b.length() == 0 ? "" : ", ")
                .append(n)
                .append(n == 1 ? " rank with " : " ranks with ")
                .append(job));
        return b.toString();
    }
}
