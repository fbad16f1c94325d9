// NodeAgent: one per node JVM. Finds the node's devices, spawns one GpuWorker per device (restarted
// if it crashes), registers them with the Receptionist — which is how the coordinator learns about
// them — and watches them. Registration (shoal.node.registration):
// - "node" (the default): the agent registers itself once under WORKERS_KEY and answers
//   DescribeWorkers with all its running workers (each asked to Describe itself, so the answer holds
//   their backend addresses): one Receptionist entry and one coordinator round trip per node, and
//   the coordinator's recovery probe asks each node once instead of each worker;
// - "worker": each worker registers under GpuWorker.SERVICE_KEY (one entry per device, as before).
//
// With per-node registration the agent also carries its workers' mesh messages: one JoinMeshes /
// ConnectMeshes / LeaveMeshes from the coordinator per mesh round, handed to each worker as its own
// JoinMesh / ConnectMesh / LeaveMesh and answered once for the node (NodeMeshFanOut).
//
// A node's agent (ShoalNode's; not the simulator's) also answers DescribeNode from anywhere in the
// cluster (registered under NODE_KEY): its devices with their peak FLOP/s, whether their workers run,
// its start-up checks (re-run in the background every shoal.node.recheck-interval), uptime and heap —
// the health columns of `shoal status`.
//
// Guarantees: worker names are stable ("worker-cpu0", "worker-cuda3"); a worker that stops for
// good is reported in the log and in ListWorkers' answer (per worker: the Receptionist drops it, so the
// coordinator sees it leave; per node: DescribeWorkers leaves it out, so the next recovery probe counts
// it dead, and its rank's step times out or fails first); checks never run on the actor's thread, and DescribeNode is
// answered at
// once with the last results.
package dev.shoal.actors.node;

import com.typesafe.config.Config;
import dev.shoal.actors.cluster.Asks;
import dev.shoal.actors.serialization.ClusterMessage;
import dev.shoal.actors.worker.GpuWorker;
import dev.shoal.actors.worker.MeshAssignment;
import dev.shoal.actors.worker.Rendezvous;
import dev.shoal.actors.worker.StepRunner;
import dev.shoal.actors.worker.WorkerInfo;
import dev.shoal.comm.ParallelDims;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.CompletableFuture;
import java.util.function.Supplier;
import org.apache.pekko.actor.typed.ActorRef;
import org.apache.pekko.actor.typed.Behavior;
import org.apache.pekko.actor.typed.SupervisorStrategy;
import org.apache.pekko.actor.typed.javadsl.AbstractBehavior;
import org.apache.pekko.actor.typed.javadsl.ActorContext;
import org.apache.pekko.actor.typed.javadsl.Behaviors;
import org.apache.pekko.actor.typed.javadsl.Receive;
import org.apache.pekko.actor.typed.receptionist.Receptionist;
import org.apache.pekko.actor.typed.receptionist.ServiceKey;

public final class NodeAgent extends AbstractBehavior<NodeAgent.Command> {

    // ------------------------------------------------------------------ protocol (local only)

    public sealed interface Command {}

    public record ListWorkers(ActorRef<Workers> replyTo) implements Command {}

    /** The node's devices and whether each worker is still running. */
    public record Workers(List<WorkerInfo> devices, List<ActorRef<GpuWorker.Command>> refs, List<Boolean> running) {
        public Workers {
            devices = List.copyOf(devices);
            refs = List.copyOf(refs);
            running = List.copyOf(running);
        }
    }

    private record WorkerStopped(WorkerInfo info) implements Command {}

    /** How an agent makes its workers known to the coordinator (see the header). */
    public enum Registration {
        NODE,
        WORKER;

        /** shoal.node.registration: "node" or "worker"; anything else is refused naming the key. */
        public static Registration of(Config config) {
            String key = "shoal.node.registration";
            String v = config.hasPath(key) ? config.getString(key) : "node";
            return switch (v) {
                case "node" -> NODE;
                case "worker" -> WORKER;
                default ->
                    throw new IllegalArgumentException(key + " must be \"node\" or \"worker\", got \"" + v + "\"");
            };
        }
    }

    /** Agents that register per node are listed under this key; the coordinator subscribes to it. */
    public static final ServiceKey<Command> WORKERS_KEY = ServiceKey.create(Command.class, "shoal-node-workers");

    /** Asks the agent for its running workers (registration and the coordinator's recovery probe). */
    public record DescribeWorkers(ActorRef<NodeWorkers> replyTo) implements Command, ClusterMessage {}

    /**
     * The answer to DescribeWorkers: the node's running workers as they described themselves, with their
     * references ({@code refs.get(i)} is {@code workers.get(i)}'s); {@code silent}: running workers that
     * have not described themselves yet (left out; ask again).
     */
    public record NodeWorkers(String node, List<WorkerInfo> workers, List<ActorRef<GpuWorker.Command>> refs, int silent)
            implements ClusterMessage {
        public NodeWorkers {
            workers = List.copyOf(workers);
            refs = List.copyOf(refs);
            if (workers.size() != refs.size() || silent < 0) {
                throw new IllegalArgumentException("node " + node + " described " + workers.size() + " workers with "
                        + refs.size() + " refs, " + silent + " silent");
            }
        }

        public NodeWorkers(String node, List<WorkerInfo> workers, List<ActorRef<GpuWorker.Command>> refs) {
            this(node, workers, refs, 0);
        }
    }

    /**
     * How long a local worker that has not described itself yet gets for a DescribeWorkers answer; under
     * the coordinator's 2 s probe timeout, so a live node always answers the probe in time.
     */
    static final Duration DESCRIBE_TIMEOUT = Duration.ofMillis(1500);

    private record WorkersDescribed(ActorRef<NodeWorkers> replyTo, Map<WorkerInfo, WorkerInfo> answers)
            implements Command {}

    // The mesh protocol per node (see NodeMeshFanOut): one message each way per node and round instead of
    // one per worker; each worker still gets and answers its own JoinMesh / ConnectMesh / LeaveMesh.

    /**
     * Rendezvous phase 1 for this node's workers of one mesh: {@code workers.get(i)} gets {@code mesh} with
     * rank {@code ranks.get(i)}; answered with a {@link MeshReplies} once every worker answered or took
     * longer than {@code timeout}.
     */
    public record JoinMeshes(
            MeshAssignment mesh,
            List<ActorRef<GpuWorker.Command>> workers,
            List<Integer> ranks,
            Duration timeout,
            ActorRef<MeshReplies> replyTo)
            implements Command, ClusterMessage {
        public JoinMeshes {
            workers = List.copyOf(workers);
            ranks = List.copyOf(ranks);
            NodeMeshFanOut.check(
                    "JoinMeshes", workers.size(), ranks, mesh.dims().world());
        }
    }

    /**
     * Rendezvous phase 2: {@code workers.get(i)} gets {@code table.forRank(dims, ranks.get(i))} ({@code table}:
     * the union of the node's ranks' shares); answered as JoinMeshes.
     */
    public record ConnectMeshes(
            Rendezvous table,
            ParallelDims dims,
            List<ActorRef<GpuWorker.Command>> workers,
            List<Integer> ranks,
            Duration timeout,
            ActorRef<MeshReplies> replyTo)
            implements Command, ClusterMessage {
        public ConnectMeshes {
            workers = List.copyOf(workers);
            ranks = List.copyOf(ranks);
            NodeMeshFanOut.check("ConnectMeshes", workers.size(), ranks, dims.world());
        }
    }

    /** Tells each of {@code workers} {@code leave} (no answer). */
    public record LeaveMeshes(GpuWorker.LeaveMesh leave, List<ActorRef<GpuWorker.Command>> workers)
            implements Command, ClusterMessage {
        public LeaveMeshes {
            workers = List.copyOf(workers);
        }
    }

    /**
     * One worker's answer within {@link MeshReplies}: what it published (phase 1; empty in phase 2), or its
     * refusal ({@code error} non-empty), or {@code timedOut}: it did not answer in time.
     */
    public record MeshReply(int rank, Map<String, byte[]> published, String error, boolean timedOut) {
        public MeshReply {
            published = published == null ? Map.of() : java.util.Collections.unmodifiableMap(new TreeMap<>(published));
            if (error == null) error = "";
            if (timedOut && error.isEmpty())
                throw new IllegalArgumentException("rank " + rank + " timed out without a reason");
        }

        public boolean ok() {
            return error.isEmpty();
        }

        @Override
        public boolean equals(Object o) {
            return o instanceof MeshReply r
                    && r.rank == rank
                    && r.timedOut == timedOut
                    && r.error.equals(error)
                    && new Rendezvous(1, published).equals(new Rendezvous(1, r.published));
        }

        @Override
        public int hashCode() {
            return java.util.Objects.hash(rank, error, timedOut, published.keySet());
        }
    }

    /** The answers of a node's workers to one JoinMeshes ({@code connected} false) or ConnectMeshes (true). */
    public record MeshReplies(long epoch, boolean connected, List<MeshReply> replies) implements ClusterMessage {
        public MeshReplies {
            replies = List.copyOf(replies);
        }
    }

    /** Agents of real nodes register under this key; the control plane asks them for `shoal status`. */
    public static final ServiceKey<Command> NODE_KEY = ServiceKey.create(Command.class, "shoal-node-agent");

    /** Asks a node's agent to describe its node (a cluster message). */
    public record DescribeNode(ActorRef<NodeReport> replyTo) implements Command, ClusterMessage {}

    /** The answer to DescribeNode. */
    public record NodeReport(dev.shoal.proto.v1.NodeReport report) implements ClusterMessage {}

    private record ChecksDone(List<StartupChecks.Check> checks, Throwable error) implements Command {}

    private enum Recheck implements Command {
        INSTANCE
    }

    // ------------------------------------------------------------------ state

    private final Map<WorkerInfo, ActorRef<GpuWorker.Command>> workers = new LinkedHashMap<>();
    private final Map<WorkerInfo, Boolean> running = new LinkedHashMap<>();
    // How each worker described itself (its backend address); asked once, so DescribeWorkers (and with it
    // the coordinator's recovery probe) is answered at once after the first time.
    private final Map<WorkerInfo, WorkerInfo> described = new LinkedHashMap<>();
    private final Supplier<List<StartupChecks.Check>> checks; // null: this agent does not check
    private final String node;
    private final long startedNanos = System.nanoTime();
    private List<StartupChecks.Check> lastChecks = List.of();
    private long lastChecksNanos;
    private boolean checking;

    /**
     * @param factory the training engine's runner factory; null when the node has none (it then
     *     registers its devices but refuses to join a mesh)
     */
    public static Behavior<Command> create(
            List<DeviceDiscovery> discoveries, Config config, StepRunner.Factory factory) {
        return create(discoveries, config, factory, null);
    }

    /**
     * As above, with the workers' node named {@code node} instead of the ActorSystem's address: the
     * simulator runs many simulated nodes in one ActorSystem, each an agent with its own name.
     */
    public static Behavior<Command> create(
            List<DeviceDiscovery> discoveries, Config config, StepRunner.Factory factory, String node) {
        return Behaviors.setup(ctx -> new NodeAgent(ctx, discoveries, config, factory, node, null));
    }

    /**
     * The agent of a real node: as {@link #create(List, Config, StepRunner.Factory)}, registered under
     * {@link #NODE_KEY}, and running {@code checks} now and every {@code recheck} in the background.
     */
    public static Behavior<Command> createNode(
            List<DeviceDiscovery> discoveries,
            Config config,
            StepRunner.Factory factory,
            Supplier<List<StartupChecks.Check>> checks,
            Duration recheck) {
        return Behaviors.setup(ctx -> Behaviors.withTimers(timers -> {
            NodeAgent agent = new NodeAgent(ctx, discoveries, config, factory, null, checks);
            ctx.getSystem().receptionist().tell(Receptionist.register(NODE_KEY, ctx.getSelf()));
            timers.startTimerWithFixedDelay(Recheck.INSTANCE, recheck);
            ctx.getSelf().tell(Recheck.INSTANCE);
            return agent;
        }));
    }

    private NodeAgent(
            ActorContext<Command> ctx,
            List<DeviceDiscovery> discoveries,
            Config config,
            StepRunner.Factory factory,
            String nodeName,
            Supplier<List<StartupChecks.Check>> checks) {
        super(ctx);
        this.checks = checks;
        this.node = nodeName != null ? nodeName : ctx.getSystem().address().toString();
        Registration registration = Registration.of(config);
        for (DeviceDiscovery d : discoveries) {
            int n = d.count(config);
            for (int i = 0; i < n; i++) {
                DeviceDiscovery.Peak peak = peakOf(d, config, i, ctx);
                WorkerInfo info = new WorkerInfo(node, d.kind(), i).withPeak(peak.flops(), peak.source());
                ActorRef<GpuWorker.Command> ref = ctx.spawn(
                        Behaviors.supervise(GpuWorker.create(info, factory)).onFailure(SupervisorStrategy.restart()),
                        "worker-" + d.kind() + i);
                ctx.watchWith(ref, new WorkerStopped(info));
                if (registration == Registration.WORKER) {
                    ctx.getSystem().receptionist().tell(Receptionist.register(GpuWorker.SERVICE_KEY, ref));
                }
                workers.put(info, ref);
                running.put(info, true);
            }
        }
        if (registration == Registration.NODE) {
            ctx.getSystem().receptionist().tell(Receptionist.register(WORKERS_KEY, ctx.getSelf()));
        }
        ctx.getLog().info("node {} offers {} device(s)", node, workers.size());
    }

    // ------------------------------------------------------------------ handlers

    @Override
    public Receive<Command> createReceive() {
        return newReceiveBuilder()
                .onMessage(ListWorkers.class, this::onList)
                .onMessage(WorkerStopped.class, this::onStopped)
                .onMessage(DescribeNode.class, this::onDescribe)
                .onMessage(DescribeWorkers.class, this::onDescribeWorkers)
                .onMessage(WorkersDescribed.class, this::onWorkersDescribed)
                .onMessage(JoinMeshes.class, m -> {
                    NodeMeshFanOut.join(getContext(), m);
                    return this;
                })
                .onMessage(ConnectMeshes.class, m -> {
                    NodeMeshFanOut.connect(getContext(), m);
                    return this;
                })
                .onMessage(LeaveMeshes.class, m -> {
                    NodeMeshFanOut.leave(m);
                    return this;
                })
                .onMessage(Recheck.class, r -> onRecheck())
                .onMessage(ChecksDone.class, this::onChecksDone)
                .build();
    }

    private Behavior<Command> onList(ListWorkers m) {
        m.replyTo()
                .tell(new Workers(
                        new ArrayList<>(workers.keySet()),
                        new ArrayList<>(workers.values()),
                        new ArrayList<>(running.values())));
        return this;
    }

    /**
     * Answers with the running workers' descriptions; workers that have not described themselves yet are
     * asked first (locally, at most DESCRIBE_TIMEOUT), those still silent are counted, not named.
     */
    private Behavior<Command> onDescribeWorkers(DescribeWorkers m) {
        List<WorkerInfo> missing = new ArrayList<>();
        for (WorkerInfo w : workers.keySet()) if (running.get(w) && !described.containsKey(w)) missing.add(w);
        if (missing.isEmpty()) {
            m.replyTo().tell(nodeWorkers());
            return this;
        }
        List<ActorRef<GpuWorker.Command>> targets = new ArrayList<>();
        for (WorkerInfo w : missing) targets.add(workers.get(w));
        Asks.askAll(
                getContext(),
                WorkerInfo.class,
                targets,
                DESCRIBE_TIMEOUT,
                i -> GpuWorker.Describe::new,
                getContext().getSelf(),
                answers -> {
                    Map<WorkerInfo, WorkerInfo> described = new LinkedHashMap<>();
                    for (int i = 0; i < missing.size(); i++)
                        if (answers.get(i).ok())
                            described.put(missing.get(i), answers.get(i).value());
                    return new WorkersDescribed(m.replyTo(), described);
                });
        return this;
    }

    private Behavior<Command> onWorkersDescribed(WorkersDescribed m) {
        described.putAll(m.answers());
        m.replyTo().tell(nodeWorkers());
        return this;
    }

    /** The running workers that described themselves, and how many running ones have not. */
    private NodeWorkers nodeWorkers() {
        List<WorkerInfo> infos = new ArrayList<>();
        List<ActorRef<GpuWorker.Command>> refs = new ArrayList<>();
        int silent = 0;
        for (Map.Entry<WorkerInfo, ActorRef<GpuWorker.Command>> e : workers.entrySet()) {
            if (!running.get(e.getKey())) continue;
            WorkerInfo d = described.get(e.getKey());
            if (d == null) {
                silent++;
                continue;
            }
            infos.add(d);
            refs.add(e.getValue());
        }
        return new NodeWorkers(node, infos, refs, silent);
    }

    private Behavior<Command> onStopped(WorkerStopped m) {
        running.put(m.info(), false);
        getContext()
                .getLog()
                .error(
                        "worker {} stopped; its device is out of service",
                        m.info().id());
        return this;
    }

    private Behavior<Command> onRecheck() {
        if (checks == null || checking) return this;
        checking = true;
        getContext().pipeToSelf(CompletableFuture.supplyAsync(checks), ChecksDone::new);
        return this;
    }

    private Behavior<Command> onChecksDone(ChecksDone m) {
        checking = false;
        lastChecksNanos = System.nanoTime();
        lastChecks = m.error() == null
                ? List.copyOf(m.checks())
                : List.of(new StartupChecks.Check(
                        "checks", StartupChecks.Verdict.WARN, "the checks could not run: " + m.error()));
        return this;
    }

    private Behavior<Command> onDescribe(DescribeNode m) {
        dev.shoal.proto.v1.NodeReport.Builder b = dev.shoal.proto.v1.NodeReport.newBuilder()
                .setAddress(getContext().getSystem().address().toString())
                .setUptimeSeconds((System.nanoTime() - startedNanos) / 1e9)
                .setHeapUsedBytes(Runtime.getRuntime().totalMemory()
                        - Runtime.getRuntime().freeMemory())
                .setHeapMaxBytes(Runtime.getRuntime().maxMemory())
                .setMetricsPort(dev.shoal.actors.ops.NodeOps.of(getContext().getSystem())
                        .map(dev.shoal.actors.ops.NodeOps::port)
                        .orElse(-1));
        Map<String, dev.shoal.proto.v1.DeviceGroup.Builder> groups = new LinkedHashMap<>();
        for (Map.Entry<WorkerInfo, Boolean> e : running.entrySet()) {
            WorkerInfo w = e.getKey();
            dev.shoal.proto.v1.DeviceGroup.Builder g =
                    groups.computeIfAbsent(w.deviceKind(), k -> dev.shoal.proto.v1.DeviceGroup.newBuilder()
                            .setKind(k)
                            .setPeakFlops(w.peakFlops())
                            .setPeakSource(w.peakSource()));
            g.setCount(g.getCount() + 1).setRunning(g.getRunning() + (e.getValue() ? 1 : 0));
        }
        groups.values().forEach(b::addDevices);
        for (StartupChecks.Check c : lastChecks) {
            b.addChecks(dev.shoal.proto.v1.NodeCheck.newBuilder()
                    .setName(c.name())
                    .setVerdict(c.verdict().name())
                    .setDetail(c.detail()));
        }
        if (lastChecksNanos != 0) b.setChecksAgeSeconds((System.nanoTime() - lastChecksNanos) / 1e9);
        m.replyTo().tell(new NodeReport(b.build()));
        return this;
    }

    /** The peak FLOP/s of one device; a discovery that cannot tell is logged and gives UNKNOWN. */
    private static DeviceDiscovery.Peak peakOf(DeviceDiscovery d, Config config, int index, ActorContext<?> ctx) {
        try {
            return d.peak(config, index);
        } catch (IllegalArgumentException e) {
            throw e; // a bad setting: the node refuses to start, naming the key
        } catch (RuntimeException | LinkageError e) {
            ctx.getLog().warn("{}{}: peak FLOP/s unknown (MFU will read 0): {}", d.kind(), index, e.toString());
            return DeviceDiscovery.Peak.UNKNOWN;
        }
    }
}
