// StatusPages: keeps the coordinator's Status bounded. A GetStatus names a window (from, limit) of the
// registered workers and of the mesh ranks; the answer carries that window and the whole counts, so one
// Status of a 4096-GPU cluster is ~150 KiB at most instead of ~1.3 MiB (Artery drops any message over
// its 256 KiB maximum-frame-size). fetch() asks page after page and assembles the whole status for the
// callers that show every worker (`shoal status`, the control plane's JobStatus).
// Guarantees: a page holds at most `limit` workers and `limit` ranks, and the step metrics only on the
// first page; fetch() returns a Status with every worker and rank the pages held (pages are read one
// after another, so workers that register meanwhile may be missed until the next call), or fails as the
// first failing ask did.
package dev.shoal.actors.coordinator;

import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;
import org.apache.pekko.actor.typed.ActorRef;
import org.apache.pekko.actor.typed.Scheduler;
import org.apache.pekko.actor.typed.javadsl.AskPattern;

public final class StatusPages {
    private StatusPages() {}

    /** Workers and ranks in the default page: ~300 B each serialized, ~150 KiB in all. */
    public static final int PAGE = 512;

    /** The largest page a GetStatus may ask for. */
    public static final int MAX_PAGE = 512;

    /** The window [from, from + limit) of {@code whole}'s workers and ranks, with the whole counts. */
    public static Coordinator.Status page(Coordinator.Status whole, int from, int limit) {
        return new Coordinator.Status(
                whole.jobId(),
                whole.spec(),
                whole.phase(),
                whole.meshEpoch(),
                window(whole.meshRanks(), from, limit),
                whole.step(),
                window(whole.workers(), from, limit),
                whole.checkpoints(),
                whole.message(),
                from == 0 ? whole.recent() : List.of(),
                whole.workers().size(),
                whole.meshRanks().size(),
                from);
    }

    private static <T> List<T> window(List<T> all, int from, int limit) {
        if (from >= all.size()) return List.of();
        return all.subList(from, (int) Math.min(all.size(), (long) from + limit));
    }

    /** The whole status of {@code coordinator}, asked page by page ({@code timeout} per page). */
    public static CompletionStage<Coordinator.Status> fetch(
            ActorRef<Coordinator.Command> coordinator, Duration timeout, Scheduler scheduler) {
        return ask(coordinator, 0, timeout, scheduler).thenCompose(first -> {
            if (first.whole()) return CompletableFuture.completedFuture(first);
            List<Coordinator.RegisteredWorker> workers = new ArrayList<>(first.workers());
            List<String> ranks = new ArrayList<>(first.meshRanks());
            CompletionStage<Void> chain = CompletableFuture.completedFuture(null);
            int size = Math.max(first.workerCount(), first.meshSize());
            for (int from = PAGE; from < size; from += PAGE) {
                int f = from;
                chain = chain.thenCompose(v -> ask(coordinator, f, timeout, scheduler))
                        .thenAccept(p -> {
                            workers.addAll(p.workers());
                            ranks.addAll(p.meshRanks());
                        });
            }
            return chain.thenApply(v -> new Coordinator.Status(
                    first.jobId(),
                    first.spec(),
                    first.phase(),
                    first.meshEpoch(),
                    ranks,
                    first.step(),
                    workers,
                    first.checkpoints(),
                    first.message(),
                    first.recent()));
        });
    }

    private static CompletionStage<Coordinator.Status> ask(
            ActorRef<Coordinator.Command> coordinator, int from, Duration timeout, Scheduler scheduler) {
        return AskPattern.ask(coordinator, r -> new Coordinator.GetStatus(r, from, PAGE), timeout, scheduler);
    }
}
