// The CMR law of the critical mixture ratio against the token budget: R(T) = β0 + β1·T^s.
// Fitting: with τ = T / T_max, R = β0 + b·τ^s is linear in (β0, b) for a fixed s; s is profiled on a grid
// over [−3, 3] (0 excluded) and refined by golden section, then Levenberg–Marquardt polishes all three;
// β1 = b·T_max^(−s). Guarantees: refuses fewer than 4 budgets, a non-positive T, flat or non-monotone R,
// non-convergence and low R², each with its reason.
package dev.shoal.runtime.sweep.fit;

import java.util.ArrayList;
import java.util.List;

/** Stateless. */
public final class PowerLaw {
    private PowerLaw() {}

    public static final String LAW = "R = β0 + β1·T^s";
    public static final List<String> NAMES = List.of("β0", "β1", "s");

    /** β0 + β1·T^s over p = (β0, β1, s). */
    public static final LevenbergMarquardt.Model MODEL = new LevenbergMarquardt.Model() {
        @Override
        public double value(double x, double[] p) {
            return p[0] + p[1] * Math.pow(x, p[2]);
        }

        @Override
        public void gradient(double x, double[] p, double[] g) {
            double e = Math.pow(x, p[2]);
            g[0] = 1;
            g[1] = e;
            g[2] = p[1] * e * Math.log(x);
        }
    };

    public static CurveFit fit(double[] tokens, double[] ratio, double minR2) {
        for (double v : tokens) {
            if (!(v > 0))
                return CurveFit.refused(LAW, NAMES, tokens, ratio, "token budget " + v + " is not > 0", MODEL);
        }
        String why = CurveFit.dataRefusal(tokens, ratio, 3, true);
        if (why != null) return CurveFit.refused(LAW, NAMES, tokens, ratio, why, MODEL);
        int n = tokens.length;
        double tmax = 0;
        for (double v : tokens) tmax = Math.max(tmax, v);
        double[] tau = new double[n];
        for (int i = 0; i < n; i++) tau[i] = tokens[i] / tmax;
        double bestS = 0, bestSse = Double.POSITIVE_INFINITY;
        for (int i = 0; i <= 600; i++) {
            double s = -3 + 6.0 * i / 600;
            if (Math.abs(s) < 1e-6) continue;
            double sse = profile(tau, ratio, s)[2];
            if (sse < bestSse) {
                bestSse = sse;
                bestS = s;
            }
        }
        double a = bestS - 0.01, b = bestS + 0.01, g = (Math.sqrt(5) - 1) / 2;
        for (int i = 0; i < 60; i++) {
            double c = b - g * (b - a), d = a + g * (b - a);
            if (profile(tau, ratio, c)[2] < profile(tau, ratio, d)[2]) b = d;
            else a = c;
        }
        double s0 = (a + b) / 2;
        double[] cb = profile(tau, ratio, s0);
        LevenbergMarquardt.Solution sol = LevenbergMarquardt.fit(MODEL, tau, ratio, new double[] {cb[0], cb[1], s0});
        double[] q = sol.params();
        double scale = Math.pow(tmax, -q[2]);
        double[] p = {q[0], q[1] * scale, q[2]};
        double[] se = {Double.NaN, Double.NaN, Double.NaN};
        if (sol.covariance() != null) {
            double[][] c = sol.covariance();
            // β1 = b·T_max^(−s): ∂β1/∂b = T_max^(−s), ∂β1/∂s = −b·ln(T_max)·T_max^(−s)
            double[][] jac = {{1, 0, 0}, {0, scale, -q[1] * Math.log(tmax) * scale}, {0, 0, 1}};
            for (int k = 0; k < 3; k++) {
                double v = 0;
                for (int i = 0; i < 3; i++) for (int j = 0; j < 3; j++) v += jac[k][i] * c[i][j] * jac[k][j];
                se[k] = Math.sqrt(Math.max(0, v));
            }
        }
        List<String> notes = new ArrayList<>();
        if (Math.abs(q[2]) < 0.02) notes.add("s ≈ 0: the data do not pin the exponent (a log-like trend)");
        return CurveFit.judged(LAW, NAMES, tokens, ratio, p, se, MODEL, sol.converged(), minR2, notes);
    }

    private static double[] profile(double[] tau, double[] y, double s) {
        int n = tau.length;
        double[] b = new double[n];
        for (int i = 0; i < n; i++) b[i] = Math.pow(tau[i], s);
        LineFit.Ols o = LineFit.ols(b, y);
        return new double[] {o.a(), o.b(), o.sse()};
    }
}
