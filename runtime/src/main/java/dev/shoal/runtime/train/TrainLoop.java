// The run loop shared by the single-process Trainer and every rank of a parallel run: pick the start step
// (resume from the newest complete checkpoint or refuse an existing one), validation at step 0, then per
// step: step(s) at the schedule's LR, validation every eval_interval and at the end, a checkpoint every
// checkpoint_interval and at the end (then the job's retention: checkpoint_keep_last/keep_every), one
// metrics JSONL line and the progress line.
// Guarantees: every rank of a mesh runs the same sequence of engine calls (they are collective), and only
// the writer (rank 0, or the single process) touches the metrics file, the progress line and the
// checkpoint folder's temp files; so a parallel run's outputs read exactly like a single-process run's.
package dev.shoal.runtime.train;

import java.io.IOException;
import java.io.PrintStream;
import java.nio.file.Path;
import java.util.Map;
import java.util.Optional;
import java.util.function.Consumer;

/** Stateless. */
public final class TrainLoop {
    private TrainLoop() {}

    /** One step's outcome: mean loss over the global batch, pre-clip gradient norm, LR used. */
    public record Outcome(double loss, double gradNorm, double lr) {}

    /** What the loop drives. Every method is collective across a mesh (all ranks call it in order). */
    public interface Engine {
        /** One optimizer step on step s's global batch at the schedule's LR. */
        Outcome step(long s);

        /** Per-source mean validation loss (the same numbers on every rank). */
        Map<String, Double> evaluate();

        /** Writes the checkpoint after `done` steps; the folder on the writer, null elsewhere. */
        Path save(long done) throws IOException;

        /** Loads a checkpoint folder; returns its step. */
        long resume(Path dir) throws IOException;
    }

    /**
     * Runs steps until job.steps(), or stops early (as if killed, no checkpoint) once stopAfter steps are
     * done. writer: this caller owns the metrics file, the progress line and checkpoint cleanup.
     */
    public static Trainer.Result run(
            JobConfig job,
            Engine engine,
            boolean writer,
            boolean resume,
            long stopAfter,
            Consumer<String> note,
            PrintStream progress)
            throws IOException {
        long t0 = System.nanoTime();
        Path ckptDir = job.checkpointDir();
        if (writer) {
            Checkpoints.clean(ckptDir);
        }
        Optional<Path> latest = Checkpoints.latest(ckptDir);
        long start = 0;
        if (latest.isPresent() && !resume) {
            throw new JobConfigException("train.checkpoint_dir = " + ckptDir + " already holds "
                    + latest.get().getFileName() + "; pass --resume to continue it, or choose another checkpoint_dir");
        }
        if (resume && latest.isPresent()) {
            start = engine.resume(latest.get());
        } else if (resume && writer && note != null) {
            note.accept("resume: no complete checkpoint in " + ckptDir + "; starting at step 0");
        }
        long end = Math.min(job.steps(), stopAfter);
        Path lastCkpt = latest.orElse(null);
        double lastLoss = Double.NaN;
        Map<String, Double> lastVal = null;
        int tokensPerStep = job.globalBatch() * job.seqLen();
        try (MetricsLog metrics = writer ? new MetricsLog(job.metricsFile(), start > 0 ? start : -1) : null;
                TrainProgress bar = new TrainProgress(writer ? progress : null, start, job.steps())) {
            if (start == 0) {
                lastVal = engine.evaluate();
                if (metrics != null) metrics.write(0, Double.NaN, 0, 0, 0, 0, lastVal);
            }
            for (long s = start; s < end; s++) {
                long st = System.nanoTime();
                Outcome o = engine.step(s);
                lastLoss = o.loss();
                long done = s + 1;
                double tps = tokensPerStep / Math.max(1e-9, (System.nanoTime() - st) / 1e9);
                boolean last = done == job.steps();
                Map<String, Double> val = null;
                if (last || (job.evalInterval() > 0 && done % job.evalInterval() == 0)) {
                    val = engine.evaluate();
                    lastVal = val;
                }
                if (metrics != null) {
                    metrics.write(done, o.loss(), o.gradNorm(), o.lr(), done * tokensPerStep, tps, val);
                }
                if (last || (job.checkpointInterval() > 0 && done % job.checkpointInterval() == 0)) {
                    lastCkpt = engine.save(done);
                    if (writer) Checkpoints.prune(ckptDir, job.retention());
                }
                bar.update(done, o.loss(), tps);
            }
        }
        return new Trainer.Result(
                start,
                Math.max(start, end),
                lastLoss,
                lastVal,
                lastCkpt,
                job.metricsFile(),
                (System.nanoTime() - t0) / 1e9);
    }
}
