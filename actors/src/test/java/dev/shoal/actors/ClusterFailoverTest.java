// Three `shoal node` JVMs on 127.0.0.1 (one CPU rank each) form a cluster around a shared journal
// (LocalCluster: an H2 TCP server in this JVM, so the test needs nothing installed). This JVM joins as a
// client (role "client") and submits a real training job (the engine's StepRunner, tiny model, dp 3,
// sharded checkpoints every 4 steps, data audit on). Once a checkpoint is committed it kill -9s the JVM
// that runs the coordinator singleton (and rank 0, and the data loaders) and checks that the singleton
// restarts on the next-oldest node with the state from the journal, that the job recovers on the two
// surviving ranks (dp 3 → 2, global batch kept, RECOVERING → TRAINING from the last journaled
// checkpoint), that the other node's control plane serves it, and that the job completes with every
// sample of every committed step consumed exactly once (DataAudit). Prints how long detection +
// handover + recovery took. Tagged slow: it runs in CI, not in quick loops.
package dev.shoal.actors;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.shoal.actors.bench.TinyClusterJob;
import dev.shoal.actors.coordinator.Coordinator;
import dev.shoal.actors.engine.JobSpecs;
import dev.shoal.actors.node.LocalCluster;
import dev.shoal.proto.v1.JobSpec;
import dev.shoal.proto.v1.Parallelism;
import dev.shoal.proto.v1.Phase;
import dev.shoal.runtime.data.DataAudit;
import dev.shoal.runtime.data.MixtureSampler;
import dev.shoal.runtime.train.JobConfig;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.function.Predicate;
import org.apache.pekko.actor.typed.ActorRef;
import org.apache.pekko.actor.typed.ActorSystem;
import org.apache.pekko.actor.typed.javadsl.Adapter;
import org.apache.pekko.actor.typed.javadsl.AskPattern;
import org.apache.pekko.cluster.Cluster;
import org.apache.pekko.cluster.Member;
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

    static final int STEPS = 40;

    @Test
    void theCoordinatorMovesToTheNextOldestNodeAndTheJobFinishesWithEverySampleOnce() throws Exception {
        long started = System.nanoTime();
        Path data = TestData.prepareBilingual(dir, 300);
        Path ckptDir = dir.resolve("ckpt");
        JobSpec spec = spec(data, ckptDir);
        // Node 0 is the only seed: it forms the cluster and the others can only join it, so it is
        // the oldest and runs the coordinator even though all three start at once.
        cluster = LocalCluster.start(
                dir.resolve("cluster"),
                new int[] {1, 1, 1},
                List.of(
                        "-Dshoal.node.engine=dev.shoal.actors.engine.EngineStepRunner$Factory",
                        "-Dshoal.coordinator.recovery-grace=1s",
                        "-Dshoal.coordinator.step-timeout=30s",
                        "-Dshoal.audit.enabled=on"),
                Duration.ofSeconds(90));
        logs = cluster.logs();
        client = cluster.client();
        System.out.printf("failover test: 3 nodes up after %.1f s%n", (System.nanoTime() - started) / 1e9);
        ActorRef<Coordinator.Command> coordinator = cluster.coordinator();

        await(coordinator, s -> s.workers().size() == 3, "3 registered workers", Duration.ofSeconds(30));
        String jobId = cluster.submit(spec);
        Coordinator.Status before = await(
                coordinator,
                s -> (s.phase() == Phase.TRAINING && !s.checkpoints().isEmpty() && s.step() >= 6)
                        || !ClusterRecoveryTest.active(s),
                "training past a committed checkpoint",
                Duration.ofSeconds(60));
        assertEquals(Phase.TRAINING, before.phase(), before::toString);
        long committedBefore =
                before.checkpoints().get(before.checkpoints().size() - 1).getStep();

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
        // global batch 6 kept) from the last journaled checkpoint.
        Coordinator.Status after = await(
                coordinator,
                s -> (s.phase() == Phase.TRAINING && s.meshEpoch() >= before.meshEpoch() + 2)
                        || !ClusterRecoveryTest.active(s),
                "the job to recover on the surviving ranks",
                Duration.ofSeconds(60));
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

        assertEquals(Phase.TRAINING, after.phase(), () -> after.message() + cluster.logTails());
        assertEquals(jobId, first.jobId());
        assertEquals(jobId, after.jobId());
        assertEquals(before.spec(), after.spec());
        assertEquals(before.meshEpoch() + 2, after.meshEpoch(), "MeshLost, then the new mesh");
        assertEquals(2, after.meshRanks().size());
        assertTrue(after.meshRanks().stream().noneMatch(id -> id.startsWith(oldest + "/")), after::toString);
        assertEquals(
                before.checkpoints(),
                after.checkpoints().subList(0, before.checkpoints().size()),
                "the journaled checkpoints survive the handover");
        assertEquals(2, after.workers().size());
        assertTrue(after.workers().stream().noneMatch(w -> w.info().node().equals(oldest)), after.workers()::toString);
        java.util.regex.Matcher from =
                java.util.regex.Pattern.compile("training from step (\\d+)").matcher(after.message());
        assertTrue(from.find(), after.message());
        long resumed = Long.parseLong(from.group(1)) - 1;
        assertTrue(
                resumed >= committedBefore && after.checkpoints().stream().anyMatch(c -> c.getStep() == resumed),
                "resumed after a journaled checkpoint: " + after.message() + " " + after.checkpoints());
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
            assertEquals(after.meshEpoch(), viaGrpc.getMeshEpoch());
            if (viaGrpc.getPhase() == Phase.TRAINING && viaGrpc.getStep() < STEPS) {
                var events = stub.watch(dev.shoal.proto.v1.WatchRequest.newBuilder()
                        .setJobId(jobId)
                        .build());
                // The next step's metrics, or, when the job finished meanwhile, its COMPLETED phase change.
                dev.shoal.proto.v1.JobEvent event = null;
                while (events.hasNext()) {
                    event = events.next();
                    if (event.hasStep()) break;
                    if (event.hasPhase() && event.getPhase().getTo() == Phase.COMPLETED) break;
                }
                if (event != null && event.hasStep()) {
                    var step = event.getStep();
                    assertTrue(step.getStep() > viaGrpc.getStep(), step::toString);
                    assertEquals(6 * 32, step.getTokens(), "global batch × seq_len");
                } else { // the stream ended with the job: it must have completed meanwhile
                    dev.shoal.proto.v1.JobStatus now = stub.get(dev.shoal.proto.v1.GetRequest.newBuilder()
                            .setJobId(jobId)
                            .build());
                    assertEquals(Phase.COMPLETED, now.getPhase(), now::toString);
                }
            }
        } finally {
            channel.shutdownNow();
        }

        // The job completes on the survivors, and the data audit holds over the handover: every sample
        // of every committed step consumed exactly once, in the planned order, whatever mesh trained it.
        Coordinator.Status end =
                await(coordinator, s -> !ClusterRecoveryTest.active(s), "the job to end", Duration.ofSeconds(90));
        assertEquals(Phase.COMPLETED, end.phase(), () -> end.message() + cluster.logTails());
        assertEquals(STEPS, end.step());
        assertEquals(STEPS, end.checkpoints().get(end.checkpoints().size() - 1).getStep());
        JobConfig job = JobSpecs.toJobConfig(spec, 1);
        DataAudit.Report audit = DataAudit.check(
                DataAudit.read(ckptDir.resolve("audit")),
                MixtureSampler.fromPrepared(job.data().dir(), job.mixtureSpec(), false),
                STEPS);
        assertTrue(audit.stepsByEpoch().containsKey(before.meshEpoch()), audit::toString);
        assertTrue(audit.stepsByEpoch().containsKey(after.meshEpoch()), audit::toString);
        System.out.printf(
                "failover: resumed from checkpoint %d after the kill at step %d; %s%n", resumed, before.step(), audit);
    }

    /** The tiny engine job at tp 1 × dp 3 (global batch 6: dp 2 keeps it with grad accumulation 3). */
    private static JobSpec spec(Path data, Path ckpt) {
        return TinyClusterJob.spec("failover", data, ckpt, STEPS, 0, 4).toBuilder()
                .setGlobalBatch(6)
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
