// How `shoal watch` shows a job's events. On a terminal: a progress bar with loss, throughput and ETA
// plus a live table of the last held-out loss per source (language), redrawn in place at most ten
// times a second, with phase changes and checkpoints printed above it. Anywhere else (a pipe, a log
// file): one plain line per event, easy to grep.
package dev.shoal.cli;

import dev.shoal.proto.v1.CheckpointInfo;
import dev.shoal.proto.v1.JobEvent;
import dev.shoal.proto.v1.JobStatus;
import dev.shoal.proto.v1.PhaseChange;
import dev.shoal.proto.v1.SourceLoss;
import dev.shoal.proto.v1.StepMetrics;
import java.io.PrintWriter;
import java.util.List;
import java.util.Locale;

final class WatchView {

    private static final int BAR = 30;
    private static final long REDRAW_NANOS = 100_000_000L;

    private final PrintWriter out;
    private final boolean tty;
    private long totalSteps;
    private StepMetrics last; // latest step
    private StepMetrics lastEval; // latest step that carried validation losses
    private int drawnLines; // lines of the live block now on screen (tty only)
    private long drawnAt;

    WatchView(PrintWriter out, boolean tty) {
        this.out = out;
        this.tty = tty;
    }

    /** The job as it is when the watch starts. */
    void header(JobStatus s) {
        totalSteps = s.getSpec().getSteps();
        out.println("job " + s.getJobId() + " (" + s.getSpec().getName() + "): " + s.getPhase() + ", step "
                + s.getStep() + "/" + totalSteps + (s.getMessage().isEmpty() ? "" : " — " + s.getMessage()));
        out.flush();
    }

    void event(JobEvent e) {
        switch (e.getEventCase()) {
            case PHASE -> permanent(phaseLine(e.getPhase()));
            case CHECKPOINT -> permanent(checkpointLine(e.getCheckpoint()));
            case STEP -> step(e.getStep());
            default -> {}
        }
    }

    /** The job's final state. */
    void end(JobStatus s) {
        if (tty) draw(true);
        out.println("job " + s.getJobId() + " " + s.getPhase() + " at step " + s.getStep()
                + (s.getLastCheckpointStep() > 0 ? " (last checkpoint step " + s.getLastCheckpointStep() + ")" : "")
                + ": " + s.getMessage());
        out.flush();
    }

    // ------------------------------------------------------------------ events

    private void step(StepMetrics m) {
        last = m;
        if (m.getValidationCount() > 0) lastEval = m;
        if (!tty) {
            out.println(stepLine(m));
            if (m.getValidationCount() > 0) out.println(evalLine(m));
            out.flush();
            return;
        }
        if (m.getValidationCount() > 0 || System.nanoTime() - drawnAt >= REDRAW_NANOS) draw(false);
    }

    private void permanent(String line) {
        if (tty) erase();
        out.println(line);
        if (tty) draw(false);
        else out.flush();
    }

    // ------------------------------------------------------------------ plain lines

    static String phaseLine(PhaseChange p) {
        return String.format(
                Locale.ROOT,
                "phase %s -> %s after %.1f s (mesh epoch %d): %s",
                p.getFrom(),
                p.getTo(),
                p.getSeconds(),
                p.getMeshEpoch(),
                p.getCause());
    }

    static String checkpointLine(CheckpointInfo c) {
        return "checkpoint step " + c.getStep() + " committed at " + c.getPath() + " (mesh epoch " + c.getMeshEpoch()
                + ")";
    }

    String stepLine(StepMetrics m) {
        StringBuilder b = new StringBuilder(String.format(
                Locale.ROOT,
                "step %d/%d loss %.6f tokens/s %.0f step_s %.3f",
                m.getStep(),
                totalSteps,
                m.getLoss(),
                m.getTokensPerSecond(),
                m.getStepSeconds()));
        if (m.getLr() > 0) b.append(String.format(Locale.ROOT, " lr %.3e", m.getLr()));
        if (m.getGradNorm() > 0) b.append(String.format(Locale.ROOT, " grad_norm %.4f", m.getGradNorm()));
        return b.toString();
    }

    static String evalLine(StepMetrics m) {
        StringBuilder b = new StringBuilder("eval step " + m.getStep() + ":");
        List<SourceLoss> v = m.getValidationList();
        for (int i = 0; i < v.size(); i++) {
            b.append(i == 0 ? " " : ", ")
                    .append(v.get(i).getSource())
                    .append(' ')
                    .append(String.format(Locale.ROOT, "%.6f", v.get(i).getLoss()));
        }
        return b.toString();
    }

    // ------------------------------------------------------------------ terminal block

    /** Redraws the progress bar and the per-source table in place. */
    private void draw(boolean force) {
        if (last == null && !force) return;
        erase();
        int lines = 0;
        if (last != null) {
            out.println(progressLine(last));
            lines++;
        }
        if (lastEval != null) {
            out.println(String.format(
                    Locale.ROOT, "  %-12s %10s   (held-out, step %d)", "source", "loss", lastEval.getStep()));
            lines++;
            for (SourceLoss s : lastEval.getValidationList()) {
                out.println(String.format(Locale.ROOT, "  %-12s %10.4f", s.getSource(), s.getLoss()));
                lines++;
            }
        }
        out.flush();
        drawnLines = lines;
        drawnAt = System.nanoTime();
    }

    private void erase() {
        if (drawnLines > 0) {
            out.print("\033[" + drawnLines + "A\r\033[J");
            drawnLines = 0;
        }
    }

    String progressLine(StepMetrics m) {
        double frac = totalSteps > 0 ? Math.min(1.0, (double) m.getStep() / totalSteps) : 0;
        int filled = (int) Math.round(frac * BAR);
        String eta = "";
        if (m.getStepSeconds() > 0 && totalSteps > m.getStep()) {
            eta = "  ETA " + duration((totalSteps - m.getStep()) * m.getStepSeconds());
        }
        return String.format(
                Locale.ROOT,
                "[%s%s] %5.1f%%  step %d/%d  loss %.4f  %s tok/s  %.2f s/step%s",
                "#".repeat(filled),
                "-".repeat(BAR - filled),
                100 * frac,
                m.getStep(),
                totalSteps,
                m.getLoss(),
                si(m.getTokensPerSecond()),
                m.getStepSeconds(),
                eta);
    }

    static String si(double v) {
        if (v >= 1e6) return String.format(Locale.ROOT, "%.1fM", v / 1e6);
        if (v >= 1e3) return String.format(Locale.ROOT, "%.1fk", v / 1e3);
        return String.format(Locale.ROOT, "%.0f", v);
    }

    static String duration(double seconds) {
        long s = Math.round(seconds);
        if (s >= 3600) return String.format(Locale.ROOT, "%dh%02dm", s / 3600, (s % 3600) / 60);
        if (s >= 60) return String.format(Locale.ROOT, "%dm%02ds", s / 60, s % 60);
        return s + "s";
    }
}
