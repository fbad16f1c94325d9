// The whole CPU Llama model: HF names and shapes, finite-difference gradients of every parameter tensor,
// bit-identical recompute, causality and batch independence.
package dev.shoal.runtime.model;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.shoal.runtime.ops.CrossEntropy;
import dev.shoal.runtime.ops.GradCheck;
import dev.shoal.runtime.tensor.Compute;
import dev.shoal.runtime.tensor.Tensor;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Random;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.Test;

class LlamaModelTest {
    private static final Compute CX = Compute.cpu(2);
    private static final LlamaConfig TINY = LlamaConfig.preset("tiny");

    @AfterAll
    static void close() {
        CX.close();
    }

    static int[] randomTokens(Random r, int n, int v) {
        int[] x = new int[n];
        for (int i = 0; i < n; i++) {
            x[i] = r.nextInt(v);
        }
        return x;
    }

    @Test
    void parametersCarryHuggingFaceNamesAndShapes() {
        LlamaModel m = new LlamaModel(TINY, 1, 4, CX, false);
        Map<String, Tensor> p = m.params();
        List<String> names = new ArrayList<>(p.keySet());
        assertEquals("model.embed_tokens.weight", names.get(0));
        assertEquals("model.layers.0.input_layernorm.weight", names.get(1));
        assertEquals("lm_head.weight", names.get(names.size() - 1));
        assertEquals("model.norm.weight", names.get(names.size() - 2));
        assertEquals(2 + 9 * TINY.layers() + 1, names.size());
        int c = TINY.dim(), kv = TINY.kvDim(), f = TINY.ffnDim(), v = TINY.vocab();
        assertArrayEquals(new int[] {v, c}, p.get("model.embed_tokens.weight").shape());
        assertArrayEquals(
                new int[] {c}, p.get("model.layers.1.input_layernorm.weight").shape());
        assertArrayEquals(
                new int[] {c, c},
                p.get("model.layers.1.self_attn.q_proj.weight").shape());
        assertArrayEquals(
                new int[] {kv, c},
                p.get("model.layers.1.self_attn.k_proj.weight").shape());
        assertArrayEquals(
                new int[] {kv, c},
                p.get("model.layers.1.self_attn.v_proj.weight").shape());
        assertArrayEquals(
                new int[] {c, c},
                p.get("model.layers.1.self_attn.o_proj.weight").shape());
        assertArrayEquals(
                new int[] {c},
                p.get("model.layers.1.post_attention_layernorm.weight").shape());
        assertArrayEquals(
                new int[] {f, c}, p.get("model.layers.1.mlp.gate_proj.weight").shape());
        assertArrayEquals(
                new int[] {f, c}, p.get("model.layers.1.mlp.up_proj.weight").shape());
        assertArrayEquals(
                new int[] {c, f}, p.get("model.layers.1.mlp.down_proj.weight").shape());
        assertArrayEquals(new int[] {v, c}, p.get("lm_head.weight").shape());
        assertEquals(new ArrayList<>(p.keySet()), new ArrayList<>(m.grads().keySet()));
        long total = p.values().stream().mapToLong(Tensor::numel).sum();
        assertEquals(TINY.paramCount(), total);
        assertEquals(total, m.flatParams().numel());
    }

    @Test
    void initIsSeededAndStartsNearUniformLoss() {
        LlamaModel a = new LlamaModel(TINY, 2, 64, CX, false);
        LlamaModel b = new LlamaModel(TINY, 2, 64, CX, false);
        a.initRandom(42);
        b.initRandom(42);
        assertArrayEquals(a.flatParams().toArray(), b.flatParams().toArray());
        assertEquals(1f, a.params().get("model.norm.weight").get(3));
        Tensor emb = a.params().get("model.embed_tokens.weight");
        double ss = 0;
        for (long i = 0; i < emb.numel(); i++) {
            ss += emb.get(i) * emb.get(i);
        }
        assertEquals(0.02, Math.sqrt(ss / emb.numel()), 0.001);
        Random r = new Random(3);
        double loss = a.forward(randomTokens(r, 128, 512), randomTokens(r, 128, 512), 2, 64);
        // Logits have std 0.02·sqrt(C) = 0.16, so the expected loss is ln V + 0.16²/2 ≈ ln V + 0.013,
        // with a sampling std of about 0.16/sqrt(128) = 0.014 over 128 targets.
        assertEquals(Math.log(TINY.vocab()) + 0.013, loss, 0.05, "small init gives near-uniform predictions");
        b.initRandom(43);
        assertTrue(a.params().get("lm_head.weight").get(0)
                != b.params().get("lm_head.weight").get(0));
    }

    /** Every parameter tensor, a few elements each, against central differences of the model's loss. */
    @Test
    void wholeModelGradientsMatchFiniteDifferences() {
        Random r = new Random(5);
        int b = 2, t = 7;
        LlamaModel m = new LlamaModel(TINY, b, t, CX, false);
        // Larger weights than the 0.02 init so activations and gradients are well away from zero.
        for (Tensor p : m.params().values()) {
            for (long i = 0; i < p.numel(); i++) {
                p.set(i, (float) (p.rank() == 1 ? 1 + 0.2 * r.nextGaussian() : 0.15 * r.nextGaussian()));
            }
        }
        int[] tokens = randomTokens(r, b * t, TINY.vocab());
        int[] targets = randomTokens(r, b * t, TINY.vocab());
        targets[3] = CrossEntropy.IGNORE_INDEX;
        m.zeroGrad();
        m.forward(tokens, targets, b, t);
        m.backward();
        Tensor grads = m.flatGrads().copy();
        double worst = 0;
        for (Map.Entry<String, Tensor> e : m.params().entrySet()) {
            long off = (e.getValue().address() - m.flatParams().address()) / Float.BYTES;
            Tensor p = e.getValue().view((int) e.getValue().numel());
            Tensor g = grads.flatRange(off, (int) e.getValue().numel());
            if (e.getKey().equals("model.embed_tokens.weight")) {
                // Only the rows of tokens in the batch have a gradient: check the row of the first token.
                int c = TINY.dim();
                p = p.flatRange((long) tokens[0] * c, c);
                g = g.flatRange((long) tokens[0] * c, c);
            }
            GradCheck.Result res =
                    GradCheck.check(e.getKey(), p, g, () -> m.forward(tokens, targets, b, t), 6, 1e-2, r);
            GradCheck.assertWithin(res, 1e-2);
            worst = Math.max(worst, res.maxErr());
        }
        System.out.println("tiny model gradcheck: worst relative error " + worst);
    }

    @Test
    void recomputeGivesBitIdenticalGradients() {
        Random r = new Random(9);
        int b = 2, t = 12;
        LlamaModel plain = new LlamaModel(TINY, b, t, CX, false);
        LlamaModel recomp = new LlamaModel(TINY, b, t, CX, true);
        plain.initRandom(1);
        recomp.initRandom(1);
        int[] x = randomTokens(r, b * t, TINY.vocab()), y = randomTokens(r, b * t, TINY.vocab());
        double l1 = plain.forward(x, y, b, t);
        double l2 = recomp.forward(x, y, b, t);
        assertEquals(Double.doubleToLongBits(l1), Double.doubleToLongBits(l2));
        plain.backward();
        recomp.backward();
        float[] g1 = plain.flatGrads().toArray(), g2 = recomp.flatGrads().toArray();
        for (int i = 0; i < g1.length; i++) {
            assertEquals(Float.floatToIntBits(g1[i]), Float.floatToIntBits(g2[i]), "gradient element " + i);
        }
        assertTrue(recomp.activationBytes() < plain.activationBytes());
    }

    @Test
    void gradientsAreBitIdenticalOnOneAndThreeThreads() {
        Random r = new Random(13);
        int b = 2, t = 40;
        int[] x = randomTokens(r, b * t, TINY.vocab()), y = randomTokens(r, b * t, TINY.vocab());
        float[][] grads = new float[2][];
        double[] losses = new double[2];
        int[] threads = {1, 3};
        for (int k = 0; k < 2; k++) {
            try (Compute cx = Compute.cpu(threads[k])) {
                LlamaModel m = new LlamaModel(TINY, b, t, cx, false);
                m.initRandom(5);
                losses[k] = m.forward(x, y, b, t);
                m.backward();
                grads[k] = m.flatGrads().toArray();
            }
        }
        assertEquals(Double.doubleToLongBits(losses[0]), Double.doubleToLongBits(losses[1]));
        for (int i = 0; i < grads[0].length; i++) {
            assertEquals(Float.floatToIntBits(grads[0][i]), Float.floatToIntBits(grads[1][i]), "gradient " + i);
        }
    }

    @Test
    void laterTokensDoNotChangeEarlierLogitsAndBatchRowsAreIndependent() {
        Random r = new Random(10);
        int b = 2, t = 9;
        LlamaModel m = new LlamaModel(TINY, b, t, CX, false);
        m.initRandom(7);
        int[] x = randomTokens(r, b * t, TINY.vocab());
        m.forward(x, null, b, t);
        float[] before = m.logits().toArray();
        // Change the last token of sequence 0: its earlier positions and all of sequence 1 must not move.
        x[t - 1] = (x[t - 1] + 1) % TINY.vocab();
        m.forward(x, null, b, t);
        float[] after = m.logits().toArray();
        int v = TINY.vocab();
        for (int i = 0; i < b * t * v; i++) {
            int pos = i / v;
            if (pos != t - 1) {
                assertEquals(before[i], after[i], 0f, "logit " + i + " at position " + pos);
            }
        }
        // Sequence 1 alone (B = 1) gives the same logits as inside the batch.
        int[] second = java.util.Arrays.copyOfRange(x, t, 2 * t);
        m.forward(second, null, 1, t);
        float[] alone = m.logits().toArray();
        for (int i = 0; i < t * v; i++) {
            assertEquals(after[t * v + i], alone[i], 1e-5f, "logit " + i);
        }
    }

    @Test
    void offHeapTokensGiveTheSameLoss() {
        Random r = new Random(12);
        LlamaModel m = new LlamaModel(TINY, 1, 6, CX, false);
        m.initRandom(2);
        int[] x = randomTokens(r, 6, TINY.vocab()), y = randomTokens(r, 6, TINY.vocab());
        double onHeap = m.forward(x, y, 1, 6);
        double offHeap =
                m.forward(new org.bytedeco.javacpp.IntPointer(x), new org.bytedeco.javacpp.IntPointer(y), 1, 6);
        assertEquals(onHeap, offHeap);
    }

    @Test
    void misuseIsReportedClearly() {
        LlamaModel m = new LlamaModel(TINY, 1, 4, CX, false);
        IllegalArgumentException big =
                assertThrows(IllegalArgumentException.class, () -> m.forward(new int[8], new int[8], 2, 4));
        assertTrue(big.getMessage().contains("max B 1"), big.getMessage());
        IllegalArgumentException tok =
                assertThrows(IllegalArgumentException.class, () -> m.forward(new int[] {0, 1, 600, 2}, null, 1, 4));
        assertTrue(tok.getMessage().contains("token 600 at position 2"), tok.getMessage());
        m.forward(new int[4], null, 1, 4);
        assertThrows(IllegalStateException.class, m::backward);
    }
}
