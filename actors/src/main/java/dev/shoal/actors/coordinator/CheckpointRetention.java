// The job's checkpoint retention in the cluster (JobSpec checkpoint_keep_last / checkpoint_keep_every),
// applied by the coordinator once a CheckpointCommitted event is journaled. Only the coordinator knows
// which checkpoints count: rank 0 commits a folder on disk before the coordinator journals it, and a
// lost mesh resumes from the last *journaled* one, so pruning on rank 0 at commit time could delete the
// checkpoint a recovery is about to load.
//
// Guarantees: only this job's journaled checkpoints are candidates (folders of other jobs, uncommitted
// temp folders, folders moved aside as unjournaled and anything newer than the last journaled step are
// never touched); the newest journaled checkpoint, the one every recovery or rescale loads, is never
// deleted; a deleted folder is first renamed to .deleting-step-NNNNNN (never loaded); the work runs on
// one background thread per JVM, in the order the commits were journaled, and a failure is logged, never
// thrown into the coordinator. Needs checkpoint_dir visible from the coordinator's node (the shared file
// system the ranks commit through); where it is not, the folders it cannot see are left in place.
package dev.shoal.actors.coordinator;

import dev.shoal.proto.v1.CheckpointInfo;
import dev.shoal.proto.v1.JobSpec;
import dev.shoal.runtime.checkpoint.CheckpointDir;
import dev.shoal.runtime.checkpoint.Retention;
import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.function.Consumer;

public final class CheckpointRetention {
    private CheckpointRetention() {}

    private static final ExecutorService PRUNER = Executors.newSingleThreadExecutor(r -> {
        Thread t = new Thread(r, "shoal-checkpoint-retention");
        t.setDaemon(true);
        return t;
    });

    /** The spec's retention; keep_last 0 keeps every checkpoint. */
    public static Retention of(JobSpec spec) {
        return spec.getCheckpointKeepLast() <= 0
                ? Retention.ALL
                : new Retention(spec.getCheckpointKeepLast(), Math.max(0, spec.getCheckpointKeepEvery()));
    }

    /**
     * Of the journaled checkpoints (oldest first, the last one the newest), those the spec's retention
     * drops; never the newest.
     */
    public static List<CheckpointInfo> toDelete(JobSpec spec, List<CheckpointInfo> journaled) {
        if (journaled.isEmpty()) return List.of();
        long newest = journaled.get(journaled.size() - 1).getStep();
        Set<Long> drop = of(spec).toDelete(
                        journaled.stream().map(CheckpointInfo::getStep).toList());
        List<CheckpointInfo> out = new ArrayList<>();
        for (CheckpointInfo c : journaled) {
            if (c.getStep() != newest && drop.contains(c.getStep())) out.add(c);
        }
        return out;
    }

    /** Deletes what {@link #toDelete} names, on the background thread; log gets one line per folder. */
    public static void applyLater(JobSpec spec, List<CheckpointInfo> journaled, Consumer<String> log) {
        List<CheckpointInfo> drop = toDelete(spec, journaled);
        if (drop.isEmpty()) return;
        PRUNER.execute(() -> apply(drop, log));
    }

    /** Deletes the folders of {@code drop} now (those already gone are skipped). */
    static void apply(List<CheckpointInfo> drop, Consumer<String> log) {
        for (CheckpointInfo c : drop) {
            Path dir = Path.of(c.getPath());
            try {
                if (!dir.toFile().isDirectory()) continue;
                CheckpointDir.discard(dir);
                log.accept("checkpoint retention: deleted " + dir + " (step " + c.getStep() + ")");
            } catch (IOException | RuntimeException e) {
                log.accept("checkpoint retention: could not delete " + dir + ": " + e);
            }
        }
    }
}
