// Job slots over gRPC on a one-node cluster in this JVM (2 CPU ranks with the TestStepRunner,
// shoal.coordinator.job-slots = 3): two one-rank jobs train at once on different ranks, a third waits
// in FORMING saying why, a fourth Submit is refused naming the busy slots, calls are routed by job id
// (an empty id is ambiguous and says so), and stopping a job lets the waiting one take its rank.
package dev.shoal.actors.control;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.shoal.proto.v1.GetRequest;
import dev.shoal.proto.v1.JobSpec;
import dev.shoal.proto.v1.JobStatus;
import dev.shoal.proto.v1.Parallelism;
import dev.shoal.proto.v1.Phase;
import dev.shoal.proto.v1.StopRequest;
import dev.shoal.proto.v1.SubmitRequest;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import java.nio.file.Path;
import java.time.Duration;
import java.util.function.Predicate;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class JobSlotsTest {

    @TempDir
    Path dir;

    private static JobSpec oneRank(String name, long steps) {
        return JobSpec.newBuilder()
                .setName(name)
                .setModel("tiny")
                .setSeqLen(64)
                .setGlobalBatch(4)
                .setMicroBatch(1)
                .setSteps(steps)
                .setParallelism(Parallelism.newBuilder().setTp(1).setPp(1).setDp(1))
                .build();
    }

    private static JobStatus await(ControlTestNode n, String id, Predicate<JobStatus> ok, String what)
            throws InterruptedException {
        long deadline = System.nanoTime() + Duration.ofSeconds(30).toNanos();
        JobStatus s = null;
        while (System.nanoTime() < deadline) {
            s = n.stub.get(GetRequest.newBuilder().setJobId(id).build());
            if (ok.test(s)) return s;
            Thread.sleep(20);
        }
        throw new AssertionError(what + ": last status " + s);
    }

    private static String submit(ControlTestNode n, JobSpec spec) {
        return n.stub.submit(SubmitRequest.newBuilder().setSpec(spec).build()).getJobId();
    }

    @Test
    void jobsShareTheWorkersOnePerRankAndQueueForFreeOnes() throws Exception {
        try (ControlTestNode n = ControlTestNode.start(dir, 2, 20, "shoal.coordinator.job-slots = 3")) {
            String a = submit(n, oneRank("a", 100_000));
            String b = submit(n, oneRank("b", 100_000));
            JobStatus sa = await(n, a, s -> s.getPhase() == Phase.TRAINING && s.getStep() > 0, "a trains");
            JobStatus sb = await(n, b, s -> s.getPhase() == Phase.TRAINING && s.getStep() > 0, "b trains");
            assertEquals(1, sa.getMeshRanksCount());
            assertNotEquals(sa.getMeshRanks(0), sb.getMeshRanks(0), "each job on its own rank");

            // No free rank: the third job waits in FORMING and says why.
            String c = submit(n, oneRank("c", 3));
            JobStatus sc =
                    await(n, c, s -> s.getMessage().startsWith("waiting for 1 free ranks"), "c waits for a rank");
            assertEquals(Phase.FORMING, sc.getPhase());
            assertTrue(sc.getMessage().contains("0 of 2 registered are free"), sc.getMessage());
            // No free slot: refused, naming the slots' jobs.
            StatusRuntimeException full = assertThrows(StatusRuntimeException.class, () -> submit(n, oneRank("d", 3)));
            assertEquals(Status.Code.FAILED_PRECONDITION, full.getStatus().getCode());
            assertTrue(full.getStatus().getDescription().startsWith("all 3 job slots are busy"), full.getMessage());
            assertTrue(full.getStatus().getDescription().contains(a), full.getMessage());
            // A world larger than the cluster is refused at once.
            JobSpec big = oneRank("big", 3).toBuilder()
                    .setParallelism(Parallelism.newBuilder().setTp(1).setPp(1).setDp(4))
                    .build();
            StatusRuntimeException unknown = assertThrows(
                    StatusRuntimeException.class,
                    () -> n.stub.stop(
                            StopRequest.newBuilder().setJobId("job-nope").build()));
            assertEquals(Status.Code.NOT_FOUND, unknown.getStatus().getCode());
            // An empty id names no single job here.
            StatusRuntimeException ambiguous =
                    assertThrows(StatusRuntimeException.class, () -> n.stub.get(GetRequest.getDefaultInstance()));
            assertEquals(Status.Code.NOT_FOUND, ambiguous.getStatus().getCode());
            assertTrue(ambiguous.getStatus().getDescription().contains("3 jobs"), ambiguous.getMessage());

            // Stopping a frees its rank: c takes it and completes; a is done, b still trains.
            n.stub.stop(StopRequest.newBuilder().setJobId(a).build());
            JobStatus done = await(n, c, s -> s.getPhase() == Phase.COMPLETED, "c completes");
            assertEquals(3, done.getStep());
            assertEquals(sa.getMeshRanks(0), done.getMeshRanks(0), "c trained on the rank a freed");
            assertEquals(
                    Phase.COMPLETED,
                    n.stub.get(GetRequest.newBuilder().setJobId(a).build()).getPhase());
            assertEquals(
                    Phase.TRAINING,
                    n.stub.get(GetRequest.newBuilder().setJobId(b).build()).getPhase());
            // Now a slot is free again; the too-large job is refused by the spec check.
            StatusRuntimeException refused = assertThrows(StatusRuntimeException.class, () -> submit(n, big));
            assertEquals(Status.Code.INVALID_ARGUMENT, refused.getStatus().getCode());
            assertTrue(
                    refused.getStatus().getDescription().contains("tp × pp × dp = 4 > the 2 registered ranks"),
                    refused.getMessage());
            n.stub.stop(StopRequest.newBuilder().setJobId(b).build());
        }
    }
}
