// Forward passes against independent naive formulas written out in double (the gradient tests only
// prove backward agrees with forward; these prove forward computes what Llama defines).
package dev.shoal.runtime.ops;

import static dev.shoal.runtime.ops.GradCheck.randn;
import static org.junit.jupiter.api.Assertions.assertEquals;

import dev.shoal.runtime.model.LlamaConfig;
import dev.shoal.runtime.tensor.Compute;
import dev.shoal.runtime.tensor.Tensor;
import java.util.Optional;
import java.util.Random;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.Test;

class OpsForwardTest {
    private static final Compute CX = Compute.cpu(2);

    @AfterAll
    static void close() {
        CX.close();
    }

    @Test
    void attentionMatchesNaiveCausalGqa() {
        Random r = new Random(21);
        int b = 2, t = 5, nh = 6, nkv = 2, hd = 4, c = nh * hd, kvd = nkv * hd;
        Tensor q = randn(r, 1, b, t, c), k = randn(r, 1, b, t, kvd), v = randn(r, 1, b, t, kvd);
        Tensor out = Tensor.zeros(b, t, c), att = Tensor.zeros(b, nh, t, t);
        Attention.forward(CX, out, att, q, k, v, new Attention.Dims(b, t, nh, nkv, hd));
        for (int bb = 0; bb < b; bb++) {
            for (int h = 0; h < nh; h++) {
                int kh = h / (nh / nkv); // query heads 0..2 read KV head 0, 3..5 read KV head 1
                for (int i = 0; i < t; i++) {
                    double[] s = new double[i + 1];
                    double max = Double.NEGATIVE_INFINITY;
                    for (int j = 0; j <= i; j++) {
                        double dot = 0;
                        for (int e = 0; e < hd; e++) {
                            dot += q.at(bb, i, h * hd + e) * k.at(bb, j, kh * hd + e);
                        }
                        s[j] = dot / Math.sqrt(hd);
                        max = Math.max(max, s[j]);
                    }
                    double z = 0;
                    for (int j = 0; j <= i; j++) {
                        s[j] = Math.exp(s[j] - max);
                        z += s[j];
                    }
                    for (int e = 0; e < hd; e++) {
                        double o = 0;
                        for (int j = 0; j <= i; j++) {
                            o += s[j] / z * v.at(bb, j, kh * hd + e);
                        }
                        assertEquals(o, out.at(bb, i, h * hd + e), 1e-5, "b" + bb + " h" + h + " i" + i + " e" + e);
                    }
                    for (int j = i + 1; j < t; j++) {
                        assertEquals(0f, att.at(bb, h, i, j), "future position must get probability 0");
                    }
                }
            }
        }
    }

    @Test
    void rmsNormMatchesFormula() {
        Random r = new Random(22);
        Tensor x = randn(r, 3, 2, 8), w = randn(r, 1, 8), out = Tensor.zeros(2, 8), rstd = Tensor.zeros(2);
        RmsNorm.forward(CX, out, rstd, x, w, 1e-5);
        for (int i = 0; i < 2; i++) {
            double ms = 0;
            for (int j = 0; j < 8; j++) {
                ms += x.at(i, j) * x.at(i, j) / 8.0;
            }
            for (int j = 0; j < 8; j++) {
                assertEquals(w.get(j) * x.at(i, j) / Math.sqrt(ms + 1e-5), out.at(i, j), 1e-5);
            }
        }
    }

    @Test
    void ropeRotatesHalvesLikeHuggingFace() {
        int hd = 8, heads = 1, t = 4;
        LlamaConfig cfg = new LlamaConfig("r", 1, hd, 1, 1, 8, 8, 1e-5, 10_000, Optional.empty(), 8);
        Rope.Tables tab = Rope.tables(cfg, t);
        Random r = new Random(23);
        Tensor x = randn(r, 1, 1, t, heads, hd), out = Tensor.zeros(1, t, heads, hd);
        Rope.forward(CX, out, x, tab, 1, t, heads);
        for (int pos = 0; pos < t; pos++) {
            for (int i = 0; i < hd / 2; i++) {
                double theta = pos * Math.pow(10_000, -2.0 * i / hd);
                double x1 = x.at(0, pos, 0, i), x2 = x.at(0, pos, 0, i + hd / 2);
                assertEquals(x1 * Math.cos(theta) - x2 * Math.sin(theta), out.at(0, pos, 0, i), 1e-5);
                assertEquals(x2 * Math.cos(theta) + x1 * Math.sin(theta), out.at(0, pos, 0, i + hd / 2), 1e-5);
            }
        }
    }

    @Test
    void llama31FrequencyScalingMatchesHandComputedValues() {
        // hd 128, theta 500000, factor 8, low 1, high 4, original 8192 (Meta's Llama-3.1 values).
        LlamaConfig cfg = LlamaConfig.preset("llama3-8b");
        float[] plain = Rope.inverseFrequencies(cfg);
        float[] scaled = Rope.inverseFrequencies(cfg.withRopeScaling(LlamaConfig.RopeScaling.llama31()));
        // i = 0: wavelength 2π < 2048, kept.
        assertEquals(1.0f, scaled[0]);
        // i = 63: wavelength ≈ 2.6e6 > 8192, divided by 8.
        assertEquals(plain[63] / 8, scaled[63], plain[63] * 1e-6);
        // i = 32: inv ≈ 1.414e-3, wavelength ≈ 4443 in the band; smooth = (8192/4443 − 1)/3 ≈ 0.2813,
        // so scaled/plain = (1 − smooth)/8 + smooth ≈ 0.3711.
        assertEquals(0.3711, scaled[32] / plain[32], 1e-3);
    }

    @Test
    void crossEntropyMatchesHandComputedValue() {
        // Row [0, ln 3]: softmax [1/4, 3/4]; target 1 -> -ln(3/4). Second row ignored.
        Tensor logits = Tensor.of(new float[] {0f, (float) Math.log(3), 5f, -5f}, 2, 2);
        double loss = CrossEntropy.forward(CX, logits, new int[] {1, CrossEntropy.IGNORE_INDEX}, 0);
        assertEquals(-Math.log(0.75), loss, 1e-6);
    }

    @Test
    void swiGluMatchesFormula() {
        Random r = new Random(24);
        int n = 2, c = 3, f = 4;
        Tensor x = randn(r, 1, n, c), wg = randn(r, 1, f, c), wu = randn(r, 1, f, c), wd = randn(r, 1, c, f);
        Tensor out = Tensor.zeros(n, c), g = Tensor.zeros(n, f), u = Tensor.zeros(n, f), h = Tensor.zeros(n, f);
        SwiGlu.forward(CX, out, g, u, h, x, wg, wu, wd);
        for (int i = 0; i < n; i++) {
            for (int o = 0; o < c; o++) {
                double acc = 0;
                for (int j = 0; j < f; j++) {
                    double gv = 0, uv = 0;
                    for (int e = 0; e < c; e++) {
                        gv += x.at(i, e) * wg.at(j, e);
                        uv += x.at(i, e) * wu.at(j, e);
                    }
                    acc += gv / (1 + Math.exp(-gv)) * uv * wd.at(o, j);
                }
                assertEquals(acc, out.at(i, o), 1e-4);
            }
        }
    }
}
