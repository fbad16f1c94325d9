// What one rank reports for one training step: the loss, the tokens of the step, the pre-clip
// gradient norm and the LR of the update, the per-source held-out losses when the step evaluated,
// and the checkpoint shard when the step wrote one.
// Guarantees: tokens >= 0; checkpointPath is empty exactly when no shard was written; the loss may be
// NaN only when the runner says so (divergence is data).
package dev.shoal.actors.worker;

import java.util.LinkedHashMap;
import java.util.Map;

public record StepResult(
        double loss,
        long tokens,
        double gradNorm,
        double lr,
        Map<String, Double> validation,
        String checkpointPath,
        long checkpointBytes) {
    public StepResult {
        if (tokens < 0) throw new IllegalArgumentException("step tokens " + tokens + " < 0");
        validation =
                validation == null ? Map.of() : java.util.Collections.unmodifiableMap(new LinkedHashMap<>(validation));
        if (checkpointPath == null) checkpointPath = "";
        if (checkpointBytes < 0) throw new IllegalArgumentException("checkpoint bytes " + checkpointBytes + " < 0");
    }

    /** A step without norm, LR, validation or checkpoint. */
    public StepResult(double loss, long tokens) {
        this(loss, tokens, Double.NaN, Double.NaN, Map.of(), "", 0);
    }
}
