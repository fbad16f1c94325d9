// RanksByNode: the ranks of a mesh (or any list of worker ids) grouped by the node agent that fans the
// mesh protocol out to them (NodeAgent.JoinMeshes / ConnectMeshes / LeaveMeshes), and those without one
// (workers registered on their own, GpuWorker.SERVICE_KEY) that the coordinator messages directly.
// Pure bookkeeping, no actors.
// Guarantees: every index of the list is in exactly one place; each node's indices and the direct ones
// are ascending; nodes keep the order of their first rank.
package dev.shoal.actors.coordinator;

import java.util.ArrayList;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.function.Function;

record RanksByNode(Map<String, List<Integer>> nodes, List<Integer> direct) {

    RanksByNode {
        Map<String, List<Integer>> copy = new LinkedHashMap<>();
        nodes.forEach((agent, ranks) -> copy.put(agent, List.copyOf(ranks)));
        nodes = Collections.unmodifiableMap(copy);
        direct = List.copyOf(direct);
    }

    /** Groups the indices of {@code ids} by {@code agentOf(id)} (null: no agent, direct). */
    static RanksByNode of(List<String> ids, Function<String, String> agentOf) {
        Map<String, List<Integer>> nodes = new LinkedHashMap<>();
        List<Integer> direct = new ArrayList<>();
        for (int i = 0; i < ids.size(); i++) {
            String agent = agentOf.apply(ids.get(i));
            if (agent == null) direct.add(i);
            else nodes.computeIfAbsent(agent, a -> new ArrayList<>()).add(i);
        }
        return new RanksByNode(nodes, direct);
    }
}
