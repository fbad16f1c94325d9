// One candidate parallel layout: tensor-, pipeline- and data-parallel sizes, the micro-batch size and
// the activation recomputation policy.
// Guarantees: every size is >= 1 and the recompute policy is set.
package dev.shoal.runtime.plan;

public record Layout(int tp, int pp, int dp, int microBatch, Recompute recompute) {
    public Layout {
        if (tp < 1 || pp < 1 || dp < 1 || microBatch < 1) {
            throw new IllegalArgumentException("layout sizes must be >= 1: tp " + tp + ", pp " + pp + ", dp " + dp
                    + ", micro_batch " + microBatch);
        }
        if (recompute == null) throw new IllegalArgumentException("layout needs a recompute policy");
    }

    public int world() {
        return tp * pp * dp;
    }

    /** "tp 8 pp 4 dp 1 mb 1 full", the form refusals and tables use. */
    @Override
    public String toString() {
        return "tp " + tp + " pp " + pp + " dp " + dp + " mb " + microBatch + " " + recompute.label();
    }
}
