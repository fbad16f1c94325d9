// WorkerRefs: the coordinator's cache of resolved worker references. The journal keeps each worker's
// reference in serialized form; resolving one parses the address and path every time, and a recovery
// at 4096 ranks resolved each worker four times (abort, probe, join, steps). Resolved once, a
// reference is reused while the worker lives.
// Guarantees: resolve(s) returns the same reference as ActorRefResolver.resolveActorRef(s); the cache
// holds one entry per worker reference ever resolved (a restarted worker has a new reference).
package dev.shoal.actors.coordinator;

import dev.shoal.actors.worker.GpuWorker;
import java.util.HashMap;
import java.util.Map;
import org.apache.pekko.actor.typed.ActorRef;
import org.apache.pekko.actor.typed.ActorRefResolver;

final class WorkerRefs {
    private final ActorRefResolver resolver;
    private final Map<String, ActorRef<GpuWorker.Command>> bySerialized = new HashMap<>();

    WorkerRefs(ActorRefResolver resolver) {
        this.resolver = resolver;
    }

    ActorRef<GpuWorker.Command> resolve(String serialized) {
        return bySerialized.computeIfAbsent(serialized, resolver::resolveActorRef);
    }
}
