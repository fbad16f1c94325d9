// What one rank reports for one training step: the loss, the tokens of the step, at eval steps its
// loss on each source's held-out set, the pre-clip gradient norm and the LR of the update, and the
// checkpoint folder that became committed (every rank's shard durable) since the last report, and the
// seconds this rank's own last save took (host snapshot to its shard durable; -1: none finished since),
// and the newest step whose in-memory peer copy its buddy acknowledged since the last report (0: none).
// Guarantees: tokens >= 0; validation maps source name to held-out loss (in the runner's order) and is
// empty at steps without an evaluation; checkpointPath is empty when no checkpoint was committed since the last report;
// the loss may be NaN only when the runner says so (divergence is data).
package dev.shoal.actors.worker;

import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.Map;

public record StepResult(
        double loss,
        long tokens,
        Map<String, Double> validation,
        double gradNorm,
        double lr,
        String checkpointPath,
        long checkpointBytes,
        double checkpointSeconds,
        long peerCopyStep) {
    public StepResult {
        if (peerCopyStep < 0) throw new IllegalArgumentException("peer copy step " + peerCopyStep + " < 0");
        if (tokens < 0) throw new IllegalArgumentException("step tokens " + tokens + " < 0");
        validation = validation == null ? Map.of() : Collections.unmodifiableMap(new LinkedHashMap<>(validation));
        if (checkpointPath == null) checkpointPath = "";
        if (checkpointBytes < 0) throw new IllegalArgumentException("checkpoint bytes " + checkpointBytes + " < 0");
        if (!(checkpointSeconds >= 0 || checkpointSeconds == -1)) {
            throw new IllegalArgumentException(
                    "checkpoint seconds " + checkpointSeconds + " must be >= 0, or -1 for no save finished");
        }
    }

    /** A step that reports no in-memory peer copy (peerCopyStep 0). */
    public StepResult(
            double loss,
            long tokens,
            Map<String, Double> validation,
            double gradNorm,
            double lr,
            String checkpointPath,
            long checkpointBytes,
            double checkpointSeconds) {
        this(loss, tokens, validation, gradNorm, lr, checkpointPath, checkpointBytes, checkpointSeconds, 0);
    }

    /** A step that reports no save of its own (checkpointSeconds -1). */
    public StepResult(
            double loss,
            long tokens,
            Map<String, Double> validation,
            double gradNorm,
            double lr,
            String checkpointPath,
            long checkpointBytes) {
        this(loss, tokens, validation, gradNorm, lr, checkpointPath, checkpointBytes, -1);
    }

    /** A step with an evaluation but without norm, LR or checkpoint. */
    public StepResult(double loss, long tokens, Map<String, Double> validation) {
        this(loss, tokens, validation, Double.NaN, Double.NaN, "", 0);
    }

    /** A step without an evaluation. */
    public StepResult(double loss, long tokens) {
        this(loss, tokens, Map.of());
    }
}
