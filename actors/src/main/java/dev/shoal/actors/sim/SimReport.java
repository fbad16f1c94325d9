// The tables `shoal simulate` prints (docs/scale.md): one summary row per scenario, and per scenario
// one row per interruption with the control plane's wall time for each recovery phase.
// Guarantees: markdown tables; wall seconds unless a column says "sim"; a phase that was not reached
// prints "–" instead of a made-up number.
package dev.shoal.actors.sim;

import java.util.ArrayList;
import java.util.List;
import java.util.Locale;

public final class SimReport {
    private SimReport() {}

    public static String summaryHeader() {
        return "| scenario | GPUs | spare | systems | cluster s | register s | distribute s | form s | steps | rounds"
                + " | steps/s | wall s/step | sim s/step | sim s | goodput | interruptions | final mesh | msgs/step"
                + " | journal events | journal KiB | recovery s | heap MiB |\n"
                + "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|---:|---:|---:|---:|---:|";
    }

    public static String summaryRow(Simulator.Result r) {
        Scenario s = r.scenario();
        return String.format(
                Locale.ROOT,
                "| %s | %d | %d | %d | %.2f | %.2f | %.3f | %.3f | %d | %d | %.1f | %.4f | %.2f | %.1f | %.1f %% | %d |"
                        + " e%d × %d | %.0f | %d | %.1f | %.3f | %.0f |",
                s.name(),
                s.world(),
                s.spareNodes() * s.gpusPerNode(),
                s.actorSystems(),
                r.clusterSeconds(),
                r.registerSeconds(),
                r.distributeSeconds(),
                r.formSeconds(),
                s.steps(),
                r.rounds(),
                r.stepsPerSecond(),
                r.trainSeconds() / Math.max(1, r.rounds()),
                r.simulatedStepSeconds(),
                r.simulatedClock(),
                100 * r.goodput(),
                r.interruptions().size(),
                r.finalEpoch(),
                r.finalWorld(),
                r.messagesPerStep(),
                r.journalEvents(),
                r.journalBytes() / 1024.0,
                r.recoverySeconds(),
                r.heapBytes() / (1024.0 * 1024));
    }

    /** The per-interruption phases and the added nodes of one scenario; empty when it had neither. */
    public static String details(Simulator.Result r) {
        List<String> out = new ArrayList<>();
        if (!r.interruptions().isEmpty()) {
            out.add("Scenario " + r.scenario().name() + ": recoveries (wall s from the coordinator noticing the node"
                    + " loss, or from the cluster removing the coordinator's downed host; notice: wall s from the kill"
                    + " (in-JVM gossip, or the downed host's removal); detection and reload are simulated)");
            out.add("| # | kind | nodes | step | sim at s | detection sim s | notice s | decision s | distribution s"
                    + " | resumed step s | reload sim s | epoch | lost sim s |");
            out.add("|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|---:|");
            int i = 1;
            for (FailurePlan.Interruption x : r.interruptions()) {
                long s0 = x.startNanos();
                double reload = x.gapSeconds - r.scenario().detectionSeconds() - (x.resumedNanos - s0) / 1e9;
                out.add(String.format(
                        Locale.ROOT,
                        "| %d | %s | %d | %d | %.1f | %.1f | %s | %s | %s | %s | %.2f | %d → %d | %.1f |",
                        i++,
                        x.kind,
                        x.nodes.size(),
                        x.step,
                        x.simAt,
                        r.scenario().detectionSeconds(),
                        since(x.killNanos, x.noticedNanos),
                        since(s0, x.firstJoinNanos),
                        since(s0, x.lastJoinNanos),
                        since(s0, x.resumedNanos),
                        Math.max(0, reload),
                        x.epoch,
                        x.resumeEpoch,
                        x.lostRoundSeconds));
            }
            if (!Double.isNaN(r.failoverSeconds())) {
                out.add(String.format(
                        Locale.ROOT,
                        "coordinator failover: downed host removed from the cluster → the new singleton answered"
                                + " (journal replayed) %.3f s",
                        r.failoverSeconds()));
            }
        }
        for (Simulator.Added a : r.added()) {
            out.add(String.format(
                    Locale.ROOT,
                    "Scenario %s: +%d nodes after step %d: registered in %.3f s; %s",
                    r.scenario().name(),
                    a.nodes(),
                    a.atStep(),
                    a.registerSeconds(),
                    a.outcome()));
        }
        return String.join("\n", out);
    }

    private static String since(long from, long to) {
        return from <= 0 || to <= 0 ? "–" : String.format(Locale.ROOT, "%.3f", (to - from) / 1e9);
    }
}
