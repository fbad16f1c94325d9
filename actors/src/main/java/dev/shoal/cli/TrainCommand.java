// `shoal train --config job.conf [--steps N] [--resume] [--tp T --pp P --dp D [--zero1] [--procs N]]`:
// training of a job written in HOCON (see docs/training.md): the tiny/small presets or an HF directory, on
// a `shoal prepare` folder. One rank runs the single-process Trainer; a larger layout (flags, else the
// config's train.parallel block) runs T·P·D RankTrainers as threads, or with --procs one JVM per rank
// over TCP. Progress on stderr, one summary block on stdout, metrics JSONL and step-NNNNNN/ checkpoints
// on disk, the same in every mode.
// Exit codes: 0 done, 1 runtime failure (e.g. a diverged step), 2 a user mistake (bad config key or value,
// missing data or model, checkpoints present without --resume, a checkpoint of another job, a layout that
// does not fit the model or the batch), one line.
package dev.shoal.cli;

import dev.shoal.comm.ParallelDims;
import dev.shoal.runtime.hf.HfFormatException;
import dev.shoal.runtime.train.JobConfig;
import dev.shoal.runtime.train.JobConfigException;
import dev.shoal.runtime.train.JobConfigReader;
import dev.shoal.runtime.train.MeshLauncher;
import dev.shoal.runtime.train.MeshRun;
import dev.shoal.runtime.train.ParallelSpec;
import dev.shoal.runtime.train.RankTrainer;
import dev.shoal.runtime.train.TrainData;
import dev.shoal.runtime.train.Trainer;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.OutputStream;
import java.io.PrintStream;
import java.io.PrintWriter;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.Callable;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

@Command(
        name = "train",
        mixinStandardHelpOptions = true,
        description = {
            "Trains a Llama model on the CPU on a prepared mixture, as a HOCON job config says:",
            "grad accumulation over micro-batches, global grad-norm clipping, AdamW, warmup + cosine/linear/wsd LR,",
            "per-source validation loss every eval_interval steps, metrics JSONL, and atomic checkpoints",
            "checkpoint_dir/step-NNNNNN/ (HF weights, AdamW moments, step, LR state) every checkpoint_interval.",
            "A resumed run gives the same weights, bit for bit, as an uninterrupted one.",
            "--tp/--pp/--dp (or train.parallel { tp, pp, dp, zero1 }) train with tensor, pipeline and data",
            "parallelism: T·P·D ranks as threads here, or with --procs T·P·D one JVM per rank over TCP on 127.0.0.1.",
            ""
        })
public final class TrainCommand implements Callable<Integer> {

    @Option(names = "--config", required = true, paramLabel = "FILE", description = "HOCON job config (train { ... }).")
    Path config;

    @Option(names = "--steps", paramLabel = "N", description = "Override train.steps (the LR schedule follows).")
    Long steps;

    @Option(names = "--resume", description = "Continue from the newest complete checkpoint in checkpoint_dir.")
    boolean resume;

    @Option(names = "--quiet", description = "No progress line.")
    boolean quiet;

    @Option(names = "--tp", paramLabel = "T", description = "Tensor-parallel ranks (overrides train.parallel.tp).")
    Integer tp;

    @Option(names = "--pp", paramLabel = "P", description = "Pipeline stages (overrides train.parallel.pp).")
    Integer pp;

    @Option(names = "--dp", paramLabel = "D", description = "Data-parallel replicas (overrides train.parallel.dp).")
    Integer dp;

    @Option(
            names = "--zero1",
            negatable = true,
            description = "ZeRO-1: shard AdamW state over the DP replicas (overrides train.parallel.zero1).")
    Boolean zero1;

    @Option(
            names = "--procs",
            paramLabel = "N",
            description = "Run each rank in its own JVM (N = T·P·D), talking TCP on 127.0.0.1; default: threads.")
    Integer procs;

    @CommandLine.Spec
    CommandLine.Model.CommandSpec spec;

    @Override
    public Integer call() {
        PrintWriter out = spec.commandLine().getOut();
        PrintStream err = new PrintStream(new WriterStream(spec.commandLine().getErr()), true, StandardCharsets.UTF_8);
        try {
            JobConfig job = JobConfigReader.load(config);
            if (steps != null) {
                if (steps < 1) throw new ShoalCli.UserError("--steps " + steps + " must be >= 1");
                job = job.withSteps(steps);
            }
            ParallelSpec layout = layout(JobConfigReader.loadParallel(config));
            ParallelDims dims = layout.dims();
            if (procs != null && procs != dims.world()) {
                throw new ShoalCli.UserError("--procs " + procs + " must equal tp " + dims.tp() + " × pp " + dims.pp()
                        + " × dp " + dims.dp() + " = " + dims.world() + " (one JVM per rank)");
            }
            if (layout.world() > 1) {
                RankTrainer.checkLayout(job, TrainData.modelConfig(job), dims);
            }
            PrintStream log = new PrintStream(new WriterStream(out), true, StandardCharsets.UTF_8);
            Trainer.Result r;
            if (procs != null) {
                r = MeshLauncher.run(config, dims, layout.zero1(), resume, steps, quiet, log, err);
            } else if (layout.world() > 1 || layout.zero1()) {
                r = MeshRun.runThreads(
                        job, dims, layout.zero1(), resume, Long.MAX_VALUE, log::println, quiet ? null : err);
            } else {
                try (Trainer t = new Trainer(job, log, quiet ? null : err)) {
                    r = t.run(resume, Long.MAX_VALUE);
                }
            }
            ShoalCli.printTo(out, summary(job, r));
            return 0;
        } catch (JobConfigException | HfFormatException e) {
            throw new ShoalCli.UserError(e.getMessage());
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            spec.commandLine().getErr().println("error: interrupted");
            spec.commandLine().getErr().flush();
            return 1;
        } catch (Trainer.TrainingFailure | MeshRun.RankFailure | IOException e) {
            // A runtime failure (diverged step, a disk that fails a write): one line, exit 1.
            spec.commandLine().getErr().println("error: " + e.getMessage());
            spec.commandLine().getErr().flush();
            return 1;
        }
    }

    /** The config's layout with the flags on top; refuses sizes below 1, naming the flag. */
    ParallelSpec layout(ParallelSpec fromConfig) {
        for (Object[] f : new Object[][] {{"--tp", tp}, {"--pp", pp}, {"--dp", dp}, {"--procs", procs}}) {
            if (f[1] != null && (Integer) f[1] < 1) {
                throw new ShoalCli.UserError(f[0] + " " + f[1] + " must be >= 1");
            }
        }
        return new ParallelSpec(
                tp != null ? tp : fromConfig.tp(),
                pp != null ? pp : fromConfig.pp(),
                dp != null ? dp : fromConfig.dp(),
                zero1 != null ? zero1 : fromConfig.zero1());
    }

    static String summary(JobConfig job, Trainer.Result r) {
        StringBuilder sb = new StringBuilder();
        long ran = r.endStep() - r.startStep();
        sb.append(String.format(
                Locale.ROOT,
                "%s: steps %d..%d of %d in %.1fs (%.0f tokens/s)",
                job.name(),
                r.startStep(),
                r.endStep(),
                job.steps(),
                r.seconds(),
                ran * (double) job.globalBatch() * job.seqLen() / Math.max(1e-9, r.seconds())));
        if (!Double.isNaN(r.lastLoss())) sb.append(String.format(Locale.ROOT, "%nloss %.4f", r.lastLoss()));
        if (r.lastValLoss() != null) {
            sb.append(String.format("%nval_loss"));
            for (Map.Entry<String, Double> e : r.lastValLoss().entrySet()) {
                sb.append(String.format(Locale.ROOT, " %s %.4f", e.getKey(), e.getValue()));
            }
        }
        if (r.lastCheckpoint() != null) sb.append(String.format("%ncheckpoint %s", r.lastCheckpoint()));
        sb.append(String.format("%nmetrics %s", r.metricsFile()));
        return sb.toString();
    }

    /** Adapts one of picocli's PrintWriters to the PrintStream the trainer writes on. */
    private static final class WriterStream extends OutputStream {
        private final PrintWriter w;
        private final ByteArrayOutputStream pending = new ByteArrayOutputStream();

        WriterStream(PrintWriter w) {
            this.w = w;
        }

        @Override
        public synchronized void write(int b) {
            pending.write(b);
        }

        @Override
        public synchronized void flush() {
            w.print(pending.toString(StandardCharsets.UTF_8));
            w.flush();
            pending.reset();
        }
    }
}
