// One rank's side of the cluster's checkpoints, in the runtime's sharded format (docs/checkpoints.md:
// checkpoint_dir/step-NNNNNN/ with a manifest and one shard per rank). save() snapshots the rank's
// share at a step boundary and returns while a background thread writes it; rank 0 commits the step
// folder once every rank's shard is durable (Checkpointer) and keeps the commit until the step runner
// reports it to the coordinator, which only then journals CheckpointCommitted. resume() loads the
// coordinator's last committed checkpoint into a rank of any (tp, pp, dp, ZeRO-1) layout.
//
// Guarantees: a checkpoint is reported only after its folder is committed (every shard and the
// manifest fsynced, the folder renamed, the root fsynced); abort() abandons a save in flight so a lost
// mesh never commits a step; on resume, rank 0 logs every folder newer than the checkpoint it resumes
// from, saying why it is skipped, and moves it out of the way (an uncommitted temp folder is deleted; a
// committed but never journaled one is renamed to step-NNNNNN.unjournaled-e<epoch>, never loaded), so a
// replayed step commits afresh.
package dev.shoal.actors.engine;

import dev.shoal.runtime.checkpoint.CheckpointLoader;
import dev.shoal.runtime.checkpoint.Checkpointer;
import dev.shoal.runtime.checkpoint.TrainingState;
import dev.shoal.runtime.parallel.RankComms;
import dev.shoal.runtime.train.BackendRankTrainer;
import dev.shoal.runtime.train.JobConfig;
import dev.shoal.runtime.train.RankTrainer;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Map;
import java.util.concurrent.atomic.AtomicReference;
import java.util.function.Consumer;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Stream;

final class ClusterCheckpoints implements AutoCloseable {
    private static final Pattern STEP_OR_TMP = Pattern.compile("step-(\\d{6,})(\\.tmp-.+)?");

    private final Path root;
    private final Checkpointer checkpointer;
    // The newest commit rank 0 made that the coordinator has not heard of yet.
    private final AtomicReference<Checkpointer.Committed> unreported = new AtomicReference<>();

    /**
     * @param shardWriteDelay test knob shoal.checkpoint.test-shard-write-delay: a slow disk (zero: off)
     */
    ClusterCheckpoints(Path root, RankTrainer trainer, Duration shardWriteDelay) {
        this(root, trainer.comms(), shardWriteDelay);
    }

    /** For a rank whose communicators are these (a GPU rank: its NCCL DP group, 1-rank TP and PP). */
    ClusterCheckpoints(Path root, RankComms comms, Duration shardWriteDelay) {
        this.root = root;
        this.checkpointer = new Checkpointer(
                root,
                comms,
                Checkpointer.Options.defaults()
                        .withListener(c -> unreported.accumulateAndGet(c, (a, b) -> {
                            return a == null || b.step() > a.step() ? b : a;
                        })));
        if (!shardWriteDelay.isZero()) checkpointer.delayShardWrites(shardWriteDelay);
    }

    Path root() {
        return root;
    }

    /** Starts saving the state after cluster step {@code step} (= engine steps done = the data cursor). */
    void save(long step, RankTrainer t) throws IOException {
        checkpointer.save(t.trainer(), state(step, t.job()));
    }

    /** save() for a GPU rank: its share of the master weights and moments goes through host memory. */
    void save(long step, JobConfig job, BackendRankTrainer t) throws IOException {
        t.save(checkpointer, state(step, job));
    }

    /** What a checkpoint (durable or in-memory peer copy) of cluster step {@code step} records besides tensors. */
    static TrainingState state(long step, RankTrainer t) {
        return state(step, t.job());
    }

    private static TrainingState state(long step, JobConfig job) {
        return new TrainingState(
                step, job.seed(), job.lrSchedule().toString(), job.lrSchedule().lr(step), null, Map.of());
    }

    /** Waits for this rank's save in flight; on rank 0 that includes the commit. */
    void await() throws IOException {
        checkpointer.await();
    }

    /** The newest commit not reported yet (rank 0 only; null elsewhere or when none), now reported. */
    Checkpointer.Committed takeCommitted() {
        return unreported.getAndSet(null);
    }

    /** Seconds this rank's last finished save took (snapshot → shard durable), or -1 when none since. */
    double takeWrittenSeconds() {
        return checkpointer.takeWrittenSeconds();
    }

    /** Seconds the last save() held training (waiting for the previous save, and the snapshot copy). */
    double lastStallSeconds() {
        return checkpointer.lastStallNanos() / 1e9;
    }

    /** The mesh is lost: abandon the save in flight (never committed). */
    void abort() {
        checkpointer.abort();
    }

    /**
     * The mesh is over: abandons a save still in flight (its commit could no longer be reported, and a
     * rank that died would keep rank 0 waiting), waits for the writer to stop and frees the snapshot;
     * the abandoned save's error goes to log.
     */
    void close(Consumer<String> log) {
        try {
            checkpointer.abort();
            checkpointer.close();
        } catch (IOException e) {
            log.accept("checkpoint: " + e.getMessage());
        }
    }

    @Override
    public void close() {
        close(msg -> {});
    }

    /**
     * Loads the committed checkpoint {@code stepDir} (saved after step {@code step}) into this rank,
     * whatever layout saved it. Rank 0 first clears the folders newer than it out of the way (see the
     * header), logging each.
     */
    static CheckpointLoader.Restored resume(Path stepDir, long step, long epoch, RankTrainer t, Consumer<String> log)
            throws IOException {
        return resume(
                stepDir,
                step,
                epoch,
                t.comms().globalRank(),
                dir -> CheckpointLoader.load(dir, t.trainer(), t.comms()),
                log);
    }

    /** Loads a checkpoint into a rank through {@code load} (e.g. BackendRankTrainer::load), as above. */
    interface Loader {
        CheckpointLoader.Restored load(Path stepDir) throws IOException;
    }

    static CheckpointLoader.Restored resume(
            Path stepDir, long step, long epoch, int globalRank, Loader load, Consumer<String> log) throws IOException {
        if (globalRank == 0) skipNewer(stepDir.getParent(), step, epoch, stepDir, log);
        CheckpointLoader.Restored r = load.load(stepDir);
        if (r.state().step() != step) {
            throw new IOException(stepDir + " holds the state after step "
                    + r.state().step() + ", but the mesh" + " resumes after step " + step);
        }
        return r;
    }

    /** Rank 0 of a new mesh: logs and moves aside every step folder of root newer than {@code step}. */
    static void skipNewer(Path root, long step, long epoch, Path resumingFrom, Consumer<String> log)
            throws IOException {
        if (root == null || !Files.isDirectory(root)) return;
        List<Path> newer = new ArrayList<>();
        try (Stream<Path> s = Files.list(root)) {
            for (Path p : s.toList()) {
                Matcher m = STEP_OR_TMP.matcher(p.getFileName().toString());
                if (m.matches() && Long.parseLong(m.group(1)) > step && Files.isDirectory(p)) newer.add(p);
            }
        }
        newer.sort(Comparator.comparing(Path::toString));
        String from = resumingFrom == null
                ? "the initial weights"
                : resumingFrom.getFileName().toString();
        for (Path p : newer) {
            String name = p.getFileName().toString();
            if (name.contains(".tmp-")) {
                log.accept("checkpoint: skipping " + p + ": an uncommitted save (never renamed to its step folder);"
                        + " resuming from " + from + "; deleted");
                deleteTree(p);
            } else {
                Path aside = root.resolve(name + ".unjournaled-e" + epoch);
                log.accept("checkpoint: skipping " + p + ": written but never journaled as CheckpointCommitted (the"
                        + " mesh was lost before the coordinator heard of it); resuming from " + from
                        + "; moved to " + aside.getFileName());
                Files.move(p, aside, StandardCopyOption.ATOMIC_MOVE);
            }
        }
    }

    private static void deleteTree(Path p) throws IOException {
        try (Stream<Path> s = Files.walk(p)) {
            for (Path x : s.sorted(Comparator.reverseOrder()).toList()) Files.deleteIfExists(x);
        }
    }
}
