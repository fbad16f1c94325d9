// The Llama-3 causal language model on the CPU, forward and backward written out op by op.
// Guarantees: parameters and gradients are named and shaped exactly as Hugging Face's LlamaForCausalLM
// (model.embed_tokens.weight [V, C] ... lm_head.weight [V, C]), each a view into one flat off-heap
// buffer (params and grads share the same layout); the embedding and LM head are untied; activation
// buffers are allocated once; with recompute on, only block inputs are kept and each block is re-run
// in the backward pass, giving bit-identical gradients; results are bit-identical on any thread count.
// Residual adds are fused: the forward pass copies the stream and lets the projection GEMM add into it
// (beta = 1); the backward pass lets each RMSNorm add its input gradient into the stream's.
package dev.shoal.runtime.model;

import dev.shoal.runtime.ops.Attention;
import dev.shoal.runtime.ops.CrossEntropy;
import dev.shoal.runtime.ops.Embedding;
import dev.shoal.runtime.ops.Linear;
import dev.shoal.runtime.ops.RmsNorm;
import dev.shoal.runtime.ops.Rope;
import dev.shoal.runtime.ops.SwiGlu;
import dev.shoal.runtime.tensor.Compute;
import dev.shoal.runtime.tensor.Tensor;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.SplittableRandom;
import org.bytedeco.javacpp.IntPointer;

public final class LlamaModel {
    /** One block's parameters (or gradients): views into the flat buffer. */
    private record BlockParams(
            Tensor inputNorm, // [C]
            Tensor wq, // [C, C]
            Tensor wk, // [kvDim, C]
            Tensor wv, // [kvDim, C]
            Tensor wo, // [C, C]
            Tensor postNorm, // [C]
            Tensor wGate, // [F, C]
            Tensor wUp, // [F, C]
            Tensor wDown) {} // [C, F]

    private final LlamaConfig cfg;
    private final Compute cx;
    private final Tensor flatParams; // [P] every parameter, in HF order
    private final Tensor flatGrads; // [P] same layout
    private final Map<String, Tensor> params; // HF name -> view of flatParams
    private final Map<String, Tensor> grads; // HF name -> view of flatGrads
    private final Tensor wte, normF, lmHead; // [V, C], [C], [V, C]
    private final Tensor dwte, dnormF, dlmHead;
    private final BlockParams[] blocks, dblocks;
    private final Rope.Tables rope; // [maxT, hd/2] cos and sin
    private final Activations acts;
    private final int[] tokens; // [maxB·maxT] copy of the last forward's tokens
    private final int[] targets; // [maxB·maxT] copy of the last forward's targets
    private int lastB, lastT;
    private boolean hasTargets;
    private boolean logitsHoldGradient;

    /**
     * A model with zero parameters and buffers for batches up to maxB × maxT tokens. recompute keeps only
     * each block's input and re-runs the block in backward (less memory, about one more forward).
     */
    public LlamaModel(LlamaConfig cfg, int maxB, int maxT, Compute cx, boolean recompute) {
        if (maxB < 1 || maxT < 1) {
            throw new IllegalArgumentException("maxB and maxT must be >= 1, got " + maxB + ", " + maxT);
        }
        this.cfg = cfg;
        this.cx = cx;
        long total = cfg.paramCount();
        if (total > Integer.MAX_VALUE) {
            throw new IllegalArgumentException("model '" + cfg.name() + "' has " + total
                    + " parameters; the CPU engine holds at most 2^31-1 in one flat buffer");
        }
        flatParams = Tensor.zeros((int) total);
        flatGrads = Tensor.zeros((int) total);
        Map<String, Tensor> p = new LinkedHashMap<>();
        Map<String, Tensor> g = new LinkedHashMap<>();
        long[] offset = {0};
        int c = cfg.dim(), kv = cfg.kvDim(), f = cfg.ffnDim(), v = cfg.vocab();
        wte = add(p, g, offset, "model.embed_tokens.weight", v, c);
        blocks = new BlockParams[cfg.layers()];
        dblocks = new BlockParams[cfg.layers()];
        for (int l = 0; l < cfg.layers(); l++) {
            String pre = "model.layers." + l + ".";
            Tensor[] pg = new Tensor[18];
            int i = 0;
            for (Object[] spec : new Object[][] {
                {"input_layernorm.weight", new int[] {c}},
                {"self_attn.q_proj.weight", new int[] {c, c}},
                {"self_attn.k_proj.weight", new int[] {kv, c}},
                {"self_attn.v_proj.weight", new int[] {kv, c}},
                {"self_attn.o_proj.weight", new int[] {c, c}},
                {"post_attention_layernorm.weight", new int[] {c}},
                {"mlp.gate_proj.weight", new int[] {f, c}},
                {"mlp.up_proj.weight", new int[] {f, c}},
                {"mlp.down_proj.weight", new int[] {c, f}}
            }) {
                String name = pre + spec[0];
                pg[i] = add(p, g, offset, name, (int[]) spec[1]);
                pg[i + 9] = g.get(name);
                i++;
            }
            blocks[l] = new BlockParams(pg[0], pg[1], pg[2], pg[3], pg[4], pg[5], pg[6], pg[7], pg[8]);
            dblocks[l] = new BlockParams(pg[9], pg[10], pg[11], pg[12], pg[13], pg[14], pg[15], pg[16], pg[17]);
        }
        normF = add(p, g, offset, "model.norm.weight", c);
        lmHead = add(p, g, offset, "lm_head.weight", v, c);
        if (offset[0] != total) {
            throw new IllegalStateException("parameter layout covers " + offset[0] + " of " + total + " elements");
        }
        dwte = g.get("model.embed_tokens.weight");
        dnormF = g.get("model.norm.weight");
        dlmHead = g.get("lm_head.weight");
        params = Collections.unmodifiableMap(p);
        grads = Collections.unmodifiableMap(g);
        rope = Rope.tables(cfg, maxT);
        acts = new Activations(cfg, maxB, maxT, recompute);
        tokens = new int[maxB * maxT];
        targets = new int[maxB * maxT];
    }

    private Tensor add(Map<String, Tensor> p, Map<String, Tensor> g, long[] offset, String name, int... shape) {
        int n = (int) Tensor.numel(shape);
        p.put(name, flatParams.flatRange(offset[0], n).view(shape));
        g.put(name, flatGrads.flatRange(offset[0], n).view(shape));
        offset[0] += n;
        return p.get(name);
    }

    public LlamaConfig config() {
        return cfg;
    }

    /** Parameters by Hugging Face name, in HF order (embedding, layers 0..L-1, norm, lm_head). */
    public Map<String, Tensor> params() {
        return params;
    }

    /** Gradients, same names, shapes and order as {@link #params()}. */
    public Map<String, Tensor> grads() {
        return grads;
    }

    /** All parameters as one flat [P] tensor (the views in params() point into it). */
    public Tensor flatParams() {
        return flatParams;
    }

    /** All gradients as one flat [P] tensor, same layout as flatParams(). */
    public Tensor flatGrads() {
        return flatGrads;
    }

    public long activationBytes() {
        return acts.bytes();
    }

    public boolean recompute() {
        return acts.recompute;
    }

    /**
     * Deterministic init from a seed: linear and embedding weights N(0, 0.02²), norm weights 1 (as HF's
     * initializer_range 0.02). Each tensor draws from its own stream keyed by its index, in fixed chunks,
     * so the result does not depend on the thread count.
     */
    public void initRandom(long seed) {
        int index = 0;
        for (Map.Entry<String, Tensor> e : params.entrySet()) {
            Tensor t = e.getValue();
            if (t.rank() == 1) {
                t.fill(1f);
            } else {
                long streamSeed = new SplittableRandom(seed).split().nextLong() ^ (0x9E3779B97F4A7C15L * (index + 1));
                long chunk = 1 << 16;
                long chunks = (t.numel() + chunk - 1) / chunk;
                cx.par().forRange(chunks, 1, (s, end) -> {
                    for (long ch = s; ch < end; ch++) {
                        SplittableRandom r = new SplittableRandom(streamSeed + 0x632BE59BD9B4E019L * ch);
                        long stop = Math.min(t.numel(), (ch + 1) * chunk);
                        for (long i = ch * chunk; i < stop; i++) {
                            t.set(i, (float) (0.02 * r.nextGaussian()));
                        }
                    }
                });
            }
            index++;
        }
    }

    public void zeroGrad() {
        flatGrads.zero();
    }

    /**
     * Forward pass over tokens [B·T] (row-major [B, T]). With targets [B·T] (−100 = ignore) returns the
     * mean cross-entropy and enables backward(); with targets null returns NaN and only fills logits().
     */
    public double forward(int[] tokenIds, int[] targetIds, int b, int t) {
        acts.views(b, t);
        int n = b * t;
        if (tokenIds.length < n || (targetIds != null && targetIds.length < n)) {
            throw new IllegalArgumentException("B " + b + " × T " + t + " needs " + n + " tokens and targets, got "
                    + tokenIds.length + (targetIds == null ? "" : " and " + targetIds.length));
        }
        System.arraycopy(tokenIds, 0, tokens, 0, n);
        if (targetIds != null) {
            System.arraycopy(targetIds, 0, targets, 0, n);
        }
        return runForward(b, t, targetIds != null);
    }

    /** The forward pass on this.tokens / this.targets (already filled for b·t positions). */
    private double runForward(int b, int t, boolean withTargets) {
        Activations.Views a = acts.views(b, t);
        int n = b * t;
        hasTargets = withTargets;
        if (hasTargets) {
            CrossEntropy.countTargets(targets, 0, n, cfg.vocab());
        }
        lastB = b;
        lastT = t;
        logitsHoldGradient = false;
        // Token embeddings into the residual stream.
        Embedding.forward(cx, a.residual()[0], tokens, 0, wte);
        // The blocks.
        for (int l = 0; l < cfg.layers(); l++) {
            blockForward(a, l, a.blocks()[acts.recompute ? 0 : l], true);
        }
        // Final norm and LM head.
        Tensor last = a.residual()[cfg.layers()];
        RmsNorm.forward(cx, a.lnf(), a.lnfRstd(), last, normF, cfg.normEps());
        Linear.forward(cx, a.logits(), a.lnf(), lmHead);
        // Loss.
        return hasTargets ? CrossEntropy.forward(cx, a.logits(), targets, 0, a.lse()) : Double.NaN;
    }

    /**
     * As {@link #forward(int[], int[], int, int)} with off-heap token ids (e.g. straight from a token
     * shard): B·T ints are read from each pointer's current position; targets may be null.
     */
    public double forward(IntPointer tokenIds, IntPointer targetIds, int b, int t) {
        acts.views(b, t);
        int n = b * t;
        if (tokenIds.limit() > 0 && tokenIds.limit() - tokenIds.position() < n) {
            throw new IllegalArgumentException("B " + b + " × T " + t + " needs " + n + " tokens, pointer holds "
                    + (tokenIds.limit() - tokenIds.position()));
        }
        tokenIds.get(tokens, 0, n);
        if (targetIds != null) {
            targetIds.get(targets, 0, n);
        }
        return runForward(b, t, targetIds != null);
    }

    /** Block l from residual[l]; when full, also the MLP output into residual[l+1] (not needed to recompute). */
    private void blockForward(Activations.Views a, int l, Activations.BlockView s, boolean full) {
        BlockParams w = blocks[l];
        int b = a.b(), t = a.t();
        Tensor x = a.residual()[l];
        // Attention half: pre-norm.
        RmsNorm.forward(cx, s.ln1(), s.ln1Rstd(), x, w.inputNorm(), cfg.normEps());
        // Q, K, V projections.
        Linear.forward(cx, s.q(), s.ln1(), w.wq());
        Linear.forward(cx, s.k(), s.ln1(), w.wk());
        Linear.forward(cx, s.v(), s.ln1(), w.wv());
        // RoPE on Q and K, in place.
        Rope.forward(cx, s.q(), s.q(), rope, b, t, cfg.heads());
        Rope.forward(cx, s.k(), s.k(), rope, b, t, cfg.kvHeads());
        // Causal GQA attention.
        Attention.forward(cx, s.attOut(), s.att(), s.q(), s.k(), s.v(), dims(b, t));
        // Output projection and residual, fused: res2 = x, then res2 += o_proj(attOut) inside the GEMM.
        s.res2().copyFrom(x);
        Linear.forward(cx, s.res2(), s.attOut(), w.wo(), true);
        // MLP half: pre-norm.
        RmsNorm.forward(cx, s.ln2(), s.ln2Rstd(), s.res2(), w.postNorm(), cfg.normEps());
        if (full) {
            // SwiGLU MLP and residual, fused: out = res2, then out += mlp(ln2) inside the down GEMM.
            Tensor out = a.residual()[l + 1];
            out.copyFrom(s.res2());
            SwiGlu.forward(cx, out, s.gate(), s.up(), s.h(), s.ln2(), w.wGate(), w.wUp(), w.wDown(), true);
        } else {
            // Recompute needs only what SwiGLU's backward reads: gate, up and h.
            Linear.forward(cx, s.gate(), s.ln2(), w.wGate());
            Linear.forward(cx, s.up(), s.ln2(), w.wUp());
            SwiGlu.activation(cx, s.h(), s.gate(), s.up());
        }
    }

    private Attention.Dims dims(int b, int t) {
        return new Attention.Dims(b, t, cfg.heads(), cfg.kvHeads(), cfg.headDim());
    }

    /**
     * Logits [B, T, V] of the last forward pass. Valid until backward(), which overwrites them with
     * dlogits to save memory.
     */
    public Tensor logits() {
        if (logitsHoldGradient) {
            throw new IllegalStateException("logits were overwritten by backward(); run forward() again");
        }
        return acts.views(lastB, lastT).logits().view(lastB, lastT, cfg.vocab());
    }

    /** Adds d(loss)/d(param) into grads() for the last forward pass (call zeroGrad() between steps). */
    public void backward() {
        if (!hasTargets || logitsHoldGradient) {
            throw new IllegalStateException("backward() needs a forward() with targets since the last backward()");
        }
        Activations.Views a = acts.views(lastB, lastT);
        int b = lastB, t = lastT;
        // Loss -> dlogits, in place over the logits.
        CrossEntropy.backward(cx, a.logits(), a.logits(), targets, 0, 1f, a.lse());
        logitsHoldGradient = true;
        // LM head: dlnf = dlogits · lm_head; dlm_head += dlogitsᵀ · lnf.
        Linear.backward(cx, a.dtmp(), dlmHead, a.logits(), a.lnf(), lmHead, false);
        // Final norm: dres = gradient of the last block's output.
        RmsNorm.backward(cx, a.dres(), dnormF, a.dtmp(), a.residual()[cfg.layers()], normF, a.lnfRstd());
        for (int l = cfg.layers() - 1; l >= 0; l--) {
            Activations.BlockView s = a.blocks()[acts.recompute ? 0 : l];
            if (acts.recompute) {
                blockForward(a, l, s, false);
            }
            BlockParams w = blocks[l];
            BlockParams dw = dblocks[l];
            Tensor x = a.residual()[l];
            // MLP: dln = d(ln2 output), from dres = d(block output).
            SwiGlu.backward(
                    cx,
                    a.dln(),
                    dw.wGate(),
                    dw.wUp(),
                    dw.wDown(),
                    a.dh(),
                    a.dgate(),
                    a.dup(),
                    a.dres(),
                    s.ln2(),
                    s.gate(),
                    s.up(),
                    s.h(),
                    w.wGate(),
                    w.wUp(),
                    w.wDown());
            // post_attention_layernorm; its input gradient adds into the stream (residual): dres = d(res2).
            RmsNorm.backward(cx, a.dres(), dw.postNorm(), a.dln(), s.res2(), w.postNorm(), s.ln2Rstd(), true);
            // o_proj: dAttOut = dres · wo; dwo += dresᵀ · attOut.
            Linear.backward(cx, a.dAttOut(), dw.wo(), a.dres(), s.attOut(), w.wo(), false);
            // Attention core.
            Attention.backward(
                    cx, a.dq(), a.dk(), a.dv(), a.datt(), a.dAttOut(), s.q(), s.k(), s.v(), s.att(), dims(b, t));
            // Undo RoPE on the Q and K gradients, in place.
            Rope.backward(cx, a.dq(), a.dq(), rope, b, t, cfg.heads());
            Rope.backward(cx, a.dk(), a.dk(), rope, b, t, cfg.kvHeads());
            // Q, K, V projections share ln1: the first assigns dln, the others add.
            Linear.backward(cx, a.dln(), dw.wq(), a.dq(), s.ln1(), w.wq(), false);
            Linear.backward(cx, a.dln(), dw.wk(), a.dk(), s.ln1(), w.wk(), true);
            Linear.backward(cx, a.dln(), dw.wv(), a.dv(), s.ln1(), w.wv(), true);
            // input_layernorm; its input gradient adds into the stream (residual): dres = d(block input).
            RmsNorm.backward(cx, a.dres(), dw.inputNorm(), a.dln(), x, w.inputNorm(), s.ln1Rstd(), true);
        }
        // Embedding rows.
        Embedding.backward(cx, dwte, a.dres(), tokens, 0);
    }
}
