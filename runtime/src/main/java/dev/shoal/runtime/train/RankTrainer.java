// One rank of a (tp, pp, dp) mesh training the job a HOCON JobConfig describes: what `shoal train --tp
// --pp --dp` runs on each thread or process, and what a cluster GpuWorker runs per rank.
//
// API (stable):
//   RankTrainer.checkLayout(job, modelCfg, dims)     refuse a layout that does not fit (JobConfigException)
//   RankTrainer.initialWeights(job, modelCfg)        full seeded init of a preset, to share between thread ranks
//   new RankTrainer(job, dims, comms, options)       data, model shard, ParallelTrainer; weights loaded
//   step(s) -> StepMetrics                           one optimizer step on step s's global batch (collective)
//   evaluate() -> {source: loss}                     per-source validation loss (collective; same on every rank)
//   saveCheckpoint(done) / resume(dir)               the single-process checkpoint format (collective; gathered)
//   trainer(), model(), optimizer(), stepsDone(), setStepsDone(n), config(), data(), comms(), dims()
//                                                    what a (sharded) checkpoint writer needs
//   asEngine()                                       the TrainLoop adapter (metrics/progress as the Trainer's)
//
// Guarantees: the global batch of step s is a pure function of (seed, s, data spec), read through the same
// TrainData/MixtureSampler/BatchLayout path as the single-process Trainer (this replica reads only its own
// rows: micro-batch m of DP rank d is MixtureSampler.microBatch(s, d, dp, m)); the LR of step s is the job's
// schedule at s; a preset model starts from exactly the Trainer's seeded weights (full init, then each rank
// takes its TP/PP part), an HF directory is read rank-locally (ShardLoader); so every layout follows the
// single-process run up to float summation order. Loss, grad norm and validation losses are identical on
// every rank. Layout mistakes (tp not dividing the heads, pp beyond the layers, dp not fitting the batch)
// are JobConfigExceptions that name the value and, for dp, the sizes that work.
package dev.shoal.runtime.train;

import dev.shoal.comm.DType;
import dev.shoal.comm.ParallelDims;
import dev.shoal.runtime.model.LlamaConfig;
import dev.shoal.runtime.model.LlamaModel;
import dev.shoal.runtime.parallel.BatchPlan;
import dev.shoal.runtime.parallel.DataParallelOptimizer;
import dev.shoal.runtime.parallel.ParallelTrainer;
import dev.shoal.runtime.parallel.RankComms;
import dev.shoal.runtime.parallel.ShardLoader;
import dev.shoal.runtime.parallel.StagePlan;
import dev.shoal.runtime.parallel.TpPlan;
import dev.shoal.runtime.tensor.Compute;
import dev.shoal.runtime.tensor.Tensor;
import java.io.IOException;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.function.Consumer;

/** Not thread-safe: one thread drives one rank. Owns its engine threads (close it). */
public final class RankTrainer implements AutoCloseable {

    /**
     * What step(s) did.
     *
     * @param step the step run (0-based); stepsDone() is step + 1 afterwards
     * @param loss mean loss over the global batch (every replica, every micro-batch)
     * @param gradNorm global gradient norm before clipping
     * @param lr the schedule's learning rate of step
     * @param tokens label tokens of the global batch (B·T)
     * @param dataSeconds reading this replica's rows
     * @param computeSeconds forward, backward, collectives and the optimizer
     */
    public record StepMetrics(
            long step,
            double loss,
            double gradNorm,
            double lr,
            long tokens,
            double dataSeconds,
            double computeSeconds) {}

    /**
     * How to build a rank.
     *
     * @param zero1 ZeRO-1 optimizer sharding over DP (else plain replicated AdamW)
     * @param threads engine threads of this rank
     * @param initialWeights full HF-named weights to start from (shared read-only), or null: the job's model
     *     (a preset's seeded init, or the HF directory read rank-locally)
     * @param data an open TrainData of the same job to share (thread ranks), or null: opened here
     * @param log one-line notes (null: none)
     */
    public record Options(
            boolean zero1, int threads, Map<String, Tensor> initialWeights, TrainData data, Consumer<String> log) {
        public Options {
            if (threads < 1) throw new IllegalArgumentException("threads " + threads + " must be >= 1");
        }

        /** Replicated DP, job.threads / world engine threads (at least 1), nothing shared, no notes. */
        public static Options of(JobConfig job, ParallelDims dims) {
            return new Options(false, Math.max(1, job.threads() / dims.world()), null, null, null);
        }

        public Options withZero1(boolean z) {
            return new Options(z, threads, initialWeights, data, log);
        }

        public Options withThreads(int t) {
            return new Options(zero1, t, initialWeights, data, log);
        }

        public Options withInitialWeights(Map<String, Tensor> w) {
            return new Options(zero1, threads, w, data, log);
        }

        public Options withData(TrainData d) {
            return new Options(zero1, threads, initialWeights, d, log);
        }

        public Options withLog(Consumer<String> l) {
            return new Options(zero1, threads, initialWeights, data, l);
        }
    }

    private final JobConfig job;
    private final ParallelDims dims;
    private final RankComms comms;
    private final LlamaConfig cfg;
    private final TrainData data;
    private final BatchPlan plan;
    private final Compute cx;
    private final ParallelTrainer trainer;
    private final double maxNorm; // grad_clip, or +inf for none
    private final int[] inputs, targets; // [micro·T] validation staging
    private final Tensor evalInput; // [micro·T, C] received activation (pp > 1, stage > 0), else null
    private final Consumer<String> log;
    private long stepsDone;

    /** Builds this rank: checks the layout, opens the data, builds its shard and loads its weights. */
    public RankTrainer(JobConfig job, ParallelDims dims, RankComms comms, Options options) throws IOException {
        if (comms.tp().size() != dims.tp()
                || comms.pp().size() != dims.pp()
                || comms.dp().size() != dims.dp()) {
            throw new IllegalArgumentException(
                    "communicators of sizes tp " + comms.tp().size() + ", pp "
                            + comms.pp().size() + ", dp " + comms.dp().size() + " do not fit the mesh " + dims);
        }
        if (!dims.coord(comms.globalRank()).equals(comms.coord())) {
            throw new IllegalArgumentException("rank " + comms.globalRank() + " of " + dims + " is at "
                    + dims.coord(comms.globalRank()) + ", not " + comms.coord());
        }
        this.job = job;
        this.dims = dims;
        this.comms = comms;
        this.log = options.log();
        this.cfg = TrainData.modelConfig(job);
        checkLayout(job, cfg, dims);
        this.data = options.data() != null ? options.data() : new TrainData(job, options.log());
        data.checkVocab(cfg);
        this.plan = BatchPlan.of(job.globalBatch(), job.microBatch(), dims.dp());
        this.maxNorm = job.optimizer().gradClip() > 0 ? job.optimizer().gradClip() : Double.POSITIVE_INFINITY;
        this.cx = Compute.cpu(options.threads());
        try {
            trainer = new ParallelTrainer(
                    cfg,
                    comms,
                    plan,
                    job.seqLen(),
                    options.zero1() ? DataParallelOptimizer.Mode.ZERO1 : DataParallelOptimizer.Mode.REPLICATED,
                    job.optimizer().adamW(),
                    cx);
            loadWeights(options);
        } catch (RuntimeException | IOException e) {
            cx.close();
            throw e;
        }
        int rows = job.microBatch() * job.seqLen();
        inputs = new int[rows];
        targets = new int[rows];
        evalInput = dims.pp() > 1 && comms.pp().rank() > 0 ? Tensor.zeros(rows, cfg.dim()) : null;
    }

    private void loadWeights(Options options) throws IOException {
        Map<String, Tensor> w = options.initialWeights();
        if (w != null) {
            trainer.loadFull(w);
        } else if (TrainData.isPreset(job)) {
            Map<String, Tensor> full = initialWeights(job, cfg);
            trainer.loadFull(full);
            full.values().forEach(Tensor::close);
        } else {
            ShardLoader.load(
                    Path.of(job.model()),
                    cfg,
                    trainer.tpPlan(),
                    comms.tp().rank(),
                    trainer.model().params());
        }
        note(options, comms.globalRank() == 0 ? describe() : null);
    }

    private String describe() {
        return "model: " + (TrainData.isPreset(job) ? "preset " + cfg.name() : job.model()) + ", " + cfg.paramCount()
                + " parameters" + (TrainData.isPreset(job) ? ", random init (seed " + job.seed() + ")" : "")
                + "; layout tp " + dims.tp() + " × pp " + dims.pp() + " × dp " + dims.dp() + " (grad_accum "
                + plan.gradAccum() + ", stages " + trainer.stages() + ")";
    }

    private static void note(Options o, String line) {
        if (o.log() != null && line != null) o.log().accept(line);
    }

    /** A one-line note to the log (if any). */
    void note(String line) {
        if (log != null) log.accept(line);
    }

    /**
     * Refuses a layout that cannot run the job's model: tp must divide the (kv) heads and the FFN size, pp
     * may not exceed the layers, and micro_batch × dp must divide global_batch (the message lists the dp
     * sizes that work).
     */
    public static void checkLayout(JobConfig job, LlamaConfig cfg, ParallelDims dims) {
        try {
            new TpPlan(cfg, dims.tp());
            StagePlan.balanced(cfg, dims.pp());
            BatchPlan.of(job.globalBatch(), job.microBatch(), dims.dp());
        } catch (IllegalArgumentException e) {
            throw new JobConfigException(
                    "layout tp " + dims.tp() + " × pp " + dims.pp() + " × dp " + dims.dp() + ": " + e.getMessage());
        }
    }

    /** The full seeded weights of a preset job (as the Trainer's initRandom(seed)); null for an HF model. */
    public static Map<String, Tensor> initialWeights(JobConfig job, LlamaConfig cfg) {
        if (!TrainData.isPreset(job)) return null;
        try (Compute one = Compute.cpu(Math.max(1, job.threads()))) {
            LlamaModel m = new LlamaModel(cfg, 1, 1, one, false);
            m.initRandom(job.seed());
            Map<String, Tensor> out = new LinkedHashMap<>();
            m.params().forEach((k, v) -> out.put(k, v.copy()));
            return out;
        }
    }

    /** One optimizer step on step s's global batch at the schedule's LR (collective). */
    public StepMetrics step(long s) {
        long t0 = System.nanoTime();
        int[][] rows = data.replicaRows(s, comms.dp().rank(), dims.dp());
        return step(s, rows, t0);
    }

    /**
     * As step(s), on rows a data loader built elsewhere: [B][T + 1] holding this replica's rows of step s
     * (what data().replicaRows(s, d, dp) returns; a rank off the first and last stage may hold zeros).
     */
    public StepMetrics step(long s, int[][] rows) {
        return step(s, rows, System.nanoTime());
    }

    private StepMetrics step(long s, int[][] rows, long t0) {
        long t1 = System.nanoTime();
        double lr = job.lrSchedule().lr(s);
        ParallelTrainer.StepResult r = trainer.step(rows, lr, maxNorm);
        long t2 = System.nanoTime();
        if (!Double.isFinite(r.loss()) || !Double.isFinite(r.gradNorm())) {
            throw new Trainer.TrainingFailure("step " + s + ": loss " + r.loss() + ", gradient norm " + r.gradNorm()
                    + "; stopped without updating (lower train.lr.peak_lr or resume from the last checkpoint)");
        }
        stepsDone = s + 1;
        return new StepMetrics(
                s,
                r.loss(),
                r.gradNorm(),
                lr,
                (long) job.globalBatch() * job.seqLen(),
                (t1 - t0) / 1e9,
                (t2 - t1) / 1e9);
    }

    /**
     * Mean next-token loss of each source's held-out sequences (the Trainer's sequences, in micro-batch
     * chunks dealt round-robin to the DP replicas, pipelined through the stages). Collective; every rank
     * returns the same numbers.
     */
    public Map<String, Double> evaluate() {
        int t = job.seqLen(),
                micro = job.microBatch(),
                dp = dims.dp(),
                d = comms.dp().rank();
        boolean last = comms.pp().rank() == dims.pp() - 1;
        Map<String, List<int[]>> val = data.validation();
        if (val.isEmpty()) return new LinkedHashMap<>(); // the same on every rank: no collective needed
        float[] mine = new float[4 * val.size()]; // per source: sum (hi, lo), count (hi, lo)
        int si = 0;
        for (List<int[]> seqs : val.values()) {
            double sum = 0, count = 0;
            int chunks = (seqs.size() + micro - 1) / micro;
            for (int c = d; c < chunks; c += dp) {
                int first = c * micro, b = Math.min(micro, seqs.size() - first);
                for (int r = 0; r < b; r++) {
                    int[] row = seqs.get(first + r);
                    System.arraycopy(row, 0, inputs, r * t, t);
                    System.arraycopy(row, 1, targets, r * t, t);
                }
                double loss = forwardOnly(b);
                if (last) {
                    sum += loss * b * t;
                    count += (double) b * t;
                }
            }
            split(sum, mine, 4 * si);
            split(count, mine, 4 * si + 2);
            si++;
        }
        // The last stage's numbers to every stage, then every replica's to every replica.
        float[] stageSums = pick(gather(comms.pp(), mine), dims.pp() - 1, mine.length);
        float[] all = gather(comms.dp(), stageSums);
        Map<String, Double> out = new LinkedHashMap<>();
        si = 0;
        for (String source : val.keySet()) {
            double sum = 0, count = 0;
            for (int r = 0; r < dp; r++) {
                int o = r * mine.length + 4 * si;
                sum += (double) all[o] + all[o + 1];
                count += (double) all[o + 2] + all[o + 3];
            }
            out.put(source, sum / count);
            si++;
        }
        return out;
    }

    /** This stage's forward of b staged sequences; the loss on the last stage, else NaN. */
    private double forwardOnly(int b) {
        LlamaModel m = trainer.model();
        int t = job.seqLen(), stage = comms.pp().rank(), pp = dims.pp();
        if (pp == 1) {
            return m.forward(inputs, targets, b, t);
        }
        long n = (long) b * t * cfg.dim();
        Tensor in = null;
        if (stage > 0) {
            in = evalInput.flatRange(0, (int) n).view(b * t, cfg.dim());
            comms.pp().recv(in.pointer(), n, DType.F32, stage - 1);
        }
        double loss = m.forwardStage(inputs, in, targets, b, t);
        if (stage < pp - 1) {
            comms.pp().send(m.stageOutput().pointer(), n, DType.F32, stage + 1);
        }
        return loss;
    }

    /** x as two floats whose sum is x to ~48 bits (so a double survives an F32 collective). */
    private static void split(double x, float[] out, int at) {
        float hi = (float) x;
        out[at] = hi;
        out[at + 1] = (float) (x - hi);
    }

    private static float[] gather(dev.shoal.comm.Communicator c, float[] mine) {
        if (c.size() == 1) return mine.clone();
        try (Tensor send = Tensor.of(mine, mine.length);
                Tensor recv = Tensor.zeros(mine.length * c.size())) {
            c.allGather(send.pointer(), recv.pointer(), mine.length, DType.F32);
            return recv.toArray();
        }
    }

    private static float[] pick(float[] gathered, int index, int len) {
        float[] out = new float[len];
        System.arraycopy(gathered, index * len, out, 0, len);
        return out;
    }

    /**
     * Writes the single-process checkpoint format (full weights and AdamW moments gathered from every
     * TP/PP shard and ZeRO-1 slice, exactly) to checkpoint_dir/step-NNNNNN on global rank 0. Collective;
     * returns the folder on rank 0, null elsewhere.
     */
    public Path saveCheckpoint(long done) throws IOException {
        return GatheredCheckpoint.save(this, done);
    }

    /**
     * Loads a single-process-format checkpoint folder into this rank (its part of the weights and AdamW
     * moments, any layout); refuses one of another job. Returns its step, which is also stepsDone().
     */
    public long resume(Path dir) throws IOException {
        long s = GatheredCheckpoint.load(this, dir);
        stepsDone = s;
        return s;
    }

    /** The TrainLoop adapter: the run loop of `shoal train`, with rank 0 as the writer. */
    public TrainLoop.Engine asEngine() {
        return new TrainLoop.Engine() {
            @Override
            public TrainLoop.Outcome step(long s) {
                StepMetrics m = RankTrainer.this.step(s);
                return new TrainLoop.Outcome(m.loss(), m.gradNorm(), m.lr());
            }

            @Override
            public Map<String, Double> evaluate() {
                return RankTrainer.this.evaluate();
            }

            @Override
            public Path save(long done) throws IOException {
                return saveCheckpoint(done);
            }

            @Override
            public long resume(Path dir) throws IOException {
                return RankTrainer.this.resume(dir);
            }
        };
    }

    public JobConfig job() {
        return job;
    }

    public ParallelDims dims() {
        return dims;
    }

    public RankComms comms() {
        return comms;
    }

    /** The full model's config (the shard's is trainer().model().shard()). */
    public LlamaConfig config() {
        return cfg;
    }

    public TrainData data() {
        return data;
    }

    public BatchPlan batchPlan() {
        return plan;
    }

    /** The ParallelTrainer this rank drives (its model shard, DP optimizer, TP and stage plans). */
    public ParallelTrainer trainer() {
        return trainer;
    }

    /** This rank's model shard. */
    public LlamaModel model() {
        return trainer.model();
    }

    /** This rank's DP optimizer (AdamW over all its shard's parameters, or its ZeRO-1 slice). */
    public DataParallelOptimizer optimizer() {
        return trainer.optimizer();
    }

    /** Optimizer steps done: the next step to run (the data cursor). */
    public long stepsDone() {
        return stepsDone;
    }

    /** For a checkpoint loader that restored the weights and optimizer itself. */
    public void setStepsDone(long n) {
        if (n < 0) throw new IllegalArgumentException("steps done " + n + " must be >= 0");
        stepsDone = n;
    }

    @Override
    public void close() {
        if (evalInput != null) evalInput.close();
        cx.close();
    }
}
