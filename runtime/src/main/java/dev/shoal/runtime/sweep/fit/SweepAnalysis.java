// The ALMR × LR method applied to a finished sweep. For every token budget T and peak LR (a "slice"):
//   1. fit the new-language loss and the original-language loss against the ALMR r with the data-mixing
//      law L = c + k·exp(t·r) (ExpLaw);
//   2. the CMR-style constrained optimum r*: the largest r in the sampled range whose predicted
//      original-language loss stays within ε of the baseline (the lowest original-language loss the grid
//      reached at its lowest ALMR, over all LRs of that budget; or the starting model's loss). The law is
//      used where the fit is usable, otherwise straight lines between the measured points ("interpolated");
// then per budget: 3. the recommendation: the LR whose r* gives the lowest predicted new-language loss;
//   4. the relation r*(LR) as a line in log10(LR) over the LRs whose constraint binds inside the grid;
//   5. uncertainty by a residual bootstrap: refit every slice on fitted values plus residuals resampled from
//      the usable fits of the same language and budget (scaled by √(n/df)), and redo 2–3;
// and across budgets: 6. the CMR law R(T) = β0 + β1·T^s on the recommended r* (PowerLaw).
// Guarantees: no extrapolation beyond the sampled ALMRs (an r* at the top of the grid is reported as "not
// binding", a lower bound); every refusal is carried to the report with its reason; the bootstrap is
// seeded, so a report is reproducible.
package dev.shoal.runtime.sweep.fit;

import dev.shoal.runtime.sweep.SweepResults;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;
import java.util.TreeMap;
import java.util.TreeSet;
import java.util.function.DoubleUnaryOperator;

/** Stateless. */
public final class SweepAnalysis {
    private SweepAnalysis() {}

    /** Where ε is measured from. */
    public enum Baseline {
        /** The lowest original-language loss at the lowest ALMR over the budget's LRs. */
        LOWEST_ALMR,
        /** The starting model's original-language loss (step 0 of the points). */
        START
    }

    /**
     * @param epsilon the allowed original-language loss increase (nats per token)
     * @param baseline what the increase is measured from
     * @param bootstrap bootstrap replicates (0: none)
     * @param seed the bootstrap's seed
     * @param minR2 a law fit with a lower R² is refused
     * @param minR2Line the r*(LR) line with a lower R² is refused
     */
    public record Options(double epsilon, Baseline baseline, int bootstrap, long seed, double minR2, double minR2Line) {
        public Options {
            if (!(epsilon > 0 && Double.isFinite(epsilon))) {
                throw new IllegalArgumentException("--epsilon " + epsilon + ": must be finite and > 0");
            }
            if (bootstrap < 0) throw new IllegalArgumentException("--bootstrap " + bootstrap + ": must be >= 0");
        }

        public static Options defaults(double epsilon) {
            return new Options(epsilon, Baseline.LOWEST_ALMR, 1000, 1, 0.9, 0.5);
        }
    }

    public enum Status {
        /** The constraint binds inside the sampled ALMR range. */
        BINDING,
        /** Every sampled ALMR is within ε: r* is at least the largest one sampled. */
        NOT_BINDING,
        /** Even the smallest sampled ALMR exceeds ε. */
        INFEASIBLE,
        /** The LR has fewer than 2 finished ALMRs: no range to search. */
        TOO_FEW
    }

    /**
     * @param almr r* (NaN when infeasible)
     * @param method "law" (from the fitted original-language curve) or "interpolated"
     * @param newLoss the predicted new-language loss at r*
     * @param origLoss the predicted original-language loss at r*
     */
    public record Optimum(double almr, Status status, String method, double newLoss, double origLoss) {}

    /** A percentile interval over bootstrap replicates; share = replicates where the value existed. */
    public record Interval(double lo, double hi, double share) {
        static Interval of(List<Double> values, int total) {
            double[] v = values.stream()
                    .mapToDouble(Double::doubleValue)
                    .filter(Double::isFinite)
                    .sorted()
                    .toArray();
            if (v.length == 0) return new Interval(Double.NaN, Double.NaN, 0);
            return new Interval(quantile(v, 0.05), quantile(v, 0.95), v.length / (double) total);
        }
    }

    /** One (budget, LR) line of the grid: points ordered by ALMR. */
    public record Slice(
            long steps,
            long tokens,
            double peakLr,
            double[] almr,
            double[] newLoss,
            double[] origLoss,
            List<SweepResults.Point> points,
            CurveFit newFit,
            CurveFit origFit,
            Optimum optimum,
            Interval optimumInterval) {}

    /**
     * @param baseline the original-language loss ε is measured from
     * @param recommended index into slices, −1 when no LR has a feasible r*
     * @param recommendedAlmr the bootstrap interval of the recommended ALMR
     * @param lrShare peak LR → share of bootstrap replicates that recommend it
     * @param lrRelation r* against log10(LR)
     */
    public record Budget(
            long steps,
            long tokens,
            double baseline,
            List<Slice> slices,
            int recommended,
            Interval recommendedAlmr,
            Map<Double, Double> lrShare,
            CurveFit lrRelation,
            int bootstrapReplicates) {
        public Slice recommendation() {
            return recommended >= 0 ? slices.get(recommended) : null;
        }
    }

    public record Analysis(
            Options options, SweepResults results, List<Budget> budgets, CurveFit cmr, List<String> notes) {}

    public static Analysis analyse(SweepResults res, Options opt) {
        List<String> notes = new ArrayList<>();
        if (!res.missing().isEmpty()) notes.add(res.missing().size() + " points have not finished: " + res.missing());
        if (!res.failed().isEmpty())
            notes.add(res.failed().size() + " points diverged and are left out: "
                    + res.failed().keySet());
        TreeMap<Long, List<SweepResults.Point>> byBudget = new TreeMap<>();
        for (SweepResults.Point p : res.points())
            byBudget.computeIfAbsent(p.steps(), k -> new ArrayList<>()).add(p);
        List<Budget> budgets = new ArrayList<>();
        for (Map.Entry<Long, List<SweepResults.Point>> e : byBudget.entrySet()) {
            budgets.add(budget(res, e.getKey(), e.getValue(), opt));
        }
        // The CMR law over budgets, on the recommended r* where the constraint binds.
        List<double[]> tr = new ArrayList<>();
        int censored = 0;
        for (Budget b : budgets) {
            Slice s = b.recommendation();
            if (s == null) continue;
            if (s.optimum().status() == Status.BINDING)
                tr.add(new double[] {b.tokens(), s.optimum().almr()});
            else censored++;
        }
        CurveFit cmr;
        double[] t = tr.stream().mapToDouble(v -> v[0]).toArray();
        double[] r = tr.stream().mapToDouble(v -> v[1]).toArray();
        if (budgets.size() < 2) {
            cmr = CurveFit.refused(
                    PowerLaw.LAW,
                    PowerLaw.NAMES,
                    t,
                    r,
                    "the sweep has one token budget; the CMR law needs sweep.steps with at least 4 values",
                    PowerLaw.MODEL);
        } else {
            cmr = PowerLaw.fit(t, r, opt.minR2());
            if (censored > 0 && !cmr.usable()) {
                cmr = CurveFit.refused(
                        PowerLaw.LAW,
                        PowerLaw.NAMES,
                        t,
                        r,
                        cmr.refusal() + " (" + censored + " budgets left out: their r* is not binding inside the grid)",
                        PowerLaw.MODEL);
            }
        }
        return new Analysis(opt, res, budgets, cmr, notes);
    }

    private static Budget budget(SweepResults res, long steps, List<SweepResults.Point> pts, Options opt) {
        TreeMap<Double, List<SweepResults.Point>> byLr = new TreeMap<>();
        for (SweepResults.Point p : pts)
            byLr.computeIfAbsent(p.peakLr(), k -> new ArrayList<>()).add(p);
        int m = byLr.size();
        double[] lrs = new double[m];
        double[][] almr = new double[m][], yNew = new double[m][], yOrig = new double[m][];
        List<List<SweepResults.Point>> sorted = new ArrayList<>();
        int i = 0;
        for (Map.Entry<Double, List<SweepResults.Point>> e : byLr.entrySet()) {
            List<SweepResults.Point> ps = new ArrayList<>(e.getValue());
            ps.sort((a, b) -> Double.compare(a.almr(), b.almr()));
            sorted.add(ps);
            lrs[i] = e.getKey();
            almr[i] = ps.stream().mapToDouble(SweepResults.Point::almr).toArray();
            yNew[i] = ps.stream()
                    .mapToDouble(p -> res.languageLoss(p.finalLoss(), true))
                    .toArray();
            yOrig[i] = ps.stream()
                    .mapToDouble(p -> res.languageLoss(p.finalLoss(), false))
                    .toArray();
            i++;
        }
        double start = Double.NaN;
        if (opt.baseline() == Baseline.START) {
            double sum = 0;
            int c = 0;
            for (SweepResults.Point p : pts) {
                double v = res.languageLoss(p.startLoss(), false);
                if (Double.isFinite(v)) {
                    sum += v;
                    c++;
                }
            }
            if (c == 0)
                throw new IllegalArgumentException("--baseline start: the points recorded no step-0 validation loss");
            start = sum / c;
        }
        Eval ev = eval(almr, yNew, yOrig, start, opt, true);
        // Residual bootstrap.
        int reps = opt.bootstrap();
        List<List<Double>> rStar = new ArrayList<>();
        for (int s = 0; s < m; s++) rStar.add(new ArrayList<>());
        List<Double> recR = new ArrayList<>();
        double[] lrCount = new double[m];
        double[] poolNew = pool(ev.newFits), poolOrig = pool(ev.origFits);
        if (poolNew.length == 0 && poolOrig.length == 0) reps = 0;
        SplittableRandom rng = new SplittableRandom(opt.seed() ^ steps * 0x9E3779B97F4A7C15L);
        for (int b = 0; b < reps; b++) {
            double[][] bn = new double[m][], bo = new double[m][];
            for (int s = 0; s < m; s++) {
                bn[s] = resample(ev.newFits[s], yNew[s], poolNew, rng);
                bo[s] = resample(ev.origFits[s], yOrig[s], poolOrig, rng);
            }
            Eval e = eval(almr, bn, bo, start, opt, false);
            for (int s = 0; s < m; s++) rStar.get(s).add(e.optima[s].almr());
            if (e.recommended >= 0) {
                recR.add(e.optima[e.recommended].almr());
                lrCount[e.recommended]++;
            } else {
                recR.add(Double.NaN);
            }
        }
        List<Slice> slices = new ArrayList<>();
        Map<Double, Double> share = new LinkedHashMap<>();
        for (int s = 0; s < m; s++) {
            slices.add(new Slice(
                    steps,
                    steps * res.tokensPerStep(),
                    lrs[s],
                    almr[s],
                    yNew[s],
                    yOrig[s],
                    sorted.get(s),
                    ev.newFits[s],
                    ev.origFits[s],
                    ev.optima[s],
                    reps > 0 ? Interval.of(rStar.get(s), reps) : null));
            share.put(lrs[s], reps > 0 ? lrCount[s] / reps : Double.NaN);
        }
        // r* against log10(LR), over the LRs whose constraint binds inside the grid.
        List<double[]> xy = new ArrayList<>();
        for (int s = 0; s < m; s++) {
            if (ev.optima[s].status() == Status.BINDING) xy.add(new double[] {Math.log10(lrs[s]), ev.optima[s].almr()});
        }
        CurveFit line = LineFit.fit(
                xy.stream().mapToDouble(v -> v[0]).toArray(),
                xy.stream().mapToDouble(v -> v[1]).toArray(),
                opt.minR2Line());
        return new Budget(
                steps,
                steps * res.tokensPerStep(),
                ev.baseline,
                slices,
                ev.recommended,
                reps > 0 ? Interval.of(recR, reps) : null,
                share,
                line,
                reps);
    }

    /** The fits, optima and recommendation for one set of values. */
    private record Eval(CurveFit[] newFits, CurveFit[] origFits, Optimum[] optima, int recommended, double baseline) {}

    private static Eval eval(
            double[][] almr, double[][] yNew, double[][] yOrig, double start, Options opt, boolean full) {
        int m = almr.length;
        CurveFit[] nf = new CurveFit[m], of = new CurveFit[m];
        for (int s = 0; s < m; s++) {
            nf[s] = ExpLaw.fit(almr[s], yNew[s], opt.minR2(), full);
            of[s] = ExpLaw.fit(almr[s], yOrig[s], opt.minR2(), full);
        }
        double base = start;
        if (opt.baseline() == Baseline.LOWEST_ALMR) {
            base = Double.POSITIVE_INFINITY;
            double lowest = Arrays.stream(almr).mapToDouble(a -> a[0]).min().orElse(0);
            for (int s = 0; s < m; s++) if (almr[s][0] == lowest) base = Math.min(base, yOrig[s][0]);
        }
        Optimum[] opts = new Optimum[m];
        int rec = -1;
        for (int s = 0; s < m; s++) {
            opts[s] = optimum(almr[s], yNew[s], yOrig[s], nf[s], of[s], base + opt.epsilon());
            if (Double.isFinite(opts[s].almr()) && (rec < 0 || opts[s].newLoss() < opts[rec].newLoss())) rec = s;
        }
        return new Eval(nf, of, opts, rec, base);
    }

    /** The largest r in [r_min, r_max] with predicted original loss ≤ limit (grid scan, then bisection). */
    static Optimum optimum(double[] r, double[] yNew, double[] yOrig, CurveFit newFit, CurveFit origFit, double limit) {
        DoubleUnaryOperator g = origFit.usable() ? origFit::predict : x -> interpolate(r, yOrig, x);
        DoubleUnaryOperator h = newFit.usable() ? newFit::predict : x -> interpolate(r, yNew, x);
        String method = origFit.usable() ? "law" : "interpolated";
        if (r.length < 2) return new Optimum(Double.NaN, Status.TOO_FEW, method, Double.NaN, Double.NaN);
        double lo = r[0], hi = r[r.length - 1];
        int n = 1000;
        int last = -1;
        for (int j = 0; j <= n; j++) {
            double x = lo + (hi - lo) * j / n;
            if (g.applyAsDouble(x) <= limit) last = j;
        }
        if (last < 0) return new Optimum(Double.NaN, Status.INFEASIBLE, method, Double.NaN, Double.NaN);
        if (last == n) return new Optimum(hi, Status.NOT_BINDING, method, h.applyAsDouble(hi), g.applyAsDouble(hi));
        double a = lo + (hi - lo) * last / n, b = lo + (hi - lo) * (last + 1) / n;
        for (int k = 0; k < 60; k++) {
            double mid = (a + b) / 2;
            if (g.applyAsDouble(mid) <= limit) a = mid;
            else b = mid;
        }
        return new Optimum(a, Status.BINDING, method, h.applyAsDouble(a), g.applyAsDouble(a));
    }

    /** Piecewise-linear through (x_i, y_i), x ascending; constant outside. */
    static double interpolate(double[] x, double[] y, double at) {
        if (at <= x[0]) return y[0];
        for (int i = 1; i < x.length; i++) {
            if (at <= x[i]) {
                double w = (at - x[i - 1]) / (x[i] - x[i - 1]);
                return y[i - 1] + w * (y[i] - y[i - 1]);
            }
        }
        return y[y.length - 1];
    }

    /** Residuals of the usable fits, each scaled by √(n/df) so their spread estimates the noise. */
    private static double[] pool(CurveFit[] fits) {
        List<Double> out = new ArrayList<>();
        for (CurveFit f : fits) {
            if (!f.usable() || f.df() < 1) continue;
            double scale = Math.sqrt(f.x().length / (double) f.df());
            for (double e : f.residuals()) out.add(e * scale);
        }
        return out.stream().mapToDouble(Double::doubleValue).toArray();
    }

    private static double[] resample(CurveFit fit, double[] y, double[] pool, SplittableRandom rng) {
        double[] out = new double[y.length];
        for (int i = 0; i < y.length; i++) {
            double base = fit.usable() ? fit.fitted()[i] : y[i];
            out[i] = base + (pool.length > 0 ? pool[rng.nextInt(pool.length)] : 0);
        }
        return out;
    }

    static double quantile(double[] sorted, double q) {
        double pos = q * (sorted.length - 1);
        int i = (int) Math.floor(pos);
        int j = Math.min(sorted.length - 1, i + 1);
        return sorted[i] + (pos - i) * (sorted[j] - sorted[i]);
    }

    /** The distinct values of a list, ascending. */
    static double[] distinct(double[] v) {
        return new TreeSet<>(Arrays.stream(v).boxed().toList())
                .stream().mapToDouble(Double::doubleValue).toArray();
    }
}
