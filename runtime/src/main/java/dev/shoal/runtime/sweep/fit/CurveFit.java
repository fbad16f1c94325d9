// The result of fitting one law to points: parameters with standard errors, fitted values, residuals,
// R², RMSE, degrees of freedom, and a verdict. A fit the data do not support carries a refusal (one plain
// sentence) and must not be used for numbers downstream; notes qualify a usable fit.
// Guarantees: predict() evaluates the fitted law; usable() is true only when refusal is null.
package dev.shoal.runtime.sweep.fit;

import java.util.ArrayList;
import java.util.List;

/**
 * @param law a human name with the formula, e.g. "L = c + k·exp(t·r)"
 * @param names parameter names
 * @param params parameter values (NaN when there is no fit at all)
 * @param stdErr standard errors from the covariance (NaN when not available)
 * @param x the points' abscissae
 * @param y the points' values
 * @param fitted the law at x (NaN when there is no fit)
 * @param r2 1 − SSE/SST
 * @param rmse √(SSE/n)
 * @param df n − parameters
 * @param refusal why the data do not support the fit, or null
 * @param notes qualifications of a usable fit
 */
public record CurveFit(
        String law,
        List<String> names,
        double[] params,
        double[] stdErr,
        double[] x,
        double[] y,
        double[] fitted,
        double r2,
        double rmse,
        int df,
        String refusal,
        List<String> notes,
        LevenbergMarquardt.Model model) {

    public CurveFit {
        names = List.copyOf(names);
        notes = List.copyOf(notes);
    }

    public boolean usable() {
        return refusal == null;
    }

    public double predict(double at) {
        return model.value(at, params);
    }

    public double[] residuals() {
        double[] r = new double[x.length];
        for (int i = 0; i < r.length; i++) r[i] = y[i] - fitted[i];
        return r;
    }

    public double param(String name) {
        return params[names.indexOf(name)];
    }

    /** A fit that was not attempted or failed; no parameters. */
    static CurveFit refused(
            String law, List<String> names, double[] x, double[] y, String why, LevenbergMarquardt.Model model) {
        double[] nan = new double[names.size()];
        java.util.Arrays.fill(nan, Double.NaN);
        double[] f = new double[x.length];
        java.util.Arrays.fill(f, Double.NaN);
        return new CurveFit(
                law,
                names,
                nan,
                nan.clone(),
                x,
                y,
                f,
                Double.NaN,
                Double.NaN,
                x.length - names.size(),
                why,
                List.of(),
                model);
    }

    /** Builds the fit at p, computes R²/RMSE, and applies the shared verdict rules. */
    static CurveFit judged(
            String law,
            List<String> names,
            double[] x,
            double[] y,
            double[] p,
            double[] se,
            LevenbergMarquardt.Model model,
            boolean converged,
            double minR2,
            List<String> extraNotes) {
        int n = x.length;
        double[] f = new double[n];
        double mean = 0, sse = 0, sst = 0;
        for (double v : y) mean += v / n;
        for (int i = 0; i < n; i++) {
            f[i] = model.value(x[i], p);
            sse += (y[i] - f[i]) * (y[i] - f[i]);
            sst += (y[i] - mean) * (y[i] - mean);
        }
        double r2 = sst > 0 ? 1 - sse / sst : Double.NaN;
        String refusal = null;
        boolean finite = Double.isFinite(sse);
        for (double v : p) finite &= Double.isFinite(v);
        if (!finite || !converged) {
            refusal = "the fit did not converge";
        } else if (r2 < minR2) {
            refusal = String.format(java.util.Locale.ROOT, "poor fit: R² = %.3f < %.2f", r2, minR2);
        }
        List<String> notes = new ArrayList<>(extraNotes);
        if (refusal == null && n - names.size() <= 1) {
            notes.add((n - names.size()) + " degree of freedom: R² says little; more points would test the law");
        }
        return new CurveFit(
                law, names, p, se, x, y, f, r2, Math.sqrt(sse / n), n - names.size(), refusal, notes, model);
    }

    /** A refusal for data that cannot carry the law at all, or null: too few points, flat, non-monotone. */
    static String dataRefusal(double[] x, double[] y, int params, boolean needMonotone) {
        int n = x.length;
        if (n < params + 1) {
            return n + " points: a law with " + params + " parameters needs at least " + (params + 1)
                    + " (one degree of freedom to judge the fit)";
        }
        long distinct = java.util.Arrays.stream(x).distinct().count();
        if (distinct < params) return "only " + distinct + " distinct x values for " + params + " parameters";
        double lo = Double.POSITIVE_INFINITY, hi = Double.NEGATIVE_INFINITY, mean = 0;
        for (double v : y) {
            if (!Double.isFinite(v)) return "a value is not finite (" + v + ")";
            lo = Math.min(lo, v);
            hi = Math.max(hi, v);
            mean += v / n;
        }
        if (hi - lo <= 1e-9 * Math.max(1, Math.abs(mean))) return "degenerate: the values do not change";
        if (needMonotone) {
            Integer[] order = new Integer[n];
            for (int i = 0; i < n; i++) order[i] = i;
            java.util.Arrays.sort(order, (a, b) -> Double.compare(x[a], x[b]));
            double up = 0, down = 0;
            for (int i = 1; i < n; i++) {
                double d = y[order[i]] - y[order[i - 1]];
                if (d > 0) up += d;
                else down -= d;
            }
            if (Math.min(up, down) > 0.25 * (hi - lo)) {
                return String.format(
                        java.util.Locale.ROOT,
                        "non-monotone: the values move %.4g up and %.4g down across x; the law is monotone",
                        up,
                        down);
            }
        }
        return null;
    }
}
