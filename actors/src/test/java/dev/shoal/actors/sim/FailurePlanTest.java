// The simulated clock and failure schedule without actors: rounds are priced once, a fixed loss kills
// the chosen number of mesh nodes in the first run of its step and stops the clock halfway through
// it, the next mesh's first step closes the interruption (detection + wall + reload added), and the
// same seed picks the same victims; random losses at a rate follow the exponential gaps.
package dev.shoal.actors.sim;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;

class FailurePlanTest {

    private static List<String> runLoss(long seed) throws InterruptedException {
        Scenario sc = scenario(List.of(new Scenario.LoseNodes(3, 2, seed)));
        FailurePlan p = FailurePlan.of(sc);
        p.arm();
        for (int n = 0; n < 4; n++) p.joined(1, "node-" + n, 1, 2, 0);
        for (long step = 1; step <= 2; step++) {
            for (int n = 0; n < 4; n++) assertFalse(p.step(1, step, "node-" + n, 10.0));
        }
        assertEquals(20.0, p.clock(), 1e-12, "two rounds of 10 s, priced once each");
        List<String> dead = new ArrayList<>();
        for (int n = 0; n < 4; n++) if (p.step(1, 3, "node-" + n, 10.0)) dead.add("node-" + n);
        assertEquals(25.0, p.clock(), 1e-12, "the clock stops halfway through the lost round");
        List<String> kills = new ArrayList<>();
        for (String k; (k = p.nextKill()) != null; ) kills.add(k);
        assertEquals(dead.size(), kills.size());
        assertTrue(kills.containsAll(dead));
        assertTrue(p.interruptions().isEmpty(), "still open until the next mesh steps");
        p.joined(3, "node-0", 5, 6, 1.5);
        assertFalse(p.step(3, 3, "node-0", 10.0), "a fixed loss fires once");
        FailurePlan.Interruption x = p.interruptions().get(0);
        assertNull(p.open());
        assertEquals(3, x.resumedStep);
        assertEquals(5.0, x.lostRoundSeconds, 1e-12);
        assertTrue(x.gapSeconds >= 7.0 + 1.5, "detection + reload + the wall time: " + x.gapSeconds);
        assertEquals(25.0 + x.gapSeconds + 10.0, p.clock(), 1e-9);
        return dead;
    }

    @Test
    void aFixedLossKillsTheChosenNodesOnceAndTheSameSeedChoosesThem() throws InterruptedException {
        List<String> a = runLoss(7), b = runLoss(7);
        assertEquals(2, a.size());
        assertEquals(a, b, "seeded");
    }

    @Test
    void randomLossesFollowTheRate() throws InterruptedException {
        // One interruption per 100 simulated seconds on average, 1 s rounds, 20 000 rounds.
        FailurePlan p = new FailurePlan(0, 0.01, 42);
        p.arm();
        p.joined(1, "a", 1, 2, 0);
        p.joined(1, "b", 1, 2, 0);
        long epoch = 1;
        int losses = 0;
        for (long step = 1; step <= 20_000; step++) {
            boolean a = p.step(epoch, step, "a", 1.0), b = p.step(epoch, step, "b", 1.0);
            if (a || b) {
                assertFalse(a && b, "one node per random interruption");
                losses++;
                epoch += 2;
                p.joined(epoch, "a", 1, 2, 0);
                p.joined(epoch, "b", 1, 2, 0);
            }
        }
        assertEquals(losses, p.interruptions().size() + (p.open() == null ? 0 : 1));
        assertTrue(losses > 150 && losses < 250, "about 200 losses in 20 000 s at 1/100 s, got " + losses);
    }

    @Test
    void metasRateScalesWithTheMesh() {
        Scenario.Mtbf m = new Scenario.Mtbf(419, 54, 16384, 1, 1);
        assertEquals(419.0 / (54 * 86_400), m.ratePerSecond(16384), 1e-15);
        assertEquals(m.ratePerSecond(16384) / 16, m.ratePerSecond(1024), 1e-15);
    }

    private static Scenario scenario(List<Scenario.Event> events) {
        return new Scenario("p", "llama3-8b", "h100", 4, 8, 8, 1, 4, 1, 16, 8, 10, 1, 0, 0, 7.0, 2.0, events);
    }
}
