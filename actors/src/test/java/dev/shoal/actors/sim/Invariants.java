// The protocol invariants of a simulated run, checked from what every simulated rank recorded and what
// the coordinator published: the same ones the real cluster tests assert.
//  - epochs: every worker joins meshes of strictly growing epochs; published TRAINING epochs grow;
//  - one rank per worker: within a mesh epoch a rank is held by one worker and runs a step once;
//  - the global batch is kept: in every step round, the DP replicas' rows never overlap, and in a
//    round every rank finished they tile [0, global batch) exactly, whatever the mesh's dp;
//  - exactly-once data: every step 1..N has a final round (in the last epoch that ran it) that every
//    rank of that mesh finished, and the coordinator's metrics carry the global batch's tokens;
//  - resumption: within an epoch every rank runs consecutive steps; a new mesh starts right after
//    the last checkpoint committed before it (never skipping a step, never redoing a committed one).
package dev.shoal.actors.sim;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.shoal.proto.v1.Phase;
import dev.shoal.proto.v1.StepMetrics;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;

final class Invariants {
    private Invariants() {}

    static void check(Simulator.Result r) {
        Scenario sc = r.scenario();
        long batch = sc.globalBatch();

        // Epochs grow, per worker and in what the coordinator published.
        long published = 0;
        for (var s : r.events()) {
            if (s.event().hasPhase() && s.event().getPhase().getTo() == Phase.TRAINING) {
                long e = s.event().getPhase().getMeshEpoch();
                assertTrue(e >= published, "published mesh epochs never go back: " + e + " after " + published);
                published = e;
            }
        }
        for (SimStepRunner runner : r.runners().values()) {
            List<Long> epochs = runner.joinedEpochs();
            for (int i = 1; i < epochs.size(); i++) {
                assertTrue(epochs.get(i) > epochs.get(i - 1), runner.device().id() + " joins growing epochs " + epochs);
            }
        }

        // Every run, by epoch and step; each worker's steps within an epoch are consecutive.
        TreeMap<Long, TreeMap<Long, List<SimStepRunner.Ran>>> runs = new TreeMap<>();
        Map<Long, Long> firstStep = new TreeMap<>();
        for (SimStepRunner runner : r.runners().values()) {
            Map<Long, Long> previous = new TreeMap<>();
            Map<Long, Integer> rankOf = new TreeMap<>();
            for (SimStepRunner.Ran x : runner.ran()) {
                Long p = previous.put(x.epoch(), x.step());
                if (p != null) assertEquals(p + 1, x.step(), runner.device().id() + " runs consecutive steps");
                Integer rank = rankOf.putIfAbsent(x.epoch(), x.rank());
                if (rank != null) assertEquals(rank, x.rank(), "a worker keeps its rank within a mesh");
                runs.computeIfAbsent(x.epoch(), e -> new TreeMap<>())
                        .computeIfAbsent(x.step(), s -> new ArrayList<>())
                        .add(x);
                firstStep.merge(x.epoch(), x.step(), Math::min);
            }
        }

        // Each round: a rank at most once, the replicas' rows disjoint, and a complete round covers the batch.
        Map<Long, Long> finalEpoch = new TreeMap<>();
        Map<Long, Boolean> finalComplete = new TreeMap<>();
        runs.forEach((epoch, steps) -> steps.forEach((step, ran) -> {
            int dp = ran.get(0).dp();
            int world = sc.tp() * sc.pp() * dp;
            Set<Integer> ranks = new HashSet<>();
            for (SimStepRunner.Ran x : ran) {
                assertEquals(dp, x.dp(), "one layout per mesh");
                assertTrue(
                        ranks.add(x.rank()), "rank " + x.rank() + " ran step " + step + " of epoch " + epoch + " once");
            }
            TreeMap<Long, Long> rows = new TreeMap<>();
            for (SimStepRunner.Ran x : ran) {
                if (x.coord().tp() != 0 || !x.lastStage()) continue;
                Long other = rows.put(x.firstRow(), x.sequences());
                assertTrue(other == null, "replica rows of step " + step + " epoch " + epoch + " start once");
            }
            long next = 0;
            boolean complete = ranks.size() == world;
            for (var e : rows.entrySet()) {
                assertTrue(e.getKey() >= next, "rows of step " + step + " epoch " + epoch + " overlap: " + rows);
                if (complete) assertEquals(next, (long) e.getKey(), "rows tile the batch: " + rows);
                next = e.getKey() + e.getValue();
            }
            assertTrue(next <= batch, "rows beyond the global batch: " + rows);
            if (complete) assertEquals(batch, next, "step " + step + " epoch " + epoch + " kept the global batch");
            finalEpoch.put(step, epoch); // epochs ascend: the last put is the latest mesh
            finalComplete.put(step, complete);
        }));

        // Exactly once: every step of the job has a complete final round.
        for (long step = 1; step <= sc.steps(); step++) {
            assertNotNull(finalEpoch.get(step), "step " + step + " never ran");
            assertTrue(
                    finalComplete.get(step),
                    "step " + step + " finished on every rank of epoch " + finalEpoch.get(step));
        }

        // A new mesh starts right after the last checkpoint committed by an older mesh.
        boolean failover = r.interruptions().stream().anyMatch(x -> x.kind.equals("coordinator"));
        if (!failover) { // a failover may hide checkpoint events from the re-subscribed listener
            for (var e : firstStep.entrySet()) {
                long epoch = e.getKey();
                long committed = 0;
                for (var s : r.events()) {
                    if (s.event().hasCheckpoint() && s.event().getCheckpoint().getMeshEpoch() < epoch) {
                        committed =
                                Math.max(committed, s.event().getCheckpoint().getStep());
                    }
                }
                assertEquals(committed + 1, (long) e.getValue(), "mesh epoch " + epoch + " starts after checkpoint");
            }
        }

        // The coordinator's metrics: the global batch's tokens and the simulated loss, every step.
        Set<Long> reported = new HashSet<>();
        for (StepMetrics m : r.steps()) {
            reported.add(m.getStep());
            assertEquals(batch * sc.seqLen(), m.getTokens());
            assertEquals(SimStepRunner.loss(m.getStep()), m.getLoss(), 1e-12);
        }
        if (!failover) assertEquals(sc.steps(), reported.size(), "a StepMetrics for every step");

        // The journal holds the job and a fresh coordinator recovers it.
        assertTrue(r.journalEvents() >= 3, "registrations, submission, mesh, completion");
        assertTrue(r.journalBytes() > 0);
        assertEquals(Phase.COMPLETED, r.recoveredPhase());
        // Every step's compute, once, at the layout it last ran on (a grown mesh's steps are shorter).
        assertTrue(r.usefulSeconds() > 0, "useful work was counted");
        assertTrue(r.simulatedClock() >= r.usefulSeconds() * 0.999, "the job takes at least its steps");
        if (r.finalWorld() <= sc.world()) {
            assertTrue(
                    r.simulatedClock() >= sc.steps() * r.simulatedStepSeconds() * 0.999,
                    "a mesh never larger than the first one takes at least its steps at the full layout");
        }
    }
}
