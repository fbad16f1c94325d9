// AdamW against values worked out by hand from torch.optim.AdamW's update rule, and end-to-end training.
package dev.shoal.runtime.optim;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.shoal.runtime.model.LlamaConfig;
import dev.shoal.runtime.model.LlamaModel;
import dev.shoal.runtime.tensor.Compute;
import dev.shoal.runtime.tensor.Parallel;
import dev.shoal.runtime.tensor.Tensor;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Random;
import org.junit.jupiter.api.Test;

class AdamWTest {
    @Test
    void threeStepsMatchHandComputedValues() {
        // A 2-D weight (decayed) and a 1-D norm weight (not decayed), both starting at 1 with the same grads.
        Tensor w = Tensor.of(new float[] {1f, 1f}, 1, 2);
        Tensor n = Tensor.of(new float[] {1f}, 1);
        Tensor dw = Tensor.zeros(1, 2), dn = Tensor.zeros(1);
        Map<String, Tensor> params = new LinkedHashMap<>(), grads = new LinkedHashMap<>();
        params.put("w", w);
        params.put("norm", n);
        grads.put("w", dw);
        grads.put("norm", dn);
        AdamW opt = new AdamW(params, grads, new AdamWConfig(0.9, 0.95, 1e-8, 0.1), Parallel.serial());
        assertTrue(opt.decays("w"));
        assertFalse(opt.decays("norm"));
        float[] g = {0.5f, -0.25f, 0.125f};
        double[] lr = {0.1, 0.1, 0.05};
        // Step 1: p = 1·(1 − 0.1·0.1) = 0.99; m = 0.05, v = 0.0125; m̂ = 0.5, v̂ = 0.25, so the update is
        // lr·0.5/(0.5 + 1e-8) ≈ 0.1 and p = 0.89 (0.9 without decay). Steps 2 and 3 follow the same rule:
        // step 2: m = 0.02, v = 0.015, step size 0.1/0.19, denom sqrt(0.015/0.0975) -> update 0.0268375.
        double[] wantDecayed = {0.890000002, 0.8542630578558273, 0.8326576616671211};
        double[] wantPlain = {0.900000002, 0.8731630578758274, 0.8558289769764003};
        for (int s = 0; s < 3; s++) {
            dw.fill(g[s]);
            dn.fill(g[s]);
            opt.step(lr[s]);
            assertEquals(wantDecayed[s], w.get(1), 1e-6, "decayed weight after step " + (s + 1));
            assertEquals(wantPlain[s], n.get(0), 1e-6, "norm weight after step " + (s + 1));
        }
        assertEquals(3, opt.stepCount());
        assertEquals(0.02 + 0.1 * (0.125 - 0.02), opt.state().get("w").expAvg().get(0), 1e-7);
        assertThrows(IllegalArgumentException.class, () -> new AdamWConfig(1.0, 0.95, 1e-8, 0.1));
        assertThrows(IllegalArgumentException.class, () -> opt.step(Double.NaN));
    }

    @Test
    void mismatchedGradientIsNamed() {
        Map<String, Tensor> p = Map.of("a", Tensor.zeros(2, 2));
        Map<String, Tensor> g = Map.of("a", Tensor.zeros(4));
        IllegalArgumentException e = assertThrows(
                IllegalArgumentException.class, () -> new AdamW(p, g, AdamWConfig.llama(), Parallel.serial()));
        assertTrue(e.getMessage().contains("'a'"), e.getMessage());
    }

    @Test
    void tinyModelOverfitsOneBatch() {
        try (Compute cx = Compute.cpu(2)) {
            LlamaConfig cfg = LlamaConfig.preset("tiny");
            int b = 2, t = 16;
            LlamaModel m = new LlamaModel(cfg, b, t, cx, false);
            m.initRandom(0);
            AdamW opt = new AdamW(m.params(), m.grads(), new AdamWConfig(0.9, 0.95, 1e-8, 0.0), cx.par());
            Random r = new Random(4);
            int[] x = new int[b * t], y = new int[b * t];
            for (int i = 0; i < x.length; i++) {
                x[i] = r.nextInt(cfg.vocab());
                y[i] = r.nextInt(cfg.vocab());
            }
            double first = 0, last = 0;
            for (int step = 0; step < 30; step++) {
                m.zeroGrad();
                last = m.forward(x, y, b, t);
                if (step == 0) {
                    first = last;
                }
                m.backward();
                GradClip.clipGlobalNorm(m.grads().values(), 1.0, cx.par());
                opt.step(1e-2);
            }
            assertTrue(last < 0.3 * first, "loss " + first + " -> " + last + " after 30 steps on one batch");
        }
    }
}
