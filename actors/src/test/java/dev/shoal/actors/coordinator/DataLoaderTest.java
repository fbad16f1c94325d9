// The DataLoader of one DP replica: the rows it sends are the mixture sampler's rows of the step
// (step s ↔ sampler step s − 1) for that replica, inputs to the first stage and targets to the last,
// prefetch steps ahead, never past the job's end, never twice; a stale Advance is ignored; data that
// cannot be opened is reported to the coordinator.
package dev.shoal.actors.coordinator;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.shoal.actors.TestConfigs;
import dev.shoal.actors.engine.JobSpecs;
import dev.shoal.actors.worker.GpuWorker;
import dev.shoal.actors.worker.StepRunner;
import dev.shoal.proto.v1.DataSource;
import dev.shoal.proto.v1.JobSpec;
import dev.shoal.proto.v1.LrSchedule;
import dev.shoal.proto.v1.Parallelism;
import dev.shoal.runtime.data.MixtureSampler;
import dev.shoal.runtime.train.JobConfig;
import java.nio.IntBuffer;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import org.apache.pekko.actor.testkit.typed.javadsl.ActorTestKit;
import org.apache.pekko.actor.testkit.typed.javadsl.TestProbe;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class DataLoaderTest {

    static ActorTestKit kit;
    static Path data;

    @BeforeAll
    static void start(@TempDir Path dir) throws Exception {
        kit = ActorTestKit.create("shoal", TestConfigs.localH2(dir, "loader-test"));
        data = dev.shoal.actors.TestData.prepareBilingual(dir);
    }

    @AfterAll
    static void stop() {
        kit.shutdownTestKit();
    }

    static JobSpec spec(Path data, long steps) {
        return JobSpec.newBuilder()
                .setName("loader")
                .setModel("tiny")
                .addSources(DataSource.newBuilder()
                        .setName("en")
                        .setLanguage("en")
                        .setPath(data.toString())
                        .setWeight(0.75))
                .addSources(DataSource.newBuilder()
                        .setName("zh")
                        .setLanguage("zh")
                        .setPath(data.toString())
                        .setWeight(0.25)
                        .setAdditional(true))
                .setSeqLen(16)
                .setGlobalBatch(8)
                .setMicroBatch(2)
                .setSteps(steps)
                .setSeed(5)
                .setLr(LrSchedule.newBuilder().setPeakLr(1e-3))
                .setParallelism(Parallelism.newBuilder().setTp(2).setPp(2).setDp(2))
                .build();
    }

    @Test
    void feedsTheSamplersRowsOfItsReplicaAheadAndOnlyOnce() throws Exception {
        JobSpec spec = spec(data, 5);
        TestProbe<GpuWorker.Command> first = kit.createTestProbe(), last = kit.createTestProbe();
        TestProbe<Coordinator.Command> coordinator = kit.createTestProbe();
        var loader = kit.spawn(
                DataLoader.create(spec, 3, 1, List.of(first.ref()), List.of(last.ref()), 2, 2, coordinator.ref()));
        JobConfig job = JobSpecs.toJobConfig(spec, 1);
        MixtureSampler sampler = MixtureSampler.fromPrepared(data, job.mixtureSpec(), false);

        // Steps 2 and 3 (prefetch 2 from start step 2), inputs to the first stage, targets to the last.
        for (long step = 2; step <= 3; step++) expect(first, last, sampler, step);
        first.expectNoMessage(Duration.ofMillis(200));
        loader.tell(new DataLoader.Advance(2, 3)); // another epoch: ignored
        first.expectNoMessage(Duration.ofMillis(200));
        loader.tell(new DataLoader.Advance(3, 3));
        for (long step = 4; step <= 5; step++) expect(first, last, sampler, step);
        loader.tell(new DataLoader.Advance(3, 4)); // step 5 was sent already; 6 is past the end
        first.expectNoMessage(Duration.ofMillis(200));
        last.expectNoMessage(Duration.ofMillis(10));
        coordinator.expectNoMessage(Duration.ofMillis(10));
    }

    /** Replica 1 of dp 2 owns rows [4, 8) of the global batch of 8. */
    private static void expect(
            TestProbe<GpuWorker.Command> first, TestProbe<GpuWorker.Command> last, MixtureSampler sampler, long step) {
        StepRunner.Batch in =
                first.expectMessageClass(GpuWorker.FeedBatch.class).batch();
        StepRunner.Batch tg = last.expectMessageClass(GpuWorker.FeedBatch.class).batch();
        assertEquals(step, in.step());
        assertEquals(step, tg.step());
        assertEquals(3, in.epoch());
        assertEquals(1, in.replica());
        assertEquals(0, in.targets().length);
        assertEquals(0, tg.inputs().length);
        MixtureSampler.Batch want = sampler.rows(step - 1, 4, 4, false);
        IntBuffer ids = want.tokens();
        int[] wantIn = new int[4 * 16], wantTg = new int[4 * 16];
        for (int r = 0; r < 4; r++) {
            for (int p = 0; p < 16; p++) {
                wantIn[r * 16 + p] = ids.get(r * 17 + p);
                wantTg[r * 16 + p] = ids.get(r * 17 + p + 1);
            }
        }
        assertArrayEquals(wantIn, in.inputs(), "inputs of step " + step);
        assertArrayEquals(wantTg, tg.targets(), "targets of step " + step);
    }

    @Test
    void aRankOfBothStagesGetsOneBatchWithInputsAndTargets() {
        JobSpec spec = spec(data, 5).toBuilder()
                .setParallelism(Parallelism.newBuilder().setTp(1).setPp(1).setDp(1))
                .build();
        TestProbe<GpuWorker.Command> rank = kit.createTestProbe();
        kit.spawn(DataLoader.create(
                spec,
                1,
                0,
                List.of(rank.ref()),
                List.of(rank.ref()),
                1,
                1,
                kit.<Coordinator.Command>createTestProbe().ref()));
        StepRunner.Batch b = rank.expectMessageClass(GpuWorker.FeedBatch.class).batch();
        assertEquals(8 * 16, b.inputs().length);
        assertEquals(8 * 16, b.targets().length);
        rank.expectNoMessage(Duration.ofMillis(200));
    }

    @Test
    void dataThatCannotBeOpenedIsReportedToTheCoordinator() {
        JobSpec spec = spec(data.resolveSibling("nowhere"), 5);
        TestProbe<Coordinator.Command> coordinator = kit.createTestProbe();
        kit.spawn(DataLoader.create(spec, 7, 1, List.of(), List.of(), 1, 2, coordinator.ref()));
        Coordinator.LoaderFailed f = coordinator.expectMessageClass(Coordinator.LoaderFailed.class);
        assertEquals(7, f.epoch());
        assertEquals(1, f.replica());
        assertTrue(f.reason().contains("nowhere"), f.reason());
    }
}
