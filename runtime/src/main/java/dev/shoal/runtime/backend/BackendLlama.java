// The Llama-3 model training on one device, written once against the TensorBackend: fp32 master
// weights, gradients and AdamW state; activations and the weights' compute copy in the backend's compute
// type (bf16 on CUDA; fp32 on the CPU backend, where the compute copy IS the master weights and dlogits
// stay in place, so the CPU numbers are the fp32 reference engine's). Written op by op like LlamaModel.
// Guarantees: the parameter layout is LlamaModel's (HF names and order, one flat buffer), so
// uploadParams/downloadParams are single copies; every buffer is allocated once in the constructor for
// the largest (B, T); one trainStep enqueues forward, backward, global-norm clipping and AdamW on one
// stream and blocks the host only once, at the end, to read the loss and the gradient norm; weight
// decay is off for the 1-D (RMSNorm) weights, as in the CPU AdamW; gradients of parameters accumulate
// into fp32 (GEMM beta 1, fp32 output), gradients of activations are assigned.
// The forward and backward passes and the activation buffers are BackendLlamaPasses; the device blocks
// are owned by one DeviceArena. This class holds the parameters, gradients and optimizer state.
package dev.shoal.runtime.backend;

import dev.shoal.cuda.kernels.AdamWKernel;
import dev.shoal.runtime.model.LlamaConfig;
import dev.shoal.runtime.model.LlamaModel;
import dev.shoal.runtime.ops.CrossEntropy;
import dev.shoal.runtime.optim.AdamWConfig;
import dev.shoal.runtime.tensor.Parallel;
import dev.shoal.runtime.tensor.Tensor;
import java.util.Map;
import java.util.SplittableRandom;
import org.bytedeco.javacpp.FloatPointer;

public final class BackendLlama implements AutoCloseable {
    /** Mean loss over the counted targets and the global gradient L2 norm before clipping. */
    public record StepResult(double loss, double gradNorm) {}

    private static final int F32 = 4, I32 = 4;

    private final LlamaConfig cfg;
    private final ParamLayout layout;
    private final TensorBackend ops;
    private final int act; // bytes per activation element: the backend's compute type (bf16 2, fp32 4)
    private final boolean computeIsMaster; // fp32 compute: the compute copy p16 is p32 itself
    private final AdamWConfig adam;
    private final double maxGradNorm;
    private final DeviceArena arena;

    private final long p32; // [P] fp32 master weights, HF order
    private final long p16; // [P] compute-type copy of the weights (p32 itself when the compute type is fp32)
    private final long g32; // [P] fp32 gradients
    private final long m32; // [optElems] fp32 AdamW first moment of elements [optFirst, optFirst + optElems)
    private final long v32; // [optElems] fp32 AdamW second moment, same elements
    private final long optFirst, optElems; // the optimizer's range of P (all of it unless ZeRO-1 shards it)
    private final BackendLlamaPasses passes; // activations, forward and backward; partials and scalars [4]

    private long step; // AdamW steps taken
    private double lastLoss = Double.NaN;

    /**
     * A model with zero parameters, gradients and optimizer state and buffers for batches up to
     * maxB × maxT tokens, running on {@code ops}. maxGradNorm is the global clipping threshold.
     */
    public BackendLlama(LlamaConfig cfg, int maxB, int maxT, AdamWConfig adam, double maxGradNorm, TensorBackend ops) {
        this(cfg, maxB, maxT, adam, maxGradNorm, ops, 0, cfg.paramCount(), cfg.paramCount());
    }

    /**
     * A model whose optimizer keeps AdamW state only for elements [optFirst, optFirst + optElems) of the P
     * parameters (a ZeRO-1 shard: update() steps those elements alone, and the caller gathers the master
     * weights afterwards, then calls refreshComputeCopy()), with the master-weight buffer padded to
     * masterElems >= P elements so an in-place all-gather of equal shards fits.
     */
    public BackendLlama(
            LlamaConfig cfg,
            int maxB,
            int maxT,
            AdamWConfig adam,
            double maxGradNorm,
            TensorBackend ops,
            long optFirst,
            long optElems,
            long masterElems) {
        long pAll = cfg.paramCount();
        if (optFirst < 0 || optElems < 1 || optFirst + optElems > pAll || masterElems < pAll) {
            throw new IllegalArgumentException("optimizer range [" + optFirst + ", " + (optFirst + optElems)
                    + ") and master buffer of " + masterElems + " elements do not fit " + pAll + " parameters");
        }
        this.optFirst = optFirst;
        this.optElems = optElems;
        if (maxB < 1 || maxT < 1) {
            throw new IllegalArgumentException("maxB and maxT must be >= 1, got " + maxB + ", " + maxT);
        }
        if (!(maxGradNorm > 0) || Double.isInfinite(maxGradNorm)) {
            throw new IllegalArgumentException("max grad norm must be finite and > 0, got " + maxGradNorm);
        }
        long maxNl = (long) maxB * maxT;
        if (maxNl > Integer.MAX_VALUE) {
            throw new IllegalArgumentException(
                    "B " + maxB + " × T " + maxT + " tokens do not fit the kernels' int32 row" + " count");
        }
        this.cfg = cfg;
        this.layout = new ParamLayout(cfg);
        this.ops = ops;
        this.act = ops.computeType().bytes();
        this.computeIsMaster = ops.computeType() == TensorBackend.Precision.F32;
        this.adam = adam;
        this.maxGradNorm = maxGradNorm;
        this.arena = new DeviceArena(ops);
        long p = layout.totalElems();
        try {
            p32 = arena.alloc(masterElems * F32);
            p16 = computeIsMaster ? p32 : arena.alloc(p * act);
            g32 = arena.alloc(p * F32);
            m32 = arena.alloc(optElems * F32);
            v32 = arena.alloc(optElems * F32);
            passes = new BackendLlamaPasses(cfg, layout, ops, arena, maxB, maxT, p32, p16, g32);
            // Zero state; then the passes zero the step scalars and upload the RoPE tables.
            ops.zero(p32, masterElems * F32);
            if (!computeIsMaster) ops.zero(p16, p * act);
            ops.zero(g32, p * F32);
            ops.zero(m32, optElems * F32);
            ops.zero(v32, optElems * F32);
            passes.initState();
            ops.synchronize();
        } catch (RuntimeException e) {
            arena.freeAll();
            throw e;
        }
    }

    /**
     * Device bytes a model of this config needs for batches up to maxB × maxT on a backend of compute type
     * {@code compute}, as the constructor allocates them (before the pool's size-class rounding):
     * parameters P × 18 bytes with bf16 (fp32 master, bf16 copy, fp32 gradient, fp32 m and v), P × 16
     * with fp32 (the master weights are the compute copy), plus activations.
     */
    public static long plannedBytes(
            LlamaConfig cfg,
            int maxB,
            int maxT,
            long attentionWorkspaceBytes,
            int partials,
            TensorBackend.Precision compute) {
        long n = (long) maxB * maxT;
        long act = compute.bytes();
        boolean alias = compute == TensorBackend.Precision.F32; // no separate compute copy, dlogits in place
        long c = cfg.dim(), kv = cfg.kvDim(), f = cfg.ffnDim(), v = cfg.vocab(), half = cfg.headDim() / 2;
        long p = cfg.paramCount();
        long params = p * (F32 + (alias ? 0 : act) + F32 + F32 + F32);
        long perBlock = n * (c * act * 5 + kv * act * 2 + f * act * 3 + F32 * 2 + (long) cfg.heads() * F32);
        long global = 2 * maxT * half * F32
                + 2 * n * I32
                + (cfg.layers() + 1) * n * c * act
                + n * c * act
                + n * F32
                + n * v * (F32 + (alias ? 0 : act))
                + 4 * n * F32
                + n * (6 * c + 2 * kv + f) * act
                + Math.max(attentionWorkspaceBytes, 4)
                + (long) partials * F32
                + 4 * F32;
        return params + cfg.layers() * perBlock + global;
    }

    public LlamaConfig config() {
        return cfg;
    }

    public ParamLayout layout() {
        return layout;
    }

    /** Device bytes this model allocated (requested sizes). */
    public long allocatedBytes() {
        return arena.allocatedBytes();
    }

    /** AdamW steps taken so far. */
    public long stepCount() {
        return step;
    }

    // ---- parameters ----

    /** Copies a CPU model's parameters (same config) into the fp32 master weights and the compute copy. */
    public void uploadParams(LlamaModel model) {
        checkSameModel(model);
        Tensor flat = model.flatParams();
        ops.upload(p32, RawPointer.of(flat), flat.bytes());
        ops.castToCompute(p32, p16, layout.totalElems());
        ops.synchronize();
    }

    /** Copies one parameter tensor (fp32, the HF shape) into the master weights and the compute copy. */
    public void uploadParam(String name, Tensor value) {
        ParamLayout.Entry e = layout.entry(name);
        if (value.numel() != e.numel()) {
            throw new IllegalArgumentException("parameter '" + name + "' has " + e.numel() + " elements, got " + value);
        }
        ops.upload(p32 + e.offset() * F32, RawPointer.of(value), value.bytes());
        ops.castToCompute(p32 + e.offset() * F32, p16 + e.offset() * act, e.numel());
        ops.synchronize();
    }

    /**
     * The same values LlamaModel.initRandom(seed) gives (N(0, 0.02²) matrices, norm weights 1), drawn on
     * the host one tensor at a time and uploaded.
     */
    public void initRandom(long seed, Parallel par) {
        long largest = 0;
        for (ParamLayout.Entry e : layout.entries()) {
            largest = Math.max(largest, e.numel());
        }
        try (Tensor stage = Tensor.zeros(Math.toIntExact(largest))) {
            int index = 0;
            for (ParamLayout.Entry e : layout.entries()) {
                Tensor t = stage.flatRange(0, Math.toIntExact(e.numel()));
                if (e.shape().length == 1) {
                    t.fill(1f);
                } else {
                    // LlamaModel.initRandom's streams: one per tensor index, fixed chunks of 2^16.
                    long streamSeed =
                            new SplittableRandom(seed).split().nextLong() ^ (0x9E3779B97F4A7C15L * (index + 1));
                    long chunk = 1 << 16;
                    long chunks = (t.numel() + chunk - 1) / chunk;
                    par.forRange(chunks, 1, (s, end) -> {
                        for (long ch = s; ch < end; ch++) {
                            SplittableRandom r = new SplittableRandom(streamSeed + 0x632BE59BD9B4E019L * ch);
                            long stop = Math.min(t.numel(), (ch + 1) * chunk);
                            for (long i = ch * chunk; i < stop; i++) {
                                t.set(i, (float) (0.02 * r.nextGaussian()));
                            }
                        }
                    });
                }
                uploadParam(e.name(), t);
                index++;
            }
        }
    }

    /** Copies the fp32 master weights into a CPU model of the same config. */
    public void downloadParams(LlamaModel model) {
        checkSameModel(model);
        Tensor flat = model.flatParams();
        ops.download(RawPointer.of(flat), p32, flat.bytes());
    }

    /** Copies the fp32 gradients of the last step (before clipping) into a CPU model's grads(). */
    public void downloadGrads(LlamaModel model) {
        checkSameModel(model);
        Tensor flat = model.flatGrads();
        ops.download(RawPointer.of(flat), g32, flat.bytes());
    }

    private void checkSameModel(LlamaModel model) {
        LlamaConfig o = model.config();
        if (o.layers() != cfg.layers()
                || o.dim() != cfg.dim()
                || o.heads() != cfg.heads()
                || o.kvHeads() != cfg.kvHeads()
                || o.ffnDim() != cfg.ffnDim()
                || o.vocab() != cfg.vocab()) {
            throw new IllegalArgumentException("CPU model '" + o.name() + "' (" + o + ") does not have the shape of"
                    + " backend model '" + cfg.name() + "' (" + cfg + ")");
        }
        for (Map.Entry<String, Tensor> e : model.params().entrySet()) {
            long off = (e.getValue().address() - model.flatParams().address()) / F32;
            if (layout.entry(e.getKey()).offset() != off) {
                throw new IllegalStateException("parameter '" + e.getKey() + "' sits at element " + off
                        + " of the CPU model but at " + layout.entry(e.getKey()).offset() + " in the backend model");
            }
        }
    }

    /** Which fp32 [P] state buffer a range copy reads or writes (HF flat order, as LlamaModel.flatParams()). */
    public enum State {
        MASTER, // fp32 master weights
        EXP_AVG, // AdamW first moment m
        EXP_AVG_SQ // AdamW second moment v
    }

    /** Device address of element {@code first} of a state buffer, after checking [first, first + elems) is held. */
    private long stateAddress(State s, long first, long elems) {
        long lo = s == State.MASTER ? 0 : optFirst, hi = s == State.MASTER ? layout.totalElems() : optFirst + optElems;
        if (first < lo || elems < 0 || first + elems > hi) {
            throw new IllegalArgumentException(s + " elements [" + first + ", " + (first + elems)
                    + ") are outside the [" + lo + ", " + hi + ") this model holds");
        }
        return switch (s) {
            case MASTER -> p32 + first * F32;
            case EXP_AVG -> m32 + (first - optFirst) * F32;
            case EXP_AVG_SQ -> v32 + (first - optFirst) * F32;
        };
    }

    /** The optimizer's range of P: [first, first + elems), all of P unless ZeRO-1 shards it. */
    public long optimizerFirst() {
        return optFirst;
    }

    public long optimizerElems() {
        return optElems;
    }

    /** Device address of the fp32 master weights (padded to the masterElems of the constructor). */
    public long masterAddress() {
        return p32;
    }

    /** Re-derives the whole compute copy from the master weights (after they were gathered). */
    public void refreshComputeCopy() {
        ops.castToCompute(p32, p16, layout.totalElems());
        ops.synchronize();
    }

    /** Copies elements [first, first + host.numel()) of a state buffer to the host (blocks). */
    public void downloadState(State s, long first, Tensor host) {
        ops.download(RawPointer.of(host), stateAddress(s, first, host.numel()), host.bytes());
    }

    /**
     * Copies host values into elements [first, first + host.numel()) of a state buffer; writing the master
     * weights also refreshes their compute copy.
     */
    public void uploadState(State s, long first, Tensor host) {
        ops.upload(stateAddress(s, first, host.numel()), RawPointer.of(host), host.bytes());
        if (s == State.MASTER) ops.castToCompute(p32 + first * F32, p16 + first * act, host.numel());
        ops.synchronize();
    }

    /** Sets AdamW's step count (its bias correction), e.g. to a checkpoint's. */
    public void setStepCount(long steps) {
        if (steps < 0) throw new IllegalArgumentException("AdamW step count must be >= 0, got " + steps);
        step = steps;
    }

    /** Zeroes AdamW's m and v and the step count. */
    public void resetOptimizer() {
        ops.zero(m32, optElems * F32);
        ops.zero(v32, optElems * F32);
        step = 0;
    }

    // ---- steps ----

    /**
     * Checks one batch against the model and the buffers: 1 <= B <= maxB, 1 <= T <= maxT, enough
     * tokens and targets, every token in [0, V), every target in [0, V) or −100. Returns the number
     * of counted targets (0 when targets is null).
     */
    public static int checkBatch(LlamaConfig cfg, int maxB, int maxT, int[] tokens, int[] targets, int b, int t) {
        if (b < 1 || t < 1 || b > maxB || t > maxT) {
            throw new IllegalArgumentException("batch B " + b + " × T " + t + " exceeds the model's buffers (max B "
                    + maxB + ", max T " + maxT + ")");
        }
        int n = b * t;
        if (tokens == null || tokens.length < n || (targets != null && targets.length < n)) {
            throw new IllegalArgumentException("B " + b + " × T " + t + " needs " + n + " tokens and targets, got "
                    + (tokens == null ? "none" : tokens.length) + (targets == null ? "" : " and " + targets.length));
        }
        for (int i = 0; i < n; i++) {
            if (tokens[i] < 0 || tokens[i] >= cfg.vocab()) {
                throw new IllegalArgumentException("token " + tokens[i] + " at position " + i
                        + " is outside the vocabulary [0, " + cfg.vocab() + ")");
            }
        }
        return targets == null ? 0 : CrossEntropy.countTargets(targets, 0, n, cfg.vocab());
    }

    /**
     * Forward only: returns the mean cross-entropy (NaN without targets) and keeps the logits for
     * {@link #logits()}. Blocks until the loss is known.
     */
    public double forward(int[] tokenIds, int[] targetIds, int b, int t) {
        int count = passes.stage(tokenIds, targetIds, b, t);
        passes.forward(b, t, targetIds != null, false, count, 1.0);
        if (targetIds == null) {
            ops.synchronize();
            lastLoss = Double.NaN;
            return lastLoss;
        }
        lastLoss = count == 0 ? 0 : passes.readScalars(1).get(0) / count;
        return lastLoss;
    }

    /**
     * One training step: zero the gradients, forward, backward, clip the global gradient norm to
     * maxGradNorm, AdamW with learning rate lr. Returns the loss and the pre-clip gradient norm; this is
     * the only point where the host waits for the GPU. Unlike the CPU GradClip path, the update is not
     * skipped when the norm is not finite (that would need a host sync first): a NaN or infinite norm
     * returned here means the weights are no longer usable and the step must be redone from a checkpoint.
     */
    public StepResult trainStep(int[] tokenIds, int[] targetIds, int b, int t, double lr) {
        if (targetIds == null) {
            throw new IllegalArgumentException("a training step needs targets");
        }
        if (!(lr >= 0) || Double.isInfinite(lr)) {
            throw new IllegalArgumentException("learning rate must be finite and >= 0, got " + lr);
        }
        int count = passes.stage(tokenIds, targetIds, b, t);
        long p = layout.totalElems();
        ops.zero(g32, p * F32);
        passes.forward(b, t, true, true, count, 1.0);
        passes.backward(b, t);
        enqueueUpdate(lr);
        FloatPointer out = passes.readScalars(4);
        lastLoss = count == 0 ? 0 : out.get(0) / count;
        return new StepResult(lastLoss, out.get(3));
    }

    // ---- a step in parts: accumulate micro-batches, reduce the gradients elsewhere, update ----

    /** Zeroes the fp32 gradients: the start of a step that accumulates micro-batches. */
    public void zeroGrads() {
        ops.zero(g32, layout.totalElems() * F32);
    }

    /**
     * Forward and backward of one micro-batch, ADDING gradScale · d(mean loss of this micro-batch) to the
     * fp32 gradients (gradScale 1/grad_accum gives the mean over the micro-batches, as the CPU
     * ParallelTrainer does). Returns the micro-batch's mean loss; blocks once, for it.
     */
    public double accumulate(int[] tokenIds, int[] targetIds, int b, int t, double gradScale) {
        if (targetIds == null) {
            throw new IllegalArgumentException("a training micro-batch needs targets");
        }
        if (!(gradScale > 0) || Double.isInfinite(gradScale)) {
            throw new IllegalArgumentException("gradient scale must be finite and > 0, got " + gradScale);
        }
        int count = passes.stage(tokenIds, targetIds, b, t);
        passes.forward(b, t, true, true, count, gradScale);
        passes.backward(b, t);
        lastLoss = count == 0 ? 0 : passes.readScalars(1).get(0) / count;
        return lastLoss;
    }

    /**
     * Device address of the fp32 gradients [P] (HF order, P = layout().totalElems()), for a data-parallel
     * reduction between {@link #accumulate} and {@link #update}; every op on them is complete once
     * accumulate returned.
     */
    public long gradientsAddress() {
        return g32;
    }

    /**
     * Clips the current gradients to maxGradNorm and takes one AdamW step at {@code lr}; returns the
     * pre-clip global gradient norm (blocks once, for it). The same update trainStep applies.
     */
    public double update(double lr) {
        if (!(lr >= 0) || Double.isInfinite(lr)) {
            throw new IllegalArgumentException("learning rate must be finite and >= 0, got " + lr);
        }
        enqueueUpdate(lr);
        return passes.readScalars(4).get(3);
    }

    /** Enqueues global-norm clipping and AdamW on the current gradients (scalars[1..3] are overwritten). */
    private void enqueueUpdate(double lr) {
        long p = layout.totalElems();
        long scalars = passes.scalars;
        // Global gradient norm and the clip factor min(1, max / (norm + 1e-6)), both on the device.
        ops.sum(g32, p, true, passes.partials, scalars + F32);
        ops.clipFactor(scalars + F32, (float) maxGradNorm, scalars + 2 * F32, scalars + 3 * F32);
        // AdamW per tensor (the part inside the optimizer's range): decay for matrices, none for norm weights.
        step++;
        long lo = optFirst, hi = optFirst + optElems;
        for (ParamLayout.Entry e : layout.entries()) {
            long a = Math.max(e.offset(), lo), b = Math.min(e.offset() + e.numel(), hi);
            if (a >= b) continue;
            AdamWKernel.Hyper h = new AdamWKernel.Hyper(
                    (float) lr,
                    (float) adam.beta1(),
                    (float) adam.beta2(),
                    (float) adam.eps(),
                    e.decay() ? (float) adam.weightDecay() : 0f,
                    step);
            ops.adamw(
                    p32 + a * F32,
                    g32 + a * F32,
                    m32 + (a - lo) * F32,
                    v32 + (a - lo) * F32,
                    computeIsMaster ? 0L : p16 + a * act,
                    b - a,
                    h,
                    scalars + 2 * F32);
        }
    }

    /** Mean loss of the last forward() with targets or trainStep() (NaN before any). */
    public double loss() {
        return lastLoss;
    }

    /** Logits [B, T, V] of the last forward(); not available after a trainStep (they hold dlogits). */
    public Tensor logits() {
        return passes.logits();
    }

    @Override
    public void close() {
        ops.synchronize();
        arena.freeAll();
    }
}
