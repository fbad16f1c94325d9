// BackendLlama's forward and backward passes with the buffers they own: the RoPE tables, the staged token
// and target ids, each block's saved activations, the logits, the gradient scratch and the step scalars.
// Guarantees: every buffer is allocated once, in the constructor, for the largest (B, T), through the
// owner's arena (so the owner frees them); forward and backward only enqueue work on the backend's stream
// and never block; parameter gradients accumulate into the owner's fp32 gradients (GEMM beta 1, fp32
// output), activation gradients are assigned.
package dev.shoal.runtime.backend;

import dev.shoal.runtime.model.LlamaConfig;
import dev.shoal.runtime.ops.Rope;
import dev.shoal.runtime.tensor.Tensor;
import org.bytedeco.javacpp.FloatPointer;
import org.bytedeco.javacpp.IntPointer;
import org.bytedeco.javacpp.Pointer;

final class BackendLlamaPasses {
    /** What one block keeps from forward for backward (device addresses, compute type unless noted). */
    private record BlockActs(
            long ln1, // [N, C] input_layernorm output
            long rstd1, // [N] fp32
            long q, // [N, C] after RoPE
            long k, // [N, kvDim] after RoPE
            long v, // [N, kvDim]
            long attOut, // [N, C] attention output (the flash backward's O)
            long lse, // [B, NH, T] fp32 log-sum-exp of the attention rows
            long res2, // [N, C] residual after the attention half
            long ln2, // [N, C] post_attention_layernorm output
            long rstd2, // [N] fp32
            long gate, // [N, F] gate_proj output; holds dgate during backward
            long up, // [N, F] up_proj output; holds dup during backward
            long h) {} // [N, F] silu(gate) ⊙ up

    private static final int F32 = 4, I32 = 4;

    private final LlamaConfig cfg;
    private final ParamLayout layout;
    private final TensorBackend ops;
    private final int act; // bytes per activation element: the backend's compute type (bf16 2, fp32 4)
    private final int maxB, maxT;

    private final long p32; // [P] fp32 master weights (the owner's): the norm weights are read from here
    private final long p16; // [P] compute-type copy of the weights (the owner's; p32 itself on fp32)
    private final long g32; // [P] fp32 gradients (the owner's), accumulated by backward

    private final long cos, sin; // [maxT, hd/2] fp32 RoPE tables
    private final long tokensDev, targetsDev; // [maxN] int32
    private final long[] residual; // L+1 × [maxN, C]: residual[l] is block l's input
    private final BlockActs[] blocks; // L
    private final long lnf; // [maxN, C]
    private final long lnfRstd; // [maxN] fp32
    private final long logits; // [maxN, V] fp32; holds dlogits after backward
    private final long dlogits16; // [maxN, V] compute-type copy of dlogits for the GEMMs (logits itself on fp32)
    private final long lossRows, ceMax, ceSum, ceTarget; // [maxN] fp32
    private final long dres; // [maxN, C] gradient of the residual stream
    private final long dtmp; // [maxN, C] scratch gradient
    private final long dln; // [maxN, C] gradient of a norm's output
    private final long dAttOut; // [maxN, C]
    private final long dq; // [maxN, C]
    private final long dk, dv; // [maxN, kvDim]
    private final long dh; // [maxN, F]
    private final long tmp; // [maxN, C] projection outputs before the residual add
    private final long attnWork; // attention backward workspace
    /** [sumPartials] fp32: the backend's reduction scratch, shared with the owner's gradient norm. */
    final long partials;
    /** [4] fp32: loss sum, grad sum of squares, clip factor, grad norm (the owner writes [1..3]). */
    final long scalars;

    private final Pointer stageIn; // pinned [2·maxN] int32: tokens then targets
    private final Pointer stageOut; // pinned [4] fp32: scalars read back

    private int lastB, lastT;
    private boolean haveForward, logitsHoldGradient;

    /**
     * Allocates the buffers for batches up to maxB × maxT (maxB · maxT already checked to fit an int)
     * through {@code arena}, in the order plannedBytes counts them, then the two pinned staging blocks.
     * p32, p16 and g32 are the owner's weights, compute copy and gradients.
     */
    BackendLlamaPasses(
            LlamaConfig cfg,
            ParamLayout layout,
            TensorBackend ops,
            DeviceArena arena,
            int maxB,
            int maxT,
            long p32,
            long p16,
            long g32) {
        this.cfg = cfg;
        this.layout = layout;
        this.ops = ops;
        this.act = ops.computeType().bytes();
        boolean computeIsMaster = ops.computeType() == TensorBackend.Precision.F32;
        this.maxB = maxB;
        this.maxT = maxT;
        this.p32 = p32;
        this.p16 = p16;
        this.g32 = g32;
        int maxN = maxB * maxT;
        int c = cfg.dim(), kv = cfg.kvDim(), f = cfg.ffnDim(), v = cfg.vocab(), half = cfg.headDim() / 2;
        cos = arena.alloc((long) maxT * half * F32);
        sin = arena.alloc((long) maxT * half * F32);
        tokensDev = arena.alloc((long) maxN * I32);
        targetsDev = arena.alloc((long) maxN * I32);
        residual = new long[cfg.layers() + 1];
        for (int l = 0; l <= cfg.layers(); l++) {
            residual[l] = arena.alloc((long) maxN * c * act);
        }
        blocks = new BlockActs[cfg.layers()];
        for (int l = 0; l < cfg.layers(); l++) {
            blocks[l] = new BlockActs(
                    arena.alloc((long) maxN * c * act),
                    arena.alloc((long) maxN * F32),
                    arena.alloc((long) maxN * c * act),
                    arena.alloc((long) maxN * kv * act),
                    arena.alloc((long) maxN * kv * act),
                    arena.alloc((long) maxN * c * act),
                    arena.alloc((long) maxN * cfg.heads() * F32),
                    arena.alloc((long) maxN * c * act),
                    arena.alloc((long) maxN * c * act),
                    arena.alloc((long) maxN * F32),
                    arena.alloc((long) maxN * f * act),
                    arena.alloc((long) maxN * f * act),
                    arena.alloc((long) maxN * f * act));
        }
        lnf = arena.alloc((long) maxN * c * act);
        lnfRstd = arena.alloc((long) maxN * F32);
        logits = arena.alloc((long) maxN * v * F32);
        dlogits16 = computeIsMaster ? logits : arena.alloc((long) maxN * v * act);
        lossRows = arena.alloc((long) maxN * F32);
        ceMax = arena.alloc((long) maxN * F32);
        ceSum = arena.alloc((long) maxN * F32);
        ceTarget = arena.alloc((long) maxN * F32);
        dres = arena.alloc((long) maxN * c * act);
        dtmp = arena.alloc((long) maxN * c * act);
        dln = arena.alloc((long) maxN * c * act);
        dAttOut = arena.alloc((long) maxN * c * act);
        dq = arena.alloc((long) maxN * c * act);
        dk = arena.alloc((long) maxN * kv * act);
        dv = arena.alloc((long) maxN * kv * act);
        dh = arena.alloc((long) maxN * f * act);
        tmp = arena.alloc((long) maxN * c * act);
        attnWork = arena.alloc(Math.max(ops.attentionWorkspaceBytes(maxB, cfg.heads(), maxT), 4));
        partials = arena.alloc((long) ops.sumPartials() * F32);
        scalars = arena.alloc(4L * F32);
        stageIn = ops.pinned(2L * maxN * I32);
        stageOut = ops.pinned(4L * F32);
    }

    /**
     * Enqueues zeroing the step scalars and uploading the RoPE tables, exactly as the CPU model computes
     * them (the uploads are synchronous copies; the caller synchronizes after).
     */
    void initState() {
        ops.zero(scalars, 4L * F32);
        Rope.Tables tab = Rope.tables(cfg, maxT);
        ops.upload(cos, RawPointer.of(tab.cos()), tab.cos().bytes());
        ops.upload(sin, RawPointer.of(tab.sin()), tab.sin().bytes());
        tab.cos().close();
        tab.sin().close();
    }

    /** Copies tokens and targets to the device; returns the number of counted targets. */
    int stage(int[] tokenIds, int[] targetIds, int b, int t) {
        int count = BackendLlama.checkBatch(cfg, maxB, maxT, tokenIds, targetIds, b, t);
        int n = b * t;
        IntPointer in = new IntPointer(stageIn);
        in.put(tokenIds, 0, n);
        ops.uploadAsync(tokensDev, stageIn, (long) n * I32);
        if (targetIds != null) {
            in.position(n).put(targetIds, 0, n);
            ops.uploadAsync(
                    targetsDev, new RawPointer(stageIn.address() + (long) n * I32, (long) n * I32), (long) n * I32);
        }
        return count;
    }

    /** Enqueues a copy of the first {@code floats} step scalars to the host, synchronizes, and returns them. */
    FloatPointer readScalars(long floats) {
        ops.downloadAsync(stageOut, scalars, floats * F32);
        ops.synchronize();
        return new FloatPointer(stageOut);
    }

    /** Logits [B, T, V] of the last forward; not available after a backward step (they hold dlogits). */
    Tensor logits() {
        if (!haveForward || logitsHoldGradient) {
            throw new IllegalStateException("no logits: run forward() (a trainStep overwrites them with dlogits)");
        }
        Tensor out = Tensor.zeros(lastB, lastT, cfg.vocab());
        ops.download(RawPointer.of(out), logits, out.bytes());
        return out;
    }

    /**
     * Enqueues the forward pass of the staged batch; withLoss adds the per-row cross-entropy and its sum
     * into scalars[0], withGrad also replaces the logits by dlogits scaled by gradScale / count.
     */
    void forward(int b, int t, boolean withLoss, boolean withGrad, int count, double gradScale) {
        int n = b * t, c = cfg.dim(), kv = cfg.kvDim(), f = cfg.ffnDim(), v = cfg.vocab();
        int nh = cfg.heads(), nkv = cfg.kvHeads(), hd = cfg.headDim();
        float eps = (float) cfg.normEps();
        // Token embeddings (compute copy of embed_tokens) into the residual stream.
        ops.embeddingForward(tokensDev, p16 + layout.embedOffset() * act, residual[0], n, c, v);
        for (int l = 0; l < cfg.layers(); l++) {
            ParamLayout.Block w = layout.block(l);
            BlockActs s = blocks[l];
            long x = residual[l];
            // Attention half: pre-norm (fp32 weight).
            ops.rmsnormForward(x, p32 + w.inputNorm() * F32, s.ln1(), s.rstd1(), n, c, eps);
            // Q, K, V projections: y [N, out] = ln1 [N, C] · Wᵀ, W [out, C].
            ops.gemm(false, true, n, c, c, 1f, s.ln1(), p16 + w.wq() * act, 0f, s.q(), false);
            ops.gemm(false, true, n, kv, c, 1f, s.ln1(), p16 + w.wk() * act, 0f, s.k(), false);
            ops.gemm(false, true, n, kv, c, 1f, s.ln1(), p16 + w.wv() * act, 0f, s.v(), false);
            // RoPE on Q and K, in place.
            ops.rope(s.q(), s.q(), cos, sin, b, t, nh, hd, false);
            ops.rope(s.k(), s.k(), cos, sin, b, t, nkv, hd, false);
            // Causal GQA attention; keeps O and the row log-sum-exp for backward.
            ops.attentionForward(s.q(), s.k(), s.v(), s.attOut(), s.lse(), b, t, nh, nkv, hd);
            // Output projection and residual: res2 = x + attOut · Woᵀ.
            ops.gemm(false, true, n, c, c, 1f, s.attOut(), p16 + w.wo() * act, 0f, tmp, false);
            ops.add(x, tmp, s.res2(), (long) n * c);
            // MLP half: pre-norm.
            ops.rmsnormForward(s.res2(), p32 + w.postNorm() * F32, s.ln2(), s.rstd2(), n, c, eps);
            // gate and up projections [N, F], the SwiGLU gate, the down projection [N, C].
            ops.gemm(false, true, n, f, c, 1f, s.ln2(), p16 + w.gate() * act, 0f, s.gate(), false);
            ops.gemm(false, true, n, f, c, 1f, s.ln2(), p16 + w.up() * act, 0f, s.up(), false);
            ops.swigluForward(s.gate(), s.up(), s.h(), (long) n * f);
            ops.gemm(false, true, n, c, f, 1f, s.h(), p16 + w.down() * act, 0f, tmp, false);
            // Residual: block output = res2 + mlp.
            ops.add(s.res2(), tmp, residual[l + 1], (long) n * c);
        }
        // Final norm and LM head (fp32 logits).
        ops.rmsnormForward(residual[cfg.layers()], p32 + layout.finalNormOffset() * F32, lnf, lnfRstd, n, c, eps);
        ops.gemm(false, true, n, v, c, 1f, lnf, p16 + layout.lmHeadOffset() * act, 0f, logits, true);
        if (withLoss) {
            // Per-row losses; with withGrad dlogits = (softmax − onehot) / count replace the logits.
            float scale = count == 0 ? 0f : (float) (gradScale / count);
            ops.crossEntropy(logits, targetsDev, n, v, ceMax, ceSum, ceTarget, lossRows, withGrad ? logits : 0L, scale);
            ops.sum(lossRows, n, false, partials, scalars);
        }
        lastB = b;
        lastT = t;
        haveForward = true;
        logitsHoldGradient = withGrad;
    }

    /** Enqueues the backward pass from the dlogits a forward with withGrad left, adding into g32. */
    void backward(int b, int t) {
        int n = b * t, c = cfg.dim(), kv = cfg.kvDim(), f = cfg.ffnDim(), v = cfg.vocab();
        int nh = cfg.heads(), nkv = cfg.kvHeads(), hd = cfg.headDim();
        long lmHead = layout.lmHeadOffset();
        // dlogits to the compute type for the GEMMs (bf16 tensor cores; nothing on fp32, where they alias).
        ops.castToCompute(logits, dlogits16, (long) n * v);
        // LM head: dlnf [N, C] = dlogits [N, V] · W [V, C]; dW [V, C] += dlogitsᵀ · lnf.
        ops.gemm(false, false, n, c, v, 1f, dlogits16, p16 + lmHead * act, 0f, dtmp, false);
        ops.gemm(true, false, v, c, n, 1f, dlogits16, lnf, 1f, g32 + lmHead * F32, true);
        // Final norm: dres = gradient of the last block's output.
        long fn = layout.finalNormOffset();
        ops.rmsnormBackward(dtmp, residual[cfg.layers()], p32 + fn * F32, lnfRstd, dres, g32 + fn * F32, n, c);
        for (int l = cfg.layers() - 1; l >= 0; l--) {
            ParamLayout.Block w = layout.block(l);
            BlockActs s = blocks[l];
            // down_proj: dh [N, F] = dres [N, C] · Wdown [C, F]; dWdown [C, F] += dresᵀ · h.
            ops.gemm(false, false, n, f, c, 1f, dres, p16 + w.down() * act, 0f, dh, false);
            ops.gemm(true, false, c, f, n, 1f, dres, s.h(), 1f, g32 + w.down() * F32, true);
            // SwiGLU gate: dgate and dup overwrite gate and up (no longer needed).
            ops.swigluBackward(dh, s.gate(), s.up(), s.gate(), s.up(), (long) n * f);
            long dgate = s.gate(), dup = s.up();
            // gate/up: dln [N, C] = dgate · Wgate [F, C] + dup · Wup; dW [F, C] += dᵀ · ln2.
            ops.gemm(false, false, n, c, f, 1f, dgate, p16 + w.gate() * act, 0f, dln, false);
            ops.gemm(false, false, n, c, f, 1f, dup, p16 + w.up() * act, 1f, dln, false);
            ops.gemm(true, false, f, c, n, 1f, dgate, s.ln2(), 1f, g32 + w.gate() * F32, true);
            ops.gemm(true, false, f, c, n, 1f, dup, s.ln2(), 1f, g32 + w.up() * F32, true);
            // post_attention_layernorm, then the residual fan-out: dres = d(res2).
            ops.rmsnormBackward(
                    dln, s.res2(), p32 + w.postNorm() * F32, s.rstd2(), dtmp, g32 + w.postNorm() * F32, n, c);
            ops.add(dres, dtmp, dres, (long) n * c);
            // o_proj: dAttOut [N, C] = dres · Wo [C, C]; dWo += dresᵀ · attOut.
            ops.gemm(false, false, n, c, c, 1f, dres, p16 + w.wo() * act, 0f, dAttOut, false);
            ops.gemm(true, false, c, c, n, 1f, dres, s.attOut(), 1f, g32 + w.wo() * F32, true);
            // Attention core: dq, dk, dv assigned.
            ops.attentionBackward(
                    s.q(), s.k(), s.v(), s.attOut(), s.lse(), dAttOut, dq, dk, dv, attnWork, b, t, nh, nkv, hd);
            // Undo RoPE on the Q and K gradients, in place.
            ops.rope(dq, dq, cos, sin, b, t, nh, hd, true);
            ops.rope(dk, dk, cos, sin, b, t, nkv, hd, true);
            // Q, K, V share ln1: dln = dq · Wq + dk · Wk + dv · Wv; dW [out, C] += dᵀ · ln1.
            ops.gemm(false, false, n, c, c, 1f, dq, p16 + w.wq() * act, 0f, dln, false);
            ops.gemm(false, false, n, c, kv, 1f, dk, p16 + w.wk() * act, 1f, dln, false);
            ops.gemm(false, false, n, c, kv, 1f, dv, p16 + w.wv() * act, 1f, dln, false);
            ops.gemm(true, false, c, c, n, 1f, dq, s.ln1(), 1f, g32 + w.wq() * F32, true);
            ops.gemm(true, false, kv, c, n, 1f, dk, s.ln1(), 1f, g32 + w.wk() * F32, true);
            ops.gemm(true, false, kv, c, n, 1f, dv, s.ln1(), 1f, g32 + w.wv() * F32, true);
            // input_layernorm, then the residual fan-out: dres = d(block input).
            ops.rmsnormBackward(
                    dln, residual[l], p32 + w.inputNorm() * F32, s.rstd1(), dtmp, g32 + w.inputNorm() * F32, n, c);
            ops.add(dres, dtmp, dres, (long) n * c);
        }
        // Embedding rows (fp32 atomics).
        ops.embeddingBackward(tokensDev, dres, g32 + layout.embedOffset() * F32, n, c, v);
    }
}
