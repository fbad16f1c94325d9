// A node's operations endpoint: NodeMetrics plus the HTTP server for /metrics and /health, started
// with the node from shoal.metrics.* and stopped with its actor system.
//
// Guarantees: a port already in use or an unusable address does not stop the node: it logs one line
// naming shoal.metrics.port and runs without the endpoint. /health is 200 while this node is an Up
// (or WeaklyUp) cluster member, 503 while it is joining, leaving or removed.
package dev.shoal.actors.ops;

import com.typesafe.config.Config;
import dev.shoal.actors.coordinator.Coordinator;
import dev.shoal.comm.CommException;
import java.io.IOException;
import java.time.Duration;
import java.util.Locale;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.ConcurrentHashMap;
import org.apache.pekko.actor.typed.ActorRef;
import org.apache.pekko.actor.typed.ActorSystem;
import org.apache.pekko.actor.typed.Props;
import org.apache.pekko.actor.typed.javadsl.Adapter;
import org.apache.pekko.cluster.Cluster;
import org.apache.pekko.cluster.MemberStatus;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

public final class NodeOps {

    private static final Logger log = LoggerFactory.getLogger(NodeOps.class);
    private static final Map<ActorSystem<?>, NodeOps> BY_SYSTEM = new ConcurrentHashMap<>();

    private final NodeMetrics metrics;
    private final MetricsServer server; // null when the endpoint is off or could not bind

    private NodeOps(NodeMetrics metrics, MetricsServer server) {
        this.metrics = metrics;
        this.server = server;
    }

    /**
     * Starts the metrics (always), their feed from {@code coordinator}'s events, and the endpoint (when
     * shoal.metrics.enabled) for {@code system}.
     */
    public static NodeOps start(ActorSystem<?> system, Config config, ActorRef<Coordinator.Command> coordinator) {
        Cluster cluster = Cluster.get(Adapter.toClassic(system));
        String self = cluster.selfAddress().hostPort();
        NodeMetrics metrics = new NodeMetrics(self);
        MetricsServer server = null;
        if (config.getBoolean("shoal.metrics.enabled")) {
            String host = config.getString("shoal.metrics.host");
            int port = config.getInt("shoal.metrics.port");
            try {
                server = MetricsServer.start(host, port, metrics, () -> health(cluster));
                log.info("metrics on http://{}:{}/metrics, health on /health", host, server.port());
            } catch (IOException | RuntimeException e) {
                log.error(
                        "no metrics endpoint: cannot listen on {}:{} (shoal.metrics.host/port): {}",
                        host,
                        port,
                        e.getMessage());
            }
        }
        GpuMemory.register(metrics, cudaDevices(config), GpuMemory.CUDA);
        system.systemActorOf(
                MetricsFeed.create(coordinator, metrics, Duration.ofSeconds(10)), "metrics-feed", Props.empty());
        NodeOps ops = new NodeOps(metrics, server);
        BY_SYSTEM.put(system, ops);
        system.getWhenTerminated().thenRun(() -> {
            BY_SYSTEM.remove(system);
            ops.close();
        });
        return ops;
    }

    /** The node's ops of {@code system}, when started. */
    public static Optional<NodeOps> of(ActorSystem<?> system) {
        return Optional.ofNullable(BY_SYSTEM.get(system));
    }

    public NodeMetrics metrics() {
        return metrics;
    }

    /** The endpoint's port, or -1 when there is none. */
    public int port() {
        return server == null ? -1 : server.port();
    }

    /** Records one finished step of a worker of this node: its compute time, or its failure's kind. */
    public void recordStep(Throwable error, double computeSeconds) {
        if (error == null) {
            metrics.workerStep(computeSeconds);
            return;
        }
        String kind = commErrorKind(error);
        if (kind != null) metrics.commError(kind);
    }

    /** The kind of the first CommException in error's cause chain (lower case), or null when there is none. */
    static String commErrorKind(Throwable error) {
        for (Throwable t = error; t != null; t = t.getCause()) {
            if (t instanceof CommException c) return c.kind().name().toLowerCase(Locale.ROOT);
        }
        return null;
    }

    /** The node's CUDA devices (0 without CUDA, or when shoal.node.gpus is bad: the agent reports that). */
    private static int cudaDevices(Config config) {
        try {
            return new dev.shoal.actors.node.CudaDevices().count(config);
        } catch (RuntimeException | LinkageError e) {
            return 0;
        }
    }

    private static MetricsServer.Health health(Cluster cluster) {
        MemberStatus s = cluster.selfMember().status();
        boolean up = s == MemberStatus.up() || s == MemberStatus.weaklyUp();
        String status = s.toString().toLowerCase(Locale.ROOT);
        return new MetricsServer.Health(
                up,
                "{\"status\":\"" + (up ? "UP" : "DOWN") + "\",\"member\":\"" + status + "\",\"members\":"
                        + cluster.state().members().size() + "}");
    }

    private void close() {
        if (server != null) server.close();
        metrics.close();
    }
}
