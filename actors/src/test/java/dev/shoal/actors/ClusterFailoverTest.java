// Three `shoal node` JVMs on 127.0.0.1 form a cluster around a shared journal (an H2 TCP server
// in this JVM, so the test needs nothing installed). This JVM joins as a client (role "client"),
// submits a job, commits a checkpoint, then kill -9s the JVM that runs the coordinator singleton
// and checks that the singleton restarts on the next-oldest node with the state from the journal.
// Prints how long detection + handover took. Tagged slow: it runs in CI, not in quick loops.
package dev.shoal.actors;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.typesafe.config.Config;
import com.typesafe.config.ConfigFactory;
import dev.shoal.actors.cluster.ShoalConfig;
import dev.shoal.actors.coordinator.Coordinator;
import dev.shoal.actors.coordinator.CoordinatorSettings;
import dev.shoal.proto.v1.CheckpointInfo;
import dev.shoal.proto.v1.JobSpec;
import dev.shoal.proto.v1.Parallelism;
import dev.shoal.proto.v1.Phase;
import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.net.ServerSocket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.function.Predicate;
import org.apache.pekko.Done;
import org.apache.pekko.actor.typed.ActorRef;
import org.apache.pekko.actor.typed.ActorSystem;
import org.apache.pekko.actor.typed.javadsl.Adapter;
import org.apache.pekko.actor.typed.javadsl.AskPattern;
import org.apache.pekko.actor.typed.javadsl.Behaviors;
import org.apache.pekko.cluster.Cluster;
import org.apache.pekko.cluster.Member;
import org.apache.pekko.cluster.typed.ClusterSingleton;
import org.apache.pekko.cluster.typed.ClusterSingletonSettings;
import org.apache.pekko.cluster.typed.SingletonActor;
import org.apache.pekko.pattern.StatusReply;
import org.h2.tools.Server;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

@Tag("slow")
class ClusterFailoverTest {

    @TempDir
    Path dir;

    private final List<Process> nodes = new ArrayList<>();
    private final List<Path> logs = new ArrayList<>();
    private Server h2;
    private ActorSystem<Void> client;

    @AfterEach
    void cleanUp() throws Exception {
        long t0 = System.nanoTime();
        // The client leaves first, while the nodes still answer; then the nodes are killed.
        if (client != null) {
            client.terminate();
            client.getWhenTerminated().toCompletableFuture().get(30, TimeUnit.SECONDS);
        }
        for (Process p : nodes) p.destroyForcibly();
        for (Process p : nodes) p.waitFor(10, TimeUnit.SECONDS);
        if (h2 != null) h2.stop();
        System.out.printf("failover test: clean-up took %.1f s%n", (System.nanoTime() - t0) / 1e9);
    }

    @Test
    void theCoordinatorMovesToTheNextOldestNodeAndRecoversFromTheJournal() throws Exception {
        long started = System.nanoTime();
        h2 = Server.createTcpServer("-tcpPort", String.valueOf(freePort()), "-baseDir", dir.toString(), "-ifNotExists")
                .start();
        String journalUrl = "jdbc:h2:tcp://127.0.0.1:" + h2.getPort() + "/shoal";
        int[] ports = {freePort(), freePort(), freePort()};
        String seed = "127.0.0.1:" + ports[0];

        // Node 0 is the only seed: it forms the cluster and the others can only join it, so it is
        // the oldest and runs the coordinator even though all three start at once.
        List<CompletableFuture<String>> joined = new ArrayList<>();
        for (int i = 0; i < 3; i++) joined.add(startNode(i, ports[i], seed, journalUrl));
        for (int i = 0; i < 3; i++) joined.get(i).get(90, TimeUnit.SECONDS);

        System.out.printf("failover test: 3 nodes up after %.1f s%n", (System.nanoTime() - started) / 1e9);
        client = startClient(freePort(), seed);
        ActorRef<Coordinator.Command> coordinator = ClusterSingleton.get(client)
                .init(SingletonActor.of(
                                Coordinator.create(CoordinatorSettings.from(
                                        client.settings().config())),
                                "coordinator")
                        .withSettings(ClusterSingletonSettings.create(client).withRole("node")));

        await(coordinator, s -> s.workers().size() == 3, "3 registered workers", Duration.ofSeconds(30));
        StatusReply<Coordinator.JobAccepted> accepted =
                AskPattern.<Coordinator.Command, StatusReply<Coordinator.JobAccepted>>ask(
                                coordinator,
                                r -> new Coordinator.SubmitJob(spec(), r),
                                Duration.ofSeconds(10),
                                client.scheduler())
                        .toCompletableFuture()
                        .get(15, TimeUnit.SECONDS);
        assertTrue(accepted.isSuccess(), () -> "submit refused: " + accepted.getError());
        String jobId = accepted.getValue().jobId();
        await(
                coordinator,
                s -> s.phase() == Phase.TRAINING && s.step() >= 3,
                "training past step 3",
                Duration.ofSeconds(30));
        CheckpointInfo ckpt = CheckpointInfo.newBuilder()
                .setStep(2)
                .setPath(dir.resolve("step-000002").toString())
                .setMeshEpoch(1)
                .build();
        StatusReply<Done> committed = AskPattern.<Coordinator.Command, StatusReply<Done>>ask(
                        coordinator,
                        r -> new Coordinator.CommitCheckpoint(ckpt, r),
                        Duration.ofSeconds(10),
                        client.scheduler())
                .toCompletableFuture()
                .get(15, TimeUnit.SECONDS);
        assertTrue(committed.isSuccess(), () -> "commit refused: " + committed.getError());
        Coordinator.Status before = await(coordinator, s -> true, "status", Duration.ofSeconds(10));

        List<String> byAge = nodesByAge();
        String oldest = byAge.get(0);
        assertEquals("pekko://shoal@127.0.0.1:" + ports[0], oldest, "the seed is the oldest node");
        String next = byAge.get(1);
        int nextIndex = next.endsWith(":" + ports[1]) ? 1 : 2;

        // kill -9 the coordinator's JVM and time until the new singleton answers from the journal.
        long t0 = System.nanoTime();
        System.out.println("failover timeline: kill -9 of node 0 at " + java.time.LocalTime.now());
        nodes.get(0).destroyForcibly();
        Coordinator.Status first = await(coordinator, s -> true, "any answer after the kill", Duration.ofSeconds(45));
        double handover = (System.nanoTime() - t0) / 1e9;
        Coordinator.Status after = await(
                coordinator, s -> s.phase() == Phase.FAILED, "the lost rank to fail the job", Duration.ofSeconds(20));
        double lossRecorded = (System.nanoTime() - t0) / 1e9;
        System.out.printf(
                "failover: kill -9 of the coordinator's JVM -> new singleton answered after %.1f s"
                        + " (detection + downing + handover + journal recovery); worker loss recorded after %.1f s%n",
                handover, lossRecorded);
        // The new coordinator's node logs each stage with a timestamp: print them as the breakdown.
        List<String> survivors = new ArrayList<>(Files.readAllLines(logs.get(1)));
        survivors.addAll(Files.readAllLines(logs.get(2)));
        for (String line : survivors) {
            if (line.contains("UNREACHABLE")
                    || line.contains("SBR took decision")
                    || line.contains("is removing")
                    || line.contains("starting singleton")
                    || line.contains("coordinator recovered")
                    || line.contains("failed:")) {
                System.out.println("failover timeline (nodes 1, 2): " + line);
            }
        }

        assertEquals(jobId, first.jobId());
        assertEquals(before.spec(), after.spec());
        assertEquals(before.meshEpoch(), after.meshEpoch());
        assertEquals(before.meshRanks(), after.meshRanks());
        assertEquals(List.of(ckpt), after.checkpoints());
        assertEquals(2, after.workers().size());
        assertTrue(after.workers().stream().noneMatch(w -> w.info().node().equals(oldest)), after.workers()::toString);
        assertTrue(after.message().contains("worker " + oldest + "/cpu0 left the cluster"), after.message());
        assertEquals(next, nodesByAge().get(0), "the next-oldest node runs the coordinator");

        // The new coordinator drives the surviving nodes: a job on the 2 remaining ranks trains
        // under the next mesh epoch.
        StatusReply<Coordinator.JobAccepted> again =
                AskPattern.<Coordinator.Command, StatusReply<Coordinator.JobAccepted>>ask(
                                coordinator,
                                r -> new Coordinator.SubmitJob(
                                        spec().toBuilder()
                                                .setParallelism(Parallelism.newBuilder()
                                                        .setTp(1)
                                                        .setPp(1)
                                                        .setDp(2))
                                                .build(),
                                        r),
                                Duration.ofSeconds(10),
                                client.scheduler())
                        .toCompletableFuture()
                        .get(15, TimeUnit.SECONDS);
        assertTrue(again.isSuccess(), () -> "resubmit refused: " + again.getError());
        Coordinator.Status resumed = await(
                coordinator,
                s -> s.phase() == Phase.TRAINING && s.step() >= 3,
                "the new job to train on the surviving ranks",
                Duration.ofSeconds(30));
        assertEquals(before.meshEpoch() + 1, resumed.meshEpoch());
        assertEquals(2, resumed.meshRanks().size());
        assertTrue(resumed.meshRanks().stream().noneMatch(id -> id.startsWith(oldest + "/")), resumed::toString);

        // The control plane of the node that does not run the coordinator forwards to the moved
        // singleton: Get answers with the new job, and a Watch streams its steps across JVMs.
        String line = joined.get(3 - nextIndex).get();
        String marker = "control plane on ";
        assertTrue(line.contains(marker), line);
        String control = line.substring(line.indexOf(marker) + marker.length(), line.length() - 1);
        io.grpc.ManagedChannel channel = io.grpc.netty.shaded.io.grpc.netty.NettyChannelBuilder.forTarget(control)
                .usePlaintext()
                .build();
        try {
            var stub =
                    dev.shoal.proto.v1.JobServiceGrpc.newBlockingStub(channel).withDeadlineAfter(30, TimeUnit.SECONDS);
            dev.shoal.proto.v1.JobStatus viaGrpc = stub.get(dev.shoal.proto.v1.GetRequest.newBuilder()
                    .setJobId(again.getValue().jobId())
                    .build());
            assertEquals(Phase.TRAINING, viaGrpc.getPhase());
            assertEquals(before.meshEpoch() + 1, viaGrpc.getMeshEpoch());
            var events = stub.watch(dev.shoal.proto.v1.WatchRequest.newBuilder()
                    .setJobId(viaGrpc.getJobId())
                    .build());
            dev.shoal.proto.v1.JobEvent event;
            do {
                event = events.next();
            } while (!event.hasStep());
            assertTrue(event.getStep().getStep() > viaGrpc.getStep(), event::toString);
            assertEquals(2000, event.getStep().getTokens(), "1000 tokens on each of the 2 ranks");
        } finally {
            channel.shutdownNow();
        }
    }

    private static JobSpec spec() {
        return JobSpec.newBuilder()
                .setName("failover")
                .setModel("tiny")
                .setSeqLen(64)
                .setGlobalBatch(6)
                .setMicroBatch(1)
                .setSteps(1_000_000)
                .setParallelism(Parallelism.newBuilder().setTp(1).setPp(1).setDp(3))
                .build();
    }

    /** Starts `shoal node` in a new JVM; completes with its "joined" line. */
    private CompletableFuture<String> startNode(int index, int port, String seed, String journalUrl)
            throws IOException {
        Path log = dir.resolve("node-" + index + ".log");
        logs.add(log);
        String java = Path.of(System.getProperty("java.home"), "bin", "java").toString();
        ProcessBuilder pb = new ProcessBuilder(
                        java,
                        "-Xmx256m",
                        "-XX:+UseSerialGC",
                        "-XX:TieredStopAtLevel=1",
                        "-Dshoal.test.step-millis=50",
                        "-Dshoal.log.level=INFO",
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
                        "1",
                        "--grpc-port",
                        "0",
                        "--journal",
                        "h2",
                        "--journal-url",
                        journalUrl)
                .redirectError(log.toFile());
        Process p = pb.start();
        nodes.add(p);
        // If this JVM dies without running @AfterEach, the nodes must not outlive it.
        Runtime.getRuntime().addShutdownHook(new Thread(p::destroyForcibly));
        CompletableFuture<String> joined = new CompletableFuture<>();
        Thread reader = new Thread(
                () -> {
                    try (BufferedReader r =
                            new BufferedReader(new InputStreamReader(p.getInputStream(), StandardCharsets.UTF_8))) {
                        String line;
                        while ((line = r.readLine()) != null) {
                            if (line.startsWith("joined cluster")) joined.complete(line);
                        }
                        joined.completeExceptionally(new IllegalStateException(
                                "node " + index + " exited before joining; log:\n" + tail(log)));
                    } catch (IOException e) {
                        joined.completeExceptionally(e);
                    }
                },
                "node-" + index + "-stdout");
        reader.setDaemon(true);
        reader.start();
        return joined;
    }

    private ActorSystem<Void> startClient(int port, String seed) {
        Config overrides = ConfigFactory.parseMap(Map.of(
                "shoal.node.port", port,
                "shoal.node.roles", List.of("client"),
                "shoal.cluster.seed-nodes", List.of(seed)));
        Config config = ShoalConfig.derive(ShoalConfig.layered(overrides), Map.of());
        ActorSystem<Void> system = ActorSystem.create(Behaviors.empty(), "shoal", config);
        CompletableFuture<Void> up = new CompletableFuture<>();
        Cluster.get(Adapter.toClassic(system)).registerOnMemberUp(() -> up.complete(null));
        up.orTimeout(30, TimeUnit.SECONDS).join();
        return system;
    }

    /** Addresses of the Up members with role "node", oldest first (the singleton runs on the first). */
    private List<String> nodesByAge() {
        List<Member> members = new ArrayList<>();
        for (Member m : Cluster.get(Adapter.toClassic(client)).state().getMembers()) {
            if (m.hasRole("node") && m.status() == org.apache.pekko.cluster.MemberStatus.up()) members.add(m);
        }
        members.sort(Member.ageOrdering()::compare);
        assertTrue(!members.isEmpty(), "no Up member with role node");
        return members.stream().map(m -> m.address().toString()).toList();
    }

    private Coordinator.Status await(
            ActorRef<Coordinator.Command> c, Predicate<Coordinator.Status> p, String what, Duration timeout) {
        long deadline = System.nanoTime() + timeout.toNanos();
        Coordinator.Status last = null;
        Throwable lastError = null;
        while (System.nanoTime() < deadline) {
            try {
                last = AskPattern.<Coordinator.Command, Coordinator.Status>ask(
                                c, Coordinator.GetStatus::new, Duration.ofMillis(500), client.scheduler())
                        .toCompletableFuture()
                        .get(2, TimeUnit.SECONDS);
                if (p.test(last)) return last;
            } catch (Exception e) {
                lastError = e;
            }
            sleep(100);
        }
        StringBuilder logText = new StringBuilder();
        for (Path log : logs)
            logText.append("\n--- ").append(log.getFileName()).append('\n').append(tail(log));
        throw new AssertionError(
                "timed out waiting for " + what + "; last status " + last + ", last error " + lastError + logText);
    }

    private static String tail(Path log) {
        try {
            List<String> lines = Files.readAllLines(log);
            return String.join("\n", lines.subList(Math.max(0, lines.size() - 40), lines.size()));
        } catch (IOException e) {
            return "(no log: " + e.getMessage() + ")";
        }
    }

    private static int freePort() throws IOException {
        try (ServerSocket s = new ServerSocket(0)) {
            return s.getLocalPort();
        }
    }

    private static void sleep(long ms) {
        try {
            Thread.sleep(ms);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }
}
