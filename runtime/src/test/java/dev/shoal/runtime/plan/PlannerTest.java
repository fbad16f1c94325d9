// The planner's enumeration, refusals and ranking: invalid tp and pp are refused with the reason the
// issue names, a dp that cannot divide the batch is refused with BatchPlan's message, layouts over the
// GPU's memory are refused with their need, and the ranking puts fitting layouts first, fastest first.
package dev.shoal.runtime.plan;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.shoal.runtime.model.LlamaConfig;
import dev.shoal.runtime.parallel.StagePlan;
import java.util.List;
import org.junit.jupiter.api.Test;

class PlannerTest {
    static final LlamaConfig L70 = LlamaConfig.preset("llama3-70b");
    static final LlamaConfig L8 = LlamaConfig.preset("llama3-8b");
    static final List<Recompute> ALL = List.of(Recompute.values());

    @Test
    void tensorParallelRefusals() {
        Cluster c = new Cluster(4, 8, GpuSpec.preset("h100"));
        String why = Planner.tpReason(L70, c, 16);
        assertTrue(why.contains("tp 16 > 8 kv heads"), why);
        assertTrue(why.contains("tp 16 > 8 GPUs per node"), why);
        Cluster six = new Cluster(1, 6, GpuSpec.preset("h100"));
        assertTrue(Planner.tpReason(L70, six, 3).contains("tp 3 does not divide 8 kv heads"));
        assertTrue(Planner.tpReason(L70, six, 4).contains("tp 4 does not divide the 6 GPUs of a node"));
        assertNull(Planner.tpReason(L70, c, 8));
    }

    @Test
    void pipelineRefusals() {
        assertTrue(Planner.ppReason(L70, 160).contains("pp 160 > 80 layers"));
        // pp 80 divides 80 layers: allowed (the cost model charges the head's stage)
        assertNull(Planner.ppReason(L70, 80));
        // 3 stages [27, 27, 26]+head: slowest 27 layers = 23.10B vs mean 69.50B/3 = 23.17B → fine
        assertNull(Planner.ppReason(L70, 3));
        assertEquals("[27, 27, 26]+head", Planner.describe(StagePlan.balanced(L70, 3)));
        // small (4 layers, layer 725,504 params, head 4096·256 = 1,048,576): pp 3 splits [1, 2, 1]+head (ties go to the
        // earliest cut), the
        // last stage 1,774,080 vs mean (4·725,504 + 1,048,576)/3 = 1,316,864 → 1.35× → refused
        String why = Planner.ppReason(LlamaConfig.preset("small"), 3);
        assertTrue(why.contains("pp 3 does not divide 4 layers evenly enough"), why);
        assertTrue(why.contains("[1, 2, 1]+head"), why);
        assertTrue(why.contains("1.35×"), why);
    }

    @Test
    void everyLayoutIsRankedOrRefusedAndTheRankingIsFitThenFast() {
        Cluster c = new Cluster(2, 8, GpuSpec.preset("h100"));
        TrainSetup setup = TrainSetup.of(L8, 64, 4096).withZero1(true);
        Planner.Result r = Planner.plan(c, setup, List.of(1, 2), ALL);
        // tp ∈ {1,2,4,8} valid; per tp the pp divisors of 16/tp; all divide 32 layers evenly enough; every dp
        // here divides 64 with mb 1 and 2 → (5+4+3+2) (tp,pp) pairs × 2 mb × 3 recompute = 84 layouts
        assertEquals(84, r.ranked().size());
        List<Planner.Candidate> fit = r.fitting();
        assertFalse(fit.isEmpty());
        for (int i = 1; i < fit.size(); i++) {
            assertTrue(fit.get(i - 1).step().stepSeconds() <= fit.get(i).step().stepSeconds());
        }
        boolean seenUnfit = false;
        for (Planner.Candidate cand : r.ranked()) {
            if (!cand.fits()) seenUnfit = true;
            else assertFalse(seenUnfit, "a fitting layout after one that does not fit");
            assertEquals(cand.fits(), cand.memory().totalBytes() <= 80 * GpuSpec.GIB);
        }
        long oom = r.refused().stream()
                .filter(x -> x.reason().startsWith("needs "))
                .count();
        assertEquals(r.ranked().size() - fit.size(), oom);
        // tp 16 is refused once, as a family
        assertEquals(
                1, r.refused().stream().filter(x -> x.what().equals("tp 16")).count());
    }

    @Test
    void batchThatDpCannotDivideIsRefusedWithTheSizesThatWork() {
        Cluster c = new Cluster(1, 8, GpuSpec.preset("h100"));
        Planner.Result r = Planner.plan(c, TrainSetup.of(L8, 6, 4096), List.of(1), ALL);
        Planner.Refusal dp8 = r.refused().stream()
                .filter(x -> x.what().equals("tp 1 pp 1 dp 8 mb 1"))
                .findFirst()
                .orElseThrow();
        assertTrue(dp8.reason().contains("dp 8 cannot fit global_batch 6"), dp8.reason());
        assertTrue(dp8.reason().contains("[1, 2, 3, 6]"), dp8.reason());
    }

    @Test
    void seventyBOnOneNodeDoesNotFitAndSaysHowMuchItNeeds() {
        Cluster c = new Cluster(1, 8, GpuSpec.preset("h100"));
        Planner.Result r = Planner.plan(c, TrainSetup.of(L70, 8, 8192), List.of(1), ALL);
        assertTrue(r.fitting().isEmpty());
        // tp 8 pp 1: 8,820,367,360 params × 18 bytes = 147.9 GiB before activations
        Planner.Refusal best = r.refused().stream()
                .filter(x -> x.what().equals("tp 8 pp 1 dp 1 mb 1 full"))
                .findFirst()
                .orElseThrow();
        assertTrue(
                best.reason()
                        .matches("needs \\d+\\.\\d GiB > 80 GiB on stage 0 \\(weights 16\\.4, grads 32\\.9,"
                                + " optimizer 98\\.6.*"),
                best.reason());
        String text = PlanReport.render(r, 10, true);
        assertTrue(text.contains("no layout fits in 80 GiB per GPU"), text);
    }

    @Test
    void badInputsAreRefusedWithTheValues() {
        assertThrows(IllegalArgumentException.class, () -> new Layout(0, 1, 1, 1, Recompute.NONE));
        IllegalArgumentException e =
                assertThrows(IllegalArgumentException.class, () -> new TrainSetup(L8, 8, 9000, false, false, 4));
        assertTrue(e.getMessage().contains("sequence length 9000 exceeds the 8192-token context"));
        e = assertThrows(IllegalArgumentException.class, () -> GpuSpec.preset("v100"));
        assertTrue(e.getMessage().contains("unknown gpu 'v100'"));
        e = assertThrows(IllegalArgumentException.class, () -> new CostModel(
                        new Cluster(1, 8, GpuSpec.preset("h100")), TrainSetup.of(L8, 8, 4096))
                .estimate(new Layout(2, 2, 1, 1, Recompute.FULL)));
        assertTrue(e.getMessage().contains("tp 2 × pp 2 × dp 1 = 4 ≠ 8 GPUs"), e.getMessage());
    }
}
