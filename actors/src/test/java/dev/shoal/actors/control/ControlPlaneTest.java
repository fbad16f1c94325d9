// The gRPC JobService over a real socket, against a real one-node cluster (coordinator singleton, H2
// journal, two CPU ranks running the test StepRunner): submit, get, watch until completion, stop,
// the status codes of every refusal, and the clean-up of a Watch whose client went away.
package dev.shoal.actors.control;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.shoal.proto.v1.DataSource;
import dev.shoal.proto.v1.GetRequest;
import dev.shoal.proto.v1.JobEvent;
import dev.shoal.proto.v1.JobSpec;
import dev.shoal.proto.v1.JobStatus;
import dev.shoal.proto.v1.ListCheckpointsRequest;
import dev.shoal.proto.v1.Parallelism;
import dev.shoal.proto.v1.Phase;
import dev.shoal.proto.v1.PhaseChange;
import dev.shoal.proto.v1.ScaleRequest;
import dev.shoal.proto.v1.StepMetrics;
import dev.shoal.proto.v1.StopRequest;
import dev.shoal.proto.v1.SubmitRequest;
import dev.shoal.proto.v1.WatchRequest;
import io.grpc.Context;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.MethodOrderer;
import org.junit.jupiter.api.Order;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestMethodOrder;
import org.junit.jupiter.api.io.TempDir;

@TestMethodOrder(MethodOrderer.OrderAnnotation.class)
class ControlPlaneTest {

    @TempDir
    static Path dir;

    static ControlTestNode cluster;

    @BeforeAll
    static void startNode() {
        cluster = ControlTestNode.start(dir, 2, 10);
    }

    @AfterAll
    static void stopNode() {
        if (cluster != null) cluster.close();
    }

    /** Leaves no running job behind for the next test. */
    @AfterEach
    void stopRunningJob() throws Exception {
        if (JobServiceImpl.active(cluster.status().phase())) {
            cluster.stub.stop(StopRequest.getDefaultInstance());
        }
    }

    private static StatusRuntimeException refusal(Runnable call) {
        return assertThrows(StatusRuntimeException.class, call::run);
    }

    private static String submit(JobSpec spec) {
        return cluster.stub
                .submit(SubmitRequest.newBuilder().setSpec(spec).build())
                .getJobId();
    }

    /** Every event of a Watch until the server ends the stream. */
    private static List<JobEvent> watchAll(String jobId) {
        List<JobEvent> events = new ArrayList<>();
        cluster.stub
                .withDeadlineAfter(60, TimeUnit.SECONDS)
                .watch(WatchRequest.newBuilder().setJobId(jobId).build())
                .forEachRemaining(events::add);
        return events;
    }

    @Test
    @Order(1)
    void beforeAnySubmitEveryJobCallIsNotFound() {
        StatusRuntimeException e = refusal(() -> cluster.stub.get(GetRequest.getDefaultInstance()));
        assertEquals(Status.Code.NOT_FOUND, e.getStatus().getCode());
        assertEquals("no job has been submitted to this cluster", e.getStatus().getDescription());
    }

    @Test
    @Order(2)
    void aSubmittedJobIsWatchedUntilItCompletes() throws Exception {
        cluster.engine.hold(true); // steps wait until the watch has subscribed, so that it sees them all
        String job = submit(cluster.spec(20));
        assertTrue(job.startsWith("job-"), job);
        CompletableFuture<List<JobEvent>> watch = CompletableFuture.supplyAsync(() -> watchAll(job));
        cluster.awaitWatchSessions(1);
        cluster.engine.hold(false);
        List<JobEvent> events = watch.get(60, TimeUnit.SECONDS);

        JobEvent last = events.get(events.size() - 1);
        assertTrue(last.hasPhase(), last::toString);
        PhaseChange end = last.getPhase();
        assertEquals(Phase.TRAINING, end.getFrom());
        assertEquals(Phase.COMPLETED, end.getTo());
        assertEquals("trained all 20 steps", end.getCause());
        assertTrue(end.getSeconds() > 0, end::toString);

        List<StepMetrics> steps =
                events.stream().filter(JobEvent::hasStep).map(JobEvent::getStep).toList();
        assertEquals(20, steps.size(), "one StepMetrics per step");
        assertEquals(1, steps.get(0).getStep());
        for (int i = 0; i < steps.size(); i++) {
            StepMetrics m = steps.get(i);
            if (i > 0) assertEquals(steps.get(i - 1).getStep() + 1, m.getStep(), "consecutive steps");
            assertEquals(1.0 / m.getStep(), m.getLoss(), 1e-12);
            assertEquals(512, m.getTokens(), "global batch × seq_len");
            assertEquals(m.getStep() % 2 == 0 ? 2 : 0, m.getValidationCount(), m::toString);
        }
        events.forEach(e -> assertEquals(job, e.getJobId()));

        JobStatus s = cluster.stub.get(GetRequest.newBuilder().setJobId(job).build());
        assertEquals(job, s.getJobId());
        assertEquals(Phase.COMPLETED, s.getPhase());
        assertEquals(20, s.getStep());
        assertEquals(1, s.getMeshEpoch());
        assertEquals(2, s.getMeshRanksCount());
        assertEquals(2, s.getWorkersCount());
        assertEquals("control-test", s.getSpec().getName());
        assertEquals(s, cluster.stub.get(GetRequest.getDefaultInstance()), "an empty id is the current job");
        assertTrue(!s.hasCluster(), "Get without include_cluster is cheap: no cluster table");
        s = cluster.stub.get(
                GetRequest.newBuilder().setJobId(job).setIncludeCluster(true).build());
        assertEquals(1, s.getCluster().getNodesCount(), "Get with include_cluster carries the cluster table");
        assertEquals(2, s.getCluster().getRanksCount());

        // The node's /metrics follows the same events (its feed subscribes like a Watch does).
        String scrape = "";
        for (int i = 0; i < 100 && !scrape.contains("shoal_step{node=\""); i++) {
            scrape = dev.shoal.actors.ops.NodeOps.of(cluster.node.system())
                    .orElseThrow()
                    .metrics()
                    .scrape();
            if (!scrape.lines().anyMatch(l -> l.startsWith("shoal_step{") && l.endsWith(" 20.0"))) {
                scrape = "";
                Thread.sleep(100);
            }
        }
        assertTrue(scrape.lines().anyMatch(l -> l.startsWith("shoal_step{") && l.endsWith(" 20.0")), scrape);
        assertTrue(
                scrape.lines()
                        .anyMatch(l -> l.startsWith("shoal_phase{")
                                && l.contains("phase=\"completed\"")
                                && l.endsWith(" 1.0")),
                "completed phase in /metrics");
        assertTrue(scrape.contains("shoal_worker_step_duration_seconds_count{"), "worker step times recorded");

        // Nothing more will happen to a finished job: its Watch ends at once, empty.
        assertEquals(List.of(), watchAll(job));
        assertEquals(
                0,
                cluster.stub
                        .listCheckpoints(ListCheckpointsRequest.newBuilder()
                                .setJobId(job)
                                .build())
                        .getCheckpointsCount());
    }

    @Test
    @Order(3)
    void stopEndsARunningJobAndItsWatch() throws Exception {
        String job = submit(cluster.spec(1_000_000));
        Iterator<JobEvent> watch = cluster.stub
                .withDeadlineAfter(60, TimeUnit.SECONDS)
                .watch(WatchRequest.newBuilder().setJobId(job).build());
        JobEvent first;
        do {
            first = watch.next();
        } while (!first.hasStep());

        StatusRuntimeException busy = refusal(() -> submit(cluster.spec(5)));
        assertEquals(Status.Code.FAILED_PRECONDITION, busy.getStatus().getCode());
        assertTrue(busy.getStatus().getDescription().contains("stop it before submitting another"), busy::toString);

        assertEquals(
                Phase.COMPLETED,
                cluster.stub
                        .stop(StopRequest.newBuilder().setJobId(job).build())
                        .getPhase());
        List<JobEvent> rest = new ArrayList<>();
        watch.forEachRemaining(rest::add);
        PhaseChange end = rest.get(rest.size() - 1).getPhase();
        assertEquals(Phase.COMPLETED, end.getTo());
        assertTrue(end.getCause().startsWith("stopped by request after step "), end::toString);

        JobStatus s = cluster.stub.get(GetRequest.newBuilder().setJobId(job).build());
        assertEquals(Phase.COMPLETED, s.getPhase());
        StatusRuntimeException again = refusal(() -> cluster.stub.stop(StopRequest.getDefaultInstance()));
        assertEquals(Status.Code.FAILED_PRECONDITION, again.getStatus().getCode());
        assertTrue(again.getStatus().getDescription().contains("is not running (COMPLETED"), again::toString);
    }

    @Test
    @Order(4)
    void refusalsCarryTheirStatusCodeAndNameTheField() {
        JobSpec badWeights = cluster.spec(5).toBuilder()
                .addSources(DataSource.newBuilder()
                        .setName("en")
                        .setLanguage("en")
                        .setPath("/data")
                        .setWeight(1.2))
                .addSources(DataSource.newBuilder()
                        .setName("zh")
                        .setLanguage("zh")
                        .setPath("/data")
                        .setWeight(-0.2))
                .build();
        StatusRuntimeException e = refusal(() -> submit(badWeights));
        assertEquals(Status.Code.INVALID_ARGUMENT, e.getStatus().getCode());
        String msg = e.getStatus().getDescription();
        assertTrue(msg.startsWith("invalid job spec: "), msg);
        assertTrue(msg.contains("sources[1].weight: -0.2 must be in [0, 1]"), msg);
        assertTrue(msg.contains("sources[0].weight: 1.2 must be in [0, 1]"), msg);

        // Fits on its own, but not on the registered ranks: the coordinator refuses, still INVALID_ARGUMENT.
        JobSpec tooWide = cluster.spec(5).toBuilder()
                .setGlobalBatch(12)
                .setParallelism(Parallelism.newBuilder().setTp(1).setPp(1).setDp(3))
                .build();
        e = refusal(() -> submit(tooWide));
        assertEquals(Status.Code.INVALID_ARGUMENT, e.getStatus().getCode());
        assertTrue(
                e.getStatus().getDescription().contains("≠ world 2 (the registered ranks); dp 2 would fit"),
                e::toString);

        e = refusal(() ->
                cluster.stub.get(GetRequest.newBuilder().setJobId("job-nope").build()));
        assertEquals(Status.Code.NOT_FOUND, e.getStatus().getCode());
        assertTrue(e.getStatus().getDescription().startsWith("unknown job id 'job-nope'"), e::toString);
        e = refusal(() ->
                cluster.stub.stop(StopRequest.newBuilder().setJobId("job-nope").build()));
        assertEquals(Status.Code.NOT_FOUND, e.getStatus().getCode());

        e = refusal(() -> cluster.stub.scale(
                ScaleRequest.newBuilder().setJobId("job-nope").setDp(4).build()));
        assertEquals(Status.Code.NOT_FOUND, e.getStatus().getCode());
        assertTrue(e.getStatus().getDescription().startsWith("unknown job id 'job-nope'"), e::toString);
    }

    @Test
    @Order(5)
    void aWatchWhoseClientLeftIsCleanedUp() throws Exception {
        String job = submit(cluster.spec(1_000_000));
        Context.CancellableContext ctx = Context.current().withCancellation();
        CompletableFuture<JobEvent> firstStep = new CompletableFuture<>();
        ctx.run(() -> {
            Iterator<JobEvent> it =
                    cluster.stub.watch(WatchRequest.newBuilder().setJobId(job).build());
            while (it.hasNext()) {
                JobEvent e = it.next();
                if (e.hasStep()) {
                    firstStep.complete(e);
                    return;
                }
            }
        });
        assertTrue(firstStep.get(30, TimeUnit.SECONDS).hasStep());
        assertEquals(1, cluster.watchSessions(), "one session serves the open stream");
        ctx.cancel(null); // the client goes away
        long deadline = System.nanoTime() + Duration.ofSeconds(20).toNanos();
        while (cluster.watchSessions() > 0) {
            assertTrue(System.nanoTime() < deadline, "the watch session outlived its client");
            Thread.sleep(50);
        }
        assertEquals(Phase.TRAINING, cluster.status().phase(), "the job goes on");
    }

    @Test
    @Order(6)
    void aCoordinatorThatDoesNotAnswerIsUnavailable() throws Exception {
        // A second server on the same node whose "coordinator" never answers.
        var system = cluster.node.system();
        org.apache.pekko.actor.typed.ActorRef<dev.shoal.actors.coordinator.Coordinator.Command> silent =
                system.systemActorOf(
                        org.apache.pekko.actor.typed.javadsl.Behaviors.ignore(),
                        "silent-coordinator",
                        org.apache.pekko.actor.typed.Props.empty());
        ControlSettings settings = new ControlSettings("127.0.0.1", 0, Duration.ofSeconds(1), Duration.ofSeconds(1));
        try (ControlServer server = ControlServer.start(system, silent, settings)) {
            var channel = io.grpc.netty.shaded.io.grpc.netty.NettyChannelBuilder.forTarget(server.address())
                    .usePlaintext()
                    .build();
            try {
                var stub = dev.shoal.proto.v1.JobServiceGrpc.newBlockingStub(channel);
                StatusRuntimeException e = refusal(() -> stub.get(GetRequest.getDefaultInstance()));
                assertEquals(Status.Code.UNAVAILABLE, e.getStatus().getCode());
                assertTrue(
                        e.getStatus().getDescription().startsWith("the coordinator did not answer within 1 s"),
                        e::toString);
            } finally {
                channel.shutdownNow();
            }
        }
    }

    @Test
    @Order(7)
    void aBusyPortIsNamedWithItsKey() {
        ControlSettings busy = new ControlSettings(
                "127.0.0.1",
                Integer.parseInt(cluster.server.substring(cluster.server.lastIndexOf(':') + 1)),
                Duration.ofSeconds(1),
                Duration.ofSeconds(1));
        IllegalStateException e = assertThrows(
                IllegalStateException.class,
                () -> ControlServer.start(cluster.node.system(), cluster.node.coordinator(), busy));
        assertTrue(
                e.getMessage().startsWith("control plane cannot listen on " + cluster.server + " (shoal.grpc.port): "),
                e::getMessage);
    }
}
