// NodeAgent: one GpuWorker per CPU rank, named by device, registered with the Receptionist.
package dev.shoal.actors.node;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.typesafe.config.ConfigFactory;
import dev.shoal.actors.worker.GpuWorker;
import dev.shoal.actors.worker.WorkerInfo;
import java.time.Duration;
import java.util.List;
import org.apache.pekko.actor.testkit.typed.javadsl.ActorTestKit;
import org.apache.pekko.actor.testkit.typed.javadsl.TestProbe;
import org.apache.pekko.actor.typed.ActorRef;
import org.apache.pekko.actor.typed.receptionist.Receptionist;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

class NodeAgentTest {

    static ActorTestKit kit;

    @BeforeAll
    static void start() {
        kit = ActorTestKit.create(
                "shoal", ConfigFactory.parseString("pekko.actor.provider = local\npekko.loglevel = WARNING"));
    }

    @AfterAll
    static void stop() {
        kit.shutdownTestKit();
    }

    @Test
    void spawnsAndRegistersOneWorkerPerCpuRank() {
        var config = ConfigFactory.parseString("shoal.node.cpu-ranks = 3\nshoal.node.registration = worker");
        var agent = kit.spawn(NodeAgent.create(List.of(new CpuRanks()), config, null), "agent");
        TestProbe<NodeAgent.Workers> p = kit.createTestProbe();
        agent.tell(new NodeAgent.ListWorkers(p.ref()));
        NodeAgent.Workers w = p.receiveMessage();
        assertEquals(3, w.devices().size());
        for (int i = 0; i < 3; i++) {
            WorkerInfo d = w.devices().get(i);
            assertEquals(
                    new WorkerInfo("pekko://shoal", WorkerInfo.CPU, i), new WorkerInfo(d.node(), d.deviceKind(), i));
            // No shoal.node.cpu-peak-flops: each rank's peak is the measured SGEMM rate.
            assertTrue(d.peakFlops() > 1e8, "measured peak " + d.peakFlops());
            assertTrue(d.peakSource().startsWith("measured: 1-thread OpenBLAS SGEMM"), d.peakSource());
            assertEquals("worker-cpu" + i, w.refs().get(i).path().name());
        }
        assertEquals(List.of(true, true, true), w.running());

        TestProbe<Receptionist.Listing> listing = kit.createTestProbe();
        long deadline = System.nanoTime() + Duration.ofSeconds(5).toNanos();
        int found = 0;
        while (found < 3 && System.nanoTime() < deadline) {
            kit.system().receptionist().tell(Receptionist.find(GpuWorker.SERVICE_KEY, listing.ref()));
            found = listing.receiveMessage()
                    .getServiceInstances(GpuWorker.SERVICE_KEY)
                    .size();
        }
        assertEquals(3, found);
        assertTrue(w.refs().stream().allMatch(r -> r.path().parent().name().equals("agent")));
    }

    @Test
    void perNodeRegistrationListsTheAgentOnceAndDescribesAllItsWorkersInOneAnswer() {
        var config = ConfigFactory.parseString("shoal.node.cpu-ranks = 3\nshoal.node.cpu-peak-flops = 5e10");
        var agent = kit.spawn(NodeAgent.create(List.of(new CpuRanks()), config, null), "per-node-agent");
        TestProbe<Receptionist.Listing> listing = kit.createTestProbe();
        long deadline = System.nanoTime() + Duration.ofSeconds(5).toNanos();
        java.util.Set<ActorRef<NodeAgent.Command>> agents = java.util.Set.of();
        while (!agents.contains(agent) && System.nanoTime() < deadline) {
            kit.system().receptionist().tell(Receptionist.find(NodeAgent.WORKERS_KEY, listing.ref()));
            agents = listing.receiveMessage().getServiceInstances(NodeAgent.WORKERS_KEY);
        }
        assertTrue(agents.contains(agent), "the agent is listed under WORKERS_KEY: " + agents);
        // Its workers are not listed one by one.
        kit.system().receptionist().tell(Receptionist.find(GpuWorker.SERVICE_KEY, listing.ref()));
        assertTrue(listing.receiveMessage().getServiceInstances(GpuWorker.SERVICE_KEY).stream()
                .noneMatch(r -> r.path().parent().equals(agent.path())));

        TestProbe<NodeAgent.NodeWorkers> p = kit.createTestProbe();
        agent.tell(new NodeAgent.DescribeWorkers(p.ref()));
        NodeAgent.NodeWorkers nw = p.receiveMessage();
        assertEquals(3, nw.workers().size());
        assertEquals(3, nw.refs().size());
        TestProbe<NodeAgent.Workers> local = kit.createTestProbe();
        agent.tell(new NodeAgent.ListWorkers(local.ref()));
        NodeAgent.Workers w = local.receiveMessage();
        for (int i = 0; i < 3; i++) {
            assertEquals(w.refs().get(i), nw.refs().get(i));
            assertEquals(w.devices().get(i).id(), nw.workers().get(i).id());
            assertEquals(5e10, nw.workers().get(i).peakFlops());
        }
    }

    @Test
    void aWrongRegistrationSettingIsRefusedNamingTheKey() {
        var e = assertThrows(
                IllegalArgumentException.class,
                () -> NodeAgent.Registration.of(ConfigFactory.parseString("shoal.node.registration = each")));
        assertTrue(e.getMessage().contains("shoal.node.registration"), e.getMessage());
    }

    @Test
    void aNodeAgentDescribesItsDevicesAndItsLatestChecks() {
        var config = ConfigFactory.parseString("shoal.node.cpu-ranks = 2\nshoal.node.cpu-peak-flops = 5e10");
        java.util.concurrent.atomic.AtomicInteger runs = new java.util.concurrent.atomic.AtomicInteger();
        var agent = kit.spawn(
                NodeAgent.createNode(
                        List.of(new CpuRanks()),
                        config,
                        null,
                        () -> List.of(
                                new StartupChecks.Check(
                                        "clock", StartupChecks.Verdict.WARN, "run " + runs.incrementAndGet()),
                                new StartupChecks.Check("open files", StartupChecks.Verdict.OK, "65536")),
                        Duration.ofMillis(200)),
                "described");
        TestProbe<NodeAgent.NodeReport> p = kit.createTestProbe();
        long deadline = System.nanoTime() + Duration.ofSeconds(10).toNanos();
        dev.shoal.proto.v1.NodeReport r;
        do {
            agent.tell(new NodeAgent.DescribeNode(p.ref()));
            r = p.receiveMessage().report();
        } while (runs.get() < 3 && System.nanoTime() < deadline);
        assertTrue(runs.get() >= 3, "the checks re-run in the background: " + runs.get() + " runs");
        assertEquals("pekko://shoal", r.getAddress());
        assertEquals(1, r.getDevicesCount());
        assertEquals("cpu", r.getDevices(0).getKind());
        assertEquals(2, r.getDevices(0).getCount());
        assertEquals(2, r.getDevices(0).getRunning());
        assertEquals(5e10, r.getDevices(0).getPeakFlops());
        assertEquals("configured (shoal.node.cpu-peak-flops)", r.getDevices(0).getPeakSource());
        assertEquals(2, r.getChecksCount());
        assertEquals("WARN", r.getChecks(0).getVerdict());
        assertTrue(r.getChecks(0).getDetail().startsWith("run "), r.getChecks(0).getDetail());
        assertTrue(r.getUptimeSeconds() > 0 && r.getHeapMaxBytes() > 0);

        // It is found through the Receptionist under NODE_KEY (how the control plane finds every node).
        TestProbe<Receptionist.Listing> listing = kit.createTestProbe();
        kit.system().receptionist().tell(Receptionist.find(NodeAgent.NODE_KEY, listing.ref()));
        assertEquals(
                1,
                listing.receiveMessage().getServiceInstances(NodeAgent.NODE_KEY).size());
    }

    @Test
    void peaksComeFromTheConfigOrTheGpuName() {
        assertEquals(
                989.4e12, CudaDevices.datasheetPeak("NVIDIA H100 80GB HBM3").flops());
        assertEquals(
                "h200 datasheet (dense bf16)",
                CudaDevices.datasheetPeak("NVIDIA H200").source());
        assertEquals(DeviceDiscovery.Peak.UNKNOWN, CudaDevices.datasheetPeak("NVIDIA GeForce RTX 4090"));
        var bad = assertThrows(IllegalArgumentException.class, () -> new CpuRanks()
                .peak(ConfigFactory.parseString("shoal.node.cpu-peak-flops = -3"), 0));
        assertTrue(bad.getMessage().contains("shoal.node.cpu-peak-flops must be >= 0"), bad.getMessage());
        var gpu = new CudaDevices().peak(ConfigFactory.parseString("shoal.node.gpu-peak-flops = 1.5e14"), 0);
        assertEquals(new DeviceDiscovery.Peak(1.5e14, "configured (shoal.node.gpu-peak-flops)"), gpu);
    }

    @Test
    void cpuRankCountIsChecked() {
        var e = assertThrows(IllegalArgumentException.class, () -> new CpuRanks()
                .count(ConfigFactory.parseString("shoal.node.cpu-ranks = -1")));
        assertTrue(e.getMessage().contains("shoal.node.cpu-ranks must be in 0..1024, got -1"));
    }
}
