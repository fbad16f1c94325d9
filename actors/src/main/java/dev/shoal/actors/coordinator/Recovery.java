// Recovery: the transient bookkeeping of one RECOVERING episode of the coordinator (not journaled;
// the journal holds the MeshLost event that started it). It tracks the liveness probe of the
// registered workers and the timings that the PhaseChange events report: detection (the trigger),
// re-mesh (probe done, mesh chosen), reload (every rank joined and loaded the checkpoint) and the
// first completed step on the new mesh.
package dev.shoal.actors.coordinator;

import java.util.HashSet;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Set;

final class Recovery {
    final String cause;
    final List<String> oldRanks; // the lost mesh's workers, told to abort
    final long detectedNanos = System.nanoTime();
    long remeshedNanos;
    long formedNanos;
    long resumeStep;
    String layout = "";

    int round; // probe round; answers of older rounds are dropped
    final Set<String> pending = new HashSet<>();
    final Set<String> alive = new LinkedHashSet<>();

    Recovery(String cause, List<String> oldRanks) {
        this.cause = cause;
        this.oldRanks = List.copyOf(oldRanks);
    }

    /** Starts probe round {@code round + 1} of {@code workers}; returns its number. */
    int newRound(Set<String> workers) {
        round++;
        pending.clear();
        alive.clear();
        pending.addAll(workers);
        return round;
    }

    /** Records one probe answer (id "": the round of no workers); true when the round is complete. */
    boolean answer(int r, String workerId, boolean ok) {
        if (r != round || (!pending.remove(workerId) && !workerId.isEmpty())) return false;
        if (ok) alive.add(workerId);
        return pending.isEmpty();
    }

    /** Records a node's answer for all of {@code ids} ({@code alive}: those that live); true when complete. */
    boolean answerAll(int r, List<String> ids, Set<String> aliveIds) {
        if (r != round) return false;
        boolean any = false;
        for (String id : ids) {
            if (!pending.remove(id)) continue;
            any = true;
            if (aliveIds.contains(id)) alive.add(id);
        }
        return any && pending.isEmpty();
    }

    boolean graceOver(java.time.Duration grace) {
        return System.nanoTime() - detectedNanos >= grace.toNanos();
    }

    /** Seconds from detection to the mesh choice, from there to the formed mesh. */
    String formedSummary() {
        return String.format(
                "recovered from: %s; re-mesh %.2f s after detection, reload %.2f s, resuming at step %d on %s",
                cause, (remeshedNanos - detectedNanos) / 1e9, (formedNanos - remeshedNanos) / 1e9, resumeStep, layout);
    }

    String firstStepSummary(long step) {
        long now = System.nanoTime();
        return String.format(
                "recovery done: step %d finished %.2f s after the mesh formed, %.2f s after detection (%s)",
                step, (now - formedNanos) / 1e9, (now - detectedNanos) / 1e9, cause);
    }
}
