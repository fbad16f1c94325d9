// Ordinary least squares of a straight line y = a + b·x, used for the optimal ALMR against log10(peak LR).
// Guarantees: refuses fewer than 3 points (a line through 2 points has no residual to judge it), flat x,
// and R² below the threshold; standard errors from σ² = SSE/(n − 2).
package dev.shoal.runtime.sweep.fit;

import java.util.List;

/** Stateless. */
public final class LineFit {
    private LineFit() {}

    public static final String LAW = "r* = a + b·log10(LR)";
    public static final List<String> NAMES = List.of("a", "b");

    public static final LevenbergMarquardt.Model MODEL = new LevenbergMarquardt.Model() {
        @Override
        public double value(double x, double[] p) {
            return p[0] + p[1] * x;
        }

        @Override
        public void gradient(double x, double[] p, double[] g) {
            g[0] = 1;
            g[1] = x;
        }
    };

    /** Plain OLS: intercept, slope, SSE, Sxx. */
    public record Ols(double a, double b, double sse, double sxx) {}

    public static Ols ols(double[] x, double[] y) {
        int n = x.length;
        double mx = 0, my = 0;
        for (int i = 0; i < n; i++) {
            mx += x[i] / n;
            my += y[i] / n;
        }
        double sxy = 0, sxx = 0;
        for (int i = 0; i < n; i++) {
            sxy += (x[i] - mx) * (y[i] - my);
            sxx += (x[i] - mx) * (x[i] - mx);
        }
        double b = sxx > 0 ? sxy / sxx : 0;
        double a = my - b * mx;
        double sse = 0;
        for (int i = 0; i < n; i++) sse += Math.pow(y[i] - a - b * x[i], 2);
        return new Ols(a, b, sse, sxx);
    }

    public static CurveFit fit(double[] x, double[] y, double minR2) {
        if (x.length < 3) {
            return CurveFit.refused(
                    LAW,
                    NAMES,
                    x,
                    y,
                    x.length + " point" + (x.length == 1 ? "" : "s")
                            + ": a line needs at least 3 to be judged (2 points fit any line exactly)",
                    MODEL);
        }
        String why = CurveFit.dataRefusal(x, y, 2, false);
        if (why != null) return CurveFit.refused(LAW, NAMES, x, y, why, MODEL);
        Ols o = ols(x, y);
        int n = x.length;
        double s2 = o.sse() / (n - 2);
        double mx = 0, sx2 = 0;
        for (double v : x) {
            mx += v / n;
            sx2 += v * v;
        }
        double seB = Math.sqrt(s2 / o.sxx());
        double seA = Math.sqrt(s2 * sx2 / (n * o.sxx()));
        return CurveFit.judged(
                LAW, NAMES, x, y, new double[] {o.a(), o.b()}, new double[] {seA, seB}, MODEL, true, minR2, List.of());
    }
}
