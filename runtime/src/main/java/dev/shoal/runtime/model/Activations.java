// The activation buffers of the CPU Llama model, allocated once at the largest batch and reused.
// Guarantees: nothing here is allocated per step; views for a smaller (B, T) are cut from the same
// memory and cached for the last (B, T) seen.
package dev.shoal.runtime.model;

import dev.shoal.runtime.tensor.Tensor;

final class Activations {
    /** What one transformer block keeps for its backward pass (full-size buffers). */
    static final class Block {
        final Tensor ln1; // [N, C] input_layernorm output
        final Tensor ln1Rstd; // [N]
        final Tensor q; // [N, NHl·hd] after RoPE (NHl = this rank's heads)
        final Tensor k; // [N, kvDim] after RoPE
        final Tensor v; // [N, kvDim]
        final Tensor att; // [B, NH, T, T] attention probabilities
        final Tensor attOut; // [N, NHl·hd] attention output before o_proj
        final Tensor res2; // [N, C] residual after the attention half
        final Tensor ln2; // [N, C] post_attention_layernorm output
        final Tensor ln2Rstd; // [N]
        final Tensor gate; // [N, F] gate_proj output (pre-activation)
        final Tensor up; // [N, F] up_proj output
        final Tensor h; // [N, F] silu(gate) ⊙ up

        Block(LlamaConfig cfg, ModelShard shard, int maxN, long maxAttElems) {
            int c = cfg.dim(), qd = shard.qDim(cfg), kv = shard.kvDim(cfg), f = shard.ffnDim();
            ln1 = Tensor.zeros(maxN, c);
            ln1Rstd = Tensor.zeros(maxN);
            q = Tensor.zeros(maxN, qd);
            k = Tensor.zeros(maxN, kv);
            v = Tensor.zeros(maxN, kv);
            att = Tensor.zeros(Math.toIntExact(maxAttElems));
            attOut = Tensor.zeros(maxN, qd);
            res2 = Tensor.zeros(maxN, c);
            ln2 = Tensor.zeros(maxN, c);
            ln2Rstd = Tensor.zeros(maxN);
            gate = Tensor.zeros(maxN, f);
            up = Tensor.zeros(maxN, f);
            h = Tensor.zeros(maxN, f);
        }

        /** This block's buffers cut to n = b·t rows. */
        BlockView view(int b, int t, int nh) {
            int n = b * t;
            return new BlockView(
                    ln1.slice(0, n),
                    ln1Rstd.slice(0, n),
                    q.slice(0, n),
                    k.slice(0, n),
                    v.slice(0, n),
                    att.flatRange(0, b * nh * t * t).view(b, nh, t, t),
                    attOut.slice(0, n),
                    res2.slice(0, n),
                    ln2.slice(0, n),
                    ln2Rstd.slice(0, n),
                    gate.slice(0, n),
                    up.slice(0, n),
                    h.slice(0, n));
        }
    }

    record BlockView(
            Tensor ln1,
            Tensor ln1Rstd,
            Tensor q,
            Tensor k,
            Tensor v,
            Tensor att,
            Tensor attOut,
            Tensor res2,
            Tensor ln2,
            Tensor ln2Rstd,
            Tensor gate,
            Tensor up,
            Tensor h) {}

    /** Views of every buffer for one (B, T). */
    record Views(
            int b,
            int t,
            Tensor[] residual, // Ls+1 × [N, C] (Ls = layers held): residual[l] is local block l's input
            BlockView[] blocks, // L views, or 1 shared view when recomputing
            Tensor lnf, // [N, C] final norm output
            Tensor lnfRstd, // [N]
            Tensor logits, // [N, Vl] (this rank's vocabulary rows); holds dlogits after backward
            Tensor lse, // [N] log-sum-exp of each logits row
            Tensor dres, // [N, C] gradient of the residual stream
            Tensor dtmp, // [N, C] scratch gradient
            Tensor dln, // [N, C] gradient of a norm's output
            Tensor dAttOut, // [N, NHl·hd]
            Tensor dq, // [N, NHl·hd]
            Tensor dk, // [N, kvDim]
            Tensor dv, // [N, kvDim]
            Tensor datt, // [B, NH, T, T]
            Tensor dh, // [N, F]
            Tensor dgate, // [N, F]
            Tensor dup) {} // [N, F]

    final int maxB;
    final int maxT;
    final boolean recompute;
    private final LlamaConfig cfg;
    private final ModelShard shard; // this rank's heads, FFN columns and vocabulary rows
    private final Tensor[] residual; // L+1 × [maxN, C]
    private final Block[] blocks; // L, or 1 when recomputing
    private final Tensor lnf, lnfRstd, logits, lse, dres, dtmp, dln, dAttOut, dq, dk, dv, datt, dh, dgate, dup;
    private Views cached;

    Activations(LlamaConfig cfg, ModelShard shard, int maxB, int maxT, boolean recompute) {
        this.cfg = cfg;
        this.shard = shard;
        this.maxB = maxB;
        this.maxT = maxT;
        this.recompute = recompute;
        int maxN = Math.multiplyExact(maxB, maxT);
        long attElems = (long) maxB * shard.heads() * maxT * maxT;
        int c = cfg.dim(), qd = shard.qDim(cfg), kv = shard.kvDim(cfg), f = shard.ffnDim();
        residual = new Tensor[shard.layers() + 1];
        for (int l = 0; l <= shard.layers(); l++) {
            residual[l] = Tensor.zeros(maxN, c);
        }
        blocks = new Block[recompute ? 1 : shard.layers()];
        for (int l = 0; l < blocks.length; l++) {
            blocks[l] = new Block(cfg, shard, maxN, attElems);
        }
        lnf = Tensor.zeros(maxN, c);
        lnfRstd = Tensor.zeros(maxN);
        logits = Tensor.zeros(maxN, shard.hasHead() ? shard.vocab() : 1); // only the last stage has logits
        lse = Tensor.zeros(maxN);
        dres = Tensor.zeros(maxN, c);
        dtmp = Tensor.zeros(maxN, c);
        dln = Tensor.zeros(maxN, c);
        dAttOut = Tensor.zeros(maxN, qd);
        dq = Tensor.zeros(maxN, qd);
        dk = Tensor.zeros(maxN, kv);
        dv = Tensor.zeros(maxN, kv);
        datt = Tensor.zeros(Math.toIntExact(attElems));
        dh = Tensor.zeros(maxN, f);
        dgate = Tensor.zeros(maxN, f);
        dup = Tensor.zeros(maxN, f);
    }

    Views views(int b, int t) {
        if (b < 1 || t < 1 || b > maxB || t > maxT) {
            throw new IllegalArgumentException("batch B " + b + " × T " + t + " exceeds the model's buffers (max B "
                    + maxB + ", max T " + maxT + ")");
        }
        if (cached != null && cached.b() == b && cached.t() == t) {
            return cached;
        }
        int n = b * t, nh = shard.heads();
        Tensor[] res = new Tensor[residual.length];
        for (int l = 0; l < res.length; l++) {
            res[l] = residual[l].slice(0, n);
        }
        BlockView[] bv = new BlockView[blocks.length];
        for (int l = 0; l < bv.length; l++) {
            bv[l] = blocks[l].view(b, t, nh);
        }
        cached = new Views(
                b,
                t,
                res,
                bv,
                lnf.slice(0, n),
                lnfRstd.slice(0, n),
                logits.slice(0, n),
                lse.slice(0, n),
                dres.slice(0, n),
                dtmp.slice(0, n),
                dln.slice(0, n),
                dAttOut.slice(0, n),
                dq.slice(0, n),
                dk.slice(0, n),
                dv.slice(0, n),
                datt.flatRange(0, b * nh * t * t).view(b, nh, t, t),
                dh.slice(0, n),
                dgate.slice(0, n),
                dup.slice(0, n));
        return cached;
    }

    /** Bytes of activation memory held. */
    long bytes() {
        long total = 0;
        for (Tensor r : residual) {
            total += r.bytes();
        }
        for (Block bl : blocks) {
            for (Tensor x : new Tensor[] {
                bl.ln1,
                bl.ln1Rstd,
                bl.q,
                bl.k,
                bl.v,
                bl.att,
                bl.attOut,
                bl.res2,
                bl.ln2,
                bl.ln2Rstd,
                bl.gate,
                bl.up,
                bl.h
            }) {
                total += x.bytes();
            }
        }
        for (Tensor x :
                new Tensor[] {lnf, lnfRstd, logits, lse, dres, dtmp, dln, dAttOut, dq, dk, dv, datt, dh, dgate, dup}) {
            total += x.bytes();
        }
        return total;
    }
}
