// The 1F1B (one-forward-one-backward, PipeDream-Flush / Megatron) schedule of one pipeline stage over
// m micro-batches: stage s first runs min(pp − s − 1, m) warm-up forwards, then alternates one forward
// and one backward, then drains the remaining backwards.
// Guarantees: every micro-batch gets exactly one F and, later, one B on every stage; backwards run in
// micro-batch order; at most pp − s micro-batches are in flight on stage s (its activation memory);
// with equal stage times the idle (bubble) fraction is (pp − 1) / (m + pp − 1).
package dev.shoal.runtime.parallel;

import java.util.ArrayList;
import java.util.List;

public final class PipelineSchedule {
    private PipelineSchedule() {}

    /** One step of a stage's schedule: a forward or a backward of micro-batch micro. */
    public record Op(boolean forward, int micro) {
        @Override
        public String toString() {
            return (forward ? "F" : "B") + micro;
        }
    }

    /** Stage stage's 1F1B order over m micro-batches in a pipeline of pp stages. */
    public static List<Op> oneFOneB(int pp, int stage, int m) {
        if (pp < 1 || stage < 0 || stage >= pp || m < 1) {
            throw new IllegalArgumentException("1F1B needs pp >= 1, 0 <= stage < pp and m >= 1 micro-batches; got pp "
                    + pp + ", stage " + stage + ", m " + m);
        }
        int warmup = Math.min(pp - stage - 1, m);
        List<Op> ops = new ArrayList<>(2 * m);
        // Warm-up: fill the pipeline below this stage.
        for (int i = 0; i < warmup; i++) {
            ops.add(new Op(true, i));
        }
        // Steady state: one forward, one backward.
        for (int i = 0; i < m - warmup; i++) {
            ops.add(new Op(true, warmup + i));
            ops.add(new Op(false, i));
        }
        // Cool-down: the backwards still owed.
        for (int i = m - warmup; i < m; i++) {
            ops.add(new Op(false, i));
        }
        return ops;
    }

    /** Idle fraction of a 1F1B pipeline with equal stage times: (pp − 1) / (m + pp − 1). */
    public static double bubbleFraction(int pp, int m) {
        return (pp - 1) / (double) (m + pp - 1);
    }
}
