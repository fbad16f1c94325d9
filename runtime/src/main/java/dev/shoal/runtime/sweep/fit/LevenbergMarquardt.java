// Levenberg–Marquardt nonlinear least squares for small models (a handful of parameters, tens of points):
// minimises Σ (y_i − f(x_i; p))² from a starting point, with Marquardt's diagonal scaling
// (JᵀJ + λ·diag(JᵀJ)) δ = Jᵀr, λ divided by 10 after an accepted step and multiplied by 10 after a rejected
// one. Guarantees: the returned parameters never have a larger SSE than the start; the covariance is
// σ²·(JᵀJ)⁻¹ with σ² = SSE / (n − p) at the solution (null when n ≤ p or JᵀJ is singular).
package dev.shoal.runtime.sweep.fit;

/** Stateless. */
public final class LevenbergMarquardt {
    private LevenbergMarquardt() {}

    /** A model f(x; p) with its gradient in p. */
    public interface Model {
        double value(double x, double[] p);

        /** g[j] = ∂f/∂p_j at (x, p). */
        void gradient(double x, double[] p, double[] g);
    }

    /**
     * @param params the solution
     * @param sse the sum of squared residuals there
     * @param covariance σ²·(JᵀJ)⁻¹, or null when it cannot be formed
     * @param iterations accepted and rejected steps taken
     * @param converged the relative SSE change or the step fell below tolerance (not: ran out of steps)
     */
    public record Solution(double[] params, double sse, double[][] covariance, int iterations, boolean converged) {}

    public static Solution fit(Model f, double[] x, double[] y, double[] start) {
        return fit(f, x, y, start, 500);
    }

    public static Solution fit(Model f, double[] x, double[] y, double[] start, int maxIter) {
        int n = x.length, m = start.length;
        double[] p = start.clone();
        double sse = sse(f, x, y, p);
        double lambda = 1e-3;
        double[][] jtj = new double[m][m];
        double[] jtr = new double[m];
        double[] g = new double[m];
        boolean converged = false;
        int it = 0;
        while (it < maxIter) {
            it++;
            // Normal equations at p: JᵀJ and Jᵀr (r = y − f).
            for (double[] row : jtj) java.util.Arrays.fill(row, 0);
            java.util.Arrays.fill(jtr, 0);
            for (int i = 0; i < n; i++) {
                f.gradient(x[i], p, g);
                double r = y[i] - f.value(x[i], p);
                for (int a = 0; a < m; a++) {
                    jtr[a] += g[a] * r;
                    for (int b = 0; b < m; b++) jtj[a][b] += g[a] * g[b];
                }
            }
            // Damped step; retry with more damping until the SSE drops or λ is huge.
            boolean accepted = false;
            while (lambda < 1e16) {
                double[][] a = new double[m][m];
                for (int i = 0; i < m; i++) {
                    a[i] = jtj[i].clone();
                    a[i][i] += lambda * Math.max(jtj[i][i], 1e-30);
                }
                double[] delta = solve(a, jtr);
                if (delta == null) {
                    lambda *= 10;
                    continue;
                }
                double[] trial = new double[m];
                for (int i = 0; i < m; i++) trial[i] = p[i] + delta[i];
                double s = sse(f, x, y, trial);
                if (Double.isFinite(s) && s <= sse) {
                    double rel = (sse - s) / Math.max(sse, 1e-300);
                    double stepNorm = 0, pNorm = 0;
                    for (int i = 0; i < m; i++) {
                        stepNorm += delta[i] * delta[i];
                        pNorm += trial[i] * trial[i];
                    }
                    p = trial;
                    sse = s;
                    lambda = Math.max(lambda / 10, 1e-12);
                    accepted = true;
                    if (rel < 1e-14 || Math.sqrt(stepNorm) < 1e-12 * (Math.sqrt(pNorm) + 1e-12) || sse == 0) {
                        converged = true;
                    }
                    break;
                }
                lambda *= 10;
            }
            if (!accepted) {
                converged = true; // no direction lowers the SSE: a (local) minimum to working precision
                break;
            }
            if (converged) break;
        }
        return new Solution(p, sse, covariance(f, x, p, sse), it, converged);
    }

    /** σ²·(JᵀJ)⁻¹ at p, or null. */
    static double[][] covariance(Model f, double[] x, double[] p, double sse) {
        int n = x.length, m = p.length;
        if (n <= m) return null;
        double[][] jtj = new double[m][m];
        double[] g = new double[m];
        for (int i = 0; i < n; i++) {
            f.gradient(x[i], p, g);
            for (int a = 0; a < m; a++) for (int b = 0; b < m; b++) jtj[a][b] += g[a] * g[b];
        }
        double[][] inv = invert(jtj);
        if (inv == null) return null;
        double s2 = sse / (n - m);
        for (double[] row : inv) for (int j = 0; j < m; j++) row[j] *= s2;
        return inv;
    }

    public static double sse(Model f, double[] x, double[] y, double[] p) {
        double s = 0;
        for (int i = 0; i < x.length; i++) {
            double r = y[i] - f.value(x[i], p);
            s += r * r;
        }
        return s;
    }

    /** Solves a·z = b by Gaussian elimination with partial pivoting; null when a is singular. */
    static double[] solve(double[][] a, double[] b) {
        int m = b.length;
        double[][] w = new double[m][m + 1];
        double scale = 0;
        for (int i = 0; i < m; i++) {
            System.arraycopy(a[i], 0, w[i], 0, m);
            w[i][m] = b[i];
            for (int j = 0; j < m; j++) scale = Math.max(scale, Math.abs(a[i][j]));
        }
        for (int c = 0; c < m; c++) {
            int piv = c;
            for (int r = c + 1; r < m; r++) if (Math.abs(w[r][c]) > Math.abs(w[piv][c])) piv = r;
            if (!(Math.abs(w[piv][c]) > 1e-300 + 1e-15 * scale)) return null;
            double[] t = w[c];
            w[c] = w[piv];
            w[piv] = t;
            for (int r = c + 1; r < m; r++) {
                double k = w[r][c] / w[c][c];
                for (int j = c; j <= m; j++) w[r][j] -= k * w[c][j];
            }
        }
        double[] z = new double[m];
        for (int r = m - 1; r >= 0; r--) {
            double s = w[r][m];
            for (int j = r + 1; j < m; j++) s -= w[r][j] * z[j];
            z[r] = s / w[r][r];
        }
        for (double v : z) if (!Double.isFinite(v)) return null;
        return z;
    }

    /** The inverse of a small matrix, column by column; null when singular. */
    static double[][] invert(double[][] a) {
        int m = a.length;
        double[][] inv = new double[m][m];
        for (int c = 0; c < m; c++) {
            double[] e = new double[m];
            e[c] = 1;
            double[] col = solve(a, e);
            if (col == null) return null;
            for (int r = 0; r < m; r++) inv[r][c] = col[r];
        }
        return inv;
    }
}
