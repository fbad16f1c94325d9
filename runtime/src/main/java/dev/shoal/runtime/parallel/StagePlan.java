// How a Llama model's layers are split into pipeline stages: contiguous layer ranges, the embedding on
// the first stage, the final norm and LM head on the last. balanced() minimises the most expensive
// stage, counting each layer's matmul work and the LM head's on the last stage (the embedding lookup
// costs next to nothing); of() takes the user's layer counts per stage.
// Guarantees: every stage holds at least one layer and the stages cover every layer once, in order;
// a bad override names the counts, their sum and the model's layer count.
package dev.shoal.runtime.parallel;

import dev.shoal.runtime.model.LlamaConfig;
import java.util.Arrays;

public record StagePlan(int[] layerStarts) { // [pp + 1]: stage s holds layers [starts[s], starts[s+1])

    public StagePlan {
        layerStarts = layerStarts.clone();
        if (layerStarts.length < 2 || layerStarts[0] != 0) {
            throw new IllegalArgumentException(
                    "stage boundaries must start at 0 and name at least one stage: " + Arrays.toString(layerStarts));
        }
        for (int s = 0; s + 1 < layerStarts.length; s++) {
            if (layerStarts[s + 1] <= layerStarts[s]) {
                throw new IllegalArgumentException(
                        "pipeline stage " + s + " would hold no layer: boundaries " + Arrays.toString(layerStarts));
            }
        }
    }

    public int stages() {
        return layerStarts.length - 1;
    }

    public int layerStart(int stage) {
        return layerStarts[stage];
    }

    public int layerEnd(int stage) {
        return layerStarts[stage + 1];
    }

    /** The user's split: layersPerStage[s] layers on stage s. */
    public static StagePlan of(LlamaConfig cfg, int... layersPerStage) {
        int sum = Arrays.stream(layersPerStage).sum();
        if (sum != cfg.layers() || Arrays.stream(layersPerStage).anyMatch(n -> n < 1)) {
            throw new IllegalArgumentException("pipeline split " + Arrays.toString(layersPerStage) + " must give every"
                    + " stage >= 1 layer and sum to the " + cfg.layers() + " layers of model '" + cfg.name()
                    + "' (sums to " + sum + ")");
        }
        int[] starts = new int[layersPerStage.length + 1];
        for (int s = 0; s < layersPerStage.length; s++) {
            starts[s + 1] = starts[s] + layersPerStage[s];
        }
        return new StagePlan(starts);
    }

    /** Relative cost of one transformer layer: its matmul parameters (work per token ∝ parameters). */
    public static double layerCost(LlamaConfig cfg) {
        return cfg.paramsPerLayer();
    }

    /** Relative cost of the LM head on the last stage: its V·C matmul. */
    public static double headCost(LlamaConfig cfg) {
        return (double) cfg.vocab() * cfg.dim();
    }

    /** The split into pp stages that minimises the most expensive stage (exact, by dynamic programming). */
    public static StagePlan balanced(LlamaConfig cfg, int pp) {
        int layers = cfg.layers();
        if (pp < 1 || pp > layers) {
            throw new IllegalArgumentException(
                    "pp " + pp + " must be between 1 and the " + layers + " layers of model '" + cfg.name() + "'");
        }
        double lc = layerCost(cfg), hc = headCost(cfg);
        // best[s][l]: the least possible max stage cost placing the first l layers on the first s stages
        // (stage s−1 ending at layer l); the last stage also carries the head.
        double[][] best = new double[pp + 1][layers + 1];
        int[][] cut = new int[pp + 1][layers + 1];
        for (double[] row : best) {
            Arrays.fill(row, Double.POSITIVE_INFINITY);
        }
        best[0][0] = 0;
        for (int s = 1; s <= pp; s++) {
            for (int l = s; l <= layers; l++) {
                for (int k = s - 1; k < l; k++) {
                    double stageCost = (l - k) * lc + (s == pp ? hc : 0);
                    double c = Math.max(best[s - 1][k], stageCost);
                    if (c < best[s][l]) {
                        best[s][l] = c;
                        cut[s][l] = k;
                    }
                }
            }
        }
        int[] starts = new int[pp + 1];
        starts[pp] = layers;
        for (int s = pp; s >= 1; s--) {
            starts[s - 1] = cut[s][starts[s]];
        }
        return new StagePlan(starts);
    }

    @Override
    public boolean equals(Object o) {
        return o instanceof StagePlan p && Arrays.equals(layerStarts, p.layerStarts);
    }

    @Override
    public int hashCode() {
        return Arrays.hashCode(layerStarts);
    }

    @Override
    public String toString() {
        return "StagePlan" + Arrays.toString(layerStarts);
    }
}
