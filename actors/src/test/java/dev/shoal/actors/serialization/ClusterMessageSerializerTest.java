// Every ClusterMessage type round-trips through Pekko's SerializationExtension, with the serializer
// that the configured binding picks (not one chosen by hand); Java serialization is refused.
package dev.shoal.actors.serialization;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.shoal.actors.TestConfigs;
import dev.shoal.actors.coordinator.Coordinator;
import dev.shoal.actors.node.NodeAgent;
import dev.shoal.actors.worker.GpuWorker;
import dev.shoal.actors.worker.MeshAssignment;
import dev.shoal.actors.worker.StepRunner;
import dev.shoal.actors.worker.WorkerInfo;
import dev.shoal.comm.ParallelDims;
import dev.shoal.proto.v1.CheckpointInfo;
import dev.shoal.proto.v1.JobSpec;
import dev.shoal.proto.v1.Parallelism;
import dev.shoal.proto.v1.Phase;
import dev.shoal.proto.v1.SourceLoss;
import dev.shoal.proto.v1.StepMetrics;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.stream.Collectors;
import java.util.stream.Stream;
import org.apache.pekko.actor.testkit.typed.javadsl.ActorTestKit;
import org.apache.pekko.actor.typed.javadsl.Adapter;
import org.apache.pekko.serialization.Serialization;
import org.apache.pekko.serialization.SerializationExtension;
import org.apache.pekko.serialization.Serializer;
import org.apache.pekko.serialization.Serializers;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class ClusterMessageSerializerTest {

    static ActorTestKit kit;

    @BeforeAll
    static void start(@TempDir Path dir) {
        kit = ActorTestKit.create("shoal", TestConfigs.localH2(dir, "serializer-test"));
    }

    @AfterAll
    static void stop() {
        kit.shutdownTestKit();
    }

    static JobSpec spec() {
        return JobSpec.newBuilder()
                .setName("cpt-zh")
                .setModel("tiny")
                .setSeqLen(128)
                .setGlobalBatch(8)
                .setMicroBatch(2)
                .setSteps(100)
                .setSeed(7)
                .setParallelism(Parallelism.newBuilder().setTp(1).setPp(1).setDp(2))
                .build();
    }

    static CheckpointInfo checkpoint(long step) {
        return CheckpointInfo.newBuilder()
                .setStep(step)
                .setPath("/ckpt/step-" + step)
                .setBytes(1 << 20)
                .setMeshEpoch(1)
                .build();
    }

    private static <T> org.apache.pekko.actor.typed.ActorRef<T> probe() {
        return kit.<T>createTestProbe().ref();
    }

    private List<ClusterMessage> samples() {
        WorkerInfo w0 = new WorkerInfo("pekko://shoal@10.0.0.1:2552", WorkerInfo.CPU, 0);
        WorkerInfo w1 = new WorkerInfo("pekko://shoal@10.0.0.2:2552", WorkerInfo.CUDA, 3, "10.0.0.2:40123")
                .withPeak(989.4e12, "h100 datasheet (dense bf16)");
        Coordinator.RegisteredWorker r0 = new Coordinator.RegisteredWorker(w0, "pekko://shoal/user/worker-cpu0#1");
        Coordinator.RegisteredWorker r1 = new Coordinator.RegisteredWorker(w1, "pekko://shoal/user/worker-cuda3#2");
        Map<String, Coordinator.RegisteredWorker> workers = new LinkedHashMap<>();
        workers.put(w0.id(), r0);
        workers.put(w1.id(), r1);
        MeshAssignment mesh = new MeshAssignment(
                4,
                1,
                ParallelDims.of(1, 1, 2),
                51,
                "/ckpt/step-50",
                List.of("10.0.0.1:40001", "10.0.0.2:40123"),
                spec(),
                "job-1");
        GpuWorker.StepTimings timings = new GpuWorker.StepTimings(0.001, 0.25);
        return List.of(
                new Coordinator.SubmitJob(spec(), probe()),
                new Coordinator.GetStatus(probe(), 512, 256),
                new Coordinator.CommitCheckpoint(checkpoint(50), probe()),
                new Coordinator.StopJob(probe()),
                new Coordinator.JobAccepted("job-1"),
                new Coordinator.ScaleJob(3, "requested through the control plane", probe()),
                new Coordinator.ScaleAccepted(57),
                new Coordinator.Status(
                        "job-1",
                        spec(),
                        Phase.TRAINING,
                        4,
                        List.of(w0.id(), w1.id()),
                        57,
                        List.of(r0, r1),
                        List.of(checkpoint(50)),
                        "training",
                        List.of(StepMetrics.newBuilder()
                                .setStep(57)
                                .setLoss(2.5)
                                .setTokens(4096)
                                .addValidation(
                                        SourceLoss.newBuilder().setSource("zh").setLoss(3.1))
                                .build())),
                new GpuWorker.Describe(probe()),
                w1,
                new GpuWorker.JoinMesh(mesh, probe()),
                new GpuWorker.MeshJoined(4, 1),
                new GpuWorker.LeaveMesh(4, "job-1"),
                new GpuWorker.Reserve("job-1", true, probe()),
                new GpuWorker.Reservation(w1.id(), false, "job-2"),
                new GpuWorker.MeshPrepared(
                        4, 1, Map.of("tcp/rank1", "10.0.0.2:40123".getBytes(), "nccl/dp/pp0/tp0", new byte[128])),
                new GpuWorker.ConnectMesh(
                        new dev.shoal.actors.worker.Rendezvous(
                                4, Map.of("tcp/rank0", new byte[] {1, 2}, "nccl/world", new byte[] {-1, 0, 5})),
                        probe()),
                new GpuWorker.Step(4, 57, true, "/ckpt", probe()),
                new GpuWorker.StepDone(
                        4,
                        57,
                        1,
                        2.5,
                        4096,
                        timings,
                        Map.of("en", 2.25, "zh", 3.5),
                        0.75,
                        3e-4,
                        "/ckpt/step-000057",
                        123,
                        56),
                new GpuWorker.FeedBatch(new StepRunner.Batch(4, 57, 1, new int[] {1, 2, 3}, new int[] {2, 3, 4})),
                new dev.shoal.actors.node.NodeAgent.DescribeNode(probe()),
                new dev.shoal.actors.node.NodeAgent.DescribeWorkers(probe()),
                new dev.shoal.actors.node.NodeAgent.NodeWorkers(
                        "pekko://shoal@10.0.0.2:2552", List.of(w0, w1), List.of(probe(), probe())),
                new NodeAgent.JoinMeshes(
                        mesh, List.of(probe(), probe()), List.of(1, 0), Duration.ofSeconds(60), probe()),
                new NodeAgent.ConnectMeshes(
                        new dev.shoal.actors.worker.Rendezvous(
                                4, Map.of("tcp/rank0", new byte[] {1, 2}, "nccl/world", new byte[] {-1, 0, 5})),
                        ParallelDims.of(1, 1, 2),
                        List.of(probe()),
                        List.of(1),
                        Duration.ofMillis(1500),
                        probe()),
                new NodeAgent.LeaveMeshes(new GpuWorker.LeaveMesh(4, "job-1"), List.of(probe(), probe())),
                new NodeAgent.MeshReplies(
                        4,
                        false,
                        List.of(
                                new NodeAgent.MeshReply(0, Map.of("tcp/rank0", new byte[] {1, 2}), "", false),
                                new NodeAgent.MeshReply(1, Map.of(), "worker-cuda1: busy with job job-2", false),
                                new NodeAgent.MeshReply(2, Map.of(), "no answer within 60000 ms", true))),
                new dev.shoal.actors.node.NodeAgent.NodeReport(dev.shoal.proto.v1.NodeReport.newBuilder()
                        .setAddress("pekko://shoal@10.0.0.2:2552")
                        .addDevices(dev.shoal.proto.v1.DeviceGroup.newBuilder()
                                .setKind("cuda")
                                .setCount(8)
                                .setRunning(7)
                                .setPeakFlops(989.4e12)
                                .setPeakSource("h100 datasheet (dense bf16)"))
                        .addChecks(dev.shoal.proto.v1.NodeCheck.newBuilder()
                                .setName("clock")
                                .setVerdict("WARN")
                                .setDetail("not synchronized"))
                        .setUptimeSeconds(12.5)
                        .setMetricsPort(9464)
                        .build()),
                new Coordinator.Subscribe(probe()),
                new Coordinator.Published(dev.shoal.proto.v1.JobEvent.newBuilder()
                        .setJobId("job-1")
                        .setUnixMillis(1_700_000_000_000L)
                        .setPhase(dev.shoal.proto.v1.PhaseChange.newBuilder()
                                .setFrom(Phase.FORMING)
                                .setTo(Phase.TRAINING)
                                .setMeshEpoch(4)
                                .setCause("training from step 51 on mesh epoch 4")
                                .setSeconds(1.5))
                        .build()),
                new GpuWorker.StepFailed(4, 57, 1, "CUDA error: out of memory"),
                new Coordinator.JobSubmitted("job-1", spec(), 1_700_000_000_000L),
                new Coordinator.WorkerRegistered(r1),
                new Coordinator.WorkersRegistered(List.of(r0, r1)),
                new Coordinator.WorkersLost(List.of(w0.id(), w1.id()), "removed"),
                new Coordinator.MeshFormed(4, List.of(w0.id(), w1.id()), 51),
                new Coordinator.CheckpointCommitted(checkpoint(50)),
                new Coordinator.JobCompleted(100, "trained all 100 steps"),
                new Coordinator.JobFailed(57, "rank 1 failed"),
                new Coordinator.MeshLost(4, 56, "rank 1 failed step 57: connection reset"),
                new Coordinator.ScaleRequested(3, "rescaling dp 2 → 3 after step 56: auto-grow: 3 ranks registered"),
                new Coordinator.PeerCopiesComplete(
                        4, 56, List.of(w0.id(), w1.id()), List.of(1, -1), List.of("10.0.0.1:40001", "10.0.0.2:40002")),
                new Coordinator.State(
                        "job-1",
                        spec(),
                        Phase.TRAINING,
                        4,
                        List.of(w0.id(), w1.id()),
                        51,
                        workers,
                        List.of(checkpoint(20), checkpoint(50)),
                        "training",
                        50),
                Coordinator.State.empty());
    }

    @Test
    void everyMessageRoundTripsThroughTheBoundSerializer() {
        Serialization serialization = SerializationExtension.get(Adapter.toClassic(kit.system()));
        for (ClusterMessage m : samples()) {
            Serializer s = serialization.findSerializerFor(m);
            assertEquals(ClusterMessageSerializer.class, s.getClass(), () -> "serializer for " + m);
            byte[] bytes = serialization.serialize(m).get();
            String manifest = Serializers.manifestFor(s, m);
            Object back =
                    serialization.deserialize(bytes, s.identifier(), manifest).get();
            assertEquals(m, back, () -> "round trip of " + m.getClass().getName());
        }
    }

    @Test
    void aStatusPageOfA4096GpuClusterFitsInArterysDefaultFrame() {
        List<Coordinator.RegisteredWorker> workers = new ArrayList<>();
        List<String> ranks = new ArrayList<>();
        for (int n = 0; n < 512; n++) {
            for (int g = 0; g < 8; g++) {
                String node = String.format("pekko://shoal@10.0.%d.%d:2552", n / 256, n % 256);
                WorkerInfo w = new WorkerInfo(node, WorkerInfo.CUDA, g, "10.0.0.1:40" + g)
                        .withPeak(989.4e12, "h100 datasheet (dense bf16)");
                workers.add(new Coordinator.RegisteredWorker(
                        w, node + "/system/sim-node-" + n + "/agent/worker-cuda" + g + "#-123456789"));
                ranks.add(w.id());
            }
        }
        Coordinator.Status whole = new Coordinator.Status(
                "job-1", spec(), Phase.TRAINING, 3, ranks, 57, workers, List.of(checkpoint(50)), "training", List.of());
        Serialization serialization = SerializationExtension.get(Adapter.toClassic(kit.system()));
        assertTrue(serialization.serialize(whole).get().length > 262_144, "the whole status would not fit");
        // The coordinator's answer to a GetStatus: one page (the worker window and the whole counts).
        for (int from = 0; from < 4096; from += dev.shoal.actors.coordinator.StatusPages.PAGE) {
            Coordinator.Status page = dev.shoal.actors.coordinator.StatusPages.page(
                    whole, from, dev.shoal.actors.coordinator.StatusPages.PAGE);
            int bytes = serialization.serialize(page).get().length;
            assertTrue(bytes < 200_000, "page at " + from + ": " + bytes + " B");
            Serializer ser = serialization.findSerializerFor(page);
            Object back = serialization
                    .deserialize(
                            serialization.serialize(page).get(), ser.identifier(), Serializers.manifestFor(ser, page))
                    .get();
            assertEquals(page, back);
            assertEquals(4096, ((Coordinator.Status) back).workerCount());
        }
    }

    @Test
    void samplesCoverEveryClusterMessageType() {
        Set<Class<?>> covered = samples().stream().map(Object::getClass).collect(Collectors.toSet());
        List<Class<?>> declared = new ArrayList<>();
        Stream.of(Coordinator.class, GpuWorker.class, NodeAgent.class)
                .flatMap(c -> Arrays.stream(c.getDeclaredClasses()))
                .filter(c -> c.isRecord() && ClusterMessage.class.isAssignableFrom(c))
                .forEach(declared::add);
        declared.add(WorkerInfo.class);
        declared.add(Coordinator.State.class);
        Set<Class<?>> missing = new HashSet<>(declared);
        missing.removeAll(covered);
        assertTrue(missing.isEmpty(), () -> "no round-trip sample for " + missing);
    }

    @Test
    void manifestsAreDistinct() {
        ClusterMessageSerializer s = new ClusterMessageSerializer(
                (org.apache.pekko.actor.ExtendedActorSystem) Adapter.toClassic(kit.system()));
        List<String> manifests = samples().stream()
                .filter(m -> m != Coordinator.State.empty())
                .map(s::manifest)
                .distinct()
                .toList();
        assertEquals(samples().size() - 1, manifests.size());
    }

    @Test
    void javaSerializationIsOff() {
        Serialization serialization = SerializationExtension.get(Adapter.toClassic(kit.system()));
        assertThrows(
                Exception.class,
                () -> serialization.serialize(new java.util.Date()).get());
    }
}
