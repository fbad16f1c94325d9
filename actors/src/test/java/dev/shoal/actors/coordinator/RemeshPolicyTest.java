// The re-mesh policy as a pure function: survivors × (tp, pp, dp) → new dims or a refusal.
package dev.shoal.actors.coordinator;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.junit.jupiter.api.Test;

class RemeshPolicyTest {

    @Test
    void allRanksBackKeepsTheJobsMesh() {
        RemeshPolicy.Decision d = RemeshPolicy.decide(4, 2, 1, 2, 4, 1);
        assertTrue(d.full(2));
        assertEquals(2, d.dims().tp());
        assertEquals(1, d.dims().pp());
        assertEquals(2, d.dims().dp());
        assertEquals(4, d.dims().world());
    }

    @Test
    void moreLiveRanksThanTheJobNeedsNeverGrowsDp() {
        assertEquals(2, RemeshPolicy.decide(9, 2, 1, 2, 4, 1).dims().dp());
    }

    @Test
    void anIncompleteReplicaIsDropped() {
        // tp 2 × dp 2 with one rank dead: one whole replica of 2 ranks is left.
        RemeshPolicy.Decision d = RemeshPolicy.decide(3, 2, 1, 2, 4, 1);
        assertFalse(d.full(2));
        assertEquals(1, d.dims().dp());
        assertEquals(2, d.dims().world());
        // tp 2 × pp 2 × dp 4 = 16, 5 lost: 11 live → 2 replicas of 4.
        assertEquals(2, RemeshPolicy.decide(11, 2, 2, 4, 64, 2).dims().dp());
    }

    @Test
    void dpMustKeepTheGlobalBatchWhole() {
        // 3 replicas fit, but 8 sequences in micro-batches of 2 split over 3 replicas do not: 2 works.
        RemeshPolicy.Decision d = RemeshPolicy.decide(3, 1, 1, 4, 8, 2);
        assertEquals(2, d.dims().dp());
    }

    @Test
    void noFullReplicaIsARefusalWithTheNumbers() {
        RemeshPolicy.Decision d = RemeshPolicy.decide(3, 2, 2, 2, 8, 1);
        assertFalse(d.ok());
        assertTrue(d.refusal().contains("3 live rank(s)"), d.refusal());
        assertTrue(d.refusal().contains("tp 2 × pp 2 = 4"), d.refusal());
    }

    @Test
    void badDimsAreRejected() {
        assertThrows(IllegalArgumentException.class, () -> RemeshPolicy.decide(4, 0, 1, 2, 4, 1));
    }
}
