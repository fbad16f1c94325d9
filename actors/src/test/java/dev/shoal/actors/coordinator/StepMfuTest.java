// StepMfu: the MFU the coordinator puts in StepMetrics, checked against FLOPs counted by hand for the
// tiny preset (not through TrainFlops), and 0 whenever a peak or the model is unknown.
package dev.shoal.actors.coordinator;

import static org.junit.jupiter.api.Assertions.assertEquals;

import dev.shoal.actors.worker.WorkerInfo;
import dev.shoal.proto.v1.JobSpec;
import dev.shoal.proto.v1.StepMetrics;
import java.util.List;
import org.junit.jupiter.api.Test;

class StepMfuTest {

    static final String NODE = "pekko://shoal@127.0.0.1:2552";

    static WorkerInfo rank(int i, double peak) {
        return new WorkerInfo(NODE, WorkerInfo.CPU, i).withPeak(peak, "configured");
    }

    static JobSpec spec(String model) {
        return JobSpec.newBuilder()
                .setModel(model)
                .setGlobalBatch(8)
                .setSeqLen(32)
                .build();
    }

    @Test
    void mfuIsTheCostModelsFlopsOverTimeAndTheSummedPeaks() {
        // tiny: 2 layers, C 64, kv dim 64/4·2 = 32, F 176, V 512. Matmul params per layer
        // 2·C² + 2·C·kv + 3·C·F = 8192 + 4096 + 33792 = 46080; ×2 layers + V·C (LM head) = 124928.
        // Step FLOPs = 6·B·T·124928 + 6·layers·B·T²·C = 191889408 + 6291456 = 198180864 (B 8, T 32).
        StepMfu m = StepMfu.of(spec("tiny"), List.of(rank(0, 1e9), rank(1, 1e9)));
        assertEquals(198_180_864.0, m.flopsPerStep());
        assertEquals(2e9, m.peakFlops());
        StepMetrics s = m.apply(StepMetrics.newBuilder().setStepSeconds(0.5).build());
        assertEquals(198_180_864.0 / 0.5 / 2e9, s.getMfu(), 1e-15);
    }

    @Test
    void anUnknownPeakOrModelGivesZeroNeverNaN() {
        assertEquals(
                0,
                StepMfu.of(spec("tiny"), List.of(rank(0, 1e9), new WorkerInfo(NODE, "cpu", 1)))
                        .mfu(0.5));
        assertEquals(
                0, StepMfu.of(spec("/no/such/model"), List.of(rank(0, 1e9))).mfu(0.5));
        assertEquals(0, StepMfu.of(spec("tiny"), List.of(rank(0, 1e9))).mfu(0));
        assertEquals(
                0,
                StepMfu.UNKNOWN
                        .apply(StepMetrics.newBuilder().setStepSeconds(1).build())
                        .getMfu());
    }
}
