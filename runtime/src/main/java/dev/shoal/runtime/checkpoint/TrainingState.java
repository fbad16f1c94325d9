// What a checkpoint records besides tensors (design invariant 7), as the caller gives it to save and
// gets it back from load. The AdamW step count and the mesh are taken from the trainer itself.
// Guarantees: step >= 0; the fields round-trip through the manifest unchanged.
package dev.shoal.runtime.checkpoint;

import com.google.protobuf.ByteString;
import dev.shoal.proto.v1.checkpoint.TrainState;
import java.util.Map;

/**
 * @param step optimizer steps done; the next step to run, which is the data cursor (invariant 1)
 * @param seed the job seed (data order, initial weights)
 * @param lrSchedule the LR schedule in force, as text (e.g. LrSchedule's toString)
 * @param nextLr the schedule's learning rate for step {@code step}
 * @param rngState the trainer's RNG state (empty when training draws no random numbers)
 * @param extra caller metadata, e.g. tokens consumed per source or the job's identity
 */
public record TrainingState(
        long step, long seed, String lrSchedule, double nextLr, byte[] rngState, Map<String, String> extra) {
    public TrainingState {
        if (step < 0) throw new IllegalArgumentException("checkpoint step must be >= 0, got " + step);
        lrSchedule = lrSchedule == null ? "" : lrSchedule;
        rngState = rngState == null ? new byte[0] : rngState.clone();
        extra = Map.copyOf(extra == null ? Map.of() : extra);
    }

    @Override
    public byte[] rngState() {
        return rngState.clone();
    }

    TrainState toProto(long adamwSteps) {
        return TrainState.newBuilder()
                .setStep(step)
                .setSeed(seed)
                .setAdamwSteps(adamwSteps)
                .setLrSchedule(lrSchedule)
                .setNextLr(nextLr)
                .setRngState(ByteString.copyFrom(rngState))
                .putAllExtra(extra)
                .build();
    }

    static TrainingState of(TrainState p) {
        return new TrainingState(
                p.getStep(),
                p.getSeed(),
                p.getLrSchedule(),
                p.getNextLr(),
                p.getRngState().toByteArray(),
                p.getExtraMap());
    }
}
