// WatchView: the plain lines (one per event) and the terminal block (progress bar and per-source
// loss table redrawn in place, phase changes printed above it).
package dev.shoal.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.shoal.proto.v1.JobEvent;
import dev.shoal.proto.v1.JobSpec;
import dev.shoal.proto.v1.JobStatus;
import dev.shoal.proto.v1.Phase;
import dev.shoal.proto.v1.PhaseChange;
import dev.shoal.proto.v1.SourceLoss;
import dev.shoal.proto.v1.StepMetrics;
import java.io.PrintWriter;
import java.io.StringWriter;
import org.junit.jupiter.api.Test;

class WatchViewTest {

    static final JobStatus START = JobStatus.newBuilder()
            .setJobId("job-1")
            .setSpec(JobSpec.newBuilder().setName("cpt").setSteps(200))
            .setPhase(Phase.TRAINING)
            .setStep(49)
            .setMessage("training from step 1 on mesh epoch 1")
            .build();

    static JobEvent step(long s, boolean eval) {
        StepMetrics.Builder m = StepMetrics.newBuilder()
                .setStep(s)
                .setLoss(2.5)
                .setTokens(4096)
                .setStepSeconds(0.5)
                .setTokensPerSecond(8192);
        if (eval) {
            m.addValidation(SourceLoss.newBuilder().setSource("en").setLoss(2.25));
            m.addValidation(SourceLoss.newBuilder().setSource("zh").setLoss(3.125));
        }
        return JobEvent.newBuilder().setJobId("job-1").setStep(m).build();
    }

    static final JobEvent DONE = JobEvent.newBuilder()
            .setJobId("job-1")
            .setPhase(PhaseChange.newBuilder()
                    .setFrom(Phase.TRAINING)
                    .setTo(Phase.COMPLETED)
                    .setMeshEpoch(1)
                    .setSeconds(12.25)
                    .setCause("trained all 200 steps"))
            .build();

    @Test
    void plainModePrintsOneLinePerEvent() {
        StringWriter out = new StringWriter();
        WatchView v = new WatchView(new PrintWriter(out), false);
        v.header(START);
        v.event(step(50, true));
        v.event(DONE);
        assertEquals(
                String.join(
                        System.lineSeparator(),
                        "job job-1 (cpt): TRAINING, step 49/200 — training from step 1 on mesh epoch 1",
                        "step 50/200 loss 2.500000 tokens/s 8192 step_s 0.500",
                        "eval step 50: en 2.250000, zh 3.125000",
                        "phase TRAINING -> COMPLETED after 12.3 s (mesh epoch 1): trained all 200 steps",
                        ""),
                out.toString());
        assertTrue(!out.toString().contains("\033"), "no escape codes off a terminal");
    }

    @Test
    void terminalModeRedrawsTheBlockInPlace() {
        StringWriter out = new StringWriter();
        WatchView v = new WatchView(new PrintWriter(out), true);
        v.header(START);
        v.event(step(50, true));
        String first = out.toString();
        assertTrue(
                first.contains("[########----------------------]  25.0%  step 50/200  loss 2.5000  8.2k tok/s"
                        + "  0.50 s/step  ETA 1m15s"),
                first);
        assertTrue(first.contains("  en               2.2500"), first);
        assertTrue(first.contains("  zh               3.1250"), first);
        v.event(DONE);
        String after = out.toString().substring(first.length());
        // The 4-line block (bar, table heading, en, zh) is erased, the phase line printed, the block redrawn.
        assertTrue(after.startsWith("\033[4A\r\033[J" + "phase TRAINING -> COMPLETED"), after);
        assertTrue(after.contains("[#######"), after);
    }
}
