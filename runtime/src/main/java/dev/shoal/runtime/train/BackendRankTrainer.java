// One data-parallel rank of a job on one tensor backend: a GPU (CudaOps, bf16 compute) or the CPU
// (CpuBackend, fp32 compute; onCpu), the backend-model counterpart of RankTrainer for layouts with
// tp = pp = 1. The model is BackendLlama (fp32 master weights, gradients and AdamW state; activations
// in the backend's compute type); the replicas' gradients are averaged with one all-reduce on the DP
// communicator (NCCL on GPUs, whose buffers are device addresses; the TCP or in-JVM backends on CPU
// ranks, whose buffers are host addresses) between backward and the clipped AdamW update.
//
// Guarantees:
// - The same step as the CPU ParallelTrainer with replicated DP: the replica's micro-batches k of step s
//   (rows d·perReplica + k·micro …), each micro-batch's gradient scaled by 1/grad_accum, gradients
//   averaged over DP, global-norm clipping at train.optimizer.grad_clip, AdamW at lr(s), no decay on norm
//   weights; the reported loss is the mean over the micro-batches, averaged over DP. Initial weights are
//   the preset's seeded init (LlamaModel.initRandom(seed), as `shoal train`) or the HF directory. So losses
//   agree with the CPU engine within bf16 rounding on a GPU, within fp32 summation order on the CPU backend.
// - ZeRO-1 (optional, dp > 1): AdamW's m and v are sharded over DP and the master weights all-gathered
//   after each update; the numbers are the replicated run's, with 8 bytes per parameter of optimizer state
//   divided by dp.
// - Other layouts are refused at construction naming tp and pp: tensor and pipeline parallelism run on
//   the CPU engine's LlamaModel (RankTrainer) only so far.
// - Checkpoints (save/load) use the runtime's sharded format through host copies (FlatRank): a backend
//   rank's checkpoint loads on any CPU layout and a CPU checkpoint on backend ranks, bit for bit in fp32.
// - A non-finite loss or gradient norm throws TrainingFailure (the weights are then unusable: the step
//   must be redone from a checkpoint).
package dev.shoal.runtime.train;

import dev.shoal.comm.Communicator;
import dev.shoal.comm.DType;
import dev.shoal.comm.ParallelDims;
import dev.shoal.comm.ReduceOp;
import dev.shoal.cuda.DevicePtr;
import dev.shoal.runtime.backend.BackendLlama;
import dev.shoal.runtime.backend.CpuBackend;
import dev.shoal.runtime.backend.RawPointer;
import dev.shoal.runtime.backend.TensorBackend;
import dev.shoal.runtime.checkpoint.CheckpointLoader;
import dev.shoal.runtime.checkpoint.Checkpointer;
import dev.shoal.runtime.checkpoint.FlatRank;
import dev.shoal.runtime.checkpoint.TrainingState;
import dev.shoal.runtime.hf.HfCheckpoint;
import dev.shoal.runtime.model.LlamaConfig;
import dev.shoal.runtime.model.LlamaModel;
import dev.shoal.runtime.parallel.BatchPlan;
import dev.shoal.runtime.tensor.Compute;
import dev.shoal.runtime.tensor.Tensor;
import java.io.IOException;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

public final class BackendRankTrainer implements AutoCloseable {

    /** One step's numbers: the mean loss over the global batch, the pre-clip gradient norm, the LR. */
    public record StepMetrics(long step, double loss, double gradNorm, double lr) {}

    private final JobConfig job;
    private final ParallelDims dims;
    private final Communicator dp;
    private final TensorBackend ops;
    private final TensorBackend ownedOps; // closed with this rank (onCpu), or null: the caller's
    private final LlamaConfig cfg;
    private final TrainData data;
    private final BatchPlan plan;
    private final BackendLlama model;
    private final boolean zero1; // AdamW state sharded over DP (dp > 1 only)
    private final long shardElems; // ceil(P / dp): one replica's all-gather chunk of the master weights
    private final long scratch; // device [4·sources + 2] fp32: loss and validation sums for DP reductions
    private final long scratchBytes;
    private final int[] tokens, targets; // [micro·T] staging of one micro-batch
    private long stepsDone;
    private Tensor[] saveStage; // 3 × [this rank's save range] fp32 host: params, m, v for save()

    /**
     * Builds this rank on {@code ops} (a GPU's, or a CPU backend the caller keeps): checks the layout (tp = pp = 1, dp = the communicator's size),
     * opens the job's data, allocates the model and loads its initial weights.
     */
    public BackendRankTrainer(JobConfig job, ParallelDims dims, Communicator dp, TensorBackend ops) throws IOException {
        this(job, dims, dp, ops, false);
    }

    /**
     * As above; with zero1 and dp > 1 the AdamW state is sharded over DP (ZeRO-1): this rank keeps m and v
     * of the elements FlatRank.saveRange gives it, steps only those after the gradient all-reduce, and the
     * replicas all-gather the fp32 master weights. Losses and weights equal the replicated run's.
     */
    public BackendRankTrainer(JobConfig job, ParallelDims dims, Communicator dp, TensorBackend ops, boolean zero1)
            throws IOException {
        this(job, dims, dp, ops, zero1, null);
    }

    /**
     * A CPU rank on the backend model: a CpuBackend of job.threads() threads (OpenBLAS, the CPU engine's
     * kernels, fp32), owned by this rank and closed with it. dp is a host-memory communicator (TCP or
     * in-JVM).
     */
    public static BackendRankTrainer onCpu(JobConfig job, ParallelDims dims, Communicator dp, boolean zero1)
            throws IOException {
        checkBackendLayout(dims);
        CpuBackend cpu = CpuBackend.create(Math.max(1, job.threads()));
        try {
            return new BackendRankTrainer(job, dims, dp, cpu, zero1, cpu);
        } catch (IOException | RuntimeException | Error e) {
            cpu.close();
            throw e;
        }
    }

    private static void checkBackendLayout(ParallelDims dims) {
        if (dims.tp() != 1 || dims.pp() != 1) {
            throw new JobConfigException("layout tp " + dims.tp() + " × pp " + dims.pp() + " × dp " + dims.dp()
                    + ": the backend model (GPU ranks, or CPU ranks with train.cpu-engine = backend) runs data"
                    + " parallelism only (tp 1 × pp 1); tensor and pipeline parallelism (tp " + dims.tp() + ", pp "
                    + dims.pp() + ") run on the CPU engine's LlamaModel only so far");
        }
    }

    private BackendRankTrainer(
            JobConfig job, ParallelDims dims, Communicator dp, TensorBackend ops, boolean zero1, TensorBackend owned)
            throws IOException {
        checkBackendLayout(dims);
        this.ownedOps = owned;
        if (dp.size() != dims.dp()) {
            throw new IllegalArgumentException(
                    "the DP communicator has " + dp.size() + " ranks, the layout dp " + dims.dp());
        }
        this.job = job;
        this.dims = dims;
        this.dp = dp;
        this.ops = ops;
        this.cfg = TrainData.modelConfig(job);
        RankTrainer.checkLayout(job, cfg, dims);
        this.plan = BatchPlan.of(job.globalBatch(), job.microBatch(), dims.dp());
        this.data = new TrainData(job, null);
        data.checkVocab(cfg);
        double clip = job.optimizer().gradClip() > 0 ? job.optimizer().gradClip() : Float.MAX_VALUE;
        long p = cfg.paramCount();
        this.zero1 = zero1 && dims.dp() > 1;
        long[] range = this.zero1 ? FlatRank.saveRange(p, dims.dp(), dp.rank()) : new long[] {0, p};
        this.shardElems = (p + dims.dp() - 1) / dims.dp(); // equal all-gather chunks; the last rank's is padded
        this.model = new BackendLlama(
                cfg,
                job.microBatch(),
                job.seqLen(),
                job.optimizer().adamW(),
                clip,
                ops,
                range[0],
                range[1] - range[0],
                this.zero1 ? shardElems * dims.dp() : p);
        boolean ok = false;
        long s = 0;
        try {
            this.scratchBytes = 4L * (4L * Math.max(1, data.validation().size()) + 2);
            s = ops.alloc(scratchBytes);
            loadWeights();
            ok = true;
        } finally {
            if (!ok) {
                if (s != 0) ops.free(s);
                model.close();
            }
        }
        this.scratch = s;
        int rows = job.microBatch() * job.seqLen();
        tokens = new int[rows];
        targets = new int[rows];
    }

    private void loadWeights() throws IOException {
        int threads = Math.max(1, job.threads());
        try (Compute cx = Compute.cpu(threads)) {
            if (TrainData.isPreset(job)) {
                model.initRandom(job.seed(), cx.par());
            } else {
                LlamaModel m = HfCheckpoint.load(Path.of(job.model()), 1, 1, cx, false);
                model.uploadParams(m);
            }
        }
    }

    public LlamaConfig modelConfig() {
        return cfg;
    }

    public TrainData data() {
        return data;
    }

    /** Steps done so far (the next step's engine index). */
    public long stepsDone() {
        return stepsDone;
    }

    /** This replica's rows of engine step s, read from the job's data (what a DataLoader would send). */
    public int[][] rows(long s) {
        return data.replicaRows(s, dp.rank(), dims.dp());
    }

    /**
     * One optimizer step on step s's rows ([global_batch][T + 1]; this replica's rows must be filled) at
     * the schedule's LR of s. Collective over DP.
     */
    public StepMetrics step(long s, int[][] rows) {
        if (rows.length != plan.globalBatch()) {
            throw new IllegalArgumentException("step needs " + plan.globalBatch() + " sequences, got " + rows.length);
        }
        double lr = job.lrSchedule().lr(s);
        int mb = plan.microBatch(), t = job.seqLen(), accum = plan.gradAccum();
        model.zeroGrads();
        double lossSum = 0;
        for (int k = 0; k < accum; k++) {
            int first = dp.rank() * plan.perReplica() + k * mb;
            for (int i = 0; i < mb; i++) {
                int[] seq = rows[first + i];
                if (seq == null || seq.length != t + 1) {
                    throw new IllegalArgumentException("sequence " + (first + i) + " has "
                            + (seq == null ? "no" : seq.length) + " tokens, need " + (t + 1));
                }
                System.arraycopy(seq, 0, tokens, i * t, t);
                System.arraycopy(seq, 1, targets, i * t, t);
            }
            lossSum += model.accumulate(tokens, targets, mb, t, 1.0 / accum);
        }
        double loss = lossSum / accum;
        if (dp.size() > 1) {
            // Average the gradients and the losses over the replicas (DP all-reduce on the device).
            long p = model.layout().totalElems();
            dp.allReduce(new DevicePtr(model.gradientsAddress(), p * 4), p, DType.F32, ReduceOp.AVG);
            loss = allReduceSums(new double[] {loss}, ReduceOp.AVG)[0];
        }
        double norm = model.update(lr);
        if (zero1) {
            // ZeRO-1: each replica stepped its own range; gather everyone's master weights in place, then the
            // bf16 compute copy of the whole model.
            long base = model.masterAddress(), chunkBytes = shardElems * 4;
            dp.allGather(
                    new DevicePtr(base + dp.rank() * chunkBytes, chunkBytes),
                    new DevicePtr(base, chunkBytes * dims.dp()),
                    shardElems,
                    DType.F32);
            dp.synchronize();
            model.refreshComputeCopy();
        }
        if (!Double.isFinite(loss) || !Double.isFinite(norm)) {
            throw new Trainer.TrainingFailure("step " + s + ": loss " + loss + ", gradient norm " + norm
                    + "; the model's weights are no longer usable (lower train.lr.peak_lr or resume from the last"
                    + " checkpoint)");
        }
        stepsDone = s + 1;
        return new StepMetrics(s, loss, norm, lr);
    }

    /**
     * Mean next-token loss of each source's held-out sequences (micro-batch chunks dealt round-robin to the
     * replicas, as RankTrainer does). Collective over DP; every rank returns the same numbers.
     */
    public Map<String, Double> evaluate() {
        Map<String, List<int[]>> val = data.validation();
        Map<String, Double> out = new LinkedHashMap<>();
        if (val.isEmpty()) return out;
        int t = job.seqLen(), micro = job.microBatch();
        double[] sums = new double[2 * val.size()]; // per source: loss sum, token count
        int si = 0;
        for (List<int[]> seqs : val.values()) {
            int chunks = (seqs.size() + micro - 1) / micro;
            for (int c = dp.rank(); c < chunks; c += dims.dp()) {
                int first = c * micro, b = Math.min(micro, seqs.size() - first);
                for (int r = 0; r < b; r++) {
                    int[] row = seqs.get(first + r);
                    System.arraycopy(row, 0, tokens, r * t, t);
                    System.arraycopy(row, 1, targets, r * t, t);
                }
                double loss = model.forward(tokens, targets, b, t);
                sums[2 * si] += loss * b * t;
                sums[2 * si + 1] += (double) b * t;
            }
            si++;
        }
        if (dims.dp() > 1) sums = allReduceSums(sums, ReduceOp.SUM);
        si = 0;
        for (String source : val.keySet()) {
            out.put(source, sums[2 * si] / sums[2 * si + 1]);
            si++;
        }
        return out;
    }

    /**
     * Reduces doubles over DP through the device scratch, each as a float pair (hi, lo = v − hi) so that a
     * SUM keeps about 48 bits; AVG of pairs is the pair of AVGs, so it reduces the same way.
     */
    private double[] allReduceSums(double[] v, ReduceOp op) {
        int n = 2 * v.length;
        if (4L * n > scratchBytes) throw new IllegalStateException(v.length + " values exceed the reduction scratch");
        try (Tensor host = Tensor.zeros(n)) {
            for (int i = 0; i < v.length; i++) {
                float hi = (float) v[i];
                host.set(2L * i, hi);
                host.set(2L * i + 1, (float) (v[i] - hi));
            }
            ops.upload(scratch, RawPointer.of(host), 4L * n);
            dp.allReduce(new DevicePtr(scratch, 4L * n), n, DType.F32, op);
            dp.synchronize();
            ops.download(RawPointer.of(host), scratch, 4L * n);
            double[] out = new double[v.length];
            for (int i = 0; i < v.length; i++) out[i] = (double) host.get(2L * i) + host.get(2L * i + 1);
            return out;
        }
    }

    /**
     * Starts saving this rank's share of a checkpoint of the state after engine step state.step(): the
     * elements FlatRank.saveRange gives its DP coordinate, of the fp32 master weights and both AdamW
     * moments, copied to host memory (blocks for that copy), then written by the checkpointer's writer
     * in the sharded format every layout reads. Every rank of the mesh must call this for the same step.
     */
    public void save(Checkpointer ck, TrainingState state) throws IOException {
        long[] range = FlatRank.saveRange(model.layout().totalElems(), dims.dp(), dp.rank());
        int n = Math.toIntExact(range[1] - range[0]);
        if (saveStage == null || saveStage[0].numel() != n) {
            closeSaveStage();
            saveStage = new Tensor[] {Tensor.zeros(n), Tensor.zeros(n), Tensor.zeros(n)};
        }
        model.downloadState(BackendLlama.State.MASTER, range[0], saveStage[0]);
        model.downloadState(BackendLlama.State.EXP_AVG, range[0], saveStage[1]);
        model.downloadState(BackendLlama.State.EXP_AVG_SQ, range[0], saveStage[2]);
        ck.save(new FlatRank(cfg, range[0], saveStage[0], saveStage[1], saveStage[2], model.stepCount()), zero1, state);
    }

    /**
     * Loads a committed checkpoint (saved by any layout, CPU or GPU) into this rank: master weights (and
     * their bf16 copy), both moments and AdamW's step count. Returns what the checkpoint restored; the
     * caller checks its step and continues from it.
     */
    public CheckpointLoader.Restored load(Path stepDir) throws IOException {
        return load(stepDir, LOAD_CHUNK_ELEMS);
    }

    /** load() reading chunkElems elements of each flat buffer at a time. */
    CheckpointLoader.Restored load(Path stepDir, long chunkElems) throws IOException {
        if (chunkElems < 1) throw new IllegalArgumentException("load chunk of " + chunkElems + " elements");
        long p = model.layout().totalElems(), optLo = model.optimizerFirst();
        long optHi = optLo + model.optimizerElems();
        int chunk = (int) Math.min(p, chunkElems);
        CheckpointLoader.Restored r = null;
        long copied = 0, verified = 0;
        // A chunk of the flat buffers at a time (3 × 4 B × LOAD_CHUNK_ELEMS of host memory at most).
        try (Tensor params = Tensor.zeros(chunk);
                Tensor m = Tensor.zeros(chunk);
                Tensor v = Tensor.zeros(chunk)) {
            for (long first = 0; first < p; first += chunk) {
                int n = (int) Math.min(chunk, p - first);
                Tensor pc = params.flatRange(0, n), mc = m.flatRange(0, n), vc = v.flatRange(0, n);
                r = CheckpointLoader.load(stepDir, new FlatRank(cfg, first, pc, mc, vc, 0));
                copied += r.bytesCopied();
                verified += r.bytesVerified();
                model.uploadState(BackendLlama.State.MASTER, first, pc);
                // The moments this rank's optimizer keeps: all of them, or its ZeRO-1 range.
                long a = Math.max(first, optLo), b = Math.min(first + n, optHi);
                if (a < b) {
                    int len = Math.toIntExact(b - a);
                    model.uploadState(BackendLlama.State.EXP_AVG, a, mc.flatRange(a - first, len));
                    model.uploadState(BackendLlama.State.EXP_AVG_SQ, a, vc.flatRange(a - first, len));
                }
            }
        }
        model.setStepCount(r.adamwSteps());
        stepsDone = r.state().step();
        return new CheckpointLoader.Restored(
                r.state(), r.adamwSteps(), r.savedMesh(), r.savedZero1(), copied, verified);
    }

    /** Elements of each flat buffer load() reads per chunk (64 Mi: 768 MiB of host memory for the three). */
    static final long LOAD_CHUNK_ELEMS = 64L << 20;

    private void closeSaveStage() {
        if (saveStage != null) {
            for (Tensor t : saveStage) t.close();
            saveStage = null;
        }
    }

    /** Copies the fp32 master weights into a CPU model of this job's config (tests, export). */
    public void downloadParams(LlamaModel m) {
        model.downloadParams(m);
    }

    /** The tensor backend this rank runs on. */
    public TensorBackend backend() {
        return ops;
    }

    @Override
    public void close() {
        closeSaveStage();
        ops.free(scratch);
        model.close();
        if (ownedOps != null) ownedOps.close();
    }
}
