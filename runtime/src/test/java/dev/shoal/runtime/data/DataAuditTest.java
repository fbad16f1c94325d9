// DataAudit on logs written the way cluster ranks write them: a run whose dp 2 mesh dies after step 6
// and resumes on dp 1 from the checkpoint of step 4 passes (steps 5 and 6 of the old mesh rolled
// back); a rank that trained other rows than planned, a step skipped by the resumed mesh, a step
// trained twice by one rank, rows not re-split after dp changed and a missing replica each fail,
// naming the step. A line torn by a kill is ignored.
package dev.shoal.runtime.data;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.IntBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class DataAuditTest {

    @TempDir
    Path dir;

    final MixtureSampler sampler = MixtureSamplerTest.sampler();
    final int b = sampler.spec().globalBatch(), t = sampler.spec().seqLen();

    /** The [B][T + 1] array a rank trains on: its replica's rows of step s (sampler step s − 1). */
    int[][] rows(long s, int from, int n) {
        int[][] rows = new int[b][];
        MixtureSampler.Batch batch = sampler.rows(s - 1, from, n, false);
        IntBuffer ids = batch.tokens();
        for (int i = 0; i < n; i++) {
            rows[from + i] = new int[t + 1];
            ids.duplicate().position(i * (t + 1)).get(rows[from + i]);
        }
        return rows;
    }

    /** Every rank of a tp 1 × pp 1 × dp mesh trains steps [from, to]. */
    void train(DataAudit.Log[] logs, long epoch, int dp, long start, long from, long to) {
        for (int r = 0; r < dp; r++) logs[r].join(epoch, r, 1, 1, dp, start);
        int per = b / dp;
        for (long s = from; s <= to; s++) {
            for (int r = 0; r < dp; r++)
                logs[r].consumed(epoch, r, s, r, dp, rows(s, r * per, per), r * per, per, true, true, t);
        }
    }

    DataAudit.Log[] open(String... workers) throws Exception {
        DataAudit.Log[] logs = new DataAudit.Log[workers.length];
        for (int i = 0; i < logs.length; i++) logs[i] = DataAudit.Log.open(dir, workers[i]);
        return logs;
    }

    @Test
    void aRunThatShrankAfterACheckpointPassesWithTheOldMeshsLaterStepsRolledBack() throws Exception {
        DataAudit.Log[] logs = open("node-a/0", "node-b/0");
        train(logs, 1, 2, 1, 1, 6); // dp 2 trains 1..6, dies; the checkpoint of step 4 is the last committed
        train(logs, 3, 1, 5, 5, 10); // dp 1 resumes at 5 (epoch 2 was MeshLost)
        for (DataAudit.Log l : logs) l.close();
        Files.writeString(dir.resolve("audit-node-b_0.log"), "step 1 1 7 1 2 4", StandardOpenOption.APPEND); // torn
        DataAudit.Report r = DataAudit.check(DataAudit.read(dir), sampler, 10);
        assertEquals(Map.of(1L, 4L, 3L, 6L), r.stepsByEpoch());
        assertEquals(4, r.rolledBackRankSteps(), "steps 5 and 6 of both dp 2 ranks");
        assertEquals(10L * b, r.samples());
        assertTrue(r.toString().contains("80 samples each consumed once"), r::toString);
    }

    @Test
    void eachKindOfDataMistakeIsFoundAndNamed() throws Exception {
        // A rank fed the rows of another step.
        DataAudit.Log[] logs = open("w0", "w1");
        train(logs, 1, 2, 1, 1, 2);
        logs[0].consumed(1, 0, 3, 0, 2, rows(4, 0, 4), 0, 4, true, true, t);
        logs[1].consumed(1, 1, 3, 1, 2, rows(3, 4, 4), 4, 4, true, true, t);
        assertProblem(3, "step 3, epoch 1, rank 0 (replica 0): its input ids are not the planned rows'");

        // The resumed mesh skipped a step the old one had trained.
        clear();
        logs = open("w0", "w1");
        train(logs, 1, 2, 1, 1, 4);
        train(logs, 3, 2, 3, 3, 3);
        train(logs, 3, 2, 3, 5, 5);
        assertProblem(5, "step 4: epoch 3 started at step 3 and trained later steps, but never step 4");

        // One rank trained a step twice.
        clear();
        logs = open("w0", "w1");
        train(logs, 1, 2, 1, 1, 3);
        train(logs, 1, 2, 1, 3, 3);
        assertProblem(3, "step 3: rank 0 of epoch 1 trained it twice");

        // After dp 2 → 1 the replica kept its old half of the batch: half the samples never trained.
        clear();
        logs = open("w0");
        logs[0].join(1, 0, 1, 1, 1, 1);
        logs[0].consumed(1, 0, 1, 0, 1, rows(1, 0, 4), 0, 4, true, true, t);
        assertProblem(1, "step 1, epoch 1, rank 0: rows [0, 4) of dp 1, planned [0, 8) of dp 1");

        // A dp 2 mesh where only one replica recorded the step.
        clear();
        logs = open("w0", "w1");
        train(logs, 1, 2, 1, 1, 1);
        logs[0].consumed(1, 0, 2, 0, 2, rows(2, 0, 4), 0, 4, true, true, t);
        assertProblem(2, "step 2: 1 of the 2 ranks of epoch 1 recorded it");
    }

    void assertProblem(long steps, String expected) throws Exception {
        var e = assertThrows(IllegalStateException.class, () -> DataAudit.check(DataAudit.read(dir), sampler, steps));
        assertTrue(e.getMessage().contains(expected), () -> "expected '" + expected + "' in: " + e.getMessage());
    }

    void clear() throws Exception {
        for (Path p : List.of(Files.list(dir).toArray(Path[]::new))) Files.delete(p);
    }
}
