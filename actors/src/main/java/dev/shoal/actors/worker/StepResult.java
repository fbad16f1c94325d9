// What one rank reports for one training step: its local loss and the tokens it consumed.
// Guarantees: tokens >= 0; the loss may be NaN only when the runner says so (divergence is data).
package dev.shoal.actors.worker;

public record StepResult(double loss, long tokens) {
    public StepResult {
        if (tokens < 0) throw new IllegalArgumentException("step tokens " + tokens + " < 0");
    }
}
