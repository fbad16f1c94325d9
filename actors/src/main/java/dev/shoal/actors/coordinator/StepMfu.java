// The model FLOP utilization of a cluster step, as the coordinator reports it in StepMetrics.mfu:
//   MFU = model FLOPs of one step / step seconds / Σ peak FLOP/s of the mesh's devices
// with the model FLOPs counted as the planner's cost model counts them (TrainFlops.stepFlops: 6·params
// per token for the matmuls incl. the LM head, plus causal attention; no recompute) for the job's
// global batch × seq_len, and each device's peak as its node reported it (WorkerInfo.peakFlops: a
// GPU's datasheet or configured peak, a CPU rank's configured or measured one).
//
// Guarantees: MFU is 0 ("unknown") when the model's shape cannot be read here (not a preset, and no
// readable config.json at its path on the coordinator's node) or when any rank's peak is unknown;
// never NaN or infinite.
package dev.shoal.actors.coordinator;

import dev.shoal.actors.worker.WorkerInfo;
import dev.shoal.proto.v1.JobSpec;
import dev.shoal.proto.v1.StepMetrics;
import dev.shoal.runtime.cuda.TrainFlops;
import dev.shoal.runtime.hf.HfConfig;
import dev.shoal.runtime.model.LlamaConfig;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Locale;

record StepMfu(double flopsPerStep, double peakFlops) {

    static final StepMfu UNKNOWN = new StepMfu(0, 0);

    /** The basis for a mesh of {@code ranks} devices training {@code spec}. */
    static StepMfu of(JobSpec spec, List<WorkerInfo> ranks) {
        LlamaConfig cfg = model(spec.getModel());
        if (cfg == null || ranks.isEmpty()) return UNKNOWN;
        double peak = 0;
        for (WorkerInfo w : ranks) {
            if (!(w.peakFlops() > 0)) return new StepMfu(flops(cfg, spec), 0);
            peak += w.peakFlops();
        }
        return new StepMfu(flops(cfg, spec), peak);
    }

    private static double flops(LlamaConfig cfg, JobSpec spec) {
        return TrainFlops.stepFlops(cfg, spec.getGlobalBatch(), spec.getSeqLen(), true);
    }

    /** A preset, or the config.json of an HF directory readable here; null otherwise. */
    static LlamaConfig model(String name) {
        if (name.isBlank()) return null;
        if (LlamaConfig.PRESETS.containsKey(name.toLowerCase(Locale.ROOT))) return LlamaConfig.preset(name);
        try {
            Path dir = Path.of(name);
            return Files.isDirectory(dir) ? HfConfig.read(dir) : null;
        } catch (Exception e) {
            return null; // the workers report the real problem when they load it
        }
    }

    /** MFU of a step that took {@code seconds}; 0 when unknown. */
    double mfu(double seconds) {
        if (!(flopsPerStep > 0) || !(peakFlops > 0) || !(seconds > 0)) return 0;
        return TrainFlops.mfu(flopsPerStep, seconds, peakFlops);
    }

    /** {@code m} with its MFU filled in. */
    StepMetrics apply(StepMetrics m) {
        return m.toBuilder().setMfu(mfu(m.getStepSeconds())).build();
    }
}
