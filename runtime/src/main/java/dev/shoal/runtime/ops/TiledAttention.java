// Causal grouped-query self-attention, tiled over blocks of query rows (flash-style on the CPU).
// Guarantees: the same function as Attention's T×T path (query head h reads KV head h / G, scores scaled
// by 1/sqrt(hd), position i attends to j <= i only) within fp32 rounding, but no T×T matrix is kept:
// the forward pass saves only each row's log-sum-exp, and the backward pass recomputes the scores of
// one query block at a time. A query block of rows i0..i1 only ever multiplies with keys 0..i1, so the
// blocks above the diagonal (almost half the work of QKᵀ, PV and the four backward products) are
// skipped. Work is split over (batch, KV head) pairs and every pair runs its heads and blocks in a fixed
// order on one thread, so results do not depend on the thread count. The block size is a parameter and
// a block may be any size >= 1; block >= T reproduces one T×T pass.
package dev.shoal.runtime.ops;

import dev.shoal.runtime.tensor.Compute;
import dev.shoal.runtime.tensor.FastMath;
import dev.shoal.runtime.tensor.Gemm;
import dev.shoal.runtime.tensor.Scratch;
import dev.shoal.runtime.tensor.Tensor;

public final class TiledAttention {
    private TiledAttention() {}

    /** Elements of the saved log-sum-exp: [B, NH, T]. */
    public static long lseElems(Attention.Dims d) {
        return (long) d.b() * d.nh() * d.t();
    }

    /** Elements of forward scratch: one [block, T] score strip per (batch, KV head) pair. */
    public static long forwardScratchElems(Attention.Dims d, int block) {
        return (long) d.b() * d.nkv() * Math.min(block, d.t()) * d.t();
    }

    /** Elements of backward scratch: a P strip and a dS strip, [2, block, T], per (batch, KV head) pair. */
    public static long backwardScratchElems(Attention.Dims d, int block) {
        return 2 * forwardScratchElems(d, block);
    }

    /**
     * out [B, T, C] = causal softmax(q·kᵀ/sqrt(hd))·v per head; lse [B, NH, T] keeps each row's
     * log-sum-exp of scaled scores for the backward pass. scratch holds forwardScratchElems(d, block).
     */
    public static void forward(
            Compute cx,
            Tensor out,
            Tensor lse,
            Tensor scratch,
            Tensor q,
            Tensor k,
            Tensor v,
            Attention.Dims d,
            int block) {
        check(d, block, out, q, k, v, lse, scratch, forwardScratchElems(d, block));
        int t = d.t(), hd = d.hd(), c = d.nh() * hd, kvDim = d.nkv() * hd, group = d.nh() / d.nkv();
        int bq = Math.min(block, t);
        float scale = (float) (1.0 / Math.sqrt(hd));
        Gemm gemm = cx.gemm();
        cx.par().forRange((long) d.b() * d.nkv(), 1, (s, e) -> {
            float[] row = Scratch.row(0, t);
            for (long bk = s; bk < e; bk++) {
                int b = (int) (bk / d.nkv()), kvh = (int) (bk % d.nkv());
                long kOff = (long) b * t * kvDim + (long) kvh * hd;
                long sOff = bk * bq * t; // this pair's [bq, T] strip
                for (int g = 0; g < group; g++) {
                    int h = kvh * group + g;
                    long lseOff = ((long) b * d.nh() + h) * t;
                    for (int i0 = 0; i0 < t; i0 += bq) {
                        int i1 = Math.min(t, i0 + bq), r = i1 - i0, len = i1; // keys 0..i1-1
                        long qOff = (long) b * t * c + (long) i0 * c + (long) h * hd;
                        // Scores: S [r, len] = scale · Q_h[i0:i1] [r, hd] · K_kvh[0:len] [len, hd]ᵀ.
                        gemm.sgemm(false, true, r, len, hd, scale, q, qOff, c, k, kOff, kvDim, 0f, scratch, sOff, len);
                        // Causal softmax of row i over j <= i (j > i exactly 0); keep max + log(sum).
                        for (int ii = 0; ii < r; ii++) {
                            int i = i0 + ii;
                            long rowOff = sOff + (long) ii * len;
                            scratch.read(rowOff, row, 0, i + 1);
                            float max = Float.NEGATIVE_INFINITY;
                            for (int j = 0; j <= i; j++) {
                                max = Math.max(max, row[j]);
                            }
                            for (int j = 0; j <= i; j++) {
                                row[j] -= max;
                            }
                            FastMath.expInPlace(row, 0, i + 1);
                            double sum = 0;
                            for (int j = 0; j <= i; j++) {
                                sum += row[j];
                            }
                            float inv = (float) (1.0 / sum);
                            for (int j = 0; j <= i; j++) {
                                row[j] *= inv;
                            }
                            java.util.Arrays.fill(row, i + 1, len, 0f);
                            scratch.write(rowOff, row, 0, len);
                            lse.set(lseOff + i, max + (float) Math.log(sum));
                        }
                        // Output: O_h[i0:i1] [r, hd] = P [r, len] · V_kvh[0:len] [len, hd].
                        gemm.sgemm(false, false, r, hd, len, 1f, scratch, sOff, len, v, kOff, kvDim, 0f, out, qOff, c);
                    }
                }
            }
        });
    }

    /**
     * dq [B, T, C], dk and dv [B, T, kvDim] (all assigned) from dout [B, T, C] and the saved lse;
     * scratch holds backwardScratchElems(d, block).
     */
    public static void backward(
            Compute cx,
            Tensor dq,
            Tensor dk,
            Tensor dv,
            Tensor scratch,
            Tensor dout,
            Tensor q,
            Tensor k,
            Tensor v,
            Tensor lse,
            Attention.Dims d,
            int block) {
        check(d, block, dout, q, k, v, lse, scratch, backwardScratchElems(d, block));
        check(d, block, dq, dq, dk, dv, lse, scratch, backwardScratchElems(d, block));
        int t = d.t(), hd = d.hd(), c = d.nh() * hd, kvDim = d.nkv() * hd, group = d.nh() / d.nkv();
        int bq = Math.min(block, t);
        int nBlocks = (t + bq - 1) / bq;
        float scale = (float) (1.0 / Math.sqrt(hd));
        Gemm gemm = cx.gemm();
        cx.par().forRange((long) d.b() * d.nkv(), 1, (s, e) -> {
            float[] pr = Scratch.row(0, t), dr = Scratch.row(1, t);
            for (long bk = s; bk < e; bk++) {
                int b = (int) (bk / d.nkv()), kvh = (int) (bk % d.nkv());
                long kOff = (long) b * t * kvDim + (long) kvh * hd;
                long pOff = bk * 2L * bq * t, dsOff = pOff + (long) bq * t; // this pair's P and dS strips
                for (int g = 0; g < group; g++) {
                    int h = kvh * group + g;
                    long lseOff = ((long) b * d.nh() + h) * t;
                    // Last block first: it spans all T keys, so (for the group's first head) it assigns
                    // every row of dk, dv; every later product adds to them.
                    for (int blk = nBlocks - 1; blk >= 0; blk--) {
                        int i0 = blk * bq, i1 = Math.min(t, i0 + bq), r = i1 - i0, len = i1;
                        float beta = g == 0 && blk == nBlocks - 1 ? 0f : 1f;
                        long qOff = (long) b * t * c + (long) i0 * c + (long) h * hd;
                        // Recompute scores: S [r, len] = scale · Q_h[i0:i1] · K_kvh[0:len]ᵀ.
                        gemm.sgemm(false, true, r, len, hd, scale, q, qOff, c, k, kOff, kvDim, 0f, scratch, pOff, len);
                        // dP [r, len] = dO_h[i0:i1] [r, hd] · V_kvh[0:len] [len, hd]ᵀ.
                        gemm.sgemm(false, true, r, len, hd, 1f, dout, qOff, c, v, kOff, kvDim, 0f, scratch, dsOff, len);
                        // P_ij = exp(S_ij − lse_i) for j <= i, else 0; dS_ij = scale · P_ij · (dP_ij − Σ_l P_il dP_il).
                        for (int ii = 0; ii < r; ii++) {
                            int i = i0 + ii;
                            long rowP = pOff + (long) ii * len, rowD = dsOff + (long) ii * len;
                            scratch.read(rowP, pr, 0, i + 1);
                            scratch.read(rowD, dr, 0, i + 1);
                            float l = lse.get(lseOff + i);
                            for (int j = 0; j <= i; j++) {
                                pr[j] -= l;
                            }
                            FastMath.expInPlace(pr, 0, i + 1);
                            double dot = 0;
                            for (int j = 0; j <= i; j++) {
                                dot += (double) pr[j] * dr[j];
                            }
                            float fdot = (float) dot;
                            for (int j = 0; j <= i; j++) {
                                dr[j] = scale * pr[j] * (dr[j] - fdot);
                            }
                            java.util.Arrays.fill(pr, i + 1, len, 0f);
                            java.util.Arrays.fill(dr, i + 1, len, 0f);
                            scratch.write(rowP, pr, 0, len);
                            scratch.write(rowD, dr, 0, len);
                        }
                        // dV term: dV_kvh[0:len] [len, hd] (+)= Pᵀ [len, r] · dO_h[i0:i1] [r, hd].
                        gemm.sgemm(
                                true, false, len, hd, r, 1f, scratch, pOff, len, dout, qOff, c, beta, dv, kOff, kvDim);
                        // dQ term: dQ_h[i0:i1] [r, hd] = dS [r, len] · K_kvh[0:len] [len, hd].
                        gemm.sgemm(false, false, r, hd, len, 1f, scratch, dsOff, len, k, kOff, kvDim, 0f, dq, qOff, c);
                        // dK term: dK_kvh[0:len] [len, hd] (+)= dSᵀ [len, r] · Q_h[i0:i1] [r, hd].
                        gemm.sgemm(true, false, len, hd, r, 1f, scratch, dsOff, len, q, qOff, c, beta, dk, kOff, kvDim);
                    }
                }
            }
        });
    }

    private static void check(
            Attention.Dims d,
            int block,
            Tensor out,
            Tensor q,
            Tensor k,
            Tensor v,
            Tensor lse,
            Tensor scratch,
            long scratchElems) {
        if (block < 1) {
            throw new IllegalArgumentException("attention query block must be >= 1, got " + block);
        }
        long btc = (long) d.b() * d.t() * d.nh() * d.hd();
        long btkv = (long) d.b() * d.t() * d.nkv() * d.hd();
        if (out.numel() != btc
                || q.numel() != btc
                || k.numel() != btkv
                || v.numel() != btkv
                || lse.numel() < lseElems(d)
                || scratch.numel() < scratchElems) {
            throw new IllegalArgumentException("tiled attention " + d + " block " + block + ": need q/out " + btc
                    + ", k/v " + btkv + ", lse >= " + lseElems(d) + ", scratch >= " + scratchElems
                    + " elements; got q " + q + ", k " + k + ", v " + v + ", out " + out + ", lse " + lse + ", scratch "
                    + scratch);
        }
    }
}
