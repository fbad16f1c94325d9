// Plain-Java double-precision reference math for every GPU kernel, used by the GPU tests.
// Guarantees: written from the textbook definitions, independent of the CUDA code; the backward
// formulas are themselves checked against central finite differences in ReferenceTest.
package dev.shoal.cuda.kernels;

final class Reference {
    private Reference() {}

    // ---- RMSNorm: y = x * r * w, r = 1/sqrt(mean(x^2) + eps) ----

    static double[][] rmsnormForward(double[] x, double[] w, int N, int C, double eps) {
        double[] y = new double[N * C];
        double[] rstd = new double[N];
        for (int n = 0; n < N; n++) {
            double ss = 0;
            for (int c = 0; c < C; c++) {
                ss += x[n * C + c] * x[n * C + c];
            }
            double r = 1.0 / Math.sqrt(ss / C + eps);
            rstd[n] = r;
            for (int c = 0; c < C; c++) {
                y[n * C + c] = x[n * C + c] * r * w[c];
            }
        }
        return new double[][] {y, rstd};
    }

    /** Returns {dx, dw}. */
    static double[][] rmsnormBackward(double[] dy, double[] x, double[] w, int N, int C, double eps) {
        double[] dx = new double[N * C];
        double[] dw = new double[C];
        for (int n = 0; n < N; n++) {
            double ss = 0;
            for (int c = 0; c < C; c++) {
                ss += x[n * C + c] * x[n * C + c];
            }
            double r = 1.0 / Math.sqrt(ss / C + eps);
            double dot = 0;
            for (int c = 0; c < C; c++) {
                dot += dy[n * C + c] * w[c] * x[n * C + c];
            }
            for (int c = 0; c < C; c++) {
                int i = n * C + c;
                dx[i] = r * w[c] * dy[i] - r * r * r * x[i] * dot / C;
                dw[c] += dy[i] * x[i] * r;
            }
        }
        return new double[][] {dx, dw};
    }

    // ---- RoPE (HF rotate_half), x [B, T, NH, hd], cos/sin [T, hd/2] ----

    static double[] rope(double[] x, int B, int T, int NH, int hd, double[] cos, double[] sin, double sign) {
        double[] y = new double[x.length];
        int half = hd / 2;
        for (int b = 0; b < B; b++) {
            for (int t = 0; t < T; t++) {
                for (int h = 0; h < NH; h++) {
                    int base = ((b * T + t) * NH + h) * hd;
                    for (int i = 0; i < half; i++) {
                        double c = cos[t * half + i], s = sign * sin[t * half + i];
                        double x1 = x[base + i], x2 = x[base + i + half];
                        y[base + i] = x1 * c - x2 * s;
                        y[base + i + half] = x2 * c + x1 * s;
                    }
                }
            }
        }
        return y;
    }

    // ---- SwiGLU ----

    static double sigmoid(double g) {
        return 1.0 / (1.0 + Math.exp(-g));
    }

    static double[] swigluForward(double[] g, double[] u) {
        double[] h = new double[g.length];
        for (int i = 0; i < g.length; i++) {
            h[i] = g[i] * sigmoid(g[i]) * u[i];
        }
        return h;
    }

    /** Returns {dg, du}. */
    static double[][] swigluBackward(double[] dh, double[] g, double[] u) {
        double[] dg = new double[g.length], du = new double[g.length];
        for (int i = 0; i < g.length; i++) {
            double s = sigmoid(g[i]);
            dg[i] = dh[i] * u[i] * s * (1 + g[i] * (1 - s));
            du[i] = dh[i] * g[i] * s;
        }
        return new double[][] {dg, du};
    }

    // ---- softmax cross-entropy over the full vocabulary ----

    /** Returns {loss [N], dlogits [N, V] = (softmax - onehot) * scale}; ignoreIndex rows are zero. */
    static double[][] crossEntropy(double[] logits, int[] targets, int N, int V, double scale, int ignoreIndex) {
        double[] loss = new double[N];
        double[] d = new double[N * V];
        for (int n = 0; n < N; n++) {
            if (targets[n] == ignoreIndex) {
                continue;
            }
            double m = Double.NEGATIVE_INFINITY;
            for (int v = 0; v < V; v++) {
                m = Math.max(m, logits[n * V + v]);
            }
            double s = 0;
            for (int v = 0; v < V; v++) {
                s += Math.exp(logits[n * V + v] - m);
            }
            loss[n] = Math.log(s) + m - logits[n * V + targets[n]];
            for (int v = 0; v < V; v++) {
                double p = Math.exp(logits[n * V + v] - m) / s;
                d[n * V + v] = (p - (v == targets[n] ? 1 : 0)) * scale;
            }
        }
        return new double[][] {loss, d};
    }

    // ---- causal grouped-query attention: Q [B,T,NH,hd], K/V [B,T,NKV,hd] ----

    /** Returns {O [B,T,NH,hd], LSE [B,NH,T]} with S = scale * q.k, causal. */
    static double[][] attentionForward(
            double[] q, double[] k, double[] v, int B, int T, int NH, int NKV, int hd, double scale) {
        double[] o = new double[B * T * NH * hd];
        double[] lse = new double[B * NH * T];
        int G = NH / NKV;
        double[] s = new double[T];
        for (int b = 0; b < B; b++) {
            for (int h = 0; h < NH; h++) {
                int kh = h / G;
                for (int i = 0; i < T; i++) {
                    double m = Double.NEGATIVE_INFINITY;
                    for (int j = 0; j <= i; j++) {
                        double dot = 0;
                        for (int d = 0; d < hd; d++) {
                            dot += q[idx(b, i, h, d, T, NH, hd)] * k[idx(b, j, kh, d, T, NKV, hd)];
                        }
                        s[j] = dot * scale;
                        m = Math.max(m, s[j]);
                    }
                    double sum = 0;
                    for (int j = 0; j <= i; j++) {
                        sum += Math.exp(s[j] - m);
                    }
                    lse[(b * NH + h) * T + i] = m + Math.log(sum);
                    for (int j = 0; j <= i; j++) {
                        double p = Math.exp(s[j] - m) / sum;
                        for (int d = 0; d < hd; d++) {
                            o[idx(b, i, h, d, T, NH, hd)] += p * v[idx(b, j, kh, d, T, NKV, hd)];
                        }
                    }
                }
            }
        }
        return new double[][] {o, lse};
    }

    /** Returns {dQ, dK, dV} for upstream dO, by the softmax Jacobian (no flash tricks). */
    static double[][] attentionBackward(
            double[] q, double[] k, double[] v, double[] dO, int B, int T, int NH, int NKV, int hd, double scale) {
        double[] dq = new double[q.length], dk = new double[k.length], dv = new double[v.length];
        int G = NH / NKV;
        double[] p = new double[T], dp = new double[T];
        for (int b = 0; b < B; b++) {
            for (int h = 0; h < NH; h++) {
                int kh = h / G;
                for (int i = 0; i < T; i++) {
                    double m = Double.NEGATIVE_INFINITY;
                    for (int j = 0; j <= i; j++) {
                        double dot = 0;
                        for (int d = 0; d < hd; d++) {
                            dot += q[idx(b, i, h, d, T, NH, hd)] * k[idx(b, j, kh, d, T, NKV, hd)];
                        }
                        p[j] = dot * scale;
                        m = Math.max(m, p[j]);
                    }
                    double sum = 0;
                    for (int j = 0; j <= i; j++) {
                        p[j] = Math.exp(p[j] - m);
                        sum += p[j];
                    }
                    for (int j = 0; j <= i; j++) {
                        p[j] /= sum;
                    }
                    // dP_ij = dO_i . V_j ; dS_ij = P_ij (dP_ij - sum_l P_il dP_il)
                    double rowDot = 0;
                    for (int j = 0; j <= i; j++) {
                        double dot = 0;
                        for (int d = 0; d < hd; d++) {
                            dot += dO[idx(b, i, h, d, T, NH, hd)] * v[idx(b, j, kh, d, T, NKV, hd)];
                        }
                        dp[j] = dot;
                        rowDot += p[j] * dot;
                    }
                    for (int j = 0; j <= i; j++) {
                        double ds = p[j] * (dp[j] - rowDot) * scale;
                        for (int d = 0; d < hd; d++) {
                            int qi = idx(b, i, h, d, T, NH, hd), kj = idx(b, j, kh, d, T, NKV, hd);
                            dq[qi] += ds * k[kj];
                            dk[kj] += ds * q[qi];
                            dv[kj] += p[j] * dO[qi];
                        }
                    }
                }
            }
        }
        return new double[][] {dq, dk, dv};
    }

    static int idx(int b, int t, int h, int d, int T, int H, int hd) {
        return ((b * T + t) * H + h) * hd + d;
    }

    // ---- AdamW (PyTorch order) ----

    /** Updates p, m, v in place for one step. */
    static void adamw(
            double[] p,
            double[] g,
            double[] m,
            double[] v,
            double lr,
            double b1,
            double b2,
            double eps,
            double wd,
            long step,
            double gradScale) {
        double bc1 = 1 - Math.pow(b1, step), bc2 = 1 - Math.pow(b2, step);
        for (int i = 0; i < p.length; i++) {
            double gi = g[i] * gradScale;
            m[i] = b1 * m[i] + (1 - b1) * gi;
            v[i] = b2 * v[i] + (1 - b2) * gi * gi;
            p[i] *= 1 - lr * wd;
            p[i] -= (lr / bc1) * m[i] / (Math.sqrt(v[i]) / Math.sqrt(bc2) + eps);
        }
    }

    // ---- comparison ----

    /** ||a - b|| / ||b|| (b the reference); NaN anywhere gives NaN. */
    static double relError(double[] got, double[] ref) {
        double num = 0, den = 0;
        for (int i = 0; i < ref.length; i++) {
            double d = got[i] - ref[i];
            num += d * d;
            den += ref[i] * ref[i];
        }
        return Math.sqrt(num) / Math.max(Math.sqrt(den), 1e-30);
    }

    static double maxAbsError(double[] got, double[] ref) {
        double m = 0;
        for (int i = 0; i < ref.length; i++) {
            double d = Math.abs(got[i] - ref[i]);
            if (Double.isNaN(d)) {
                return Double.NaN;
            }
            m = Math.max(m, d);
        }
        return m;
    }
}
