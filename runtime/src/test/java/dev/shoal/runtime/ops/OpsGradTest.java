// Finite-difference checks of every op's backward pass (see GradCheck for the error measure).
// Each op's output is reduced to L = Σ out ⊙ R with fixed random R, so dout = R; the loss is summed in
// double. Tolerances are stated per test; they sit well below the 1% error GradCheckTest proves is caught.
package dev.shoal.runtime.ops;

import static dev.shoal.runtime.ops.GradCheck.assertWithin;
import static dev.shoal.runtime.ops.GradCheck.check;
import static dev.shoal.runtime.ops.GradCheck.randn;
import static dev.shoal.runtime.ops.GradCheck.weighted;
import static org.junit.jupiter.api.Assertions.assertThrows;

import dev.shoal.runtime.model.LlamaConfig;
import dev.shoal.runtime.tensor.Compute;
import dev.shoal.runtime.tensor.Tensor;
import java.util.Optional;
import java.util.Random;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.Test;

class OpsGradTest {
    private static final Compute CX = Compute.cpu(2);
    private static final int SAMPLES = 48;
    private static final double H = 1e-2;
    /** Relative error allowed for ops that are smooth at the scale of H. */
    private static final double TOL = 2e-3;

    @AfterAll
    static void close() {
        CX.close();
    }

    @Test
    void embedding() {
        Random r = new Random(11);
        int n = 7, c = 5, v = 9;
        int[] tokens = {3, 0, 8, 3, 3, 1, 8};
        Tensor wte = randn(r, 1, v, c);
        Tensor out = Tensor.zeros(n, c);
        Tensor rr = randn(r, 1, n, c);
        Tensor dwte = Tensor.zeros(v, c);
        Embedding.forward(CX, out, tokens, 0, wte);
        Embedding.backward(CX, dwte, rr, tokens, 0);
        var loss = (java.util.function.DoubleSupplier) () -> {
            Embedding.forward(CX, out, tokens, 0, wte);
            return weighted(out, rr);
        };
        assertWithin(check("embedding dwte", wte, dwte, loss, 100, H, r), 1e-4);
        assertThrows(
                IllegalArgumentException.class,
                () -> Embedding.forward(CX, out, new int[] {0, 1, 2, 3, 4, 5, 9}, 0, wte));
    }

    @Test
    void rmsNorm() {
        Random r = new Random(12);
        int n = 6, c = 16;
        double eps = 1e-5;
        Tensor x = randn(r, 1, n, c);
        Tensor w = randn(r, 1, c);
        Tensor out = Tensor.zeros(n, c), rstd = Tensor.zeros(n);
        Tensor rr = randn(r, 1, n, c);
        Tensor dx = Tensor.zeros(n, c), dw = Tensor.zeros(c);
        RmsNorm.forward(CX, out, rstd, x, w, eps);
        RmsNorm.backward(CX, dx, dw, rr, x, w, rstd);
        var loss = (java.util.function.DoubleSupplier) () -> {
            RmsNorm.forward(CX, out, rstd, x, w, eps);
            return weighted(out, rr);
        };
        assertWithin(check("rmsnorm dx", x, dx, loss, SAMPLES, H, r), TOL);
        assertWithin(check("rmsnorm dw", w, dw, loss, SAMPLES, H, r), TOL);
        // The accumulating form adds exactly the same input gradient onto what dx held.
        Tensor dx2 = Tensor.zeros(n, c), dw2 = Tensor.zeros(c);
        dx2.fill(1f);
        RmsNorm.forward(CX, out, rstd, x, w, eps);
        RmsNorm.backward(CX, dx2, dw2, rr, x, w, rstd, true);
        for (long i = 0; i < dx.numel(); i++) {
            org.junit.jupiter.api.Assertions.assertEquals(1f + dx.get(i), dx2.get(i), 1e-6f);
        }
    }

    @Test
    void linear() {
        Random r = new Random(13);
        int n = 5, in = 7, outDim = 3;
        Tensor x = randn(r, 1, n, in), w = randn(r, 1, outDim, in);
        Tensor y = Tensor.zeros(n, outDim), rr = randn(r, 1, n, outDim);
        Tensor dx = Tensor.zeros(n, in), dw = Tensor.zeros(outDim, in);
        Linear.backward(CX, dx, dw, rr, x, w, false);
        var loss = (java.util.function.DoubleSupplier) () -> {
            Linear.forward(CX, y, x, w);
            return weighted(y, rr);
        };
        assertWithin(check("linear dx", x, dx, loss, SAMPLES, H, r), TOL);
        assertWithin(check("linear dw", w, dw, loss, SAMPLES, H, r), TOL);
    }

    @Test
    void rope() {
        Random r = new Random(14);
        int b = 2, t = 5, heads = 3, hd = 8;
        LlamaConfig cfg = new LlamaConfig("t", 1, heads * hd, heads, heads, 8, 8, 1e-5, 10_000, Optional.empty(), 16);
        Rope.Tables tab = Rope.tables(cfg, t);
        Tensor x = randn(r, 1, b, t, heads, hd);
        Tensor out = Tensor.zeros(b, t, heads, hd), rr = randn(r, 1, b, t, heads, hd);
        Tensor dx = Tensor.zeros(b, t, heads, hd);
        Rope.backward(CX, dx, rr, tab, b, t, heads);
        var loss = (java.util.function.DoubleSupplier) () -> {
            Rope.forward(CX, out, x, tab, b, t, heads);
            return weighted(out, rr);
        };
        assertWithin(check("rope dx", x, dx, loss, SAMPLES, H, r), TOL);
    }

    @Test
    void attention() {
        Random r = new Random(15);
        Attention.Dims d = new Attention.Dims(2, 6, 4, 2, 4);
        int c = d.nh() * d.hd(), kv = d.nkv() * d.hd();
        Tensor q = randn(r, 1, d.b(), d.t(), c), k = randn(r, 1, d.b(), d.t(), kv), v = randn(r, 1, d.b(), d.t(), kv);
        Tensor out = Tensor.zeros(d.b(), d.t(), c), att = Tensor.zeros(d.b(), d.nh(), d.t(), d.t());
        Tensor rr = randn(r, 1, d.b(), d.t(), c);
        Tensor dq = Tensor.zeros(d.b(), d.t(), c),
                dk = Tensor.zeros(d.b(), d.t(), kv),
                dv = Tensor.zeros(d.b(), d.t(), kv);
        Tensor datt = Tensor.zeros(d.b(), d.nh(), d.t(), d.t());
        // Pre-fill gradients with garbage: backward must assign, not add.
        dq.fill(7f);
        dk.fill(7f);
        dv.fill(7f);
        Attention.forward(CX, out, att, q, k, v, d);
        Attention.backward(CX, dq, dk, dv, datt, rr, q, k, v, att, d);
        var loss = (java.util.function.DoubleSupplier) () -> {
            Attention.forward(CX, out, att, q, k, v, d);
            return weighted(out, rr);
        };
        assertWithin(check("attention dq", q, dq, loss, SAMPLES, H, r), TOL);
        assertWithin(check("attention dk", k, dk, loss, SAMPLES, H, r), TOL);
        assertWithin(check("attention dv", v, dv, loss, SAMPLES, H, r), TOL);
    }

    @Test
    void swiGlu() {
        Random r = new Random(16);
        int n = 4, c = 6, f = 10;
        Tensor x = randn(r, 1, n, c), wg = randn(r, 0.5, f, c), wu = randn(r, 0.5, f, c), wd = randn(r, 0.5, c, f);
        Tensor out = Tensor.zeros(n, c), gate = Tensor.zeros(n, f), up = Tensor.zeros(n, f), h = Tensor.zeros(n, f);
        Tensor rr = randn(r, 1, n, c);
        Tensor dx = Tensor.zeros(n, c), dwg = Tensor.zeros(f, c), dwu = Tensor.zeros(f, c), dwd = Tensor.zeros(c, f);
        Tensor dh = Tensor.zeros(n, f), dgate = Tensor.zeros(n, f), dup = Tensor.zeros(n, f);
        SwiGlu.forward(CX, out, gate, up, h, x, wg, wu, wd);
        SwiGlu.backward(CX, dx, dwg, dwu, dwd, dh, dgate, dup, rr, x, gate, up, h, wg, wu, wd);
        var loss = (java.util.function.DoubleSupplier) () -> {
            SwiGlu.forward(CX, out, gate, up, h, x, wg, wu, wd);
            return weighted(out, rr);
        };
        assertWithin(check("swiglu dx", x, dx, loss, SAMPLES, H, r), TOL);
        assertWithin(check("swiglu dwGate", wg, dwg, loss, SAMPLES, H, r), TOL);
        assertWithin(check("swiglu dwUp", wu, dwu, loss, SAMPLES, H, r), TOL);
        assertWithin(check("swiglu dwDown", wd, dwd, loss, SAMPLES, H, r), TOL);
    }

    @Test
    void crossEntropy() {
        Random r = new Random(17);
        int n = 6, v = 11;
        Tensor logits = randn(r, 2, n, v);
        int[] targets = {3, CrossEntropy.IGNORE_INDEX, 0, 10, 5, CrossEntropy.IGNORE_INDEX};
        Tensor dlogits = Tensor.zeros(n, v);
        CrossEntropy.backward(CX, dlogits, logits, targets, 0, 1f);
        var loss = (java.util.function.DoubleSupplier) () -> CrossEntropy.forward(CX, logits, targets, 0);
        assertWithin(check("cross-entropy dlogits", logits, dlogits, loss, 100, H, r), TOL);
        // The saved log-sum-exp path gives the same gradient (up to lse's float rounding).
        Tensor lse = Tensor.zeros(n), dlogits2 = Tensor.zeros(n, v);
        CrossEntropy.forward(CX, logits, targets, 0, lse);
        CrossEntropy.backward(CX, dlogits2, logits, targets, 0, 1f, lse);
        for (long i = 0; i < dlogits.numel(); i++) {
            org.junit.jupiter.api.Assertions.assertEquals(dlogits.get(i), dlogits2.get(i), 1e-6f);
        }
        assertThrows(
                IllegalArgumentException.class,
                () -> CrossEntropy.forward(CX, logits, new int[] {0, 0, 0, 0, 0, 11}, 0));
    }

    @Test
    void residual() {
        Random r = new Random(18);
        Tensor a = randn(r, 1, 3, 4), b = randn(r, 1, 3, 4), out = Tensor.zeros(3, 4), rr = randn(r, 1, 3, 4);
        // Both branches receive dout: start each from zero and add the stream's gradient.
        Tensor da = Tensor.zeros(3, 4), db = Tensor.zeros(3, 4);
        Residual.backward(CX, da, rr);
        Residual.backward(CX, db, rr);
        var loss = (java.util.function.DoubleSupplier) () -> {
            Residual.forward(CX, out, a, b);
            return weighted(out, rr);
        };
        assertWithin(check("residual da", a, da, loss, 12, H, r), 1e-4);
        assertWithin(check("residual db", b, db, loss, 12, H, r), 1e-4);
    }
}
