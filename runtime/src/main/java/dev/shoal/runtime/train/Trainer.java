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
import dev.shoal.runtime.data.Manifest;
import dev.shoal.runtime.data.MixtureSampler;
import dev.shoal.runtime.data.MixtureSpec;
import dev.shoal.runtime.data.PreparedSource;
import dev.shoal.runtime.data.ValidationSet;
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
import java.nio.IntBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Optional;

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
    private final Manifest manifest;
    private final MixtureSampler sampler;
    private final BatchLayout layout;
    private final LlamaModel model;
    private final AdamW opt;
    private final LrSchedule schedule;
    private final Map<String, List<int[]>> valSets = new LinkedHashMap<>(); // source -> [n][T+1] ids
    private final Map<String, String> identity;
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
        MixtureSpec spec = job.mixtureSpec();
        // 1. Data: the prepared folder, its manifest and every source's train split.
        Path dataDir = job.data().dir();
        if (!Files.isDirectory(dataDir)) {
            throw new JobConfigException(
                    "train.data.dir = " + dataDir + ": no such folder (make one with shoal prepare)");
        }
        try {
            manifest = Manifest.read(dataDir);
            sampler = MixtureSampler.fromPrepared(dataDir, spec, true);
        } catch (IllegalArgumentException e) {
            throw new JobConfigException("train.data: " + e.getMessage());
        } catch (IOException e) {
            throw new JobConfigException("train.data.dir = " + dataDir + ": " + e.getMessage());
        }
        layout = sampler.layout(1);
        // 2. Model: a preset with seeded random init, or an HF directory; checked against data and T.
        cx = Compute.cpu(job.threads());
        try {
            model = buildModel(job, cx);
            opt = new AdamW(model.params(), model.grads(), job.optimizer().adamW(), cx.par());
            readValidation(spec, dataDir);
        } catch (RuntimeException | IOException e) {
            cx.close();
            throw e;
        }
        LlamaConfig mc = model.config();
        if (manifest.tokenizer().vocabSize() > mc.vocab()) {
            close();
            throw new JobConfigException("train.data.dir = " + dataDir + ": its tokenizer has "
                    + manifest.tokenizer().vocabSize() + " ids, more than the vocabulary " + mc.vocab() + " of model '"
                    + mc.name() + "' (tokenize with a smaller tokenizer or use a larger model)");
        }
        schedule = job.lrSchedule();
        identity = identity(job, manifest, mc);
        inputs = new int[job.microBatch() * job.seqLen()];
        targets = new int[job.microBatch() * job.seqLen()];
    }

    /** Held-out sequences per source, fixed for the whole run. */
    private void readValidation(MixtureSpec spec, Path dataDir) throws IOException {
        int maxSeqs = job.evalBatches() * job.microBatch();
        for (MixtureSpec.Source s : spec.sources()) {
            PreparedSource valid;
            try {
                valid = PreparedSource.open(dataDir, s.name(), PreparedSource.Split.VALID, true);
            } catch (IOException e) {
                throw new JobConfigException("train.data.dir = " + dataDir + ": " + e.getMessage());
            }
            List<int[]> seqs = ValidationSet.sequences(
                    valid,
                    job.seqLen(),
                    maxSeqs,
                    manifest.tokenizer().bosId(),
                    manifest.tokenizer().eosId());
            if (seqs.isEmpty()) {
                note("note: source " + s.name() + " has no held-out sequence of " + (job.seqLen() + 1)
                        + " ids; it gets no validation loss");
            } else {
                valSets.put(s.name(), seqs);
            }
        }
    }

    private LlamaModel buildModel(JobConfig job, Compute cx) throws IOException {
        String m = job.model();
        int micro = job.microBatch(), t = job.seqLen();
        LlamaModel model;
        if (LlamaConfig.PRESETS.containsKey(m.toLowerCase(Locale.ROOT))) {
            LlamaConfig c = LlamaConfig.preset(m);
            checkSeqLen(c);
            model = new LlamaModel(c, micro, t, cx, false);
            model.initRandom(job.seed());
            note("model: preset " + c.name() + ", " + c.paramCount() + " parameters, random init (seed " + job.seed()
                    + ")");
        } else {
            Path dir = Path.of(m);
            if (!Files.isDirectory(dir)) {
                throw new JobConfigException("train.model = " + m + ": neither a preset (" + LlamaConfig.presetNames()
                        + ") nor a Hugging Face directory");
            }
            try {
                checkSeqLen(dev.shoal.runtime.hf.HfConfig.read(dir));
                model = HfCheckpoint.load(dir, micro, t, cx, false);
            } catch (HfFormatException e) {
                throw new JobConfigException("train.model = " + m + ": " + e.getMessage());
            }
            note("model: " + dir + " (" + model.config().paramCount() + " parameters)");
        }
        return model;
    }

    private void checkSeqLen(LlamaConfig c) {
        if (job.seqLen() > c.maxSeqLen()) {
            throw new JobConfigException("train.seq_len = " + job.seqLen() + ": model '" + c.name()
                    + "' allows at most " + c.maxSeqLen() + " positions");
        }
    }

    /** What a checkpoint must agree on with the job to be resumed: the data stream and the model's shape. */
    static Map<String, String> identity(JobConfig job, Manifest manifest, LlamaConfig model) {
        MixtureSpec s = job.mixtureSpec();
        Map<String, String> id = new LinkedHashMap<>();
        id.put("seed", Long.toString(s.seed()));
        id.put("seq_len", Integer.toString(s.seqLen()));
        id.put("global_batch", Integer.toString(s.globalBatch()));
        id.put("data.sources", s.sources().toString());
        id.put("data.additional_language", String.valueOf(s.additionalLang()));
        id.put(
                "data.almr_schedule",
                Arrays.toString(s.effectiveSchedule().steps()) + " "
                        + Arrays.toString(s.effectiveSchedule().ppb()));
        id.put("tokenizer_sha256", manifest.tokenizer().sha256());
        id.put("model", model.withName("-").toString());
        return id;
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
        long t0 = System.nanoTime();
        Path ckptDir = job.checkpointDir();
        Checkpoints.clean(ckptDir);
        Optional<Path> latest = Checkpoints.latest(ckptDir);
        long start = 0;
        if (latest.isPresent() && !resume) {
            throw new JobConfigException("train.checkpoint_dir = " + ckptDir + " already holds "
                    + latest.get().getFileName() + "; pass --resume to continue it, or choose another checkpoint_dir");
        }
        if (resume && latest.isPresent()) {
            start = resumeFrom(latest.get());
        } else if (resume) {
            note("resume: no complete checkpoint in " + ckptDir + "; starting at step 0");
        }
        long end = Math.min(job.steps(), stopAfter);
        Path lastCkpt = latest.orElse(null);
        double lastLoss = Double.NaN;
        Map<String, Double> lastVal = null;
        int tokensPerStep = job.globalBatch() * job.seqLen();
        try (MetricsLog metrics = new MetricsLog(job.metricsFile(), start > 0 ? start : -1);
                TrainProgress bar = new TrainProgress(progressOut, start, job.steps())) {
            if (start == 0) {
                lastVal = evaluate();
                metrics.write(0, Double.NaN, 0, 0, 0, 0, lastVal);
            }
            for (long s = start; s < end; s++) {
                long st = System.nanoTime();
                double lr = schedule.lr(s);
                double[] lossNorm = step(s, lr);
                lastLoss = lossNorm[0];
                long done = s + 1;
                double tps = tokensPerStep / Math.max(1e-9, (System.nanoTime() - st) / 1e9);
                boolean last = done == job.steps();
                Map<String, Double> val = null;
                if (last || (job.evalInterval() > 0 && done % job.evalInterval() == 0)) {
                    val = evaluate();
                    lastVal = val;
                }
                metrics.write(done, lossNorm[0], lossNorm[1], lr, done * tokensPerStep, tps, val);
                if (last || (job.checkpointInterval() > 0 && done % job.checkpointInterval() == 0)) {
                    lastCkpt = Checkpoints.save(ckptDir, model, opt, state(done));
                }
                bar.update(done, lossNorm[0], tps);
            }
        }
        return new Result(start, Math.max(start, end), lastLoss, lastVal, lastCkpt, job.metricsFile(), secs(t0));
    }

    private long resumeFrom(Path dir) throws IOException {
        Checkpoints.State st = Checkpoints.readState(dir);
        StringBuilder diff = new StringBuilder();
        for (Map.Entry<String, String> e : identity.entrySet()) {
            String was = st.identity().get(e.getKey());
            if (!e.getValue().equals(was)) {
                diff.append(diff.length() == 0 ? "" : "; ")
                        .append(e.getKey())
                        .append(": checkpoint ")
                        .append(was)
                        .append(", config ")
                        .append(e.getValue());
            }
        }
        if (diff.length() > 0) {
            throw new JobConfigException("cannot resume from " + dir + ": the job differs in " + diff);
        }
        try {
            Checkpoints.load(dir, model, opt);
        } catch (HfFormatException e) {
            throw new JobConfigException("cannot resume from " + dir + ": " + e.getMessage());
        }
        if (!schedule.toString().equals(st.lrSchedule())) {
            note("note: the LR schedule changed since the checkpoint (was " + st.lrSchedule() + ", now " + schedule
                    + ")");
        }
        note("resumed from " + dir + " at step " + st.step());
        return st.step();
    }

    private Checkpoints.State state(long done) {
        Map<String, Long> consumed = new LinkedHashMap<>();
        long[] c = sampler.labelTokensConsumed(done);
        for (int i = 0; i < c.length; i++)
            consumed.put(job.mixtureSpec().sources().get(i).name(), c[i]);
        return new Checkpoints.State(
                done,
                opt.stepCount(),
                schedule.toString(),
                done < job.steps() ? schedule.lr(done) : Double.NaN,
                consumed,
                identity,
                "none drawn while training; data and initial weights come from seed " + job.seed());
    }

    /** One optimizer step on step s's global batch; returns {mean loss, pre-clip grad norm}. */
    double[] step(long s, double lr) {
        int accum = layout.gradAccum();
        model.zeroGrad();
        double lossSum = 0;
        // Forward and backward of each micro-batch; gradients add up in the model's grad buffer.
        for (int m = 0; m < accum; m++) {
            MixtureSampler.Batch b = sampler.microBatch(s, 0, 1, m, false);
            fill(b);
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

    /** Inputs [micro, T] = ids [:, 0:T], targets = ids [:, 1:T+1] of the batch. */
    private void fill(MixtureSampler.Batch b) {
        int t = job.seqLen();
        IntBuffer ids = b.tokens();
        for (int r = 0; r < b.rows(); r++) {
            int base = r * (t + 1);
            for (int p = 0; p < t; p++) {
                inputs[r * t + p] = ids.get(base + p);
                targets[r * t + p] = ids.get(base + p + 1);
            }
        }
    }

    /** Mean next-token loss of each source's held-out sequences, in micro-batches. */
    public Map<String, Double> evaluate() {
        Map<String, Double> out = new LinkedHashMap<>();
        int t = job.seqLen(), micro = job.microBatch();
        for (Map.Entry<String, List<int[]>> e : valSets.entrySet()) {
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

    private static double secs(long t0) {
        return (System.nanoTime() - t0) / 1e9;
    }

    @Override
    public void close() {
        cx.close();
    }
}
