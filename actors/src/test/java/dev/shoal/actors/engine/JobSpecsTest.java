// JobSpecs: a cluster JobSpec reads as the same JobConfig `shoal train` would use, with its defaults,
// and a value the engine cannot use is refused naming the JobSpec field.
package dev.shoal.actors.engine;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.shoal.proto.v1.AlmrPoint;
import dev.shoal.proto.v1.DataSource;
import dev.shoal.proto.v1.JobSpec;
import dev.shoal.proto.v1.LrSchedule;
import dev.shoal.runtime.train.JobConfig;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;

class JobSpecsTest {

    static JobSpec.Builder spec() {
        return JobSpec.newBuilder()
                .setName("j")
                .setModel("tiny")
                .addSources(DataSource.newBuilder()
                        .setName("en")
                        .setLanguage("en")
                        .setPath("/data")
                        .setWeight(0.8))
                .addSources(DataSource.newBuilder()
                        .setName("zh")
                        .setLanguage("zh")
                        .setPath("/data/")
                        .setWeight(0.2)
                        .setAdditional(true))
                .setSeqLen(32)
                .setGlobalBatch(8)
                .setMicroBatch(2)
                .setSteps(100)
                .setSeed(9)
                .setLr(LrSchedule.newBuilder().setPeakLr(3e-4).setWarmupSteps(10))
                .setCheckpointDir("/ckpt");
    }

    @Test
    void readsTheSpecWithShoalTrainsDefaults() {
        JobConfig j = JobSpecs.toJobConfig(
                spec().addAlmrSchedule(AlmrPoint.newBuilder().setStep(0).setAlmr(0.1))
                        .addAlmrSchedule(AlmrPoint.newBuilder().setStep(50).setAlmr(0.3))
                        .build(),
                2);
        assertEquals(Path.of("/data"), j.data().dir());
        assertEquals("zh", j.data().additionalLanguage());
        assertEquals(JobConfig.LrKind.COSINE, j.lr().kind());
        assertEquals(new JobConfig.Optimizer(0.9, 0.95, 1e-8, 0.1, 1.0), j.optimizer());
        assertEquals(2, j.threads());
        assertEquals(JobSpecs.EVAL_BATCHES, j.evalBatches());
        assertEquals(Path.of("/ckpt/metrics.jsonl"), j.metricsFile());
        assertEquals(300_000_000L, j.data().almrSchedule().ppb()[1]);
    }

    @Test
    void refusesWhatTheEngineCannotUseNamingTheField() {
        var paths = assertThrows(
                IllegalArgumentException.class,
                () -> JobSpecs.toJobConfig(
                        spec().setSources(1, spec().getSources(1).toBuilder().setPath("/other"))
                                .build(),
                        1));
        assertTrue(
                paths.getMessage().startsWith("sources[1].path = /other: every source must come from"),
                paths.getMessage());
        var lr = assertThrows(
                IllegalArgumentException.class,
                () -> JobSpecs.toJobConfig(spec().setLr(LrSchedule.newBuilder()).build(), 1));
        assertTrue(lr.getMessage().startsWith("lr.peak_lr = 0.0"), lr.getMessage());
        var none = assertThrows(
                IllegalArgumentException.class,
                () -> JobSpecs.toJobConfig(spec().clearSources().build(), 1));
        assertEquals("sources: the job names no data", none.getMessage());
        var keep = assertThrows(
                IllegalArgumentException.class,
                () -> JobSpecs.toJobConfig(spec().setCheckpointKeepEvery(10).build(), 1));
        assertEquals(
                "checkpoint_keep_every = 10: needs checkpoint_keep_last >= 1 (checkpoint_keep_last 0 keeps every"
                        + " checkpoint)",
                keep.getMessage());
    }

    @Test
    void carriesTheRetention() {
        JobConfig j = JobSpecs.toJobConfig(
                spec().setCheckpointKeepLast(2).setCheckpointKeepEvery(100).build(), 1);
        assertEquals(new dev.shoal.runtime.checkpoint.Retention(2, 100), j.retention());
        assertEquals(
                dev.shoal.runtime.checkpoint.Retention.ALL,
                JobSpecs.toJobConfig(spec().build(), 1).retention());
    }
}
