// Causal grouped-query self-attention on already-projected, already-rotated q, k, v.
// Guarantees: query head h reads KV head h / G; scores are scaled by 1/sqrt(hd); position i attends to
// j <= i only (masked probabilities are exactly 0). QKᵀ, PV and all four backward products go through
// Gemm. Work is split over (batch, KV head) pairs, so the G query heads that add into one KV head's
// gradient run in a fixed order on one thread: results do not depend on the thread count.
// For T >= TILED_MIN_T the work goes to TiledAttention (query blocks of TILE rows, causal blocks
// skipped, only the per-row log-sum-exp saved); the path is chosen by the shape alone, never the thread
// count. Below that the T×T path is faster on the CPU (AttentionBench: at T 128/256 the tiled path's
// extra score recomputation and its many small GEMM calls cost more than the skipped blocks save).
package dev.shoal.runtime.ops;

import dev.shoal.runtime.tensor.Compute;
import dev.shoal.runtime.tensor.FastMath;
import dev.shoal.runtime.tensor.Gemm;
import dev.shoal.runtime.tensor.Scratch;
import dev.shoal.runtime.tensor.Tensor;

public final class Attention {
    private Attention() {}

    /** Query rows per block of the tiled path. */
    public static final int TILE = 64;

    /** Sequence length from which the tiled path runs (measured crossover, AttentionBench). */
    public static final int TILED_MIN_T = 512;

    /** Whether these sizes run the tiled path (shape only: the same on every thread count). */
    public static boolean tiled(Dims d) {
        return d.t() >= TILED_MIN_T;
    }

    /** The sizes of one attention call. */
    public record Dims(int b, int t, int nh, int nkv, int hd) {
        public Dims {
            if (b < 1 || t < 1 || nh < 1 || nkv < 1 || hd < 1 || nh % nkv != 0) {
                throw new IllegalArgumentException("attention dims need positive sizes and NKV dividing NH: B " + b
                        + " T " + t + " NH " + nh + " NKV " + nkv + " hd " + hd);
            }
        }

        int c() {
            return nh * hd;
        }

        int kvDim() {
            return nkv * hd;
        }

        int group() {
            return nh / nkv;
        }

        long attElems() {
            return (long) b * nh * t * t;
        }
    }

    /**
     * out [B, T, C] = softmax(q·kᵀ/sqrt(hd) + causal mask)·v per head; att [B, NH, T, T] keeps the
     * probabilities for the backward pass. q [B, T, C], k and v [B, T, kvDim]. When tiled(d), att's
     * first B·NH·T elements keep the rows' log-sum-exp instead and the rest is scratch.
     */
    public static void forward(Compute cx, Tensor out, Tensor att, Tensor q, Tensor k, Tensor v, Dims d) {
        check(d, out, att, q, k, v);
        if (tiled(d)) {
            long lseElems = TiledAttention.lseElems(d);
            TiledAttention.forward(
                    cx,
                    out,
                    att.flatRange(0, Math.toIntExact(lseElems)),
                    att.flatRange(lseElems, Math.toIntExact(TiledAttention.forwardScratchElems(d, TILE))),
                    q,
                    k,
                    v,
                    d,
                    TILE);
            return;
        }
        forwardFull(cx, out, att, q, k, v, d);
    }

    /** The T×T path of forward for any shape (att keeps the probabilities). */
    public static void forwardFull(Compute cx, Tensor out, Tensor att, Tensor q, Tensor k, Tensor v, Dims d) {
        check(d, out, att, q, k, v);
        int t = d.t(), hd = d.hd(), c = d.c(), kvDim = d.kvDim();
        float scale = (float) (1.0 / Math.sqrt(hd));
        Gemm gemm = cx.gemm();
        cx.par().forRange((long) d.b() * d.nkv(), 1, (s, e) -> {
            for (long bk = s; bk < e; bk++) {
                int b = (int) (bk / d.nkv()), kvh = (int) (bk % d.nkv());
                long kOff = (long) b * t * kvDim + (long) kvh * hd;
                for (int g = 0; g < d.group(); g++) {
                    int h = kvh * d.group() + g;
                    long qOff = (long) b * t * c + (long) h * hd;
                    long aOff = ((long) b * d.nh() + h) * t * t;
                    // Scores: S [T, T] = scale · Q_h [T, hd] · K_kvh [T, hd]ᵀ.
                    gemm.sgemm(false, true, t, t, hd, scale, q, qOff, c, k, kOff, kvDim, 0f, att, aOff, t);
                    // Causal softmax of each row i over j <= i; j > i set to exactly 0.
                    float[] row = Scratch.row(0, t);
                    for (int i = 0; i < t; i++) {
                        long rowOff = aOff + (long) i * t;
                        att.read(rowOff, row, 0, i + 1);
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
                        java.util.Arrays.fill(row, i + 1, t, 0f);
                        att.write(rowOff, row, 0, t);
                    }
                    // Output: O_h [T, hd] = P [T, T] · V_kvh [T, hd], written into the head's columns of out.
                    gemm.sgemm(false, false, t, hd, t, 1f, att, aOff, t, v, kOff, kvDim, 0f, out, qOff, c);
                }
            }
        });
    }

    /**
     * dq [B, T, C], dk and dv [B, T, kvDim] (all assigned) from dout [B, T, C], using the saved att
     * probabilities (or log-sum-exp, when tiled(d)); datt [B, NH, T, T] is scratch.
     */
    public static void backward(
            Compute cx,
            Tensor dq,
            Tensor dk,
            Tensor dv,
            Tensor datt,
            Tensor dout,
            Tensor q,
            Tensor k,
            Tensor v,
            Tensor att,
            Dims d) {
        check(d, dout, att, q, k, v);
        check(d, dq, datt, q, dk, dv);
        if (tiled(d)) {
            TiledAttention.backward(
                    cx,
                    dq,
                    dk,
                    dv,
                    datt.flatRange(0, Math.toIntExact(TiledAttention.backwardScratchElems(d, TILE))),
                    dout,
                    q,
                    k,
                    v,
                    att.flatRange(0, Math.toIntExact(TiledAttention.lseElems(d))),
                    d,
                    TILE);
            return;
        }
        backwardFull(cx, dq, dk, dv, datt, dout, q, k, v, att, d);
    }

    /** The T×T path of backward for any shape (att holds forwardFull's probabilities). */
    public static void backwardFull(
            Compute cx,
            Tensor dq,
            Tensor dk,
            Tensor dv,
            Tensor datt,
            Tensor dout,
            Tensor q,
            Tensor k,
            Tensor v,
            Tensor att,
            Dims d) {
        check(d, dout, att, q, k, v);
        check(d, dq, datt, q, dk, dv);
        int t = d.t(), hd = d.hd(), c = d.c(), kvDim = d.kvDim();
        float scale = (float) (1.0 / Math.sqrt(hd));
        Gemm gemm = cx.gemm();
        cx.par().forRange((long) d.b() * d.nkv(), 1, (s, e) -> {
            for (long bk = s; bk < e; bk++) {
                int b = (int) (bk / d.nkv()), kvh = (int) (bk % d.nkv());
                long kOff = (long) b * t * kvDim + (long) kvh * hd;
                for (int g = 0; g < d.group(); g++) {
                    int h = kvh * d.group() + g;
                    long qOff = (long) b * t * c + (long) h * hd;
                    long aOff = ((long) b * d.nh() + h) * t * t;
                    // The first query head of a group assigns dk, dv; the others add to them.
                    float beta = g == 0 ? 0f : 1f;
                    // dV term: dV_kvh [T, hd] (+)= Pᵀ [T, T] · dO_h [T, hd].
                    gemm.sgemm(true, false, t, hd, t, 1f, att, aOff, t, dout, qOff, c, beta, dv, kOff, kvDim);
                    // dP [T, T] = dO_h [T, hd] · V_kvh [T, hd]ᵀ.
                    gemm.sgemm(false, true, t, t, hd, 1f, dout, qOff, c, v, kOff, kvDim, 0f, datt, aOff, t);
                    // Softmax backward per row: dS_ij = scale · P_ij · (dP_ij − Σ_l P_il dP_il), j <= i; else 0.
                    float[] pr = Scratch.row(0, t), dr = Scratch.row(1, t);
                    for (int i = 0; i < t; i++) {
                        long rowOff = aOff + (long) i * t;
                        att.read(rowOff, pr, 0, i + 1);
                        datt.read(rowOff, dr, 0, i + 1);
                        double dot = 0;
                        for (int j = 0; j <= i; j++) {
                            dot += (double) pr[j] * dr[j];
                        }
                        float fdot = (float) dot;
                        for (int j = 0; j <= i; j++) {
                            dr[j] = scale * pr[j] * (dr[j] - fdot);
                        }
                        java.util.Arrays.fill(dr, i + 1, t, 0f);
                        datt.write(rowOff, dr, 0, t);
                    }
                    // dQ term: dQ_h [T, hd] = dS [T, T] · K_kvh [T, hd].
                    gemm.sgemm(false, false, t, hd, t, 1f, datt, aOff, t, k, kOff, kvDim, 0f, dq, qOff, c);
                    // dK term: dK_kvh [T, hd] (+)= dSᵀ [T, T] · Q_h [T, hd].
                    gemm.sgemm(true, false, t, hd, t, 1f, datt, aOff, t, q, qOff, c, beta, dk, kOff, kvDim);
                }
            }
        });
    }

    private static void check(Dims d, Tensor out, Tensor att, Tensor q, Tensor k, Tensor v) {
        long btc = (long) d.b() * d.t() * d.c();
        long btkv = (long) d.b() * d.t() * d.kvDim();
        if (out.numel() != btc
                || q.numel() != btc
                || k.numel() != btkv
                || v.numel() != btkv
                || att.numel() != d.attElems()) {
            throw new IllegalArgumentException("attention " + d + ": need q/out " + btc + ", k/v " + btkv + ", att "
                    + d.attElems() + " elements; got q " + q + ", k " + k + ", v " + v + ", out " + out + ", att "
                    + att);
        }
    }
}
