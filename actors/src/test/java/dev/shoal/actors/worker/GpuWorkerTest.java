// GpuWorker: compute on its own thread, epochs only forward, stale steps and batches dropped, one step
// at a time, one job at a time (job slots: reservations, busy refusals, per-job epochs).
package dev.shoal.actors.worker;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.shoal.comm.ParallelDims;
import java.time.Duration;
import org.apache.pekko.actor.testkit.typed.javadsl.ActorTestKit;
import org.apache.pekko.actor.testkit.typed.javadsl.TestProbe;
import org.apache.pekko.actor.typed.ActorRef;
import org.apache.pekko.pattern.StatusReply;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

class GpuWorkerTest {

    static ActorTestKit kit;
    static int n;

    @BeforeAll
    static void start() {
        kit = ActorTestKit.create(
                "shoal",
                com.typesafe.config.ConfigFactory.parseString(
                        "pekko.actor.provider = local\npekko.loglevel = WARNING"));
    }

    @AfterAll
    static void stop() {
        kit.shutdownTestKit();
    }

    private static final WorkerInfo INFO = new WorkerInfo("pekko://shoal", WorkerInfo.CPU, 0);

    private static ActorRef<GpuWorker.Command> worker(StepRunner.Factory f) {
        return kit.spawn(GpuWorker.create(INFO, f), "w" + (n++));
    }

    private static StatusReply<GpuWorker.MeshPrepared> prepare(ActorRef<GpuWorker.Command> w, long epoch) {
        TestProbe<StatusReply<GpuWorker.MeshPrepared>> p = kit.createTestProbe();
        w.tell(new GpuWorker.JoinMesh(new MeshAssignment(epoch, 1, ParallelDims.of(1, 1, 2), 1, ""), p.ref()));
        return p.receiveMessage();
    }

    private static StatusReply<GpuWorker.MeshJoined> connect(ActorRef<GpuWorker.Command> w, Rendezvous table) {
        TestProbe<StatusReply<GpuWorker.MeshJoined>> p = kit.createTestProbe();
        w.tell(new GpuWorker.ConnectMesh(table, p.ref()));
        return p.receiveMessage();
    }

    /** Both rendezvous phases; the table holds what this rank published plus rank 0's entry. */
    private static StatusReply<GpuWorker.MeshJoined> join(ActorRef<GpuWorker.Command> w, long epoch) {
        StatusReply<GpuWorker.MeshPrepared> prepared = prepare(w, epoch);
        if (prepared.isError()) return StatusReply.error(prepared.getError());
        java.util.Map<String, byte[]> all =
                new java.util.HashMap<>(prepared.getValue().published());
        all.put("test/rank0", new byte[] {0});
        return connect(w, new Rendezvous(epoch, all));
    }

    @Test
    void joinsInTwoPhasesPublishingItsEntryAndReceivingTheGatheredTable() {
        var f = new TestStepRunner.Factory(0, -1);
        var w = worker(f);
        GpuWorker.MeshPrepared prepared = prepare(w, 3).getValue();
        assertEquals(3, prepared.epoch());
        assertEquals(1, prepared.rank());
        assertEquals(java.util.Set.of("test/rank1"), prepared.published().keySet());
        assertEquals(
                "1@3", new String(prepared.published().get("test/rank1"), java.nio.charset.StandardCharsets.UTF_8));
        TestStepRunner r = f.runners.get(INFO.id());
        assertTrue(r.calls.isEmpty(), () -> "joined before the table came: " + r.calls);
        Rendezvous table =
                new Rendezvous(3, java.util.Map.of("test/rank0", new byte[] {7}, "test/rank1", new byte[] {8}));
        assertEquals(new GpuWorker.MeshJoined(3, 1), connect(w, table).getValue());
        assertEquals(java.util.List.of(table), r.rendezvous);
    }

    @Test
    void dropsARendezvousOfAStaleOrUnpreparedEpoch() {
        var f = new TestStepRunner.Factory(0, -1);
        var w = worker(f);
        String unprepared =
                connect(w, new Rendezvous(1, java.util.Map.of())).getError().getMessage();
        assertTrue(unprepared.contains("rendezvous of mesh epoch 1 dropped: no mesh prepared"), unprepared);
        assertTrue(prepare(w, 2).isSuccess());
        assertTrue(prepare(w, 3).isSuccess()); // epoch 2 superseded before its table came
        String stale =
                connect(w, new Rendezvous(2, java.util.Map.of())).getError().getMessage();
        assertTrue(stale.contains("rendezvous of mesh epoch 2 dropped: prepared epoch 3"), stale);
        w.tell(new GpuWorker.LeaveMesh(3)); // the coordinator gave up on epoch 3 (a peer was lost)
        String left =
                connect(w, new Rendezvous(3, java.util.Map.of())).getError().getMessage();
        assertTrue(left.contains("rendezvous of mesh epoch 3 dropped"), left);
        assertTrue(f.runners.get(INFO.id()).rendezvous.isEmpty());
    }

    /** Both rendezvous phases of a one-rank mesh of {@code job}. */
    private static StatusReply<GpuWorker.MeshJoined> join(ActorRef<GpuWorker.Command> w, long epoch, String job) {
        TestProbe<StatusReply<GpuWorker.MeshPrepared>> p = kit.createTestProbe();
        w.tell(new GpuWorker.JoinMesh(
                new MeshAssignment(epoch, 0, ParallelDims.of(1, 1, 1), 1, "", java.util.List.of(), null, job),
                p.ref()));
        StatusReply<GpuWorker.MeshPrepared> prepared = p.receiveMessage();
        if (prepared.isError()) return StatusReply.error(prepared.getError());
        return connect(w, new Rendezvous(epoch, prepared.getValue().published()));
    }

    private static GpuWorker.Reservation reserve(ActorRef<GpuWorker.Command> w, String job, boolean release) {
        TestProbe<GpuWorker.Reservation> p = kit.createTestProbe();
        w.tell(new GpuWorker.Reserve(job, release, p.ref()));
        return p.receiveMessage();
    }

    @Test
    void servesOneJobAtATimeWithEpochsPerJob() {
        var w = worker(new TestStepRunner.Factory(0, -1));
        // A reservation holds the worker for job a: b is refused, a may join.
        assertTrue(reserve(w, "a", false).granted());
        GpuWorker.Reservation busy = reserve(w, "b", false);
        assertEquals(new GpuWorker.Reservation(INFO.id(), false, "a"), busy);
        StatusReply<GpuWorker.MeshJoined> refused = join(w, 1, "b");
        assertTrue(refused.isError());
        assertTrue(
                refused.getError().getMessage().contains(GpuWorker.BUSY + "a"),
                refused.getError().getMessage());
        assertTrue(join(w, 5, "a").isSuccess());
        // In a's mesh: b is still refused; a LeaveMesh of b (another job) changes nothing.
        w.tell(new GpuWorker.LeaveMesh(1, "b"));
        assertEquals("a", reserve(w, "b", false).busyWith());
        // a leaves: the worker is free, and b's epochs are b's own (2 is not stale against a's 5).
        w.tell(new GpuWorker.LeaveMesh(5, "a"));
        assertTrue(join(w, 2, "b").isSuccess());
        assertTrue(join(w, 1, "b").isError(), "older than b's epoch 2");
        assertTrue(join(w, 2, "b").isSuccess());
        // a join of a is refused while b holds the worker.
        assertTrue(join(w, 6, "a").isError());
        w.tell(new GpuWorker.LeaveMesh(2, "b"));
        // A released reservation frees the worker at once.
        assertTrue(reserve(w, "c", false).granted());
        reserve(w, "c", true);
        assertTrue(reserve(w, "d", false).granted());
    }

    @Test
    void describesItsDevice() {
        TestProbe<WorkerInfo> p = kit.createTestProbe();
        worker(null).tell(new GpuWorker.Describe(p.ref()));
        assertEquals(INFO, p.receiveMessage());
    }

    @Test
    void runsStepsOnItsComputeThreadAndReportsRankLossAndTimings() {
        var f = new TestStepRunner.Factory(0, -1);
        var w = worker(f);
        assertEquals(new GpuWorker.MeshJoined(1, 1), join(w, 1).getValue());
        TestProbe<GpuWorker.StepReply> p = kit.createTestProbe();
        w.tell(new GpuWorker.Step(1, 4, p.ref()));
        GpuWorker.StepDone d = (GpuWorker.StepDone) p.receiveMessage();
        assertEquals(1, d.epoch());
        assertEquals(4, d.step());
        assertEquals(1, d.rank());
        assertEquals(0.25, d.loss());
        assertEquals(1000, d.tokens());
        assertTrue(d.timings().computeSeconds() >= 0 && d.timings().queueSeconds() >= 0);
        TestStepRunner r = f.runners.get(INFO.id());
        assertTrue(r.threads.stream().allMatch(t -> t.equals("shoal-compute-cpu0")), r.threads::toString);
    }

    @Test
    void passesOnlyBatchesOfTheJoinedEpochToItsRunner() {
        var f = new TestStepRunner.Factory(0, -1);
        var w = worker(f);
        var early = new StepRunner.Batch(2, 1, 0, new int[] {1}, new int[] {2});
        var stale = new StepRunner.Batch(1, 1, 0, new int[] {3}, new int[] {4});
        var good = new StepRunner.Batch(2, 1, 0, new int[] {5}, new int[] {6});
        w.tell(new GpuWorker.FeedBatch(early)); // in no mesh yet
        assertTrue(join(w, 2).isSuccess());
        w.tell(new GpuWorker.FeedBatch(stale));
        w.tell(new GpuWorker.FeedBatch(good));
        TestProbe<WorkerInfo> p = kit.createTestProbe();
        w.tell(new GpuWorker.Describe(p.ref())); // answered after the batches were handled
        p.receiveMessage();
        assertEquals(java.util.List.of(good), f.runners.get(INFO.id()).batches);
    }

    @Test
    void dropsStepsOfOtherEpochsAndRefusesStaleJoins() {
        var w = worker(new TestStepRunner.Factory(0, -1));
        TestProbe<GpuWorker.StepReply> p = kit.createTestProbe();
        w.tell(new GpuWorker.Step(1, 1, p.ref())); // in no mesh yet
        p.expectNoMessage(Duration.ofMillis(200));
        assertTrue(join(w, 2).isSuccess());
        w.tell(new GpuWorker.Step(1, 1, p.ref())); // older epoch
        w.tell(new GpuWorker.Step(3, 1, p.ref())); // epoch not joined
        p.expectNoMessage(Duration.ofMillis(200));
        String stale = join(w, 1).getError().getMessage();
        assertTrue(stale.contains("mesh epoch 1 is stale (already at 2)"), stale);
        w.tell(new GpuWorker.Step(2, 1, p.ref()));
        assertTrue(p.receiveMessage() instanceof GpuWorker.StepDone);
    }

    @Test
    void oneStepAtATime() {
        var w = worker(new TestStepRunner.Factory(300, -1));
        assertTrue(join(w, 1).isSuccess());
        TestProbe<GpuWorker.StepReply> p = kit.createTestProbe();
        w.tell(new GpuWorker.Step(1, 1, p.ref()));
        w.tell(new GpuWorker.Step(1, 2, p.ref()));
        GpuWorker.StepFailed busy = (GpuWorker.StepFailed) p.receiveMessage();
        assertEquals(2, busy.step());
        assertTrue(busy.error().contains("busy with step 1"), busy.error());
        assertEquals(1, p.receiveMessage(Duration.ofSeconds(5)).step());
    }

    @Test
    void leavingTheMeshAbortsTheRunningStepAndDropsItsResult() {
        var f = new TestStepRunner.Factory(5_000, -1);
        var w = worker(f);
        assertTrue(join(w, 1).isSuccess());
        TestProbe<GpuWorker.StepReply> p = kit.createTestProbe();
        w.tell(new GpuWorker.Step(1, 1, p.ref()));
        sleep(100);
        w.tell(new GpuWorker.LeaveMesh(1));
        p.expectNoMessage(Duration.ofMillis(500));
        assertTrue(f.runners.get(INFO.id()).calls.contains("abort 1"));
        // The worker is free again: a new mesh runs steps.
        assertTrue(join(w, 2).isSuccess());
        w.tell(new GpuWorker.Step(2, 1, p.ref()));
        assertEquals(2, p.receiveMessage(Duration.ofSeconds(10)).epoch());
    }

    @Test
    void aFailingStepIsReportedWithItsCause() {
        var w = worker(new TestStepRunner.Factory(0, 1));
        assertTrue(join(w, 1).isSuccess());
        TestProbe<GpuWorker.StepReply> p = kit.createTestProbe();
        w.tell(new GpuWorker.Step(1, 1, p.ref()));
        GpuWorker.StepFailed f = (GpuWorker.StepFailed) p.receiveMessage();
        assertTrue(f.error().contains("injected failure at step 1"), f.error());
    }

    @Test
    void aNodeWithoutEngineRefusesToJoinSayingWhy() {
        String e = join(worker(null), 1).getError().getMessage();
        assertTrue(e.contains("no training engine"), e);
    }

    private static void sleep(long ms) {
        try {
            Thread.sleep(ms);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }
}
