// NodeListing: the coordinator's view of the node agents that register per node (NodeAgent.WORKERS_KEY,
// shoal.node.registration = node): which agents the Receptionist lists now, which of them are being
// asked to describe their workers, and which workers each one described. Pure bookkeeping, no actors.
//
// A worker belongs to the agent whose actor path is its parent (NodeAgent spawns its workers as
// children), so after a coordinator move the journaled workers are matched to the listed agents at once,
// before any agent has answered DescribeWorkers.
// Guarantees: a worker counts as offered only while its agent is listed and, once that agent (this
// incarnation of it) described itself, only if it was in the description; an agent is asked once per
// listing incarnation (asked again only while it is still listed, after a failed ask or an answer that
// counted silent workers); nothing is remembered of an agent that left the listing.
package dev.shoal.actors.coordinator;

import dev.shoal.actors.node.NodeAgent;
import java.util.ArrayList;
import java.util.Collection;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import org.apache.pekko.actor.typed.ActorRef;

final class NodeListing {
    private final Map<String, ActorRef<NodeAgent.Command>> listed = new HashMap<>(); // agent ref → ref
    private final Map<String, String> byPath = new HashMap<>(); // agent path (no uid) → agent ref
    private final Map<String, Set<String>> described = new HashMap<>(); // agent ref → its workers' refs
    private final Set<String> asking = new HashSet<>();
    private boolean received;

    /**
     * Takes the Receptionist's latest listing ({@code agents}: serialized ref → ref); returns the agents
     * to ask for their workers (newly listed ones).
     */
    List<ActorRef<NodeAgent.Command>> listed(Map<String, ActorRef<NodeAgent.Command>> agents) {
        received = true;
        listed.keySet().retainAll(agents.keySet());
        described.keySet().retainAll(agents.keySet());
        asking.retainAll(agents.keySet());
        byPath.clear();
        List<ActorRef<NodeAgent.Command>> ask = new ArrayList<>();
        for (Map.Entry<String, ActorRef<NodeAgent.Command>> e : agents.entrySet()) {
            byPath.put(pathOf(e.getKey()), e.getKey());
            if (listed.put(e.getKey(), e.getValue()) == null && asking.add(e.getKey())) ask.add(e.getValue());
        }
        return ask;
    }

    /** Whether a listing of agents has come in at all (before it, nothing can be judged offered). */
    boolean received() {
        return received;
    }

    /** Agents asked and not yet answered. */
    boolean asking() {
        return !asking.isEmpty();
    }

    /** Records {@code agent}'s description; false when the agent is no longer listed (drop the answer). */
    boolean described(String agent, Collection<String> workerRefs) {
        asking.remove(agent);
        if (!listed.containsKey(agent)) return false;
        described.put(agent, new HashSet<>(workerRefs));
        return true;
    }

    /** The ask of {@code agent} failed; true when it is still listed and should be asked again. */
    boolean failed(String agent) {
        asking.remove(agent);
        return listed.containsKey(agent) && asking.add(agent);
    }

    /** The listed agent (serialized ref) that {@code workerRef} is a child of, or null. */
    String agentOf(String workerRef) {
        String path = pathOf(workerRef);
        int slash = path.lastIndexOf('/');
        return slash < 0 ? null : byPath.get(path.substring(0, slash));
    }

    ActorRef<NodeAgent.Command> ref(String agent) {
        return listed.get(agent);
    }

    /** Whether a listed agent offers {@code workerRef} (see the header). */
    boolean offers(String workerRef) {
        String agent = agentOf(workerRef);
        if (agent == null) return false;
        Set<String> d = described.get(agent);
        return d == null || d.contains(workerRef);
    }

    /** A serialized actor ref without its uid ("…/agent#123" → "…/agent"). */
    static String pathOf(String ref) {
        int hash = ref.indexOf('#');
        return hash < 0 ? ref : ref.substring(0, hash);
    }
}
