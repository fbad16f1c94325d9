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
        var config = ConfigFactory.parseString("shoal.node.cpu-ranks = 3");
        var agent = kit.spawn(NodeAgent.create(List.of(new CpuRanks()), config, null), "agent");
        TestProbe<NodeAgent.Workers> p = kit.createTestProbe();
        agent.tell(new NodeAgent.ListWorkers(p.ref()));
        NodeAgent.Workers w = p.receiveMessage();
        assertEquals(3, w.devices().size());
        for (int i = 0; i < 3; i++) {
            assertEquals(
                    new WorkerInfo("pekko://shoal", WorkerInfo.CPU, i),
                    w.devices().get(i));
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
    void cpuRankCountIsChecked() {
        var e = assertThrows(IllegalArgumentException.class, () -> new CpuRanks()
                .count(ConfigFactory.parseString("shoal.node.cpu-ranks = -1")));
        assertTrue(e.getMessage().contains("shoal.node.cpu-ranks must be in 0..1024, got -1"));
    }
}
