// Rotary position embedding in Hugging Face's rotate_half convention, with optional Llama-3.1 scaling.
// Guarantees: a head vector [x1 | x2] (two halves of hd/2) at position t becomes
// [x1·cos − x2·sin | x2·cos + x1·sin] with angle t·invFreq[i]; the frequencies are computed in float32
// the way HF's LlamaRotaryEmbedding does, including _compute_llama3_parameters when scaling is set.
// In-place use (out == x) is allowed in both directions.
package dev.shoal.runtime.ops;

import dev.shoal.runtime.model.LlamaConfig;
import dev.shoal.runtime.tensor.Compute;
import dev.shoal.runtime.tensor.Scratch;
import dev.shoal.runtime.tensor.Tensor;

public final class Rope {
    private Rope() {}

    /** cos and sin of the rotation angles: [T, hd/2] each (HF duplicates them per half; we index twice). */
    public record Tables(
            Tensor cos, // [T, hd/2]
            Tensor sin, // [T, hd/2]
            int maxT,
            int headDim) {}

    /** The inverse frequencies [hd/2], float32 as HF computes them, after Llama-3.1 scaling if configured. */
    public static float[] inverseFrequencies(LlamaConfig cfg) {
        int hd = cfg.headDim();
        int half = hd / 2;
        float[] inv = new float[half];
        for (int i = 0; i < half; i++) {
            // HF: 1 / base ** (arange(0, hd, 2).float() / hd), all in float32.
            float exponent = (float) (2 * i) / (float) hd;
            inv[i] = (float) (1.0 / (float) Math.pow(cfg.ropeTheta(), exponent));
        }
        cfg.ropeScaling().ifPresent(sc -> {
            double lowFreqWavelen = sc.originalMaxPosition() / sc.lowFreqFactor();
            double highFreqWavelen = sc.originalMaxPosition() / sc.highFreqFactor();
            for (int i = 0; i < half; i++) {
                double wavelen = 2 * Math.PI / inv[i];
                if (wavelen > lowFreqWavelen) {
                    // Long wavelengths: slowed down by the full factor.
                    inv[i] = (float) (inv[i] / sc.factor());
                } else if (wavelen >= highFreqWavelen) {
                    // The band between: interpolate between scaled and unscaled.
                    double smooth = (sc.originalMaxPosition() / wavelen - sc.lowFreqFactor())
                            / (sc.highFreqFactor() - sc.lowFreqFactor());
                    inv[i] = (float) ((1 - smooth) * inv[i] / sc.factor() + smooth * inv[i]);
                }
                // Short wavelengths (< highFreqWavelen) are kept.
            }
        });
        return inv;
    }

    /** Tables for positions 0..maxT-1. */
    public static Tables tables(LlamaConfig cfg, int maxT) {
        int half = cfg.headDim() / 2;
        float[] inv = inverseFrequencies(cfg);
        Tensor cos = Tensor.zeros(maxT, half);
        Tensor sin = Tensor.zeros(maxT, half);
        for (int t = 0; t < maxT; t++) {
            for (int i = 0; i < half; i++) {
                // HF: freqs = t (float32) * inv_freq (float32), then cos/sin in float32.
                float angle = (float) t * inv[i];
                cos.set((long) t * half + i, (float) Math.cos(angle));
                sin.set((long) t * half + i, (float) Math.sin(angle));
            }
        }
        return new Tables(cos, sin, maxT, cfg.headDim());
    }

    /** out [B, T, nHeads, hd] = rotation of x (same shape) by position t; out may be x. */
    public static void forward(Compute cx, Tensor out, Tensor x, Tables tab, int b, int t, int nHeads) {
        apply(cx, out, x, tab, b, t, nHeads, 1f);
    }

    /** dx = Rᵀ · dout (assigned; the rotation is orthogonal, so this rotates by −angle); dx may be dout. */
    public static void backward(Compute cx, Tensor dx, Tensor dout, Tables tab, int b, int t, int nHeads) {
        apply(cx, dx, dout, tab, b, t, nHeads, -1f);
    }

    private static void apply(Compute cx, Tensor out, Tensor x, Tables tab, int b, int t, int nHeads, float sign) {
        int hd = tab.headDim();
        int half = hd / 2;
        if (t > tab.maxT()) {
            throw new IllegalArgumentException(
                    "sequence length " + t + " exceeds the RoPE tables (" + tab.maxT() + ")");
        }
        long expected = (long) b * t * nHeads * hd;
        if (x.numel() != expected || out.numel() != expected) {
            throw new IllegalArgumentException("rope: expected " + expected + " elements (B " + b + " T " + t
                    + " heads " + nHeads + " hd " + hd + "), got " + x + " -> " + out);
        }
        Tensor cosT = tab.cos();
        Tensor sinT = tab.sin();
        int width = nHeads * hd;
        cx.par().forRange((long) b * t, 16, (s, e) -> {
            float[] xr = Scratch.row(0, width), cr = Scratch.row(1, half), sr = Scratch.row(2, half);
            for (long bt = s; bt < e; bt++) {
                long pos = bt % t;
                cosT.read(pos * half, cr, 0, half);
                sinT.read(pos * half, sr, 0, half);
                x.read(bt * width, xr, 0, width);
                for (int h = 0; h < nHeads; h++) {
                    int base = h * hd;
                    for (int i = 0; i < half; i++) {
                        float c = cr[i];
                        float sn = sign * sr[i];
                        float x1 = xr[base + i];
                        float x2 = xr[base + half + i];
                        // First half: x1·cos − x2·sin; second half: x2·cos + x1·sin (sin negated for backward).
                        xr[base + i] = x1 * c - x2 * sn;
                        xr[base + half + i] = x2 * c + x1 * sn;
                    }
                }
                out.write(bt * width, xr, 0, width);
            }
        });
    }
}
