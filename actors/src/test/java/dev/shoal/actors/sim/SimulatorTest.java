// The simulator drives the real coordinator, node agents and GPU workers at 64 and 512 simulated GPUs
// and the protocol invariants hold: mesh epochs only grow, every step runs on every rank exactly once
// and in order, the global batch is kept on every step, the simulated clock is the cost model's, and
// a fresh coordinator recovers the finished job from the journal.
package dev.shoal.actors.sim;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.shoal.proto.v1.Phase;
import dev.shoal.proto.v1.StepMetrics;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class SimulatorTest {

    @TempDir
    Path dir;

    @Test
    @Tag("slow")
    void sixtyFourGpusOnTwoActorSystems() throws Exception {
        check(new Scenario("s64", "llama3-8b", "h100", 8, 8, 8, 2, 4, 1, 8192, 64, 6, 2));
    }

    @Test
    @Tag("slow")
    void fiveHundredTwelveGpus() throws Exception {
        check(new Scenario("s512", "llama3-70b", "h100", 64, 8, 8, 8, 8, 1, 8192, 512, 4, 1));
    }

    @Test
    void badScenariosNameTheField() throws Exception {
        Path f = dir.resolve("bad.conf");
        Files.writeString(
                f,
                "scenarios = [ { model = llama3-8b, nodes = 2, layout { tp = 8, pp = 2, dp = 2 }, seq-len = 16,"
                        + " global-batch = 8, steps = 1 } ]");
        var e = assertThrows(IllegalArgumentException.class, () -> Scenario.load(f));
        assertTrue(
                e.getMessage().contains("scenarios[0]") && e.getMessage().contains("= 32 ≠ nodes 2"), e.getMessage());
        Files.writeString(
                f,
                "scenarios = [ { model = llama3-8b, nodes = 1, layout { tp = 8, pp = 1, dp = 1 }, seq-len = 16,"
                        + " global-batch = 8, steps = 1, events = [kill-node] } ]");
        e = assertThrows(IllegalArgumentException.class, () -> Scenario.load(f));
        assertTrue(e.getMessage().contains("kill-node"), e.getMessage());
    }

    private void check(Scenario sc) throws Exception {
        Simulator.Result r = Simulator.run(sc, dir.resolve(sc.name()), Duration.ofSeconds(120));
        int world = sc.world();
        assertEquals(world, r.runners().size(), "one simulated runner per GPU");

        // Epochs strictly increase: per worker, and across the published mesh changes.
        long lastPublished = 0;
        for (var s : r.events()) {
            if (s.event().hasPhase() && s.event().getPhase().getTo() == Phase.TRAINING) {
                assertTrue(s.event().getPhase().getMeshEpoch() > lastPublished, "mesh epochs strictly increase");
                lastPublished = s.event().getPhase().getMeshEpoch();
            }
        }
        assertEquals(1, lastPublished, "one mesh was formed");
        for (SimStepRunner runner : r.runners().values()) {
            List<Long> epochs = runner.joinedEpochs();
            for (int i = 1; i < epochs.size(); i++) assertTrue(epochs.get(i) > epochs.get(i - 1), "epochs grow");
        }

        // Every step completes on every rank exactly once, in order; every rank 0..world-1 is one worker.
        Set<Integer> ranks = new HashSet<>();
        Map<Long, Long> sequencesPerStep = new HashMap<>();
        for (SimStepRunner runner : r.runners().values()) {
            List<SimStepRunner.Ran> ran = runner.ran();
            assertEquals(sc.steps(), ran.size(), runner.device().id() + " ran every step once");
            for (int i = 0; i < ran.size(); i++) {
                SimStepRunner.Ran x = ran.get(i);
                assertEquals(i + 1, x.step(), runner.device().id() + " runs steps in order");
                assertEquals(lastPublished, x.epoch());
                assertEquals(ran.get(0).rank(), x.rank(), "a rank keeps its place within a mesh");
                if (x.coord().tp() == 0 && x.lastStage()) sequencesPerStep.merge(x.step(), x.sequences(), Long::sum);
            }
            assertTrue(ranks.add(ran.get(0).rank()), "rank " + ran.get(0).rank() + " is held by one worker");
        }
        assertEquals(world, ranks.size());

        // The global batch is kept: the replicas' sequences add up to it, and the coordinator's metrics agree.
        for (long step = 1; step <= sc.steps(); step++) {
            assertEquals(sc.globalBatch(), sequencesPerStep.get(step), "sequences of step " + step);
        }
        List<StepMetrics> steps = r.steps();
        assertEquals(sc.steps(), steps.size());
        List<Long> stepNumbers = new ArrayList<>();
        for (StepMetrics m : steps) {
            stepNumbers.add(m.getStep());
            assertEquals((long) sc.globalBatch() * sc.seqLen(), m.getTokens());
            assertEquals(SimStepRunner.loss(m.getStep()), m.getLoss(), 1e-12);
        }
        assertEquals(
                java.util.stream.LongStream.rangeClosed(1, sc.steps()).boxed().toList(), stepNumbers);

        // The simulated clock is the cost model's step time × steps; wall time is only the actors'.
        assertEquals(sc.steps() * r.simulatedStepSeconds(), r.simulatedSeconds(), 1e-9);
        assertTrue(r.simulatedStepSeconds() > 0.1, "a " + sc.model() + " step takes real GPU time");
        assertEquals(2.0 * world, r.messagesPerStep(), 1e-9);

        // The journal holds the job and a fresh coordinator recovers it.
        assertTrue(r.journalEvents() >= world + 3, "registered workers, submission, mesh, completion");
        assertTrue(r.journalBytes() > 0);
        assertEquals(Phase.COMPLETED, r.recoveredPhase());
    }
}
