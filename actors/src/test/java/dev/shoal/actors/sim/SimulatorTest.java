// The simulator drives the real coordinator, node agents and GPU workers at 64 and 512 simulated GPUs,
// without failures, with a node lost at a given step (re-formed on a spare node, or on fewer DP
// replicas), and under a seeded random failure rate, and the protocol invariants hold (Invariants:
// epochs only grow, the global batch is kept, every step's data is used exactly once, training resumes
// from the last committed checkpoint); a fresh coordinator recovers the finished job from the journal.
package dev.shoal.actors.sim;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
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
    @Tag("slow")
    void sixtyFourGpusLoseANodeAndResumeOnTheSpare() throws Exception {
        Scenario sc = new Scenario(
                "s64-loss",
                "llama3-8b",
                "h100",
                8,
                8,
                8,
                2,
                4,
                1,
                8192,
                64,
                8,
                2,
                1,
                2,
                7.0,
                2.0,
                List.of(new Scenario.LoseNodes(5, 1, 3)));
        Simulator.Result r = Simulator.run(sc, dir.resolve(sc.name()), Duration.ofSeconds(120));
        Invariants.check(r);
        assertEquals(1, r.interruptions().size(), "one node loss");
        FailurePlan.Interruption x = r.interruptions().get(0);
        assertEquals(5, x.step);
        assertEquals(1, x.nodes.size());
        assertEquals(5, x.resumedStep, "resumed after the checkpoint of step 4");
        assertEquals(3, r.finalEpoch(), "MeshLost (2), then the mesh on the spare (3)");
        assertEquals(sc.world(), r.finalWorld(), "the spare node keeps the full mesh");
        assertTrue(x.noticedNanos > 0 && x.firstJoinNanos > x.noticedNanos && x.resumedNanos >= x.lastJoinNanos);
        assertTrue(r.goodput() < 1 && r.goodput() > 0.5, "goodput " + r.goodput());
    }

    @Test
    @Tag("slow")
    void fiveHundredTwelveGpusLoseANodeAndShrinkKeepingTheGlobalBatch() throws Exception {
        // No spare: 504 live ranks hold 7 replicas of tp 8 × pp 8, but 512 sequences need dp | 512: dp 4.
        Scenario sc = new Scenario(
                "s512-loss",
                "llama3-70b",
                "h100",
                64,
                8,
                8,
                8,
                8,
                1,
                8192,
                512,
                5,
                1,
                0,
                2,
                7.0,
                2.0,
                List.of(new Scenario.LoseNodes(3, 1, 11)));
        Simulator.Result r = Simulator.run(sc, dir.resolve(sc.name()), Duration.ofSeconds(120));
        Invariants.check(r);
        assertEquals(1, r.interruptions().size());
        assertEquals(3, r.interruptions().get(0).resumedStep, "resumed after the checkpoint of step 2");
        assertEquals(256, r.finalWorld(), "dp 8 -> 4 on 63 nodes");
    }

    @Test
    @Tag("slow")
    void sixtyFourGpusUnderARandomFailureRateWithAFixedSeed() throws Exception {
        // Meta's rate, accelerated so that a 12-step run of this small job sees about two losses.
        double step = SimStepRunner.estimate(
                        new Scenario("x", "llama3-8b", "h100", 8, 8, 8, 2, 4, 1, 8192, 64, 12, 2).jobSpec(),
                        dev.shoal.runtime.plan.GpuSpec.preset("h100"),
                        8)
                .stepSeconds();
        double base = new Scenario.Mtbf(419, 54, 16384, 1, 5).ratePerSecond(64);
        double acceleration = 2.0 / (12 * step * base);
        Scenario sc = new Scenario(
                "s64-mtbf",
                "llama3-8b",
                "h100",
                8,
                8,
                8,
                2,
                4,
                1,
                8192,
                64,
                12,
                2,
                3,
                3,
                7.0,
                2.0,
                List.of(new Scenario.Mtbf(419, 54, 16384, acceleration, 5)));
        Simulator.Result r = Simulator.run(sc, dir.resolve(sc.name()), Duration.ofSeconds(120));
        Invariants.check(r);
        assertTrue(!r.interruptions().isEmpty(), "seed 5 draws a loss within the run");
        assertTrue(r.goodput() < 1, "goodput " + r.goodput());
    }

    @Test
    @Tag("slow")
    void sixtyFourGpusGetEightMoreNodesThenTheCoordinatorFailsOver() throws Exception {
        Scenario sc = new Scenario(
                "s64-failover",
                "llama3-8b",
                "h100",
                8,
                8,
                8,
                2,
                4,
                1,
                8192,
                64,
                8,
                3,
                0,
                2,
                7.0,
                2.0,
                List.of(new Scenario.AddNodes(2, 8), new Scenario.FailCoordinator(5)));
        Simulator.Result r = Simulator.run(sc, dir.resolve(sc.name()), Duration.ofSeconds(180));
        Invariants.check(r);
        assertEquals(1, r.added().size());
        assertTrue(
                r.added().get(0).outcome().contains("registered 64 idle GPUs"),
                r.added().get(0).outcome());
        assertEquals(1, r.interruptions().size(), "the failover");
        FailurePlan.Interruption x = r.interruptions().get(0);
        assertEquals("coordinator", x.kind);
        assertTrue(x.resumeEpoch > x.epoch, "the new singleton formed a new mesh");
        // Steps go on until the old singleton's system is down, so which checkpoint is the last one
        // committed depends on timing; Invariants.check proves the resume follows it exactly.
        assertTrue(x.resumedStep >= 5, "it resumed from the checkpoint of step 4 or a later one: " + x.resumedStep);
        assertTrue(r.failoverSeconds() >= 0, "the new singleton answered");
        assertEquals(sc.world(), r.finalWorld());
    }

    @Test
    @Tag("slow")
    void sixtyFourGpusGrowOntoEightAddedNodesWithAutoGrow() throws Exception {
        // tp 8 × pp 2: a replica is 2 nodes; 8 more nodes hold 4 more replicas, dp 4 → 8 divides 64.
        Scenario sc = new Scenario(
                "s64-grow",
                "llama3-8b",
                "h100",
                8,
                8,
                8,
                2,
                4,
                1,
                8192,
                64,
                10,
                2,
                0,
                2,
                7.0,
                2.0,
                List.of(new Scenario.AddNodes(3, 8)),
                true);
        Simulator.Result r = Simulator.run(sc, dir.resolve(sc.name()), Duration.ofSeconds(180));
        Invariants.check(r);
        assertEquals(128, r.finalWorld(), "the added nodes joined the mesh: " + r.added());
        assertTrue(
                r.added().get(0).outcome().contains("auto-grow: "),
                r.added().get(0).outcome());
        assertTrue(
                r.added().get(0).outcome().contains("→ 8 after step"),
                r.added().get(0).outcome());
        assertTrue(r.goodput() > 0 && r.goodput() <= 1, "goodput " + r.goodput());
    }

    @Test
    void scenarioEventsParseAndBadOnesNameTheField() throws Exception {
        Path f = dir.resolve("events.conf");
        Files.writeString(
                f,
                "scenarios = [ { model = llama3-8b, nodes = 2, spare-nodes = 1, layout { tp = 8, pp = 1, dp = 2 },"
                        + " seq-len = 16, global-batch = 8, steps = 9, checkpoint-interval = 3, events = [ form-mesh,"
                        + " run-steps, { lose-nodes = 1, at-step = 4, seed = 9 }, { mtbf { interruptions = 419,"
                        + " days = 54, gpus = 16384 }, acceleration = 100, seed = 3 }, { add-nodes = 2, at-step = 5 },"
                        + " { fail-coordinator-at-step = 6 } ], actor-systems = 3 } ]");
        Scenario sc = Scenario.load(f).get(0);
        assertEquals(
                List.of(
                        new Scenario.LoseNodes(4, 1, 9),
                        new Scenario.Mtbf(419, 54, 16384, 100, 3),
                        new Scenario.AddNodes(5, 2),
                        new Scenario.FailCoordinator(6)),
                sc.events());
        assertEquals(3, sc.startNodes());
        assertEquals(3, sc.jobSpec().getCheckpointInterval());
        Files.writeString(
                f,
                "scenarios = [ { model = llama3-8b, nodes = 2, layout { tp = 8, pp = 1, dp = 2 }, seq-len = 16,"
                        + " global-batch = 8, steps = 3, events = [ { lose-nodes = 1, at-step = 4 } ] } ]");
        var e = assertThrows(IllegalArgumentException.class, () -> Scenario.load(f));
        assertTrue(e.getMessage().contains("at-step 4 is not in 1..3"), e.getMessage());
        Files.writeString(
                f,
                "scenarios = [ { model = llama3-8b, nodes = 2, layout { tp = 8, pp = 1, dp = 2 }, seq-len = 16,"
                        + " global-batch = 8, steps = 3, actor-systems = 1, events = [ { fail-coordinator-at-step = 1 } ] } ]");
        e = assertThrows(IllegalArgumentException.class, () -> Scenario.load(f));
        assertTrue(e.getMessage().contains("actor-systems >= 2"), e.getMessage());
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
        Invariants.check(r);
        assertEquals(1, r.finalEpoch(), "one mesh was formed");
        // The simulated clock is the cost model's step time × steps; wall time is only the actors'.
        assertEquals(sc.steps() * r.simulatedStepSeconds(), r.simulatedSeconds(), 1e-9);
        assertEquals(r.simulatedSeconds(), r.simulatedClock(), 1e-9);
        assertEquals(1.0, r.goodput(), 1e-9);
        assertTrue(r.simulatedStepSeconds() > 0.1, "a " + sc.model() + " step takes real GPU time");
        assertEquals(2.0 * sc.world(), r.messagesPerStep(), 1e-9);
    }
}
