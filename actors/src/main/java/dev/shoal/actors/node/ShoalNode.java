// Starts one Shoal node in this JVM: the ActorSystem (a cluster member), the journal tables, the
// NodeAgent with its workers, the coordinator singleton (on members with role "node") and the
// control plane's gRPC server (shoal.grpc.*).
//
// Guarantees: start() returns only when the journal tables exist and the gRPC port is bound;
// joined() completes when this member is Up; close() stops the gRPC server, then leaves the cluster
// gracefully (the singleton hands over) and waits.
package dev.shoal.actors.node;

import com.typesafe.config.Config;
import dev.shoal.actors.cluster.ShoalConfig;
import dev.shoal.actors.control.ControlServer;
import dev.shoal.actors.control.ControlSettings;
import dev.shoal.actors.coordinator.Coordinator;
import dev.shoal.actors.coordinator.CoordinatorSettings;
import dev.shoal.actors.worker.StepRunner;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.ServiceLoader;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.TimeUnit;
import org.apache.pekko.actor.CoordinatedShutdown;
import org.apache.pekko.actor.typed.ActorRef;
import org.apache.pekko.actor.typed.ActorSystem;
import org.apache.pekko.actor.typed.Props;
import org.apache.pekko.actor.typed.javadsl.Adapter;
import org.apache.pekko.actor.typed.javadsl.Behaviors;
import org.apache.pekko.cluster.Cluster;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

public final class ShoalNode implements AutoCloseable {

    /** The cluster role whose oldest member runs the coordinator. */
    public static final String COORDINATOR_ROLE = "node";

    private static final Logger log = LoggerFactory.getLogger(ShoalNode.class);

    private final ActorSystem<Void> system;
    private final ActorRef<NodeAgent.Command> agent;
    private final ActorRef<Coordinator.Command> coordinator;
    private final ControlServer control; // null: shoal.grpc.port = -1
    private final CompletableFuture<Void> joined = new CompletableFuture<>();

    private ShoalNode(
            ActorSystem<Void> system,
            ActorRef<NodeAgent.Command> agent,
            ActorRef<Coordinator.Command> c,
            ControlServer control) {
        this.system = system;
        this.agent = agent;
        this.coordinator = c;
        this.control = control;
        Cluster.get(Adapter.toClassic(system)).registerOnMemberUp(() -> joined.complete(null));
    }

    /** Starts a node with the devices and the training engine found through ServiceLoader. */
    public static ShoalNode start(Config config) {
        List<DeviceDiscovery> discoveries = new ArrayList<>();
        discoveries.add(new CpuRanks());
        discoveries.add(new CudaDevices());
        ServiceLoader.load(DeviceDiscovery.class).forEach(discoveries::add);
        List<StepRunner.Factory> engines = new ArrayList<>();
        ServiceLoader.load(StepRunner.Factory.class).forEach(engines::add);
        // shoal.node.engine picks one by class name when several are on the classpath (tests).
        String chosen = config.hasPath("shoal.node.engine") ? config.getString("shoal.node.engine") : "";
        if (chosen.isEmpty()) engines.removeIf(StepRunner.Factory::explicitOnly);
        if (!chosen.isEmpty()) {
            List<String> names =
                    engines.stream().map(e -> e.getClass().getName()).toList();
            engines.removeIf(e -> !e.getClass().getName().equals(chosen));
            if (engines.isEmpty()) {
                throw new IllegalStateException(
                        "shoal.node.engine = " + chosen + " is not on the classpath; found " + names);
            }
        }
        if (engines.size() > 1) {
            throw new IllegalStateException("more than one training engine on the classpath: " + engines
                    + "; choose one with shoal.node.engine");
        }
        StepRunner.Factory engine = engines.isEmpty() ? null : engines.get(0);
        if (engine == null) {
            log.warn("no training engine on the classpath: this node's devices register but cannot join a mesh");
        }
        return start(config, engine, discoveries);
    }

    public static ShoalNode start(Config config, StepRunner.Factory engine, List<DeviceDiscovery> discoveries) {
        CoordinatorSettings settings = CoordinatorSettings.from(config);
        ControlSettings controlSettings = ControlSettings.from(config);
        warnIfJournalIsLocal(config);
        ActorSystem<Void> system =
                ActorSystem.create(Behaviors.empty(), config.getString("shoal.cluster.name"), config);
        try {
            JournalSchema.ensure(system, config, Duration.ofSeconds(60));
            ActorRef<NodeAgent.Command> agent = system.systemActorOf(
                    NodeAgent.createNode(
                            discoveries,
                            config,
                            engine,
                            () -> StartupChecks.run(
                                    config, StartupChecks.dataDirs(config), StartupChecks.thisMachine()),
                            config.getDuration("shoal.node.recheck-interval")),
                    "node-agent",
                    Props.empty());
            List<ActorRef<Coordinator.Command>> slots =
                    dev.shoal.actors.coordinator.JobSlots.init(system, config, settings, COORDINATOR_ROLE);
            ActorRef<Coordinator.Command> coordinator = slots.get(0);
            dev.shoal.actors.ops.NodeOps.start(system, config, coordinator);
            ControlServer control =
                    controlSettings.enabled() ? ControlServer.start(system, slots, controlSettings) : null;
            if (control != null) {
                // SIGTERM: stop taking control calls before the node leaves the cluster.
                CoordinatedShutdown.get(system)
                        .addTask(CoordinatedShutdown.PhaseServiceUnbind(), "shoal-control-plane", () -> {
                            control.close();
                            return CompletableFuture.completedFuture(org.apache.pekko.Done.getInstance());
                        });
            }
            return new ShoalNode(system, agent, coordinator, control);
        } catch (RuntimeException e) {
            system.terminate();
            awaitTermination(system, Duration.ofSeconds(30));
            throw e;
        }
    }

    /** A node-local H2 file cannot follow the coordinator to another node: say so when others may join. */
    private static void warnIfJournalIsLocal(Config config) {
        if (ShoalConfig.h2Directory(config) == null) return;
        String self = "@" + config.getString("pekko.remote.artery.canonical.hostname") + ":"
                + config.getInt("pekko.remote.artery.canonical.port");
        boolean others =
                config.getStringList("pekko.cluster.seed-nodes").stream().anyMatch(s -> !s.endsWith(self));
        if (others) {
            log.warn(
                    "the journal is this node's own H2 file ({}): a coordinator that moves to another node"
                            + " will not see it; use shoal.journal.kind = postgres (or a shared H2 server URL) for"
                            + " a cluster of several nodes",
                    ShoalConfig.h2Directory(config));
        }
    }

    public ActorSystem<Void> system() {
        return system;
    }

    public ActorRef<NodeAgent.Command> agent() {
        return agent;
    }

    /** The coordinator singleton, wherever it runs (a proxy). */
    public ActorRef<Coordinator.Command> coordinator() {
        return coordinator;
    }

    /** Completes when this member is Up in the cluster. */
    public CompletionStage<Void> joined() {
        return joined;
    }

    public String address() {
        return Cluster.get(Adapter.toClassic(system)).selfAddress().toString();
    }

    public int members() {
        return Cluster.get(Adapter.toClassic(system)).state().members().size();
    }

    /** host:port of this node's gRPC JobService, or null when it has none (shoal.grpc.port = -1). */
    public String controlAddress() {
        return control == null ? null : control.address();
    }

    @Override
    public void close() {
        if (control != null) control.close();
        system.terminate();
        awaitTermination(system, Duration.ofSeconds(30));
    }

    static void awaitTermination(ActorSystem<?> system, Duration timeout) {
        try {
            system.getWhenTerminated().toCompletableFuture().get(timeout.toMillis(), TimeUnit.MILLISECONDS);
        } catch (Exception e) {
            log.warn("actor system did not terminate within {} s", timeout.toSeconds());
        }
    }
}
