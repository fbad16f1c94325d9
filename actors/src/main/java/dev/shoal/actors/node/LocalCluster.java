// A Shoal cluster on this machine for the demo and the multi-process tests: N `shoal node` JVMs on
// 127.0.0.1 (this JVM's classpath, CPU ranks), a shared journal (an H2 TCP server in this JVM), and
// this JVM as a cluster client (role "client") with a proxy to the coordinator singleton.
//
// Guarantees: start() returns when every node printed its "joined cluster" line and the client is
// Up, or throws with the tail of the failing node's log; a node whose port was taken between the pick
// and its bind ("Address already in use") starts again on new ports, up to 3 tries (start, restart and
// addNode alike; a failed start's logs are kept as node-i.attempt-k.log, a restart's or addNode's as
// node-i.restart-k.log); node 0 is the only seed, so it is the oldest and runs the coordinator;
// close() (also run by a shutdown hook, e.g. on Ctrl-C) stops the client, then every node JVM it
// started (SIGTERM, then kill after 10 s), then the H2 server; it is safe to call twice.
package dev.shoal.actors.node;

import com.typesafe.config.Config;
import com.typesafe.config.ConfigFactory;
import dev.shoal.actors.cluster.ShoalConfig;
import dev.shoal.actors.coordinator.Coordinator;
import dev.shoal.actors.coordinator.CoordinatorSettings;
import dev.shoal.proto.v1.JobSpec;
import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.sql.SQLException;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import org.apache.pekko.actor.typed.ActorRef;
import org.apache.pekko.actor.typed.ActorSystem;
import org.apache.pekko.actor.typed.javadsl.Adapter;
import org.apache.pekko.actor.typed.javadsl.AskPattern;
import org.apache.pekko.actor.typed.javadsl.Behaviors;
import org.apache.pekko.cluster.Cluster;
import org.apache.pekko.cluster.typed.ClusterSingleton;
import org.apache.pekko.cluster.typed.ClusterSingletonSettings;
import org.apache.pekko.cluster.typed.SingletonActor;
import org.apache.pekko.pattern.StatusReply;
import org.h2.tools.Server;

public final class LocalCluster implements AutoCloseable {

    /** Quick join retries; each node's metrics endpoint on a free port (several nodes share the host). */
    private static final List<String> JOIN_RETRY = List.of(
            "-Dpekko.cluster.seed-node-timeout=2s",
            "-Dpekko.cluster.retry-unsuccessful-join-after=2s",
            "-Dshoal.metrics.port=0");

    /** Tries at starting a node whose port was taken between the pick and its bind. */
    private static final int BIND_ATTEMPTS = 3;

    /** Picks the cluster port a node will bind (FreePorts::pick; a test hands in taken ones). */
    interface NodePorts {
        int next() throws IOException;
    }

    private final Path dir;
    private final NodePorts nodePorts;
    private final List<Process> nodes = new ArrayList<>();
    private final List<Process> started = new ArrayList<>(); // every node JVM ever started, for close()
    private final List<String> addresses = new ArrayList<>();
    private final List<Integer> grpcPorts = new ArrayList<>();
    private final List<Path> logs = new ArrayList<>();
    private final Thread hook = new Thread(this::close, "shoal-local-cluster-stop");
    private Server h2;
    private ActorSystem<Void> client;
    private ActorRef<Coordinator.Command> coordinator;
    private boolean closed;
    // What boot() started the nodes with, for restart().
    private String seed;
    private String journalUrl;
    private int[] cpuRanks;
    private List<String> jvmArgs;
    private int restarts;

    private LocalCluster(Path dir, NodePorts nodePorts) {
        this.dir = dir;
        this.nodePorts = nodePorts;
    }

    /**
     * Starts one node JVM per entry of {@code cpuRanks} (that many CPU ranks each), with extra JVM
     * options {@code jvmArgs} (e.g. "-Dshoal.node.engine=…"); logs go to dir/node-i.log.
     */
    public static LocalCluster start(Path dir, int[] cpuRanks, List<String> jvmArgs, Duration timeout)
            throws IOException {
        return start(dir, cpuRanks, jvmArgs, timeout, FreePorts::pick);
    }

    static LocalCluster start(Path dir, int[] cpuRanks, List<String> jvmArgs, Duration timeout, NodePorts nodePorts)
            throws IOException {
        LocalCluster c = new LocalCluster(dir, nodePorts);
        Runtime.getRuntime().addShutdownHook(c.hook);
        try {
            c.boot(cpuRanks, jvmArgs, timeout);
            return c;
        } catch (IOException | RuntimeException e) {
            c.close();
            throw e;
        }
    }

    private void boot(int[] cpuRanks, List<String> jvmArgs, Duration timeout) throws IOException {
        Files.createDirectories(dir);
        for (int attempt = 1; h2 == null; attempt++) {
            try {
                h2 = Server.createTcpServer(
                                "-tcpPort",
                                String.valueOf(FreePorts.pick()),
                                "-baseDir",
                                dir.toString(),
                                "-ifNotExists")
                        .start();
            } catch (SQLException e) {
                // its port may have been taken since the pick: try another
                if (attempt == BIND_ATTEMPTS)
                    throw new IOException("cannot start the H2 journal server: " + e.getMessage(), e);
            }
        }
        String journalUrl = "jdbc:h2:tcp://127.0.0.1:" + h2.getPort() + "/shoal";
        this.journalUrl = journalUrl;
        this.cpuRanks = cpuRanks.clone();
        this.jvmArgs = List.copyOf(jvmArgs);
        for (int attempt = 1; ; attempt++) {
            int[] ports = new int[cpuRanks.length];
            for (int i = 0; i < ports.length; i++) ports[i] = nodePorts.next();
            String seed = "127.0.0.1:" + ports[0];
            this.seed = seed;
            List<CompletableFuture<String>> joined = new ArrayList<>();
            for (int i = 0; i < cpuRanks.length; i++) {
                joined.add(startNode(i, ports[i], seed, journalUrl, cpuRanks[i], jvmArgs));
            }
            IOException failed = null;
            int failedIndex = -1;
            for (int i = 0; i < joined.size() && failed == null; i++) {
                try {
                    joined.get(i).get(timeout.toMillis(), TimeUnit.MILLISECONDS);
                } catch (Exception e) {
                    Throwable cause = e.getCause() != null ? e.getCause() : e;
                    failedIndex = i;
                    failed = new IOException(
                            "node " + i + " did not join within " + timeout.toSeconds() + " s: " + cause.getMessage()
                                    + "\n--- " + logs.get(i) + "\n" + tail(logs.get(i)),
                            e);
                }
            }
            if (failed == null) break;
            // A port that was free when picked can be taken by the time the node binds it; then every
            // node starts again on new ports (the seed's port is in every node's command line).
            if (attempt == BIND_ATTEMPTS || !portTaken(logs.get(failedIndex))) throw failed;
            stopNodes(nodes);
            for (int i = 0; i < logs.size(); i++) {
                Files.move(
                        logs.get(i),
                        dir.resolve("node-" + i + ".attempt-" + attempt + ".log"),
                        java.nio.file.StandardCopyOption.REPLACE_EXISTING);
            }
            nodes.clear();
            addresses.clear();
            grpcPorts.clear();
            logs.clear();
        }
        for (int attempt = 1; client == null; attempt++) {
            try {
                client = startClient(FreePorts.pick(), seed, timeout);
            } catch (RuntimeException e) {
                if (attempt == BIND_ATTEMPTS || !bindFailed(e)) throw e;
            }
        }
        coordinator = ClusterSingleton.get(client)
                .init(SingletonActor.of(
                                Coordinator.create(CoordinatorSettings.from(
                                        client.settings().config())),
                                "coordinator")
                        .withSettings(ClusterSingletonSettings.create(client).withRole(ShoalNode.COORDINATOR_ROLE)));
    }

    private CompletableFuture<String> startNode(
            int index, int port, String seed, String journalUrl, int ranks, List<String> jvmArgs) throws IOException {
        boolean again = index < nodes.size(); // a restart replaces node index's entries
        Path log = dir.resolve("node-" + index + (again ? ".restart-" + (++restarts) : "") + ".log");
        int grpc = FreePorts.pick();
        String java = Path.of(System.getProperty("java.home"), "bin", "java").toString();
        List<String> cmd = new ArrayList<>(List.of(
                java, "-Xmx384m", "-XX:+UseSerialGC", "-XX:TieredStopAtLevel=1", "-Xss4m", "-Dshoal.log.level=INFO"));
        // One machine: retry a join every 2 s instead of Pekko's 5-10 s while the seed is still starting.
        cmd.addAll(JOIN_RETRY);
        cmd.addAll(jvmArgs);
        cmd.addAll(List.of(
                "-cp",
                System.getProperty("java.class.path"),
                "dev.shoal.cli.ShoalCli",
                "node",
                "--host",
                "127.0.0.1",
                "--port",
                String.valueOf(port),
                "--seeds",
                seed,
                "--cpu-ranks",
                String.valueOf(ranks),
                "--grpc-port",
                String.valueOf(grpc),
                "--journal",
                "h2",
                "--journal-url",
                journalUrl));
        Process p;
        // Started and recorded under the lock close() takes, so a close() (e.g. the shutdown hook on
        // Ctrl-C) either comes first and no node starts, or sees this one and stops it.
        synchronized (this) {
            if (closed) throw new IOException("the local cluster was closed while node " + index + " was starting");
            p = new ProcessBuilder(cmd).redirectError(log.toFile()).start();
            started.add(p);
            String address = "pekko://shoal@127.0.0.1:" + port;
            if (again) {
                nodes.set(index, p);
                addresses.set(index, address);
                grpcPorts.set(index, grpc);
                logs.set(index, log);
            } else {
                nodes.add(p);
                addresses.add(address);
                grpcPorts.add(grpc);
                logs.add(log);
            }
        }
        CompletableFuture<String> joined = new CompletableFuture<>();
        Thread reader = new Thread(
                () -> {
                    try (BufferedReader r =
                            new BufferedReader(new InputStreamReader(p.getInputStream(), StandardCharsets.UTF_8))) {
                        String line;
                        while ((line = r.readLine()) != null) {
                            if (line.startsWith("joined cluster")) joined.complete(line);
                        }
                        joined.completeExceptionally(new IllegalStateException("node " + index + " exited"));
                    } catch (IOException e) {
                        joined.completeExceptionally(e);
                    }
                },
                "node-" + index + "-stdout");
        reader.setDaemon(true);
        reader.start();
        return joined;
    }

    private static ActorSystem<Void> startClient(int port, String seed, Duration timeout) {
        Config overrides = ConfigFactory.parseMap(Map.of(
                "shoal.node.port",
                port,
                "shoal.node.roles",
                List.of("client"),
                "shoal.cluster.seed-nodes",
                List.of(seed),
                "pekko.cluster.seed-node-timeout",
                "2s",
                "pekko.cluster.retry-unsuccessful-join-after",
                "2s"));
        Config config = ShoalConfig.derive(ShoalConfig.layered(overrides), Map.of());
        ActorSystem<Void> system = ActorSystem.create(Behaviors.empty(), "shoal", config);
        CompletableFuture<Void> up = new CompletableFuture<>();
        Cluster.get(Adapter.toClassic(system)).registerOnMemberUp(() -> up.complete(null));
        try {
            up.orTimeout(timeout.toMillis(), TimeUnit.MILLISECONDS).join();
        } catch (RuntimeException e) {
            system.terminate(); // its threads and port must not outlive the failed start
            throw e;
        }
        return system;
    }

    public ActorSystem<Void> client() {
        return client;
    }

    /** The coordinator singleton (a proxy from this client). */
    public ActorRef<Coordinator.Command> coordinator() {
        return coordinator;
    }

    public List<Path> logs() {
        return List.copyOf(logs);
    }

    /** Node i's cluster address, e.g. "pekko://shoal@127.0.0.1:2552". */
    public String address(int i) {
        return addresses.get(i);
    }

    /** The port of node i's control-plane gRPC server (JobService) on 127.0.0.1. */
    public int grpcPort(int i) {
        return grpcPorts.get(i);
    }

    /** Node i's JVM (e.g. to kill -9 it in a failover test). */
    public Process node(int i) {
        return nodes.get(i);
    }

    /** Kills node i's JVM with SIGKILL (kill -9: no shutdown hook, no leaving the cluster) and waits for it. */
    public void kill(int i) throws InterruptedException {
        Process p = nodes.get(i);
        p.destroyForcibly();
        p.waitFor(10, TimeUnit.SECONDS);
    }

    /**
     * Starts node i again, on its old cluster port with its old ranks (a new incarnation: the cluster
     * removes the old one when it joins); returns once it joined. Its log goes to a new file. If the port
     * was taken meanwhile it tries once more (a new gRPC port), then on a new cluster port, except node 0,
     * whose port is every other node's seed.
     */
    public void restart(int i, Duration timeout) throws IOException {
        if (nodes.get(i).isAlive()) throw new IllegalStateException("node " + i + " is still running");
        String a = addresses.get(i);
        int old = Integer.parseInt(a.substring(a.lastIndexOf(':') + 1));
        startAndJoin(
                i,
                cpuRanks[i],
                attempt -> attempt < BIND_ATTEMPTS || i == 0 ? old : nodePorts.next(),
                "rejoin",
                timeout);
    }

    /**
     * Starts one more node JVM with {@code ranks} CPU ranks (the same JVM options, seed and journal)
     * and returns its index once it joined: a node added to a running cluster.
     */
    public int addNode(int ranks, Duration timeout) throws IOException {
        int index = nodes.size();
        cpuRanks = java.util.Arrays.copyOf(cpuRanks, index + 1);
        cpuRanks[index] = ranks;
        startAndJoin(index, ranks, attempt -> nodePorts.next(), "join", timeout);
        return index;
    }

    /** The cluster port for a node's try number {@code attempt} (1, 2, …). */
    private interface PortForTry {
        int port(int attempt) throws IOException;
    }

    /**
     * Starts node {@code index} and waits until it joined; a try whose node found a port taken ("Address
     * already in use" in its log) is stopped and followed by another, up to BIND_ATTEMPTS.
     */
    private void startAndJoin(int index, int ranks, PortForTry portFor, String verb, Duration timeout)
            throws IOException {
        for (int attempt = 1; ; attempt++) {
            try {
                startNode(index, portFor.port(attempt), seed, journalUrl, ranks, jvmArgs)
                        .get(timeout.toMillis(), TimeUnit.MILLISECONDS);
                return;
            } catch (Exception e) {
                boolean started = index < nodes.size() && index < logs.size();
                if (started && attempt < BIND_ATTEMPTS && portTaken(logs.get(index))) {
                    stop(nodes.get(index));
                    continue;
                }
                if (e instanceof InterruptedException) Thread.currentThread().interrupt();
                String log = started ? "\n--- " + logs.get(index) + "\n" + tail(logs.get(index)) : "";
                throw new IOException(
                        "node " + index + " did not " + verb + " within " + timeout.toSeconds() + " s: " + e + log, e);
            }
        }
    }

    /** The coordinator's status, or null when it did not answer within {@code timeout}. */
    public Coordinator.Status status(Duration timeout) {
        try {
            return dev.shoal.actors.coordinator.StatusPages.fetch(coordinator, timeout, client.scheduler())
                    .toCompletableFuture()
                    .get(timeout.toMillis() + 1000, TimeUnit.MILLISECONDS);
        } catch (Exception e) {
            return null;
        }
    }

    /**
     * Submits {@code spec} to the coordinator through this client and returns the job id; throws
     * IllegalStateException with the coordinator's reason when it refuses the job.
     */
    public String submit(JobSpec spec) throws Exception {
        StatusReply<Coordinator.JobAccepted> accepted =
                AskPattern.<Coordinator.Command, StatusReply<Coordinator.JobAccepted>>ask(
                                coordinator,
                                r -> new Coordinator.SubmitJob(spec, r),
                                Duration.ofSeconds(10),
                                client.scheduler())
                        .toCompletableFuture()
                        .get(15, TimeUnit.SECONDS);
        if (!accepted.isSuccess()) throw new IllegalStateException("submit refused: " + accepted.getError());
        return accepted.getValue().jobId();
    }

    /**
     * Polls the coordinator until its status satisfies {@code p}; throws AssertionError naming
     * {@code what}, with the last status and the nodes' log tails, after {@code timeout}.
     */
    public Coordinator.Status awaitStatus(
            java.util.function.Predicate<Coordinator.Status> p, String what, Duration timeout) {
        long deadline = System.nanoTime() + timeout.toNanos();
        Coordinator.Status last = null;
        while (System.nanoTime() < deadline) {
            last = status(Duration.ofMillis(1000));
            if (last != null && p.test(last)) return last;
            try {
                Thread.sleep(50);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                break;
            }
        }
        throw new AssertionError("timed out waiting for " + what + "; last status " + last + logTails());
    }

    /** The last 40 lines of every node's log (for error reports). */
    public String logTails() {
        StringBuilder b = new StringBuilder();
        for (Path log : logs) b.append("\n--- ").append(log).append('\n').append(tail(log));
        return b.toString();
    }

    @Override
    public synchronized void close() {
        if (closed) return;
        closed = true;
        try {
            Runtime.getRuntime().removeShutdownHook(hook);
        } catch (IllegalStateException ignored) {
            // already shutting down: this is the hook
        }
        if (client != null) {
            client.terminate();
            try {
                client.getWhenTerminated().toCompletableFuture().get(20, TimeUnit.SECONDS);
            } catch (Exception ignored) {
                // the nodes are stopped below either way
            }
        }
        stopNodes(started);
        if (h2 != null) h2.stop();
    }

    /** SIGTERM to each of these nodes, then SIGKILL to those still running after 10 s. */
    private static void stopNodes(List<Process> nodes) {
        for (Process p : nodes) p.destroy();
        for (Process p : nodes) {
            try {
                if (!p.waitFor(10, TimeUnit.SECONDS)) {
                    p.destroyForcibly();
                    p.waitFor(5, TimeUnit.SECONDS);
                }
            } catch (InterruptedException e) {
                p.destroyForcibly();
                Thread.currentThread().interrupt();
            }
        }
    }

    private static boolean bindFailed(Throwable e) {
        for (Throwable t = e; t != null; t = t.getCause()) {
            if (t instanceof java.net.BindException) return true;
        }
        return false;
    }

    /** Kills one node JVM (a failed try that may still run) and waits for it. */
    private static void stop(Process p) {
        p.destroyForcibly();
        try {
            p.waitFor(5, TimeUnit.SECONDS);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }

    /** Whether a node's log says one of its ports (cluster, gRPC) was taken when it bound it. */
    static boolean portTaken(Path log) {
        try {
            return Files.readString(log).contains("Address already in use");
        } catch (IOException | RuntimeException e) {
            return false;
        }
    }

    static String tail(Path log) {
        try {
            List<String> lines = Files.readAllLines(log);
            return String.join("\n", lines.subList(Math.max(0, lines.size() - 40), lines.size()));
        } catch (IOException e) {
            return "(no log: " + e.getMessage() + ")";
        }
    }
}
