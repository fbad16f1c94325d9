// The data-mixing law for one language's loss against the mixture share: L(r) = c + k·exp(t·r).
// Fitting: in normalised coordinates z = (r − r0)/Δr (r0 the smallest r, Δr the range), the model
// c + k'·exp(u·z) is linear in (c, k') for a fixed u, so u is found first by variable projection (a
// log-spaced grid of u on both signs, then golden-section refinement of the profiled SSE), and then all
// three are polished with Levenberg–Marquardt; the result is mapped back to (c, k, t) with the covariance
// carried by the delta method. Guarantees: refuses (with the reason) fewer than 4 points, flat or
// non-monotone data, non-convergence and R² below the threshold; notes when the data cannot tell the
// curvature from a straight line.
package dev.shoal.runtime.sweep.fit;

import java.util.ArrayList;
import java.util.List;

/** Stateless. */
public final class ExpLaw {
    private ExpLaw() {}

    public static final String LAW = "L = c + k·exp(t·r)";
    public static final List<String> NAMES = List.of("c", "k", "t");
    static final double U_MIN = 0.01, U_MAX = 60;

    /** c + k·exp(t·r) over p = (c, k, t). */
    public static final LevenbergMarquardt.Model MODEL = new LevenbergMarquardt.Model() {
        @Override
        public double value(double r, double[] p) {
            return p[0] + p[1] * Math.exp(p[2] * r);
        }

        @Override
        public void gradient(double r, double[] p, double[] g) {
            double e = Math.exp(p[2] * r);
            g[0] = 1;
            g[1] = e;
            g[2] = p[1] * r * e;
        }
    };

    /** c + k'·exp(u·z) over q = (c, k', u), z in [0, 1]. */
    static final LevenbergMarquardt.Model NORMALISED = MODEL;

    public static CurveFit fit(double[] r, double[] y, double minR2) {
        return fit(r, y, minR2, true);
    }

    /**
     * With polish = false (the bootstrap's refits) the Levenberg–Marquardt polish and the standard errors are
     * skipped: the profiled optimum is already the least-squares solution to the golden section's tolerance.
     */
    public static CurveFit fit(double[] r, double[] y, double minR2, boolean polish) {
        String why = CurveFit.dataRefusal(r, y, 3, true);
        if (why != null) return CurveFit.refused(LAW, NAMES, r, y, why, MODEL);
        int n = r.length;
        double r0 = Double.POSITIVE_INFINITY, r1 = Double.NEGATIVE_INFINITY;
        for (double v : r) {
            r0 = Math.min(r0, v);
            r1 = Math.max(r1, v);
        }
        double span = r1 - r0;
        double[] z = new double[n];
        for (int i = 0; i < n; i++) z[i] = (r[i] - r0) / span;
        // 1. Profile the SSE over u on a log-spaced grid of both signs.
        int half = 120;
        double[] grid = new double[2 * half];
        for (int i = 0; i < half; i++) {
            double u = Math.exp(Math.log(U_MIN) + (Math.log(U_MAX) - Math.log(U_MIN)) * i / (half - 1));
            grid[half + i] = u;
            grid[half - 1 - i] = -u;
        }
        int best = 0;
        double bestSse = Double.POSITIVE_INFINITY;
        for (int i = 0; i < grid.length; i++) {
            double s = profile(z, y, grid[i])[2];
            if (s < bestSse) {
                bestSse = s;
                best = i;
            }
        }
        // 2. Golden-section refinement between the neighbours of the best grid value (same sign).
        double lo = grid[Math.max(best - 1, best < half ? 0 : half)];
        double hi = grid[Math.min(best + 1, best < half ? half - 1 : grid.length - 1)];
        double u = golden(z, y, Math.min(lo, hi), Math.max(lo, hi));
        double[] ck = profile(z, y, u);
        // 3. Levenberg–Marquardt on all three, from the profiled optimum.
        double[] vp = {ck[0], ck[1], u};
        LevenbergMarquardt.Solution sol = polish
                ? LevenbergMarquardt.fit(NORMALISED, z, y, vp)
                : new LevenbergMarquardt.Solution(vp, ck[2], null, 0, true);
        if (!sol.converged() || !(sol.sse() <= ck[2])) {
            // Flat directions (a nearly straight line sends k' to infinity as u goes to 0): keep the profiled
            // optimum, the least-squares solution over |u| >= U_MIN.
            sol = new LevenbergMarquardt.Solution(
                    vp,
                    ck[2],
                    LevenbergMarquardt.covariance(NORMALISED, z, vp, ck[2]),
                    sol.iterations(),
                    Double.isFinite(ck[2]));
        }
        double[] q = sol.params();
        // 4. Back to r: t = u/Δr, k = k'·exp(−t·r0); covariance through the Jacobian of that map.
        double t = q[2] / span;
        double k = q[1] * Math.exp(-t * r0);
        double[] p = {q[0], k, t};
        double[] se = {Double.NaN, Double.NaN, Double.NaN};
        if (polish && sol.covariance() != null) {
            double e = Math.exp(-q[2] * r0 / span);
            double[][] jac = {{1, 0, 0}, {0, e, -q[1] * (r0 / span) * e}, {0, 0, 1 / span}};
            double[][] c = sol.covariance();
            for (int a = 0; a < 3; a++) {
                double v = 0;
                for (int i = 0; i < 3; i++) for (int j = 0; j < 3; j++) v += jac[a][i] * c[i][j] * jac[a][j];
                se[a] = Math.sqrt(Math.max(0, v));
            }
        }
        List<String> notes = new ArrayList<>();
        if (!polish) return CurveFit.judged(LAW, NAMES, r, y, p, se, MODEL, sol.converged(), minR2, notes);
        double linSse = linearSse(z, y);
        if (Math.abs(q[2]) < 0.1 || sol.sse() >= linSse * (1 - 1e-6) - 1e-300) {
            notes.add("the points do not show curvature (|t·Δr| = " + fmt(Math.abs(q[2]))
                    + "): the law acts as a straight line here; c and k are not separately meaningful");
        } else if (Math.abs(q[2]) >= U_MAX * 0.99) {
            notes.add("|t·Δr| reached the search bound " + U_MAX + ": a step, not a smooth exponential");
        }
        return CurveFit.judged(LAW, NAMES, r, y, p, se, MODEL, sol.converged(), minR2, notes);
    }

    /** For a fixed u: least-squares (c, k') of y on [1, exp(u·z)] and the SSE. */
    static double[] profile(double[] z, double[] y, double u) {
        int n = z.length;
        double mb = 0, my = 0;
        double[] b = new double[n];
        for (int i = 0; i < n; i++) {
            b[i] = Math.exp(u * z[i]);
            mb += b[i] / n;
            my += y[i] / n;
        }
        double sby = 0, sbb = 0;
        for (int i = 0; i < n; i++) {
            sby += (b[i] - mb) * (y[i] - my);
            sbb += (b[i] - mb) * (b[i] - mb);
        }
        double k = sbb > 0 ? sby / sbb : 0;
        double c = my - k * mb;
        double sse = 0;
        for (int i = 0; i < n; i++) {
            double res = y[i] - c - k * b[i];
            sse += res * res;
        }
        return new double[] {c, k, sse};
    }

    private static double golden(double[] z, double[] y, double a, double b) {
        double g = (Math.sqrt(5) - 1) / 2;
        double c = b - g * (b - a), d = a + g * (b - a);
        double fc = profile(z, y, c)[2], fd = profile(z, y, d)[2];
        for (int i = 0; i < 80 && b - a > 1e-10 * (1 + Math.abs(a)); i++) {
            if (fc < fd) {
                b = d;
                d = c;
                fd = fc;
                c = b - g * (b - a);
                fc = profile(z, y, c)[2];
            } else {
                a = c;
                c = d;
                fc = fd;
                d = a + g * (b - a);
                fd = profile(z, y, d)[2];
            }
        }
        return fc < fd ? c : d;
    }

    private static double linearSse(double[] z, double[] y) {
        LineFit.Ols o = LineFit.ols(z, y);
        return o.sse();
    }

    static String fmt(double v) {
        return String.format(java.util.Locale.ROOT, "%.3g", v);
    }
}
