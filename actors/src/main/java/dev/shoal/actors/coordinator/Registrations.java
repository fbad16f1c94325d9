// Registrations: the workers the coordinator has had described but not yet journaled. The coordinator
// journals them as one WorkersRegistered event when the describes of a Receptionist listing are all
// answered, or FLUSH_AFTER after the first one came in (a silent worker does not hold the others back),
// so registering 4096 workers is a handful of journal writes instead of 4096.
// Guarantees: a worker id is held once (its latest description wins); drain() returns them in the
// order they were described and empties the buffer; a worker no longer listed is dropped.
package dev.shoal.actors.coordinator;

import java.time.Duration;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;

final class Registrations {
    /** The longest a described worker waits for its batch to be journaled. */
    static final Duration FLUSH_AFTER = Duration.ofMillis(200);

    private final Map<String, Coordinator.RegisteredWorker> byId = new LinkedHashMap<>();

    /** Buffers {@code w}; true when the buffer was empty before (start the flush timer). */
    boolean add(Coordinator.RegisteredWorker w) {
        boolean first = byId.isEmpty();
        byId.remove(w.info().id());
        byId.put(w.info().id(), w);
        return first;
    }

    /** The serialized actor refs of the buffered workers. */
    Set<String> refs() {
        Set<String> out = new HashSet<>();
        for (Coordinator.RegisteredWorker w : byId.values()) out.add(w.ref());
        return out;
    }

    /** Drops buffered workers whose ref the Receptionist no longer offers. */
    void retainListed(java.util.function.Predicate<String> offered) {
        byId.values().removeIf(w -> !offered.test(w.ref()));
    }

    List<Coordinator.RegisteredWorker> drain() {
        List<Coordinator.RegisteredWorker> out = new ArrayList<>(byId.values());
        byId.clear();
        return out;
    }
}
