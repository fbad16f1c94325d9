// The 1F1B schedule's order of operations, a simulated run of every stage with blocking receives (no
// deadlock, activations arrive before their use, in-flight micro-batches bounded by pp − stage), the
// bubble fraction, and the balanced / user layer split.
package dev.shoal.runtime.parallel;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.shoal.runtime.model.LlamaConfig;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Optional;
import java.util.Set;
import org.junit.jupiter.api.Test;

class PipelineScheduleTest {
    static String order(int pp, int stage, int m) {
        return PipelineSchedule.oneFOneB(pp, stage, m).toString();
    }

    @Test
    void oneFOneBOrder() {
        assertEquals("[F0, F1, F2, F3, B0, F4, B1, F5, B2, B3, B4, B5]", order(4, 0, 6));
        assertEquals("[F0, F1, F2, B0, F3, B1, F4, B2, F5, B3, B4, B5]", order(4, 1, 6));
        assertEquals("[F0, B0, F1, B1, F2, B2, F3, B3, F4, B4, F5, B5]", order(4, 3, 6));
        // Fewer micro-batches than stages: warm-up is cut to m.
        assertEquals("[F0, F1, B0, B1]", order(4, 0, 2));
        assertEquals("[F0, B0]", order(1, 0, 1));
    }

    /**
     * Runs every stage's schedule as a discrete simulation: a forward of micro k on stage s waits for
     * F(k) on s−1, a backward for B(k) on s+1 (and the stage's own F(k)). Sends never block. Each round,
     * every stage whose next op is ready runs it; the simulation must finish.
     */
    @Test
    void everyStageCompletesWithBoundedActivations() {
        for (int pp : new int[] {1, 2, 3, 4, 8}) {
            for (int m : new int[] {1, 2, 3, 4, 7, 16}) {
                List<ArrayDeque<PipelineSchedule.Op>> queues = new ArrayList<>();
                List<Set<String>> done = new ArrayList<>();
                for (int s = 0; s < pp; s++) {
                    queues.add(new ArrayDeque<>(PipelineSchedule.oneFOneB(pp, s, m)));
                    done.add(new HashSet<>());
                    assertEquals(2 * m, queues.get(s).size());
                }
                int[] inFlight = new int[pp];
                int rounds = 0;
                while (queues.stream().anyMatch(q -> !q.isEmpty())) {
                    assertTrue(++rounds <= 4 * (m + pp) + 4, "pp " + pp + " m " + m + " deadlocks");
                    List<Runnable> fire = new ArrayList<>();
                    for (int s = 0; s < pp; s++) {
                        PipelineSchedule.Op op = queues.get(s).peek();
                        if (op == null) continue;
                        boolean ready = op.forward()
                                ? s == 0 || done.get(s - 1).contains("F" + op.micro())
                                : done.get(s).contains("F" + op.micro())
                                        && (s == pp - 1 || done.get(s + 1).contains("B" + op.micro()));
                        if (ready) {
                            int stage = s;
                            fire.add(() -> {
                                queues.get(stage).poll();
                                done.get(stage).add(op.toString());
                                inFlight[stage] += op.forward() ? 1 : -1;
                                assertTrue(
                                        inFlight[stage] <= pp - stage,
                                        "stage " + stage + " holds " + inFlight[stage]
                                                + " micro-batches, more than pp − stage");
                            });
                        }
                    }
                    fire.forEach(Runnable::run);
                }
            }
        }
    }

    @Test
    void bubbleFraction() {
        assertEquals(0.0, PipelineSchedule.bubbleFraction(1, 8), 0);
        assertEquals(3.0 / 11, PipelineSchedule.bubbleFraction(4, 8), 1e-15);
        assertEquals(1.0 / 5, PipelineSchedule.bubbleFraction(2, 4), 1e-15);
    }

    @Test
    void stageSplitBalancesLayerCostWithTheHeadOnTheLastStage() {
        LlamaConfig eight = new LlamaConfig("eight", 8, 64, 4, 2, 176, 512, 1e-5, 500_000.0, Optional.empty(), 64);
        // Layers cost 8·C² + 3·C·F + 2C = 66688, the head V·C = 32768 (about half a layer): 4 + 4 puts
        // 4.5 layers of work on the last stage, 5 + 3 puts 5; 4 + 4 is the better split.
        assertEquals(StagePlan.of(eight, 4, 4), StagePlan.balanced(eight, 2));
        // With a big vocabulary the head outweighs layers and the last stage gets fewer of them.
        LlamaConfig bigVocab = new LlamaConfig("big", 8, 64, 4, 2, 176, 8192, 1e-5, 500_000.0, Optional.empty(), 64);
        StagePlan p = StagePlan.balanced(bigVocab, 2);
        assertTrue(p.layerEnd(0) > 4, "head-heavy last stage gets fewer layers: " + p);
        assertEquals(8, p.layerEnd(1));
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> StagePlan.of(eight, 5, 2));
        assertTrue(e.getMessage().contains("sums to 7"), e.getMessage());
        assertThrows(IllegalArgumentException.class, () -> StagePlan.balanced(eight, 9));
    }
}
