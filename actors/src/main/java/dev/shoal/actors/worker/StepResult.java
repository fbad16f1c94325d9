// What one rank reports for one training step: its local loss, the tokens it consumed, and at eval
// steps its loss on each source's held-out set.
// Guarantees: tokens >= 0; the loss may be NaN only when the runner says so (divergence is data);
// validation maps source name to held-out loss and is empty at steps without an evaluation.
package dev.shoal.actors.worker;

import java.util.Map;

public record StepResult(double loss, long tokens, Map<String, Double> validation) {
    public StepResult {
        if (tokens < 0) throw new IllegalArgumentException("step tokens " + tokens + " < 0");
        validation = Map.copyOf(validation);
    }

    /** A step without an evaluation. */
    public StepResult(double loss, long tokens) {
        this(loss, tokens, Map.of());
    }
}
