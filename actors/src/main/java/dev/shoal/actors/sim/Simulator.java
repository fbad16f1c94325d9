// Runs one Scenario: the REAL control plane (the Coordinator singleton with its JDBC journal in an
// H2 file, NodeAgents, GpuWorkers) against simulated devices (SimStepRunner), all in this JVM, injects
// the scenario's failures and changes, and measures the control plane's wall time next to the
// simulated training time.
//
// Layout in the JVM: `actor-systems` ActorSystems on 127.0.0.1 form one Pekko cluster (Artery TCP,
// the protobuf cluster serializer, as between real nodes); system 0 is the seed and hosts the
// coordinator. Simulated node n is a NodeAgent (under a small parent that can stop it, as a dead
// node) named "<system address>/sim-node-<n>", placed round-robin over the systems; with a
// fail-coordinator event system 0 hosts no node and system 1 may take the singleton over.
// Events: node losses come from the FailurePlan (its victims' ranks hang in the step, the simulator
// stops their nodes: the Receptionist drops the workers, as after downing); add-nodes starts more
// nodes once the step is done; fail-coordinator downs system 0 (as the split brain resolver would)
// and terminates it, and the singleton restarts on system 1 from the journal.
//
// Guarantees: run() returns only after the job reached COMPLETED (or throws naming the phase and the
// coordinator's message); every ActorSystem it started is terminated on return; recovery is timed on a
// fresh one-member cluster that replays the same journal.
package dev.shoal.actors.sim;

import com.typesafe.config.Config;
import com.typesafe.config.ConfigFactory;
import dev.shoal.actors.cluster.ShoalConfig;
import dev.shoal.actors.coordinator.Coordinator;
import dev.shoal.actors.coordinator.CoordinatorSettings;
import dev.shoal.actors.node.FreePorts;
import dev.shoal.actors.node.JournalSchema;
import dev.shoal.actors.node.NodeAgent;
import dev.shoal.actors.node.ShoalNode;
import dev.shoal.proto.v1.JobEvent;
import dev.shoal.proto.v1.Phase;
import dev.shoal.proto.v1.StepMetrics;
import dev.shoal.runtime.plan.CostModel;
import dev.shoal.runtime.plan.GpuSpec;
import java.nio.file.Files;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.ResultSet;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import org.apache.pekko.actor.typed.ActorRef;
import org.apache.pekko.actor.typed.ActorSystem;
import org.apache.pekko.actor.typed.Behavior;
import org.apache.pekko.actor.typed.Props;
import org.apache.pekko.actor.typed.javadsl.Adapter;
import org.apache.pekko.actor.typed.javadsl.AskPattern;
import org.apache.pekko.actor.typed.javadsl.Behaviors;
import org.apache.pekko.cluster.Cluster;
import org.apache.pekko.cluster.typed.ClusterSingleton;
import org.apache.pekko.cluster.typed.ClusterSingletonSettings;
import org.apache.pekko.cluster.typed.SingletonActor;
import org.apache.pekko.pattern.StatusReply;

public final class Simulator {
    private Simulator() {}

    /** A published coordinator event and when (System.nanoTime()) it arrived. */
    public record Seen(long nanos, JobEvent event) {}

    /** Nodes added during the run: when they started, when all their GPUs were registered, what followed. */
    public record Added(int atStep, int nodes, double registerSeconds, String outcome, long startNanos) {}

    /** What one run measured; seconds are wall time on this machine unless named simulated. */
    public record Result(
            Scenario scenario,
            double clusterSeconds, // every ActorSystem Up in the cluster, the journal schema made
            double registerSeconds, // agents started → every simulated GPU registered (journaled)
            double distributeSeconds, // SubmitJob → the last worker of the first mesh joined
            double formSeconds, // SubmitJob → TRAINING published (MeshFormed journaled)
            double trainSeconds, // first TRAINING → COMPLETED, less the time steps waited for the simulator
            double simulatedStepSeconds, // the cost model's step time of the full layout
            double simulatedSeconds, // the slowest rank's own simulated clock at the end
            double simulatedClock, // the job's simulated time, interruptions included (FailurePlan)
            double usefulSeconds, // every step's compute time once, at the layout it last ran on (FailurePlan)
            long rounds, // step rounds started (steps redone after a loss count again)
            long workerMessages, // Step received + StepDone sent, counted at the simulated runners
            long journalEvents,
            long journalBytes,
            double recoverySeconds, // a fresh coordinator: start → first status answer (journal replayed)
            Phase recoveredPhase,
            long heapBytes,
            List<FailurePlan.Interruption> interruptions,
            double failoverSeconds, // downed host removed → the new singleton answered (NaN: none)
            List<Added> added,
            long finalEpoch,
            int finalWorld,
            List<Seen> events,
            Map<String, SimStepRunner> runners) {

        public double stepsPerSecond() {
            return scenario.steps() / trainSeconds;
        }

        /** Step + StepDone messages per step round. */
        public double messagesPerStep() {
            return rounds == 0 ? 0 : (double) workerMessages / rounds;
        }

        /**
         * Useful work (every step's compute once, at the layout it last ran on: the full one, a shrunk one
         * after a loss without spares, a grown one after auto-grow) ÷ the job's simulated time.
         */
        public double goodput() {
            return simulatedClock == 0 ? 0 : usefulSeconds / simulatedClock;
        }

        public List<StepMetrics> steps() {
            return events.stream()
                    .filter(s -> s.event().hasStep())
                    .map(s -> s.event().getStep())
                    .toList();
        }
    }

    /** The parent of one simulated node's NodeAgent; Die stops the node with all its workers. */
    private enum Die {
        NOW
    }

    private static Behavior<Die> node(Behavior<NodeAgent.Command> agent) {
        return Behaviors.setup(ctx -> {
            ctx.spawn(agent, "agent");
            return Behaviors.receive(Die.class)
                    .onMessage(Die.class, d -> Behaviors.stopped())
                    .build();
        });
    }

    public static Result run(Scenario sc, Path dir, Duration timeout) throws Exception {
        Files.createDirectories(dir);
        Path journalDir = dir.resolve("journal");
        if (Files.exists(journalDir)) {
            throw new IllegalArgumentException(
                    journalDir + " already holds a journal: give each run an empty work directory");
        }
        FailurePlan plan = FailurePlan.of(sc);
        SimStepRunner.Factory factory =
                new SimStepRunner.Factory(GpuSpec.preset(sc.gpu()), sc.gpusPerNode(), plan, sc.checkpointGbps());
        CostModel.StepEstimate estimate =
                SimStepRunner.estimate(sc.jobSpec(), GpuSpec.preset(sc.gpu()), sc.gpusPerNode());
        List<ActorSystem<Void>> systems = new ArrayList<>();
        ConcurrentLinkedQueue<Seen> seen = new ConcurrentLinkedQueue<>();
        CompletableFuture<JobEvent> ended = new CompletableFuture<>();
        AtomicLong lastStep = new AtomicLong();
        long t0 = System.nanoTime();
        double cluster, register, distribute, form, train, failover = Double.NaN;
        long heap;
        List<Added> added = new ArrayList<>();
        Coordinator.Status last;
        boolean failsOver = sc.failsCoordinator();
        try {
            int[] ports = new int[sc.actorSystems()];
            for (int i = 0; i < ports.length; i++) ports[i] = FreePorts.pick();
            String seed = "127.0.0.1:" + ports[0];
            Config config0 = null;
            for (int i = 0; i < ports.length; i++) {
                boolean coord = i == 0 || (failsOver && i == 1);
                Config c = config(ports[i], seed, journalDir, coord ? ShoalNode.COORDINATOR_ROLE : "sim", sc);
                if (i == 0) config0 = c;
                systems.add(ActorSystem.create(Behaviors.empty(), "shoal", c));
            }
            JournalSchema.ensure(systems.get(0), config0, Duration.ofSeconds(60));
            for (ActorSystem<Void> s : systems) {
                CompletableFuture<Void> up = new CompletableFuture<>();
                Cluster.get(Adapter.toClassic(s)).registerOnMemberUp(() -> up.complete(null));
                up.get(timeout.toMillis(), TimeUnit.MILLISECONDS);
            }
            // The driver's system outlives the coordinator's host in a failover.
            ActorSystem<Void> head = systems.get(failsOver ? 1 : 0);
            long agents = System.nanoTime();
            cluster = (agents - t0) / 1e9;
            ActorRef<Coordinator.Command> coordinator = null, local = null;
            for (int i = 0; i < (failsOver ? 2 : 1); i++) {
                ActorSystem<Void> s = systems.get(i);
                ActorRef<Coordinator.Command> proxy = ClusterSingleton.get(s)
                        .init(SingletonActor.of(Coordinator.create(CoordinatorSettings.from(config0)), "coordinator")
                                .withSettings(ClusterSingletonSettings.create(s).withRole(ShoalNode.COORDINATOR_ROLE)));
                if (s == head) coordinator = proxy;
                if (i == 0) local = proxy;
            }
            // Status polls go through system 0's proxy while the coordinator is there; after a failover
            // they cross systems (a Status is one page of StatusPages, under Artery's 256 KiB frame).
            ActorSystem<Void> sys0 = systems.get(0);
            ActorRef<Coordinator.Published> listener = head.systemActorOf(
                    Behaviors.receive(Coordinator.Published.class)
                            .onMessage(Coordinator.Published.class, p -> {
                                long now = System.nanoTime();
                                seen.add(new Seen(now, p.event()));
                                if (p.event().hasStep())
                                    lastStep.accumulateAndGet(
                                            p.event().getStep().getStep(), Math::max);
                                if (p.event().hasPhase()) {
                                    Phase to = p.event().getPhase().getTo();
                                    if (to == Phase.RECOVERING) plan.noticed(now);
                                    if (to == Phase.COMPLETED || to == Phase.FAILED) ended.complete(p.event());
                                }
                                return Behaviors.same();
                            })
                            .build(),
                    "sim-listener",
                    Props.empty());
            coordinator.tell(new Coordinator.Subscribe(listener));
            Map<String, ActorRef<Die>> nodes = new HashMap<>();
            int hosts0 = failsOver ? 1 : 0; // system 0 keeps no node when it is to fail
            int[] started = {0};
            Runnable startNode = () -> {
                int n = started[0]++;
                ActorSystem<Void> s = systems.get(hosts0 + n % (systems.size() - hosts0));
                String name = String.format("sim-node-%05d", n);
                String nodeName = s.address() + "/" + name;
                Config nodeConfig = ConfigFactory.parseMap(Map.of(SimDevices.KEY, sc.gpusPerNode()));
                nodes.put(
                        nodeName,
                        s.systemActorOf(
                                node(NodeAgent.create(List.of(new SimDevices()), nodeConfig, factory, nodeName)),
                                name,
                                Props.empty()));
            };
            for (int n = 0; n < sc.nodes(); n++) startNode.run();
            long deadline = System.nanoTime() + timeout.toNanos();
            awaitWorkers(local, sys0, sc.world(), deadline, timeout);
            long submit = System.nanoTime();
            register = (submit - agents) / 1e9;
            AskPattern.<Coordinator.Command, StatusReply<Coordinator.JobAccepted>>ask(
                            coordinator,
                            r -> new Coordinator.SubmitJob(sc.jobSpec(), r),
                            Duration.ofSeconds(30),
                            head.scheduler())
                    .toCompletableFuture()
                    .get(60, TimeUnit.SECONDS)
                    .getValue();
            // Spares join once the job is accepted (a job takes exactly the registered ranks); no failure
            // is injected before they are registered.
            for (int n = 0; n < sc.spareNodes(); n++) startNode.run();
            awaitWorkers(local, sys0, sc.startNodes() * sc.gpusPerNode(), deadline, timeout);
            plan.arm();

            // Drive the scenario's events until the job ends; the steps after an event's step wait for it.
            List<Scenario.Event> pending = new ArrayList<>(sc.events());
            for (Scenario.Event e : pending) {
                if (e instanceof Scenario.AddNodes a) plan.hold(a.atStep());
                if (e instanceof Scenario.FailCoordinator f) plan.hold(f.atStep());
            }
            long failoverAt = 0, removedAt = 0, lastPoll = 0, lastStatus = 0, endSeenAt = 0;
            CompletableFuture<Coordinator.Status> endPoll = null;
            CompletableFuture<Coordinator.Status> failoverProbe = null;
            while (!ended.isDone()) {
                long now = System.nanoTime();
                if (now > deadline) {
                    throw new IllegalStateException("scenario '" + sc.name() + "' did not end within "
                            + timeout.toSeconds() + " s (last step " + lastStep.get() + ")");
                }
                for (String victim; (victim = plan.nextKill()) != null; )
                    nodes.get(victim).tell(Die.NOW);
                for (var it = pending.iterator(); it.hasNext(); ) {
                    Scenario.Event e = it.next();
                    if (e instanceof Scenario.AddNodes a && lastStep.get() >= a.atStep()) {
                        it.remove();
                        added.add(
                                failoverAt > 0
                                        ? addNodes(a, sc, startNode, coordinator, head, deadline, timeout, seen)
                                        : addNodes(a, sc, startNode, local, sys0, deadline, timeout, seen));
                        plan.release(a.atStep());
                    } else if (e instanceof Scenario.FailCoordinator f && lastStep.get() >= f.atStep()) {
                        it.remove();
                        plan.interrupt("coordinator");
                        failoverAt = System.nanoTime();
                        // As the split brain resolver would after detection (simulated), then the host is gone.
                        Cluster.get(Adapter.toClassic(head))
                                .down(Cluster.get(Adapter.toClassic(systems.get(0)))
                                        .selfAddress());
                        systems.get(0).terminate();
                        plan.release(f.atStep());
                    }
                }
                if (failoverAt > 0 && removedAt == 0) {
                    // The cluster removed the downed host: from here a real cluster's new singleton starts
                    // (before it: detection and downing, simulated by detection-seconds).
                    org.apache.pekko.actor.Address gone =
                            Cluster.get(Adapter.toClassic(sys0)).selfAddress();
                    boolean present = false;
                    for (var m : Cluster.get(Adapter.toClassic(head)).state().getMembers()) {
                        present |= m.address().equals(gone);
                    }
                    if (!present) {
                        removedAt = System.nanoTime();
                        plan.noticed(removedAt);
                    }
                }
                if (removedAt > 0 && Double.isNaN(failover)) {
                    // Subscribers are not journaled: subscribe again until the new singleton answers.
                    if (failoverProbe == null || (failoverProbe.isDone() && now - lastPoll > 50_000_000L)) {
                        coordinator.tell(new Coordinator.Subscribe(listener));
                        lastPoll = now;
                        failoverProbe = AskPattern.<Coordinator.Command, Coordinator.Status>ask(
                                        coordinator,
                                        Coordinator.GetStatus::new,
                                        Duration.ofSeconds(5),
                                        head.scheduler())
                                .toCompletableFuture();
                    } else if (failoverProbe.isDone() && !failoverProbe.isCompletedExceptionally()) {
                        failover = (System.nanoTime() - removedAt) / 1e9;
                    }
                }
                if (failover >= 0 && now - lastStatus > 1_000_000_000L && (endPoll == null || endPoll.isDone())) {
                    // After a failover the end may be published before the listener subscribed again.
                    if (endPoll != null && !endPoll.isCompletedExceptionally()) {
                        Phase p = endPoll.get().phase();
                        if (p == Phase.COMPLETED || p == Phase.FAILED) {
                            endSeenAt = now;
                            ended.complete(JobEvent.newBuilder()
                                    .setPhase(dev.shoal.proto.v1.PhaseChange.newBuilder()
                                            .setTo(p))
                                    .build());
                            break;
                        }
                    }
                    lastStatus = now;
                    endPoll = AskPattern.<Coordinator.Command, Coordinator.Status>ask(
                                    coordinator, Coordinator.GetStatus::new, Duration.ofSeconds(5), head.scheduler())
                            .toCompletableFuture();
                }
                Thread.sleep(2);
            }
            JobEvent end = ended.get();
            last = failoverAt > 0 ? status(coordinator, head) : status(local, sys0);
            if (end.getPhase().getTo() != Phase.COMPLETED) {
                throw new IllegalStateException(
                        "scenario '" + sc.name() + "' ended " + end.getPhase().getTo() + ": " + last.message());
            }
            long trainingAt = nanosOf(seen, Phase.TRAINING);
            long completedAt = endSeenAt > 0 ? endSeenAt : nanosOf(seen, Phase.COMPLETED);
            long[] firstMesh = plan.joinWindow(1);
            distribute = firstMesh == null ? Double.NaN : (firstMesh[1] - submit) / 1e9;
            form = (trainingAt - submit) / 1e9;
            train = (completedAt - trainingAt) / 1e9 - plan.heldSeconds();
            System.gc();
            Runtime rt = Runtime.getRuntime();
            heap = rt.totalMemory() - rt.freeMemory();
        } finally {
            for (ActorSystem<Void> s : systems) s.terminate();
            for (ActorSystem<Void> s : systems) {
                s.getWhenTerminated().toCompletableFuture().get(60, TimeUnit.SECONDS);
            }
        }
        Map<String, SimStepRunner> runners = factory.runners();
        long messages =
                2L * runners.values().stream().mapToLong(r -> r.ran().size()).sum();
        double simulated = runners.values().stream()
                .mapToDouble(SimStepRunner::simulatedSeconds)
                .max()
                .orElse(0);
        long[] journal = journalSize(journalDir);
        Object[] recovery = recover(journalDir, sc, timeout);
        return new Result(
                sc,
                cluster,
                register,
                distribute,
                form,
                train,
                estimate.stepSeconds(),
                simulated,
                plan.clock(),
                plan.usefulSeconds(),
                plan.rounds(),
                messages,
                journal[0],
                journal[1],
                (double) recovery[0],
                (Phase) recovery[1],
                heap,
                plan.interruptions(),
                failover,
                grown(added, List.copyOf(seen)),
                last.meshEpoch(),
                last.meshSize(),
                List.copyOf(seen),
                runners);
    }

    /** {@code added} with the rescales that followed each addition (auto-grow) appended to its outcome. */
    private static List<Added> grown(List<Added> added, List<Seen> seen) {
        List<Added> out = new ArrayList<>();
        java.util.regex.Pattern dp = java.util.regex.Pattern.compile("rescaling dp (\\d+) → (\\d+) after step (\\d+)");
        for (Added a : added) {
            List<String> grew = new ArrayList<>();
            for (Seen s : seen) {
                if (s.nanos() < a.startNanos() || !s.event().hasPhase()) continue;
                var p = s.event().getPhase();
                if (p.getFrom() != Phase.RESCALING || p.getTo() != Phase.TRAINING) continue;
                java.util.regex.Matcher m = dp.matcher(p.getCause());
                if (m.find()) {
                    grew.add("dp " + m.group(1) + " → " + m.group(2) + " after step " + m.group(3) + " (epoch "
                            + p.getMeshEpoch() + ")");
                }
            }
            String then = grew.isEmpty() ? "" : "; auto-grow: " + String.join(", ", grew);
            out.add(new Added(a.atStep(), a.nodes(), a.registerSeconds(), a.outcome() + then, a.startNanos()));
        }
        return out;
    }

    /** Starts {@code a.nodes()} nodes, waits until their GPUs are registered, and says what the coordinator did. */
    private static Added addNodes(
            Scenario.AddNodes a,
            Scenario sc,
            Runnable startNode,
            ActorRef<Coordinator.Command> coordinator,
            ActorSystem<?> head,
            long deadline,
            Duration timeout,
            ConcurrentLinkedQueue<Seen> seen)
            throws Exception {
        Coordinator.Status before = status(coordinator, head);
        int phasesBefore = (int) seen.stream().filter(s -> s.event().hasPhase()).count();
        long start = System.nanoTime();
        for (int i = 0; i < a.nodes(); i++) startNode.run();
        awaitWorkers(coordinator, head, before.workerCount() + a.nodes() * sc.gpusPerNode(), deadline, timeout);
        double seconds = (System.nanoTime() - start) / 1e9;
        Thread.sleep(1000); // give the coordinator a moment to act on them
        Coordinator.Status after = status(coordinator, head);
        List<String> phases = new ArrayList<>();
        seen.stream()
                .filter(s -> s.event().hasPhase())
                .skip(phasesBefore)
                .forEach(s -> phases.add(s.event().getPhase().getFrom() + "→"
                        + s.event().getPhase().getTo()));
        String outcome = after.meshEpoch() == before.meshEpoch()
                ? "registered " + (after.workerCount() - before.workerCount())
                        + " idle GPUs; mesh unchanged (epoch " + after.meshEpoch() + ", "
                        + after.meshSize() + " ranks, " + after.phase() + ")"
                : "mesh epoch " + before.meshEpoch() + " → " + after.meshEpoch() + ", ranks " + before.meshSize()
                        + " → " + after.meshSize() + ", phase changes " + phases;
        return new Added(a.atStep(), a.nodes(), seconds, outcome, start);
    }

    private static void awaitWorkers(
            ActorRef<Coordinator.Command> coordinator, ActorSystem<?> head, int want, long deadline, Duration timeout)
            throws Exception {
        int have;
        while ((have = status(coordinator, head).workerCount()) < want) {
            if (System.nanoTime() > deadline) {
                throw new IllegalStateException("only " + have + " of " + want + " simulated GPUs registered within "
                        + timeout.toSeconds() + " s");
            }
            Thread.sleep(100);
        }
    }

    /** Starts a fresh one-member cluster on the same journal; seconds to the first status answer. */
    private static Object[] recover(Path journalDir, Scenario sc, Duration timeout) throws Exception {
        int port = FreePorts.pick();
        Config c = config(port, "127.0.0.1:" + port, journalDir, ShoalNode.COORDINATOR_ROLE, sc);
        ActorSystem<Void> s = ActorSystem.create(Behaviors.empty(), "shoal", c);
        try {
            CompletableFuture<Void> up = new CompletableFuture<>();
            Cluster.get(Adapter.toClassic(s)).registerOnMemberUp(() -> up.complete(null));
            up.get(timeout.toMillis(), TimeUnit.MILLISECONDS);
            long start = System.nanoTime();
            ActorRef<Coordinator.Command> coordinator = ClusterSingleton.get(s)
                    .init(SingletonActor.of(Coordinator.create(CoordinatorSettings.from(c)), "coordinator")
                            .withSettings(ClusterSingletonSettings.create(s).withRole(ShoalNode.COORDINATOR_ROLE)));
            Coordinator.Status st = status(coordinator, s);
            return new Object[] {(System.nanoTime() - start) / 1e9, st.phase()};
        } finally {
            s.terminate();
            s.getWhenTerminated().toCompletableFuture().get(60, TimeUnit.SECONDS);
        }
    }

    /** Rows and payload bytes of the journal's events (the H2 file, read after its systems stopped). */
    static long[] journalSize(Path journalDir) throws Exception {
        String url = "jdbc:h2:file:" + journalDir.toAbsolutePath().normalize().resolve("shoal");
        try (Connection c = DriverManager.getConnection(url, "sa", "");
                ResultSet r = c.createStatement()
                        .executeQuery("SELECT COUNT(*), COALESCE(SUM(OCTET_LENGTH(\"event_payload\")), 0)"
                                + " FROM \"event_journal\"")) {
            r.next();
            return new long[] {r.getLong(1), r.getLong(2)};
        }
    }

    private static Coordinator.Status status(ActorRef<Coordinator.Command> coordinator, ActorSystem<?> system)
            throws Exception {
        return AskPattern.<Coordinator.Command, Coordinator.Status>ask(
                        coordinator, Coordinator.GetStatus::new, Duration.ofSeconds(60), system.scheduler())
                .toCompletableFuture()
                .get(90, TimeUnit.SECONDS);
    }

    private static long nanosOf(Iterable<Seen> seen, Phase to) {
        for (Seen s : seen) if (s.event().hasPhase() && s.event().getPhase().getTo() == to) return s.nanos();
        throw new IllegalStateException("no " + to + " phase change was published");
    }

    private static Config config(int port, String seed, Path journalDir, String role, Scenario sc) {
        Map<String, Object> o = new java.util.LinkedHashMap<>();
        o.put("shoal.node.port", port);
        o.put("shoal.node.roles", List.of(role));
        o.put("shoal.cluster.seed-nodes", List.of(seed));
        o.put("shoal.journal.kind", "h2");
        o.put("shoal.journal.h2.dir", journalDir.toAbsolutePath().toString());
        o.put("shoal.coordinator.forming-timeout", "300s");
        // Simulated nodes never come back: re-form at once (on spares, or on fewer DP replicas).
        o.put("shoal.coordinator.recovery-grace", "0s");
        o.put("shoal.coordinator.describe-timeout", "60s");
        // The scenario's auto-grow: the coordinator rescales onto added nodes (RESCALING) when they hold
        // whole replicas that divide the global batch.
        o.put("shoal.coordinator.auto-grow", sc.autoGrow() ? "on" : "off");
        o.put("pekko.cluster.seed-node-timeout", "2s");
        o.put("pekko.cluster.retry-unsuccessful-join-after", "2s");
        o.put("pekko.cluster.jmx.multi-mbeans-in-same-jvm", "on");
        // The simulated nodes share this JVM's few cores: give the failure detector room.
        o.put("pekko.cluster.failure-detector.acceptable-heartbeat-pause", "20s");
        Config overrides = ConfigFactory.parseMap(o);
        return ShoalConfig.derive(ShoalConfig.layered(overrides), Map.of());
    }
}
