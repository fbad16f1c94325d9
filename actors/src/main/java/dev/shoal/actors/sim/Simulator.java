// Runs one Scenario: the REAL control plane (the Coordinator singleton with its JDBC journal in an
// H2 file, NodeAgents, GpuWorkers) against simulated devices (SimStepRunner), all in this JVM, and
// measures the control plane's wall time.
//
// Layout in the JVM: `actor-systems` ActorSystems on 127.0.0.1 form one Pekko cluster (Artery TCP,
// the protobuf cluster serializer, as between real nodes); system 0 is the seed and the only one with
// role "node", so it runs the coordinator. Simulated node n is a NodeAgent named
// "<system address>/sim-node-<n>" in system n mod actor-systems, with gpus-per-node simulated GPUs.
// The job has no data sources, so no DataLoader starts and no token is read.
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
import dev.shoal.actors.node.JournalSchema;
import dev.shoal.actors.node.NodeAgent;
import dev.shoal.actors.node.ShoalNode;
import dev.shoal.proto.v1.JobEvent;
import dev.shoal.proto.v1.Phase;
import dev.shoal.proto.v1.StepMetrics;
import dev.shoal.runtime.plan.CostModel;
import dev.shoal.runtime.plan.GpuSpec;
import java.io.IOException;
import java.net.ServerSocket;
import java.nio.file.Files;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.ResultSet;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.TimeUnit;
import org.apache.pekko.actor.typed.ActorRef;
import org.apache.pekko.actor.typed.ActorSystem;
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

    /** What one run measured; seconds are wall time on this machine unless named simulated. */
    public record Result(
            Scenario scenario,
            double clusterSeconds, // every ActorSystem Up in the cluster, the journal schema made
            double registerSeconds, // agents started → every simulated GPU registered (journaled)
            double distributeSeconds, // SubmitJob → the last worker's joinMesh returned
            double formSeconds, // SubmitJob → TRAINING published (MeshFormed journaled)
            double trainSeconds, // TRAINING → COMPLETED
            double simulatedStepSeconds, // the cost model's step time
            double simulatedSeconds, // the slowest rank's simulated clock at the end
            long workerMessages, // Step received + StepDone sent, counted at the simulated runners
            long journalEvents,
            long journalBytes,
            double recoverySeconds, // a fresh coordinator: start → first status answer (journal replayed)
            Phase recoveredPhase,
            long heapBytes,
            List<Seen> events,
            Map<String, SimStepRunner> runners) {

        public double stepsPerSecond() {
            return scenario.steps() / trainSeconds;
        }

        public double messagesPerStep() {
            return (double) workerMessages / scenario.steps();
        }

        public List<StepMetrics> steps() {
            return events.stream()
                    .filter(s -> s.event().hasStep())
                    .map(s -> s.event().getStep())
                    .toList();
        }
    }

    public static Result run(Scenario sc, Path dir, Duration timeout) throws Exception {
        Files.createDirectories(dir);
        Path journalDir = dir.resolve("journal");
        if (Files.exists(journalDir)) {
            throw new IllegalArgumentException(
                    journalDir + " already holds a journal: give each run an empty work directory");
        }
        SimStepRunner.Factory factory = new SimStepRunner.Factory(GpuSpec.preset(sc.gpu()), sc.gpusPerNode());
        CostModel.StepEstimate estimate =
                SimStepRunner.estimate(sc.jobSpec(), GpuSpec.preset(sc.gpu()), sc.gpusPerNode());
        List<ActorSystem<Void>> systems = new ArrayList<>();
        ConcurrentLinkedQueue<Seen> seen = new ConcurrentLinkedQueue<>();
        CompletableFuture<Void> training = new CompletableFuture<>();
        CompletableFuture<JobEvent> ended = new CompletableFuture<>();
        long t0 = System.nanoTime();
        double cluster, register, distribute, form, train;
        long heap;
        try {
            int[] ports = new int[sc.actorSystems()];
            for (int i = 0; i < ports.length; i++) ports[i] = freePort();
            String seed = "127.0.0.1:" + ports[0];
            Config config0 = null;
            for (int i = 0; i < ports.length; i++) {
                Config c = config(ports[i], seed, journalDir, i == 0 ? ShoalNode.COORDINATOR_ROLE : "sim", sc);
                if (i == 0) config0 = c;
                systems.add(ActorSystem.create(Behaviors.empty(), "shoal", c));
            }
            JournalSchema.ensure(systems.get(0), config0, Duration.ofSeconds(60));
            for (ActorSystem<Void> s : systems) {
                CompletableFuture<Void> up = new CompletableFuture<>();
                Cluster.get(Adapter.toClassic(s)).registerOnMemberUp(() -> up.complete(null));
                up.get(timeout.toMillis(), TimeUnit.MILLISECONDS);
            }
            ActorSystem<Void> head = systems.get(0);
            long agents = System.nanoTime();
            cluster = (agents - t0) / 1e9;
            ActorRef<Coordinator.Command> coordinator = ClusterSingleton.get(head)
                    .init(SingletonActor.of(Coordinator.create(CoordinatorSettings.from(config0)), "coordinator")
                            .withSettings(ClusterSingletonSettings.create(head).withRole(ShoalNode.COORDINATOR_ROLE)));
            ActorRef<Coordinator.Published> listener = head.systemActorOf(
                    Behaviors.receive(Coordinator.Published.class)
                            .onMessage(Coordinator.Published.class, p -> {
                                seen.add(new Seen(System.nanoTime(), p.event()));
                                if (p.event().hasPhase()) {
                                    Phase to = p.event().getPhase().getTo();
                                    if (to == Phase.TRAINING) training.complete(null);
                                    if (to == Phase.COMPLETED || to == Phase.FAILED) ended.complete(p.event());
                                }
                                return Behaviors.same();
                            })
                            .build(),
                    "sim-listener",
                    Props.empty());
            coordinator.tell(new Coordinator.Subscribe(listener));
            List<SimDevices> devices = List.of(new SimDevices());
            for (int n = 0; n < sc.nodes(); n++) {
                ActorSystem<Void> s = systems.get(n % systems.size());
                String name = String.format("sim-node-%05d", n);
                Config nodeConfig = ConfigFactory.parseMap(Map.of(SimDevices.KEY, sc.gpusPerNode()));
                s.systemActorOf(
                        NodeAgent.create(new ArrayList<>(devices), nodeConfig, factory, s.address() + "/" + name),
                        name,
                        Props.empty());
            }
            long deadline = System.nanoTime() + timeout.toNanos();
            while (status(coordinator, head).workers().size() < sc.world()) {
                if (System.nanoTime() > deadline) {
                    throw new IllegalStateException(
                            "only " + status(coordinator, head).workers().size() + " of " + sc.world()
                                    + " simulated GPUs registered within " + timeout.toSeconds() + " s");
                }
                Thread.sleep(50);
            }
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
            JobEvent end = ended.get(timeout.toMillis(), TimeUnit.MILLISECONDS);
            if (end.getPhase().getTo() != Phase.COMPLETED) {
                throw new IllegalStateException(
                        "scenario '" + sc.name() + "' ended " + end.getPhase().getTo() + ": "
                                + status(coordinator, head).message());
            }
            long trainingAt = nanosOf(seen, Phase.TRAINING), completedAt = nanosOf(seen, Phase.COMPLETED);
            long lastJoin = factory.runners().values().stream()
                    .mapToLong(SimStepRunner::lastJoinNanos)
                    .max()
                    .orElse(submit);
            distribute = (lastJoin - submit) / 1e9;
            form = (trainingAt - submit) / 1e9;
            train = (completedAt - trainingAt) / 1e9;
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
                messages,
                journal[0],
                journal[1],
                (double) recovery[0],
                (Phase) recovery[1],
                heap,
                List.copyOf(seen),
                runners);
    }

    /** Starts a fresh one-member cluster on the same journal; seconds to the first status answer. */
    private static Object[] recover(Path journalDir, Scenario sc, Duration timeout) throws Exception {
        int port = freePort();
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
        o.put("shoal.coordinator.describe-timeout", "60s");
        o.put("pekko.cluster.seed-node-timeout", "2s");
        o.put("pekko.cluster.retry-unsuccessful-join-after", "2s");
        o.put("pekko.cluster.jmx.multi-mbeans-in-same-jvm", "on");
        // The simulated nodes share this JVM's few cores: give the failure detector room.
        o.put("pekko.cluster.failure-detector.acceptable-heartbeat-pause", "20s");
        Config overrides = ConfigFactory.parseMap(o);
        return ShoalConfig.derive(ShoalConfig.layered(overrides), Map.of());
    }

    private static int freePort() throws IOException {
        try (ServerSocket s = new ServerSocket(0)) {
            return s.getLocalPort();
        }
    }
}
