// The cluster table of `shoal status`, gathered by the node that answers the gRPC call: the members and
// their reachability from this node's cluster state (Pekko's gossip and heartbeat failure detector),
// each node's own report from its NodeAgent (devices, start-up checks, uptime; asked over the cluster
// with a timeout), and the ranks of the current mesh from the coordinator's status, with their (tp,
// pp, dp) coordinates.
//
// Guarantees: always completes (never fails) within the agent timeout plus the receptionist's answer:
// a node whose agent does not answer is listed with health "no answer" (or "unreachable" when the
// failure detector says so); ranks are listed in rank order with the mesh the coordinator runs (its dp
// may be smaller than the spec's after a recovery shrank it).
package dev.shoal.actors.control;

import dev.shoal.actors.coordinator.Coordinator;
import dev.shoal.actors.node.NodeAgent;
import dev.shoal.actors.node.ShoalNode;
import dev.shoal.comm.ParallelDims;
import dev.shoal.proto.v1.ClusterView;
import dev.shoal.proto.v1.NodeCheck;
import dev.shoal.proto.v1.NodeReport;
import dev.shoal.proto.v1.NodeView;
import dev.shoal.proto.v1.RankView;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.ConcurrentHashMap;
import org.apache.pekko.actor.typed.ActorRef;
import org.apache.pekko.actor.typed.ActorSystem;
import org.apache.pekko.actor.typed.javadsl.Adapter;
import org.apache.pekko.actor.typed.javadsl.AskPattern;
import org.apache.pekko.actor.typed.receptionist.Receptionist;
import org.apache.pekko.cluster.Cluster;
import org.apache.pekko.cluster.ClusterEvent;
import org.apache.pekko.cluster.Member;

final class ClusterViews {

    private ClusterViews() {}

    /** The table for {@code status} (null: no job, no mesh); completes within about {@code timeout}. */
    static CompletionStage<ClusterView> gather(ActorSystem<?> system, Coordinator.Status status, Duration timeout) {
        Map<String, NodeReport> reports = new ConcurrentHashMap<>();
        Map<String, Double> answerSeconds = new ConcurrentHashMap<>();
        CompletionStage<Receptionist.Listing> listing = AskPattern.ask(
                system.receptionist(),
                (ActorRef<Receptionist.Listing> r) -> Receptionist.find(NodeAgent.NODE_KEY, r),
                timeout,
                system.scheduler());
        CompletableFuture<Void> asked = listing.toCompletableFuture()
                .thenCompose(l -> {
                    List<CompletableFuture<?>> all = new ArrayList<>();
                    for (ActorRef<NodeAgent.Command> agent : l.getServiceInstances(NodeAgent.NODE_KEY)) {
                        long t0 = System.nanoTime();
                        all.add(AskPattern.<NodeAgent.Command, NodeAgent.NodeReport>ask(
                                        agent, NodeAgent.DescribeNode::new, timeout, system.scheduler())
                                .toCompletableFuture()
                                .handle((r, err) -> {
                                    if (r != null) {
                                        reports.put(r.report().getAddress(), r.report());
                                        answerSeconds.put(r.report().getAddress(), (System.nanoTime() - t0) / 1e9);
                                    }
                                    return null;
                                }));
                    }
                    return CompletableFuture.allOf(all.toArray(CompletableFuture[]::new));
                })
                .handle((v, err) -> null);
        return asked.thenApply(v -> build(system, status, reports, answerSeconds));
    }

    private static ClusterView build(
            ActorSystem<?> system,
            Coordinator.Status status,
            Map<String, NodeReport> reports,
            Map<String, Double> answerSeconds) {
        Cluster cluster = Cluster.get(Adapter.toClassic(system));
        ClusterEvent.CurrentClusterState state = cluster.state();
        Set<String> unreachable = new HashSet<>();
        for (Member m : state.getUnreachable()) unreachable.add(m.address().toString());
        // The coordinator singleton runs on the oldest Up member with the "node" role.
        Member oldest = null;
        for (Member m : state.getMembers()) {
            if (!m.hasRole(ShoalNode.COORDINATOR_ROLE)
                    || !m.status().equals(org.apache.pekko.cluster.MemberStatus.up())) continue;
            if (oldest == null || m.isOlderThan(oldest)) oldest = m;
        }
        TreeMap<String, NodeView> nodes = new TreeMap<>();
        for (Member m : state.getMembers()) {
            String address = m.address().toString();
            boolean reachable = !unreachable.contains(address);
            NodeReport report = reports.get(address);
            NodeView.Builder b = NodeView.newBuilder()
                    .setAddress(address)
                    .setStatus(memberStatus(m))
                    .setReachable(reachable)
                    .setCoordinator(m.equals(oldest))
                    .setAnswerSeconds(answerSeconds.getOrDefault(address, -1.0))
                    .setHealth(health(reachable, report));
            for (String role : new java.util.TreeSet<>(m.getRoles())) {
                if (!role.startsWith("dc-")) b.addRoles(role); // Pekko's data-center role is noise here
            }
            if (report != null) b.setReport(report);
            nodes.put(address, b.build());
        }
        ClusterView.Builder view =
                ClusterView.newBuilder().setAnsweredBy(cluster.selfAddress().toString());
        view.addAllNodes(nodes.values());
        if (status != null) view.addAllRanks(ranks(status));
        return view.build();
    }

    /** "ok", "warn: clock", "fail: disk /data, open files", "unreachable" or "no answer". */
    static String health(boolean reachable, NodeReport report) {
        if (!reachable) return "unreachable";
        if (report == null) return "no answer";
        if (report.getDevicesList().stream().anyMatch(d -> d.getRunning() < d.getCount())) {
            return "fail: worker stopped";
        }
        List<String> fail = new ArrayList<>(), warn = new ArrayList<>();
        for (NodeCheck c : report.getChecksList()) {
            if (c.getVerdict().equals("FAIL")) fail.add(c.getName());
            else if (c.getVerdict().equals("WARN")) warn.add(c.getName());
        }
        if (!fail.isEmpty()) return "fail: " + String.join(", ", fail);
        if (!warn.isEmpty()) return "warn: " + String.join(", ", warn);
        return report.getChecksCount() == 0 ? "ok (checks pending)" : "ok";
    }

    /** The current mesh: worker and (tp, pp, dp) of each rank. */
    static List<RankView> ranks(Coordinator.Status s) {
        int world = s.meshRanks().size();
        var par = s.spec().getParallelism();
        int tp = Math.max(1, par.getTp()), pp = Math.max(1, par.getPp());
        List<RankView> out = new ArrayList<>();
        if (world == 0 || world % (tp * pp) != 0) return out;
        ParallelDims dims = ParallelDims.of(tp, pp, world / (tp * pp));
        Set<String> registered = new HashSet<>();
        s.workers().forEach(w -> registered.add(w.info().id()));
        for (int r = 0; r < world; r++) {
            ParallelDims.Coord c = dims.coord(r);
            String id = s.meshRanks().get(r);
            out.add(RankView.newBuilder()
                    .setRank(r)
                    .setWorker(id)
                    .setTp(c.tp())
                    .setPp(c.pp())
                    .setDp(c.dp())
                    .setRegistered(registered.contains(id))
                    .build());
        }
        return out;
    }

    private static String memberStatus(Member m) {
        return m.status().toString().toLowerCase(Locale.ROOT).replace("weaklyup", "weakly-up");
    }
}
