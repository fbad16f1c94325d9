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
}
