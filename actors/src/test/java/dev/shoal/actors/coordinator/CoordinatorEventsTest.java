// The coordinator's subscribers: a subscriber that joins before the submit sees every phase change
// in order (with the cause and the time spent in the phase that ended) and one StepMetrics per step
// with the ranks' answers aggregated; a failing step goes RECOVERING (with causes and timings) until
// max-recoveries, then ends with a PhaseChange to FAILED naming it.
package dev.shoal.actors.coordinator;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.typesafe.config.Config;
import com.typesafe.config.ConfigValueFactory;
import dev.shoal.actors.TestConfigs;
import dev.shoal.actors.node.CpuRanks;
import dev.shoal.actors.node.JournalSchema;
import dev.shoal.actors.node.NodeAgent;
import dev.shoal.actors.worker.TestStepRunner;
import dev.shoal.proto.v1.JobEvent;
import dev.shoal.proto.v1.JobSpec;
import dev.shoal.proto.v1.Parallelism;
import dev.shoal.proto.v1.Phase;
import dev.shoal.proto.v1.PhaseChange;
import dev.shoal.proto.v1.StepMetrics;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import org.apache.pekko.actor.testkit.typed.javadsl.ActorTestKit;
import org.apache.pekko.actor.testkit.typed.javadsl.TestProbe;
import org.apache.pekko.actor.typed.ActorRef;
import org.apache.pekko.pattern.StatusReply;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class CoordinatorEventsTest {

    @TempDir
    Path dir;

    ActorTestKit kit;

    @AfterEach
    void stop() {
        if (kit != null) kit.shutdownTestKit();
    }

    private ActorRef<Coordinator.Command> start(String id, int ranks, TestStepRunner.Factory factory) {
        Config config = TestConfigs.localH2(dir, id);
        kit = ActorTestKit.create("shoal", config);
        JournalSchema.ensure(kit.system(), config, Duration.ofSeconds(30));
        Config c = config.withValue(CpuRanks.KEY, ConfigValueFactory.fromAnyRef(ranks));
        kit.spawn(NodeAgent.create(List.of(new CpuRanks()), c, factory), "node-agent");
        ActorRef<Coordinator.Command> coordinator =
                kit.spawn(Coordinator.create(CoordinatorSettings.from(config)), "coordinator");
        TestProbe<Coordinator.Status> status = kit.createTestProbe();
        long deadline = System.nanoTime() + Duration.ofSeconds(20).toNanos();
        while (true) {
            coordinator.tell(new Coordinator.GetStatus(status.ref()));
            var st = status.receiveMessage(Duration.ofSeconds(10)); // a cold journal on a loaded machine
            if (st.workers().size() == ranks) return coordinator;
            if (System.nanoTime() > deadline) throw new AssertionError(ranks + " workers did not register");
            try {
                Thread.sleep(20);
            } catch (InterruptedException e) {
                throw new AssertionError(e);
            }
        }
    }

    private static JobSpec spec(int dp, long steps) {
        return JobSpec.newBuilder()
                .setName("events")
                .setModel("tiny")
                .setSeqLen(64)
                .setGlobalBatch(4 * dp)
                .setMicroBatch(1)
                .setSteps(steps)
                .setParallelism(Parallelism.newBuilder().setTp(1).setPp(1).setDp(dp))
                .build();
    }

    private String submit(ActorRef<Coordinator.Command> c, JobSpec spec) {
        TestProbe<StatusReply<Coordinator.JobAccepted>> probe = kit.createTestProbe();
        c.tell(new Coordinator.SubmitJob(spec, probe.ref()));
        return probe.receiveMessage().getValue().jobId();
    }

    /** Events until a PhaseChange to COMPLETED or FAILED. */
    private static List<JobEvent> untilEnd(TestProbe<Coordinator.Published> probe) {
        List<JobEvent> events = new ArrayList<>();
        while (true) {
            JobEvent e = probe.receiveMessage(Duration.ofSeconds(20)).event();
            events.add(e);
            if (e.hasPhase()
                    && (e.getPhase().getTo() == Phase.COMPLETED || e.getPhase().getTo() == Phase.FAILED)) return events;
        }
    }

    @Test
    void aSubscriberSeesEveryPhaseChangeAndOneAggregatedStepMetricsPerStep() {
        var c = start("ev-train", 2, new TestStepRunner.Factory(5, -1, 2));
        TestProbe<Coordinator.Published> probe = kit.createTestProbe();
        c.tell(new Coordinator.Subscribe(probe.ref()));
        c.tell(new Coordinator.Subscribe(probe.ref())); // idempotent: still one copy of each event
        String job = submit(c, spec(2, 4));
        List<JobEvent> events = untilEnd(probe);
        events.forEach(e -> assertEquals(job, e.getJobId()));

        List<PhaseChange> phases = events.stream()
                .filter(JobEvent::hasPhase)
                .map(JobEvent::getPhase)
                .toList();
        assertEquals(3, phases.size(), phases::toString);
        assertEquals(Phase.IDLE, phases.get(0).getFrom());
        assertEquals(Phase.FORMING, phases.get(0).getTo());
        assertEquals("submitted", phases.get(0).getCause());
        assertEquals(Phase.TRAINING, phases.get(1).getTo());
        assertEquals(1, phases.get(1).getMeshEpoch());
        assertEquals("training from step 1 on mesh epoch 1", phases.get(1).getCause());
        assertEquals(Phase.TRAINING, phases.get(2).getFrom());
        assertEquals(Phase.COMPLETED, phases.get(2).getTo());
        assertEquals("trained all 4 steps", phases.get(2).getCause());
        // Four steps of at least 5 ms each were trained while the job was TRAINING.
        assertTrue(phases.get(2).getSeconds() >= 0.02, phases.get(2)::toString);

        List<StepMetrics> steps =
                events.stream().filter(JobEvent::hasStep).map(JobEvent::getStep).toList();
        assertEquals(
                List.of(1L, 2L, 3L, 4L),
                steps.stream().map(StepMetrics::getStep).toList());
        for (StepMetrics m : steps) {
            assertEquals(1.0 / m.getStep(), m.getLoss(), 1e-12, "mean of the ranks' 1/step");
            assertEquals(8 * 64, m.getTokens(), "global batch × seq_len");
            assertTrue(m.getStepSeconds() >= 0.005, m::toString);
            assertEquals(m.getTokens() / m.getStepSeconds(), m.getTokensPerSecond(), 1e-6);
            // The test runner evaluates at every 2nd step: en 2/step, zh 3/step on both ranks.
            if (m.getStep() % 2 == 0) {
                assertEquals(2, m.getValidationCount(), m::toString);
                assertEquals("en", m.getValidation(0).getSource());
                assertEquals(2.0 / m.getStep(), m.getValidation(0).getLoss(), 1e-12);
                assertEquals("zh", m.getValidation(1).getSource());
                assertEquals(3.0 / m.getStep(), m.getValidation(1).getLoss(), 1e-12);
            } else {
                assertEquals(0, m.getValidationCount(), m::toString);
            }
        }
        // The completion is the last event: StepMetrics of step 4 came before it.
        assertTrue(events.get(events.size() - 1).hasPhase());
        probe.expectNoMessage(Duration.ofMillis(200));
    }

    @Test
    void aFailedStepEndsWithAPhaseChangeToFailedNamingIt() {
        var c = start("ev-fail", 1, new TestStepRunner.Factory(0, 3));
        TestProbe<Coordinator.Published> probe = kit.createTestProbe();
        c.tell(new Coordinator.Subscribe(probe.ref()));
        submit(c, spec(1, 10));
        List<JobEvent> events = untilEnd(probe);
        PhaseChange last = events.get(events.size() - 1).getPhase();
        assertEquals(Phase.TRAINING, last.getFrom());
        assertEquals(Phase.FAILED, last.getTo());
        assertTrue(last.getCause().contains("injected failure at step 3"), last.getCause());
        // RECOVERING three times (max-recoveries), each replaying steps 1 and 2 (no checkpoint), then FAILED.
        List<PhaseChange> phases = events.stream()
                .filter(JobEvent::hasPhase)
                .map(JobEvent::getPhase)
                .toList();
        List<PhaseChange> lost =
                phases.stream().filter(p -> p.getTo() == Phase.RECOVERING).toList();
        assertEquals(3, lost.size(), phases::toString);
        assertTrue(
                lost.get(0).getCause().contains("rank 0 failed step 3"),
                lost.get(0).getCause());
        List<PhaseChange> back = phases.stream()
                .filter(p -> p.getFrom() == Phase.RECOVERING && p.getTo() == Phase.TRAINING)
                .toList();
        assertEquals(3, back.size(), phases::toString);
        assertTrue(
                back.get(0).getCause().contains("recovered from: rank 0 failed step 3"),
                back.get(0).getCause());
        assertTrue(
                back.get(0).getCause().contains("resuming at step 1 on tp 1 × pp 1 × dp 1"),
                back.get(0).getCause());
        assertTrue(
                phases.stream()
                        .anyMatch(p -> p.getFrom() == Phase.TRAINING
                                && p.getTo() == Phase.TRAINING
                                && p.getCause().startsWith("recovery done: step 1 finished")),
                phases::toString);
        assertEquals(8, events.stream().filter(JobEvent::hasStep).count(), "steps 1 and 2, four times");
    }
}
