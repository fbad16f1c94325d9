// RankBatches: a batch of another epoch is dropped, take() waits for what its stage needs and builds
// the replica's rows, and an abort of the epoch unblocks a waiting take().
package dev.shoal.actors.engine;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.shoal.actors.worker.StepRunner;
import dev.shoal.proto.v1.DataSource;
import dev.shoal.proto.v1.JobSpec;
import dev.shoal.proto.v1.LrSchedule;
import dev.shoal.runtime.train.JobConfig;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;

class RankBatchesTest {

    /** T 2, global batch 4, micro 1: at dp 2 each replica has 2 rows. */
    static JobConfig job() {
        return JobSpecs.toJobConfig(
                JobSpec.newBuilder()
                        .setName("b")
                        .setModel("tiny")
                        .addSources(DataSource.newBuilder()
                                .setName("en")
                                .setLanguage("en")
                                .setPath("/data")
                                .setWeight(1))
                        .setSeqLen(2)
                        .setGlobalBatch(4)
                        .setMicroBatch(1)
                        .setSteps(10)
                        .setLr(LrSchedule.newBuilder().setPeakLr(1e-3))
                        .build(),
                1);
    }

    @Test
    void buildsTheReplicasRowsFromInputsAndTargets() throws Exception {
        RankBatches b = new RankBatches();
        b.reset(2);
        b.offer(new StepRunner.Batch(1, 5, 1, new int[] {9, 9, 9, 9}, new int[] {9, 9, 9, 9})); // stale
        b.offer(new StepRunner.Batch(2, 5, 1, new int[] {1, 2, 5, 6}, new int[] {2, 3, 6, 7}));
        int[][] rows = b.take(2, 5, true, true, job(), 2, 1);
        assertNull(rows[0]);
        assertNull(rows[1]);
        assertArrayEquals(new int[] {1, 2, 3}, rows[2]);
        assertArrayEquals(new int[] {5, 6, 7}, rows[3]);
    }

    @Test
    void aLastStageRankNeedsOnlyTargetsAndAMiddleStageNothing() throws Exception {
        RankBatches b = new RankBatches();
        b.reset(1);
        b.offer(new StepRunner.Batch(1, 3, 0, new int[0], new int[] {2, 3, 6, 7}));
        int[][] rows = b.take(1, 3, false, true, job(), 2, 0);
        assertArrayEquals(new int[] {0, 2, 3}, rows[0]);
        int[][] middle = b.take(1, 4, false, false, job(), 2, 0);
        assertArrayEquals(new int[] {0, 0, 0}, middle[1]);
    }

    @Test
    void anAbortUnblocksAStepWaitingForItsBatch() throws Exception {
        RankBatches b = new RankBatches();
        b.reset(4);
        CompletableFuture<int[][]> waiting = CompletableFuture.supplyAsync(() -> {
            try {
                return b.take(4, 1, true, false, job(), 1, 0);
            } catch (InterruptedException e) {
                throw new IllegalStateException(e);
            }
        });
        Thread.sleep(100);
        assertTrue(!waiting.isDone());
        b.abort(4);
        var e = assertThrows(Exception.class, () -> waiting.get(5, TimeUnit.SECONDS));
        assertTrue(
                e.getCause().getMessage().contains("mesh epoch 4 aborted"),
                e.getCause().getMessage());
    }
}
