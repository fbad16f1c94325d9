// The Llama-3 causal language model on the CPU, forward and backward written out op by op.
// Guarantees: parameters and gradients are named and shaped exactly as Hugging Face's LlamaForCausalLM
// (model.embed_tokens.weight [V, C] ... lm_head.weight [V, C]), each a view into one flat off-heap
// buffer (params and grads share the same layout); the embedding and LM head are untied; activation
// buffers are allocated once; with recompute on, only block inputs are kept and each block is re-run
// in the backward pass, giving bit-identical gradients; results are bit-identical on any thread count.
// Residual adds are fused: the forward pass copies the stream and lets the projection GEMM add into it
// (beta = 1); the backward pass lets each RMSNorm add its input gradient into the stream's. Under tensor parallelism (a
// ModelShard with
// tp > 1 and TpHooks that reach the group) the same HF names hold this rank's shard of each weight and
// the hooks are called at Megatron's f/g points; with one rank the code paths are unchanged. A pipeline
// stage (a ModelShard with a layer range) holds only its layers, plus the embedding on the first stage
// and the final norm and LM head on the last; forwardStage/backwardStage move its activations.
package dev.shoal.runtime.model;

import dev.shoal.runtime.ops.Attention;
import dev.shoal.runtime.ops.CrossEntropy;
import dev.shoal.runtime.ops.Embedding;
import dev.shoal.runtime.ops.Linear;
import dev.shoal.runtime.ops.Residual;
import dev.shoal.runtime.ops.RmsNorm;
import dev.shoal.runtime.ops.Rope;
import dev.shoal.runtime.ops.SwiGlu;
import dev.shoal.runtime.ops.VocabShardCrossEntropy;
import dev.shoal.runtime.ops.VocabShardEmbedding;
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
            Tensor wq, // [NHl·hd, C] (NHl = heads held here; NH on one rank)
            Tensor wk, // [NKVl·hd, C]
            Tensor wv, // [NKVl·hd, C]
            Tensor wo, // [C, NHl·hd]
            Tensor postNorm, // [C]
            Tensor wGate, // [Fl, C] (Fl = F / tp)
            Tensor wUp, // [Fl, C]
            Tensor wDown) {} // [C, Fl]

    private final LlamaConfig cfg;
    private final ModelShard shard; // the heads, FFN columns and vocabulary rows held here
    private final TpHooks tp; // the TP group's reductions (NONE on one rank)
    private final Tensor rowOut; // [maxN, C] partial output of a row-parallel layer (tp > 1 only)
    private final Tensor ceTarget; // [maxN] vocab-parallel cross-entropy scratch (tp > 1 only)
    private final Compute cx;
    private final Tensor flatParams; // [P] every parameter, in HF order
    private final Tensor flatGrads; // [P] same layout
    private final Map<String, Tensor> params; // HF name -> view of flatParams
    private final Map<String, Tensor> grads; // HF name -> view of flatGrads
    private final Tensor wte, normF, lmHead; // [Vl, C], [C], [Vl, C] (Vl = V on one rank)
    private final Tensor dwte, dnormF, dlmHead;
    private final BlockParams[] blocks, dblocks;
    private final Rope.Tables rope; // [maxT, hd/2] cos and sin
    private final Activations acts;
    private final int[] tokens; // [maxB·maxT] copy of the last forward's tokens
    private final int[] targets; // [maxB·maxT] copy of the last forward's targets
    private int lastB, lastT;
    private boolean hasTargets;
    private boolean logitsHoldGradient;
    private boolean readyForBackward; // a forward pass ran since the last backward pass

    /**
     * A model with zero parameters and buffers for batches up to maxB × maxT tokens. recompute keeps only
     * each block's input and re-runs the block in backward (less memory, about one more forward).
     */
    public LlamaModel(LlamaConfig cfg, int maxB, int maxT, Compute cx, boolean recompute) {
        this(cfg, ModelShard.full(cfg), TpHooks.NONE, maxB, maxT, cx, recompute);
    }

    /**
     * One tensor-parallel rank's part of the model: parameters shaped by shard (same HF names), the
     * group's reductions through tp. shard.tpSize() must equal tp.size().
     */
    public LlamaModel(
            LlamaConfig cfg, ModelShard shard, TpHooks tp, int maxB, int maxT, Compute cx, boolean recompute) {
        if (maxB < 1 || maxT < 1) {
            throw new IllegalArgumentException("maxB and maxT must be >= 1, got " + maxB + ", " + maxT);
        }
        if (shard.tpSize() != tp.size()) {
            throw new IllegalArgumentException(
                    "model shard is for tp " + shard.tpSize() + " but the TP group has " + tp.size() + " ranks");
        }
        this.cfg = cfg;
        this.shard = shard;
        this.tp = tp;
        this.cx = cx;
        boolean split = tp.size() > 1;
        rowOut = split ? Tensor.zeros(Math.multiplyExact(maxB, maxT), cfg.dim()) : null;
        ceTarget = split ? Tensor.zeros(Math.multiplyExact(maxB, maxT)) : null;
        long total = shard.paramCount(cfg);
        if (total > Integer.MAX_VALUE) {
            throw new IllegalArgumentException("model '" + cfg.name() + "' has " + total
                    + " parameters; the CPU engine holds at most 2^31-1 in one flat buffer");
        }
        flatParams = Tensor.zeros((int) total);
        flatGrads = Tensor.zeros((int) total);
        Map<String, Tensor> p = new LinkedHashMap<>();
        Map<String, Tensor> g = new LinkedHashMap<>();
        long[] offset = {0};
        int c = cfg.dim(), qd = shard.qDim(cfg), kv = shard.kvDim(cfg), f = shard.ffnDim(), v = shard.vocab();
        wte = shard.hasEmbedding() ? add(p, g, offset, "model.embed_tokens.weight", v, c) : null;
        blocks = new BlockParams[shard.layers()];
        dblocks = new BlockParams[shard.layers()];
        for (int l = 0; l < shard.layers(); l++) {
            // Local block l is the model's layer layerStart + l, and keeps that HF name.
            String pre = "model.layers." + (shard.layerStart() + l) + ".";
            Tensor[] pg = new Tensor[18];
            int i = 0;
            for (Object[] spec : new Object[][] {
                {"input_layernorm.weight", new int[] {c}},
                {"self_attn.q_proj.weight", new int[] {qd, c}},
                {"self_attn.k_proj.weight", new int[] {kv, c}},
                {"self_attn.v_proj.weight", new int[] {kv, c}},
                {"self_attn.o_proj.weight", new int[] {c, qd}},
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
        normF = shard.hasHead() ? add(p, g, offset, "model.norm.weight", c) : null;
        lmHead = shard.hasHead() ? add(p, g, offset, "lm_head.weight", v, c) : null;
        if (offset[0] != total) {
            throw new IllegalStateException("parameter layout covers " + offset[0] + " of " + total + " elements");
        }
        dwte = g.get("model.embed_tokens.weight");
        dnormF = g.get("model.norm.weight");
        dlmHead = g.get("lm_head.weight");
        params = Collections.unmodifiableMap(p);
        grads = Collections.unmodifiableMap(g);
        rope = Rope.tables(cfg, maxT);
        acts = new Activations(cfg, shard, maxB, maxT, recompute);
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

    /** The part of the model held here (the whole model on one rank). */
    public ModelShard shard() {
        return shard;
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
        requireWholeModel();
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

    /**
     * One pipeline stage's forward pass. The first stage reads tokenIds [B·T] (input is ignored), the
     * others read input [N, C], the previous stage's stageOutput(). The last stage returns the loss when
     * targetIds is given; the other stages return NaN and keep stageOutput() [N, C] for the next stage.
     */
    public double forwardStage(int[] tokenIds, Tensor input, int[] targetIds, int b, int t) {
        Activations.Views a = acts.views(b, t);
        int n = b * t;
        if (shard.hasEmbedding()) {
            if (tokenIds == null || tokenIds.length < n) {
                throw new IllegalArgumentException(
                        "the first stage needs " + n + " token ids for B " + b + " × T " + t);
            }
            System.arraycopy(tokenIds, 0, tokens, 0, n);
        } else {
            if (input == null || input.numel() != (long) n * cfg.dim()) {
                throw new IllegalArgumentException("stage of layers " + shard.layerStart() + ".." + shard.layerEnd()
                        + " needs an input activation [" + n + ", " + cfg.dim() + "], got " + input);
            }
            a.residual()[0].copyFrom(input);
        }
        boolean withTargets = shard.hasHead() && targetIds != null;
        if (withTargets) {
            if (targetIds.length < n) {
                throw new IllegalArgumentException(
                        "B " + b + " × T " + t + " needs " + n + " targets, got " + targetIds.length);
            }
            System.arraycopy(targetIds, 0, targets, 0, n);
        }
        return runForward(b, t, withTargets);
    }

    /** This stage's output [N, C] after forwardStage (the last block's residual stream). */
    public Tensor stageOutput() {
        return acts.views(lastB, lastT).residual()[shard.layers()];
    }

    /** The gradient [N, C] of this stage's input after backwardStage (to send to the previous stage). */
    public Tensor stageInputGrad() {
        return acts.views(lastB, lastT).dres();
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
        readyForBackward = true;
        // Token embeddings into the residual stream (vocab-parallel: shard lookup, then the group's sum).
        if (!shard.hasEmbedding()) {
            // A later pipeline stage: forwardStage put the previous stage's output into residual[0].
        } else if (tp.size() == 1) {
            Embedding.forward(cx, a.residual()[0], tokens, 0, wte);
        } else {
            VocabShardEmbedding.forward(cx, a.residual()[0], tokens, 0, wte, shard.vocabStart(), cfg.vocab());
            tp.reduceEmbedding(a.residual()[0]);
        }
        // The blocks.
        for (int l = 0; l < shard.layers(); l++) {
            blockForward(a, l, a.blocks()[acts.recompute ? 0 : l], true);
        }
        if (!shard.hasHead()) {
            return Double.NaN; // not the last pipeline stage
        }
        // Final norm and LM head.
        Tensor last = a.residual()[shard.layers()];
        RmsNorm.forward(cx, a.lnf(), a.lnfRstd(), last, normF, cfg.normEps());
        Linear.forward(cx, a.logits(), a.lnf(), lmHead);
        // Loss (vocab-parallel: never gathers the logits).
        if (!hasTargets) {
            return Double.NaN;
        }
        if (tp.size() == 1) {
            return CrossEntropy.forward(cx, a.logits(), targets, 0, a.lse());
        }
        return VocabShardCrossEntropy.forward(
                cx,
                a.logits(),
                targets,
                0,
                shard.vocabStart(),
                cfg.vocab(),
                a.lse(),
                ceTarget.slice(0, n),
                tp::maxRows,
                tp::sumRows);
    }

    /**
     * As {@link #forward(int[], int[], int, int)} with off-heap token ids (e.g. straight from a token
     * shard): B·T ints are read from each pointer's current position; targets may be null.
     */
    public double forward(IntPointer tokenIds, IntPointer targetIds, int b, int t) {
        requireWholeModel();
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
        Rope.forward(cx, s.q(), s.q(), rope, b, t, shard.heads());
        Rope.forward(cx, s.k(), s.k(), rope, b, t, shard.kvHeads());
        // Causal GQA attention.
        Attention.forward(cx, s.attOut(), s.att(), s.q(), s.k(), s.v(), dims(b, t));
        if (tp.size() == 1) {
            // Output projection and residual, fused: res2 = x, then res2 += o_proj(attOut) inside the GEMM.
            s.res2().copyFrom(x);
            Linear.forward(cx, s.res2(), s.attOut(), w.wo(), true);
        } else {
            // Row-parallel o_proj: partial output, g (sum over the group), then the residual.
            Tensor partial = rowOut.slice(0, b * t);
            Linear.forward(cx, partial, s.attOut(), w.wo());
            tp.reduceRowParallelOutput(partial);
            Residual.forward(cx, s.res2(), x, partial);
        }
        // MLP half: pre-norm.
        RmsNorm.forward(cx, s.ln2(), s.ln2Rstd(), s.res2(), w.postNorm(), cfg.normEps());
        if (full && tp.size() == 1) {
            // SwiGLU MLP and residual, fused: out = res2, then out += mlp(ln2) inside the down GEMM.
            Tensor out = a.residual()[l + 1];
            out.copyFrom(s.res2());
            SwiGlu.forward(cx, out, s.gate(), s.up(), s.h(), s.ln2(), w.wGate(), w.wUp(), w.wDown(), true);
        } else if (full) {
            // Row-parallel down_proj: partial MLP output, g (sum over the group), then the residual.
            Tensor partial = rowOut.slice(0, b * t);
            SwiGlu.forward(cx, partial, s.gate(), s.up(), s.h(), s.ln2(), w.wGate(), w.wUp(), w.wDown(), false);
            tp.reduceRowParallelOutput(partial);
            Residual.forward(cx, a.residual()[l + 1], s.res2(), partial);
        } else {
            // Recompute needs only what SwiGLU's backward reads: gate, up and h.
            Linear.forward(cx, s.gate(), s.ln2(), w.wGate());
            Linear.forward(cx, s.up(), s.ln2(), w.wUp());
            SwiGlu.activation(cx, s.h(), s.gate(), s.up());
        }
    }

    private void requireWholeModel() {
        if (!shard.hasEmbedding() || !shard.hasHead()) {
            throw new IllegalStateException("this pipeline stage holds layers " + shard.layerStart() + ".."
                    + shard.layerEnd() + " only; use forwardStage/backwardStage");
        }
    }

    private Attention.Dims dims(int b, int t) {
        return new Attention.Dims(b, t, shard.heads(), shard.kvHeads(), cfg.headDim());
    }

    /**
     * Logits [B, T, Vl] of the last forward pass (this rank's vocabulary columns; Vl = V on one rank). Valid until backward(), which overwrites them with
     * dlogits to save memory.
     */
    public Tensor logits() {
        if (logitsHoldGradient) {
            throw new IllegalStateException("logits were overwritten by backward(); run forward() again");
        }
        return acts.views(lastB, lastT).logits().view(lastB, lastT, shard.vocab());
    }

    /** Adds d(loss)/d(param) into grads() for the last forward pass (call zeroGrad() between steps). */
    public void backward() {
        backward(1f);
    }

    /**
     * As {@link #backward()} for the loss scaled by dloss (e.g. 1 / grad_accum, so micro-batch gradients
     * add up to the gradient of the mean).
     */
    public void backward(float dloss) {
        requireWholeModel();
        backwardStage(null, dloss);
    }

    /**
     * One pipeline stage's backward pass for its last forwardStage: the last stage starts from the loss
     * (scaled by dloss; dOutput is ignored), the others from dOutput [N, C], the gradient of their
     * stageOutput() sent back by the next stage. Leaves stageInputGrad() for the previous stage.
     */
    public void backwardStage(Tensor dOutput, float dloss) {
        if (!readyForBackward || (shard.hasHead() && !hasTargets)) {
            throw new IllegalStateException("backward() needs a forward() with targets since the last backward()");
        }
        readyForBackward = false;
        Activations.Views a = acts.views(lastB, lastT);
        int b = lastB, t = lastT;
        if (shard.hasHead()) {
            headBackward(a, dloss);
        } else {
            if (dOutput == null || dOutput.numel() != a.dres().numel()) {
                throw new IllegalArgumentException("stage of layers " + shard.layerStart() + ".." + shard.layerEnd()
                        + " needs the output gradient [" + (b * t) + ", " + cfg.dim() + "], got " + dOutput);
            }
            a.dres().copyFrom(dOutput);
        }
        blocksBackward(a, b, t);
    }

    /** Loss, LM head and final norm backward: leaves d(last block output) in dres. */
    private void headBackward(Activations.Views a, float dloss) {
        // Loss -> dlogits, in place over the logits.
        if (tp.size() == 1) {
            CrossEntropy.backward(cx, a.logits(), a.logits(), targets, 0, dloss, a.lse());
        } else {
            VocabShardCrossEntropy.backward(
                    cx, a.logits(), a.logits(), targets, 0, shard.vocabStart(), cfg.vocab(), dloss, a.lse());
        }
        logitsHoldGradient = true;
        // LM head: dlnf = dlogits · lm_head; dlm_head += dlogitsᵀ · lnf. Column-parallel over the
        // vocabulary, so dlnf is a partial sum: f.
        Linear.backward(cx, a.dtmp(), dlmHead, a.logits(), a.lnf(), lmHead, false);
        tp.reduceColumnParallelInputGrad(a.dtmp());
        // Final norm: dres = gradient of the last block's output.
        RmsNorm.backward(cx, a.dres(), dnormF, a.dtmp(), a.residual()[shard.layers()], normF, a.lnfRstd());
    }

    /** The blocks backward from dres = d(last block output), then the embedding on the first stage. */
    private void blocksBackward(Activations.Views a, int b, int t) {
        for (int l = shard.layers() - 1; l >= 0; l--) {
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
            // gate/up are column-parallel: f sums the partial input gradients over the group.
            tp.reduceColumnParallelInputGrad(a.dln());
            // post_attention_layernorm; its input gradient adds into the stream (residual): dres = d(res2).
            RmsNorm.backward(cx, a.dres(), dw.postNorm(), a.dln(), s.res2(), w.postNorm(), s.ln2Rstd(), true);
            // o_proj: dAttOut = dres · wo; dwo += dresᵀ · attOut.
            Linear.backward(cx, a.dAttOut(), dw.wo(), a.dres(), s.attOut(), w.wo(), false);
            // Attention core.
            Attention.backward(
                    cx, a.dq(), a.dk(), a.dv(), a.datt(), a.dAttOut(), s.q(), s.k(), s.v(), s.att(), dims(b, t));
            // Undo RoPE on the Q and K gradients, in place.
            Rope.backward(cx, a.dq(), a.dq(), rope, b, t, shard.heads());
            Rope.backward(cx, a.dk(), a.dk(), rope, b, t, shard.kvHeads());
            // Q, K, V projections share ln1: the first assigns dln, the others add.
            Linear.backward(cx, a.dln(), dw.wq(), a.dq(), s.ln1(), w.wq(), false);
            Linear.backward(cx, a.dln(), dw.wk(), a.dk(), s.ln1(), w.wk(), true);
            Linear.backward(cx, a.dln(), dw.wv(), a.dv(), s.ln1(), w.wv(), true);
            // Q, K, V are column-parallel: f sums the partial input gradients over the group.
            tp.reduceColumnParallelInputGrad(a.dln());
            // input_layernorm; its input gradient adds into the stream (residual): dres = d(block input).
            RmsNorm.backward(cx, a.dres(), dw.inputNorm(), a.dln(), x, w.inputNorm(), s.ln1Rstd(), true);
        }
        // Embedding rows (vocab-parallel: only this rank's rows); later stages keep dres for the previous one.
        if (!shard.hasEmbedding()) {
            return;
        }
        if (tp.size() == 1) {
            Embedding.backward(cx, dwte, a.dres(), tokens, 0);
        } else {
            VocabShardEmbedding.backward(cx, dwte, a.dres(), tokens, 0, shard.vocabStart());
        }
    }
}
