// RescalePolicy as a pure function: accepted requests and every refusal with its kind and wording,
// and the dp auto-grow picks.
package dev.shoal.actors.coordinator;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.shoal.comm.ParallelDims;
import dev.shoal.proto.v1.Phase;
import org.junit.jupiter.api.Test;

class RescalePolicyTest {

    /** tp 2 × pp 1 at dp 2, global batch 12 in micro-batches of 1, boundary after step 5 of 20. */
    static RescalePolicy.Job job(Phase phase, int maxDp, boolean checkpoints) {
        return new RescalePolicy.Job(phase, 2, 1, 2, 12, 1, maxDp, checkpoints, 5, 20);
    }

    static RescalePolicy.Job training() {
        return job(Phase.TRAINING, 0, true);
    }

    @Test
    void acceptsAGrowAndAShrinkKeepingTpAndPp() {
        RescalePolicy.Decision up = RescalePolicy.request(3, training(), 6);
        assertTrue(up.ok(), up::refusal);
        assertEquals(new ParallelDims(2, 1, 3, 6), up.dims());
        RescalePolicy.Decision down = RescalePolicy.request(1, training(), 6);
        assertEquals(new ParallelDims(2, 1, 1, 2), down.dims());
    }

    @Test
    void aDpThatCannotWorkIsInvalidAndNamesTheSizesThatWould() {
        RescalePolicy.Decision zero = RescalePolicy.request(0, training(), 8);
        assertEquals(RescalePolicy.Kind.INVALID, zero.kind());
        assertEquals("dp 0 must be >= 1", zero.refusal());

        RescalePolicy.Decision batch = RescalePolicy.request(5, training(), 10);
        assertEquals(RescalePolicy.Kind.INVALID, batch.kind());
        assertEquals(
                "dp 5: global_batch 12 is not divisible by micro_batch 1 × dp 5; dp 1, 2, 3, 4, 6 or 12 would work",
                batch.refusal());

        RescalePolicy.Decision cap = RescalePolicy.request(4, job(Phase.TRAINING, 3, true), 8);
        assertEquals(RescalePolicy.Kind.INVALID, cap.kind());
        assertEquals("dp 4 is above max_dp 3", cap.refusal());
    }

    @Test
    void theClusterStateRefusesWithAPrecondition() {
        RescalePolicy.Decision few = RescalePolicy.request(3, training(), 5);
        assertEquals(RescalePolicy.Kind.PRECONDITION, few.kind());
        assertEquals("dp 3: tp 2 × pp 1 × dp 3 = 6 ranks, but 5 are registered; dp 1 or 2 would fit", few.refusal());

        RescalePolicy.Decision recovering = RescalePolicy.request(3, job(Phase.RECOVERING, 0, true), 6);
        assertEquals(RescalePolicy.Kind.PRECONDITION, recovering.kind());
        assertTrue(recovering.refusal().startsWith("the job is RECOVERING"), recovering.refusal());

        RescalePolicy.Decision noDir = RescalePolicy.request(3, job(Phase.TRAINING, 0, false), 6);
        assertTrue(noDir.refusal().contains("no checkpoint_dir"), noDir.refusal());

        RescalePolicy.Decision same = RescalePolicy.request(2, training(), 6);
        assertEquals("the mesh already runs at dp 2", same.refusal());

        RescalePolicy.Job ending = new RescalePolicy.Job(Phase.TRAINING, 2, 1, 2, 12, 1, 0, true, 20, 20);
        RescalePolicy.Decision late = RescalePolicy.request(3, ending, 6);
        assertTrue(late.refusal().contains("ends at step 20 before a rescale could take effect"), late.refusal());
    }

    @Test
    void autoGrowPicksTheLargestWholeReplicaCountThatSplitsTheBatch() {
        // tp 2: 7 ranks hold 3 replicas; 12 / 3 works.
        assertEquals(3, RescalePolicy.grow(7, 2, 1, 2, 0, 12, 1));
        // 10 ranks hold 5 replicas, but 12 is not divisible by 5: 4.
        assertEquals(4, RescalePolicy.grow(10, 2, 1, 2, 0, 12, 1));
        // max_dp caps it.
        assertEquals(3, RescalePolicy.grow(10, 2, 1, 2, 3, 12, 1));
        // Not a whole extra replica: no grow.
        assertEquals(0, RescalePolicy.grow(5, 2, 1, 2, 0, 12, 1));
        // Already at max_dp: no grow.
        assertEquals(0, RescalePolicy.grow(12, 2, 1, 3, 3, 12, 1));
        // global 10, micro 1 at dp 2 with 3 more replicas' worth of ranks: 5 (3 and 4 do not divide 10).
        assertEquals(5, RescalePolicy.grow(10, 2, 1, 2, 0, 10, 1));
        assertEquals(0, RescalePolicy.grow(8, 2, 1, 2, 0, 10, 1));
    }

    @Test
    void aDecisionIsAMeshOrARefusal() {
        org.junit.jupiter.api.Assertions.assertThrows(
                IllegalArgumentException.class,
                () -> new RescalePolicy.Decision(null, RescalePolicy.Kind.INVALID, null));
        org.junit.jupiter.api.Assertions.assertThrows(
                IllegalArgumentException.class, () -> new RescalePolicy.Decision(null, null, "why"));
    }
}
