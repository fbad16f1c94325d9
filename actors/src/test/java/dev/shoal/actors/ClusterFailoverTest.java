// Three `shoal node` JVMs on 127.0.0.1 form a cluster around a shared journal (LocalCluster: an H2
// TCP server in this JVM, so the test needs nothing installed). This JVM joins as a client (role "client"),
// submits a job, commits a checkpoint, then kill -9s the JVM that runs the coordinator singleton
// and checks that the singleton restarts on the next-oldest node with the state from the journal,
// and that the job recovers on the two surviving ranks (dp 3 → 2, RECOVERING → TRAINING from the
// committed checkpoint). Prints how long detection + handover + recovery took. Tagged slow: it runs in CI, not in quick
// loops.
package dev.shoal.actors;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.shoal.actors.coordinator.Coordinator;
import dev.shoal.actors.node.LocalCluster;
import dev.shoal.proto.v1.CheckpointInfo;
import dev.shoal.proto.v1.JobSpec;
import dev.shoal.proto.v1.Parallelism;
import dev.shoal.proto.v1.Phase;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.function.Predicate;
import org.apache.pekko.Done;
import org.apache.pekko.actor.typed.ActorRef;
import org.apache.pekko.actor.typed.ActorSystem;
import org.apache.pekko.actor.typed.javadsl.Adapter;
import org.apache.pekko.actor.typed.javadsl.AskPattern;
import org.apache.pekko.cluster.Cluster;
import org.apache.pekko.cluster.Member;
import org.apache.pekko.pattern.StatusReply;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

@Tag("slow")
class ClusterFailoverTest {

    @TempDir
    Path dir;

    private LocalCluster cluster;
    private List<Path> logs;
    private ActorSystem<Void> client;

    @AfterEach
    void cleanUp() {
        long t0 = System.nanoTime();
        if (cluster != null) cluster.close();
        System.out.printf("failover test: clean-up took %.1f s%n", (System.nanoTime() - t0) / 1e9);
    }

    @Test
    void theCoordinatorMovesToTheNextOldestNodeAndRecoversFromTheJournal() throws Exception {
        long started = System.nanoTime();
        // Node 0 is the only seed: it forms the cluster and the others can only join it, so it is
        // the oldest and runs the coordinator even though all three start at once.
        cluster = LocalCluster.start(
                dir,
                new int[] {1, 1, 1},
                List.of(
                        "-Dshoal.test.step-millis=50",
                        "-Dshoal.coordinator.recovery-grace=1s",
                        "-Dshoal.node.engine=dev.shoal.actors.worker.TestStepRunner$Factory"),
                Duration.ofSeconds(90));
        logs = cluster.logs();
        client = cluster.client();
        System.out.printf("failover test: 3 nodes up after %.1f s%n", (System.nanoTime() - started) / 1e9);
        ActorRef<Coordinator.Command> coordinator = cluster.coordinator();

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
        assertEquals(cluster.address(0), oldest, "the seed is the oldest node");
        String next = byAge.get(1);

        // kill -9 the coordinator's JVM and time until the new singleton answers from the journal.
        long t0 = System.nanoTime();
        System.out.println("failover timeline: kill -9 of node 0 at " + java.time.LocalTime.now());
        cluster.node(0).destroyForcibly();
        Coordinator.Status first = await(coordinator, s -> true, "any answer after the kill", Duration.ofSeconds(45));
        double handover = (System.nanoTime() - t0) / 1e9;
        // The lost rank sends the job RECOVERING; it re-forms on the 2 surviving ranks (dp 3 → 2,
        // global batch 6 kept) from the committed checkpoint of step 2.
        Coordinator.Status after = await(
                coordinator,
                s -> s.phase() == Phase.TRAINING && s.meshEpoch() >= before.meshEpoch() + 2 && s.step() >= 3,
                "the job to recover on the surviving ranks",
                Duration.ofSeconds(30));
        double lossRecorded = (System.nanoTime() - t0) / 1e9;
        System.out.printf(
                "failover: kill -9 of the coordinator's JVM -> new singleton answered after %.1f s"
                        + " (detection + downing + handover + journal recovery); job training again on the"
                        + " survivors after %.1f s%n",
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
        assertEquals(jobId, after.jobId());
        assertEquals(before.spec(), after.spec());
        assertEquals(before.meshEpoch() + 2, after.meshEpoch(), "MeshLost, then the new mesh");
        assertEquals(2, after.meshRanks().size());
        assertTrue(after.meshRanks().stream().noneMatch(id -> id.startsWith(oldest + "/")), after::toString);
        assertEquals(List.of(ckpt), after.checkpoints());
        assertEquals(2, after.workers().size());
        assertTrue(after.workers().stream().noneMatch(w -> w.info().node().equals(oldest)), after.workers()::toString);
        assertTrue(after.message().contains("training from step 3"), after.message());
        assertEquals(next, nodesByAge().get(0), "the next-oldest node runs the coordinator");

        // The control plane of the node that does not run the coordinator forwards to the moved
        // singleton: Get answers with the recovered job, and a Watch streams its steps across JVMs.
        int other = cluster.address(1).equals(next) ? 2 : 1;
        String control = "127.0.0.1:" + cluster.grpcPort(other);
        io.grpc.ManagedChannel channel = io.grpc.netty.shaded.io.grpc.netty.NettyChannelBuilder.forTarget(control)
                .usePlaintext()
                .build();
        try {
            var stub =
                    dev.shoal.proto.v1.JobServiceGrpc.newBlockingStub(channel).withDeadlineAfter(30, TimeUnit.SECONDS);
            dev.shoal.proto.v1.JobStatus viaGrpc = stub.get(
                    dev.shoal.proto.v1.GetRequest.newBuilder().setJobId(jobId).build());
            assertEquals(Phase.TRAINING, viaGrpc.getPhase());
            assertEquals(after.meshEpoch(), viaGrpc.getMeshEpoch());
            var events = stub.watch(
                    dev.shoal.proto.v1.WatchRequest.newBuilder().setJobId(jobId).build());
            dev.shoal.proto.v1.JobEvent event;
            do {
                event = events.next();
            } while (!event.hasStep());
            assertTrue(event.getStep().getStep() > viaGrpc.getStep(), event::toString);
            assertEquals(6 * 64, event.getStep().getTokens(), "global batch × seq_len");
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

    private static void sleep(long ms) {
        try {
            Thread.sleep(ms);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }
}
