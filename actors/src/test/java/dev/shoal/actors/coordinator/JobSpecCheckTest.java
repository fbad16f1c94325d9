// JobSpecCheck: every problem named by field; the DP sizes that divide the global batch are listed.
package dev.shoal.actors.coordinator;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.shoal.proto.v1.DataSource;
import dev.shoal.proto.v1.JobSpec;
import dev.shoal.proto.v1.Parallelism;
import java.util.List;
import org.junit.jupiter.api.Test;

class JobSpecCheckTest {

    private static JobSpec.Builder valid() {
        return JobSpec.newBuilder()
                .setName("j")
                .setModel("tiny")
                .setSeqLen(64)
                .setGlobalBatch(64)
                .setMicroBatch(2)
                .setSteps(10)
                .setParallelism(Parallelism.newBuilder().setTp(2).setPp(2).setDp(4));
    }

    @Test
    void aValidSpecHasNoProblems() {
        assertEquals(List.of(), JobSpecCheck.problems(valid().build(), 16));
    }

    @Test
    void dpSizesDivideGlobalOverMicro() {
        assertEquals(List.of(1, 2, 4, 8, 16, 32), JobSpecCheck.dpSizes(64, 2));
        assertEquals(List.of(1, 3, 5, 15), JobSpecCheck.dpSizes(30, 2));
        assertEquals(List.of(), JobSpecCheck.dpSizes(31, 2));
    }

    @Test
    void reportsEveryProblemNamingFields() {
        JobSpec bad = valid().setSeqLen(0)
                .setGlobalBatch(31)
                .setCheckpointInterval(100)
                .addSources(
                        DataSource.newBuilder().setName("en").setPath("/d/en").setWeight(0.5))
                .addSources(DataSource.newBuilder().setName("en").setPath("").setWeight(0.2))
                .build();
        List<String> p = JobSpecCheck.problems(bad, 12);
        String all = String.join("\n", p);
        assertTrue(all.contains("seq_len must be >= 1, got 0"), all);
        assertTrue(all.contains("checkpoint_dir is empty but checkpoint_interval is 100"), all);
        assertTrue(all.contains("sources[1].name \"en\" is used twice"), all);
        assertTrue(all.contains("sources[1].path is empty"), all);
        assertTrue(all.contains("sources weights sum to 0.7, not 1"), all);
        assertTrue(all.contains("tp 2 × pp 2 × dp 4 = 16 ≠ world 12 (the registered ranks); dp 3 would fit"), all);
        assertTrue(
                all.contains("global_batch 31 is not divisible by micro_batch 2 × parallelism.dp 4 = 8; no dp works"),
                all);
    }

    @Test
    void checksTheRetentionNamingEachField() {
        assertEquals(
                List.of(
                        "checkpoint_keep_last -1 < 0 (0: keep every checkpoint)",
                        "checkpoint_keep_every -3 < 0 (0: none)"),
                JobSpecCheck.specProblems(valid().setCheckpointKeepLast(-1)
                        .setCheckpointKeepEvery(-3)
                        .build()));
        assertEquals(
                List.of("checkpoint_keep_every 100 needs checkpoint_keep_last >= 1 (checkpoint_keep_last 0 keeps every"
                        + " checkpoint)"),
                JobSpecCheck.specProblems(valid().setCheckpointKeepEvery(100).build()));
        assertEquals(
                List.of(),
                JobSpecCheck.specProblems(valid().setCheckpointKeepLast(2)
                        .setCheckpointKeepEvery(100)
                        .build()));
    }

    @Test
    void checksTheCpuEngineNamingTheValueAndWhatItCannotRun() {
        assertEquals(
                List.of("cpu_engine 'gpu' is not a CPU engine (llama: LlamaModel, any layout; backend: BackendLlama on"
                        + " the CPU tensor backend, tp 1 × pp 1)"),
                JobSpecCheck.specProblems(valid().setCpuEngine("gpu").build()));
        assertEquals(
                List.of(
                        "cpu_engine backend runs data parallelism only; parallelism is tp 2 × pp 2 (use tp 1 × pp 1,"
                                + " or cpu_engine llama)",
                        "cpu_engine backend resumes from durable checkpoints only; peer_copy_every is 5 (set it to"
                                + " 0, or use cpu_engine llama)"),
                JobSpecCheck.specProblems(
                        valid().setCpuEngine("backend").setPeerCopyEvery(5).build()));
        JobSpec.Builder dpOnly = valid().setParallelism(
                        Parallelism.newBuilder().setTp(1).setPp(1).setDp(4));
        assertEquals(
                List.of(),
                JobSpecCheck.specProblems(dpOnly.setCpuEngine("backend").build()));
        assertEquals(
                List.of(),
                JobSpecCheck.specProblems(valid().setCpuEngine("llama").build()));
    }

    @Test
    void checksLrOptimizerAndAlmrScheduleNamingEachField() {
        JobSpec bad = valid().setSteps(100)
                .addSources(DataSource.newBuilder()
                        .setName("en")
                        .setLanguage("en")
                        .setPath("/d")
                        .setWeight(1.2))
                .addSources(DataSource.newBuilder()
                        .setName("zh")
                        .setLanguage("zh")
                        .setPath("/d")
                        .setWeight(-0.2))
                .addAlmrSchedule(
                        dev.shoal.proto.v1.AlmrPoint.newBuilder().setStep(50).setAlmr(0.2))
                .addAlmrSchedule(
                        dev.shoal.proto.v1.AlmrPoint.newBuilder().setStep(10).setAlmr(1.5))
                .setLr(dev.shoal.proto.v1.LrSchedule.newBuilder()
                        .setKind(dev.shoal.proto.v1.LrSchedule.Kind.WSD)
                        .setPeakLr(1e-3)
                        .setMinLr(2e-3)
                        .setWarmupSteps(60)
                        .setDecaySteps(50))
                .setOptimizer(dev.shoal.proto.v1.Optimizer.newBuilder()
                        .setBeta1(1.0)
                        .setBeta2(0.95)
                        .setEps(0)
                        .setGradClip(-1))
                .build();
        String all = String.join("\n", JobSpecCheck.specProblems(bad));
        for (String expected : List.of(
                "sources[0].weight: 1.2 must be in [0, 1]",
                "sources[1].weight: -0.2 must be in [0, 1]",
                "almr_schedule is set but no source is marked additional",
                "almr_schedule[1].almr: 1.5 must be in [0, 1]",
                "almr_schedule[1].step: 10 must be after almr_schedule[0].step 50",
                "lr.min_lr: 0.002 must be in [0, lr.peak_lr 0.001]",
                "lr.decay_steps: 50 + lr.warmup_steps 60 must fit in steps 100",
                "optimizer.beta1: 1.0 must be in [0, 1)",
                "optimizer.eps: 0.0 must be > 0",
                "optimizer.grad_clip: -1.0 must be >= 0 (0: no clipping)")) {
            assertTrue(all.contains(expected), () -> "missing \"" + expected + "\" in:\n" + all);
        }
        assertTrue(JobSpecCheck.specProblems(valid().build()).isEmpty(), "lr and optimizer are optional");
    }
}
