// A one-node Shoal cluster in this JVM for control-plane tests: the real ShoalNode (cluster member,
// coordinator singleton, H2 journal in a temp folder, CPU ranks running the TestStepRunner) with its
// gRPC server on a free port, and a plaintext client channel to it.
package dev.shoal.actors.control;

import com.typesafe.config.Config;
import com.typesafe.config.ConfigFactory;
import dev.shoal.actors.cluster.ShoalConfig;
import dev.shoal.actors.coordinator.Coordinator;
import dev.shoal.actors.node.CpuRanks;
import dev.shoal.actors.node.FreePorts;
import dev.shoal.actors.node.ShoalNode;
import dev.shoal.actors.worker.TestStepRunner;
import dev.shoal.proto.v1.JobServiceGrpc;
import dev.shoal.proto.v1.JobSpec;
import dev.shoal.proto.v1.Parallelism;
import io.grpc.ManagedChannel;
import io.grpc.netty.shaded.io.grpc.netty.NettyChannelBuilder;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.apache.pekko.actor.ActorIdentity;
import org.apache.pekko.actor.Identify;
import org.apache.pekko.actor.typed.javadsl.Adapter;
import org.apache.pekko.actor.typed.javadsl.AskPattern;
import org.apache.pekko.pattern.Patterns;

public final class ControlTestNode implements AutoCloseable {

    public final ShoalNode node;
    public final String server; // 127.0.0.1:port of the gRPC server
    public final ManagedChannel channel;
    public final JobServiceGrpc.JobServiceBlockingStub stub;
    public final int ranks;
    public final TestStepRunner.Factory engine;

    private ControlTestNode(ShoalNode node, int ranks, TestStepRunner.Factory engine) {
        this.node = node;
        this.ranks = ranks;
        this.engine = engine;
        this.server = node.controlAddress();
        this.channel = NettyChannelBuilder.forTarget(server).usePlaintext().build();
        this.stub = JobServiceGrpc.newBlockingStub(channel);
    }

    /** Starts the node, waits until it is Up and its {@code ranks} workers are registered. */
    public static ControlTestNode start(Path journalDir, int ranks, long stepMillis) {
        return start(journalDir, ranks, stepMillis, "");
    }

    /** As {@link #start(Path, int, long)}, with extra HOCON on top (e.g. control-plane security). */
    public static ControlTestNode start(Path journalDir, int ranks, long stepMillis, String hocon) {
        Config overrides = ConfigFactory.parseString(hocon)
                .withFallback(
                        ConfigFactory.parseString(
                                """
                        shoal.node.host = "127.0.0.1"
                        shoal.grpc.port = 0
                        shoal.metrics.port = 0
                        shoal.grpc.ask-timeout = 5s
                        shoal.grpc.watch-resubscribe = 500ms
                        pekko.loglevel = WARNING
                        pekko.coordinated-shutdown.exit-jvm = off
                        pekko.coordinated-shutdown.run-by-jvm-shutdown-hook = off
                        """))
                .withFallback(ShoalConfig.of("shoal.node.port", FreePorts.pick()))
                .withFallback(ShoalConfig.of("shoal.node.cpu-ranks", ranks))
                .withFallback(ShoalConfig.of("shoal.journal.h2.dir", journalDir.toString()));
        Config config = ShoalConfig.load(overrides);
        TestStepRunner.Factory engine = new TestStepRunner.Factory(stepMillis, -1, 2, true);
        ShoalNode node = ShoalNode.start(config, engine, List.of(new CpuRanks()));
        try {
            node.joined().toCompletableFuture().get(60, TimeUnit.SECONDS);
            long deadline = System.nanoTime() + Duration.ofSeconds(60).toNanos();
            while (status(node).workers().size() < ranks) {
                if (System.nanoTime() > deadline) throw new AssertionError(ranks + " workers did not register");
                Thread.sleep(50);
            }
        } catch (Exception e) {
            node.close();
            throw new AssertionError("test node did not start: " + e, e);
        }
        return new ControlTestNode(node, ranks, engine);
    }

    static Coordinator.Status status(ShoalNode node) throws Exception {
        return AskPattern.<Coordinator.Command, Coordinator.Status>ask(
                        node.coordinator(),
                        Coordinator.GetStatus::new,
                        Duration.ofSeconds(10),
                        node.system().scheduler())
                .toCompletableFuture()
                .get(15, TimeUnit.SECONDS);
    }

    public Coordinator.Status status() throws Exception {
        return status(node);
    }

    /** A job over all ranks (dp = ranks) of {@code steps} steps. */
    public JobSpec spec(long steps) {
        return JobSpec.newBuilder()
                .setName("control-test")
                .setModel("tiny")
                .setSeqLen(64)
                .setGlobalBatch(4 * ranks)
                .setMicroBatch(1)
                .setSteps(steps)
                .setParallelism(Parallelism.newBuilder().setTp(1).setPp(1).setDp(ranks))
                .build();
    }

    /** Live Watch session actors on the node (the server names them control-watch-1, -2, ...). */
    public int watchSessions() throws Exception {
        var classic = Adapter.toClassic(node.system());
        int live = 0;
        for (int i = 1; i <= 50; i++) {
            Object answer = Patterns.ask(
                            classic.actorSelection("/system/control-watch-" + i),
                            new Identify(i),
                            Duration.ofSeconds(5))
                    .toCompletableFuture()
                    .get(10, TimeUnit.SECONDS);
            if (((ActorIdentity) answer).getActorRef().isPresent()) live++;
        }
        return live;
    }

    /** Waits until {@code n} Watch sessions are live (a watch client has subscribed). */
    public void awaitWatchSessions(int n) throws Exception {
        long deadline = System.nanoTime() + Duration.ofSeconds(30).toNanos();
        while (watchSessions() != n) {
            if (System.nanoTime() > deadline) throw new AssertionError("expected " + n + " watch sessions");
            Thread.sleep(20);
        }
    }

    @Override
    public void close() {
        channel.shutdownNow();
        node.close();
    }
}
