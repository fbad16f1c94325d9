// Single-process training (dp 1) of a Llama model on a prepared mixture: each step accumulates the
// gradients of grad_accum micro-batches from the MixtureSampler (layout from BatchLayout), averages them,
// clips the global norm, and takes one AdamW step at the schedule's LR; per-source validation losses at
// every eval interval; one JSONL metrics line per step; a progress line on stderr; atomic checkpoints.
// Guarantees: step s reads exactly the sampler's global batch of step s (the data cursor is the step), no
// random numbers are drawn after init, and a checkpoint holds everything the next step reads (weights,
// AdamW moments and step count, the step); so a run resumed from step k reproduces the uninterrupted run
// bit for bit on the same thread count (design invariant 5). A checkpoint whose data spec, tokenizer or
// model shape differs from the job's is refused, naming what differs.
package dev.shoal.runtime.train;

import dev.shoal.runtime.data.BatchLayout;
import dev.shoal.runtime.hf.HfCheckpoint;
import dev.shoal.runtime.hf.HfFormatException;
import dev.shoal.runtime.model.LlamaConfig;
import dev.shoal.runtime.model.LlamaModel;
import dev.shoal.runtime.optim.AdamW;
import dev.shoal.runtime.optim.GradClip;
import dev.shoal.runtime.optim.LrSchedule;
import dev.shoal.runtime.tensor.Compute;
import dev.shoal.runtime.tensor.Tensor;
import java.io.IOException;
import java.io.PrintStream;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/** Not thread-safe; owns its thread pool (close it). */
public final class Trainer implements AutoCloseable {

    /** What a run did: steps [startStep, endStep), the last loss and validation losses, where things went. */
    public record Result(
            long startStep,
            long endStep,
            double lastLoss,
            Map<String, Double> lastValLoss,
            Path lastCheckpoint,
            Path metricsFile,
            double seconds) {}

    /** Training went numerically wrong (a runtime failure, not a config mistake). */
    public static final class TrainingFailure extends RuntimeException {
        public TrainingFailure(String message) {
            super(message);
        }
    }

    private final JobConfig job;
    private final PrintStream log;
    private final PrintStream progressOut;
    private final Compute cx;
    private final TrainData data;
    private final BatchLayout layout;
    private final LlamaModel model;
    private final AdamW opt;
    private final LrSchedule schedule;
    private final int[] inputs; // [micro·T]
    private final int[] targets; // [micro·T]

    /**
     * Opens the data, builds (or loads) the model and the optimizer. log gets one-line notes (may be null);
     * progress gets the redrawn progress line (null: none).
     */
    public Trainer(JobConfig job, PrintStream log, PrintStream progress) throws IOException {
        this.job = job;
        this.log = log;
        this.progressOut = progress;
        // 1. Data: the prepared folder, its manifest, every source's train split and held-out sequences.
        data = new TrainData(job, this::note);
        layout = data.layout(1);
        // 2. Model: a preset with seeded random init, or an HF directory; checked against data and T.
        LlamaConfig mc = TrainData.modelConfig(job);
        data.checkVocab(mc);
        cx = Compute.cpu(job.threads());
        try {
            model = buildModel(job, mc, cx);
            opt = new AdamW(model.params(), model.grads(), job.optimizer().adamW(), cx.par());
        } catch (RuntimeException | IOException e) {
            cx.close();
            throw e;
        }
        schedule = job.lrSchedule();
        inputs = new int[job.microBatch() * job.seqLen()];
        targets = new int[job.microBatch() * job.seqLen()];
    }

    private LlamaModel buildModel(JobConfig job, LlamaConfig c, Compute cx) throws IOException {
        int micro = job.microBatch(), t = job.seqLen();
        LlamaModel model;
        if (TrainData.isPreset(job)) {
            model = new LlamaModel(c, micro, t, cx, false);
            model.initRandom(job.seed());
            note("model: preset " + c.name() + ", " + c.paramCount() + " parameters, random init (seed " + job.seed()
                    + ")");
        } else {
            Path dir = Path.of(job.model());
            try {
                model = HfCheckpoint.load(dir, micro, t, cx, false);
            } catch (HfFormatException e) {
                throw new JobConfigException("train.model = " + job.model() + ": " + e.getMessage());
            }
            note("model: " + dir + " (" + model.config().paramCount() + " parameters)");
        }
        return model;
    }

    public LlamaModel model() {
        return model;
    }

    public AdamW optimizer() {
        return opt;
    }

    public BatchLayout layout() {
        return layout;
    }

    /**
     * Runs steps until job.steps(), or stops early (as if killed, no checkpoint) once {@code stopAfter} steps
     * are done. With resume, continues from the newest complete checkpoint (none: starts at 0); without, a
     * checkpoint_dir that already holds a checkpoint is refused.
     */
    public Result run(boolean resume, long stopAfter) throws IOException {
        TrainLoop.Engine engine = new TrainLoop.Engine() {
            @Override
            public TrainLoop.Outcome step(long s) {
                double lr = schedule.lr(s);
                double[] lossNorm = Trainer.this.step(s, lr);
                return new TrainLoop.Outcome(lossNorm[0], lossNorm[1], lr);
            }

            @Override
            public Map<String, Double> evaluate() {
                return Trainer.this.evaluate();
            }

            @Override
            public Path save(long done) throws IOException {
                return Checkpoints.save(
                        job.checkpointDir(), model, opt, data.state(done, opt.stepCount(), model.config()));
            }

            @Override
            public long resume(Path dir) throws IOException {
                return resumeFrom(dir);
            }
        };
        return TrainLoop.run(job, engine, true, resume, stopAfter, this::note, progressOut);
    }

    private long resumeFrom(Path dir) throws IOException {
        Checkpoints.State st = Checkpoints.readState(dir);
        String changed = data.checkResumable(dir, st, model.config());
        try {
            Checkpoints.load(dir, model, opt);
        } catch (HfFormatException e) {
            throw new JobConfigException("cannot resume from " + dir + ": " + e.getMessage());
        }
        if (changed != null) note(changed);
        note("resumed from " + dir + " at step " + st.step());
        return st.step();
    }

    /** One optimizer step on step s's global batch; returns {mean loss, pre-clip grad norm}. */
    double[] step(long s, double lr) {
        int accum = layout.gradAccum();
        model.zeroGrad();
        double lossSum = 0;
        // Forward and backward of each micro-batch; gradients add up in the model's grad buffer.
        for (int m = 0; m < accum; m++) {
            data.microBatch(s, 0, 1, m, inputs, targets);
            lossSum += model.forward(inputs, targets, job.microBatch(), job.seqLen());
            model.backward();
        }
        double loss = lossSum / accum;
        // The mean over micro-batches: every micro-batch counts micro·T labels, so this is the global mean.
        Tensor g = model.flatGrads();
        if (accum > 1) {
            float inv = (float) (1.0 / accum);
            cx.par().forRange(g.numel(), (a, e) -> {
                for (long i = a; i < e; i++) g.set(i, g.get(i) * inv);
            });
        }
        // Clip, then the AdamW update.
        double gc = job.optimizer().gradClip();
        double norm =
                gc > 0 ? GradClip.clipGlobalNorm(List.of(g), gc, cx.par()) : GradClip.globalNorm(List.of(g), cx.par());
        if (!Double.isFinite(loss) || !Double.isFinite(norm)) {
            throw new TrainingFailure("step " + s + ": loss " + loss + ", gradient norm " + norm
                    + "; stopped without updating (lower train.lr.peak_lr or resume from the last checkpoint)");
        }
        opt.step(lr);
        return new double[] {loss, norm};
    }

    /** Mean next-token loss of each source's held-out sequences, in micro-batches. */
    public Map<String, Double> evaluate() {
        Map<String, Double> out = new LinkedHashMap<>();
        int t = job.seqLen(), micro = job.microBatch();
        for (Map.Entry<String, List<int[]>> e : data.validation().entrySet()) {
            List<int[]> seqs = e.getValue();
            double sum = 0;
            long count = 0;
            for (int i = 0; i < seqs.size(); i += micro) {
                int b = Math.min(micro, seqs.size() - i);
                for (int r = 0; r < b; r++) {
                    int[] row = seqs.get(i + r);
                    System.arraycopy(row, 0, inputs, r * t, t);
                    System.arraycopy(row, 1, targets, r * t, t);
                }
                sum += model.forward(inputs, targets, b, t) * b * t;
                count += (long) b * t;
            }
            out.put(e.getKey(), sum / count);
        }
        return out;
    }

    private void note(String line) {
        if (log != null) log.println(line);
    }

    @Override
    public void close() {
        cx.close();
    }
}
