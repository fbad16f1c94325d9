// The report's pictures, each a standalone SVG: per-language heatmaps of the final validation loss over
// the ALMR × LR grid, the validation loss curves, the fitted data-mixing laws with their points, the
// trade-off between the two languages, the constrained optimum against LR with its bootstrap intervals and
// the recommended point, and (when the sweep varies the token budget) the CMR law.
// Guarantees: every picture has a title, labelled axes with ticks, and a legend or colour bar; a fit that
// was refused is not drawn as a curve (its points are joined by a dotted line and the legend says why).
package dev.shoal.runtime.sweep.fit;

import dev.shoal.runtime.sweep.SweepResults;
import dev.shoal.runtime.sweep.fit.Svg.Scale;
import dev.shoal.runtime.sweep.fit.SweepAnalysis.Budget;
import dev.shoal.runtime.sweep.fit.SweepAnalysis.Slice;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.TreeSet;

/** Stateless. */
public final class Charts {
    private Charts() {}

    static String f(String fmt, Object... a) {
        return String.format(Locale.ROOT, fmt, a);
    }

    static String lang(SweepResults res, boolean newLang) {
        return newLang ? res.additionalLanguage() + " (new language)" : res.originalLabel() + " (original language)";
    }

    static String budgetLabel(Budget b) {
        return f("%d steps, %s tokens", b.steps(), tokens(b.tokens()));
    }

    /** 204800 → "205k", 1.5e9 → "1.5G". */
    static String tokens(double t) {
        if (t >= 1e9) return f("%.3gG", t / 1e9);
        if (t >= 1e6) return f("%.3gM", t / 1e6);
        if (t >= 1e3) return f("%.3gk", t / 1e3);
        return f("%.0f", t);
    }

    static double[] almrs(Budget b) {
        TreeSet<Double> s = new TreeSet<>();
        for (Slice sl : b.slices()) for (double a : sl.almr()) s.add(a);
        return s.stream().mapToDouble(Double::doubleValue).toArray();
    }

    /** Final validation loss of one language over the grid; the recommended point as a star. */
    public static String heatmap(SweepResults res, Budget b, boolean newLang) {
        double[] cols = almrs(b);
        int nc = cols.length, nr = b.slices().size();
        int cw = Math.max(70, Math.min(110, 560 / Math.max(1, nc))),
                ch = Math.max(46, Math.min(70, 300 / Math.max(1, nr)));
        double x0 = 90, y0 = 56, x1 = x0 + cw * nc, y1 = y0 + ch * nr;
        Svg s = new Svg((int) x1 + 150, (int) y1 + 70);
        s.text(20, 26, f("%s: final validation loss", lang(res, newLang)), 15, "start", "#111", true, 0);
        s.text(
                20,
                44,
                budgetLabel(b) + (newLang ? "; lower is better" : "; lower is better, ★ = recommended"),
                11.5,
                "start",
                "#555",
                false,
                0);
        double lo = Double.POSITIVE_INFINITY, hi = Double.NEGATIVE_INFINITY;
        for (Slice sl : b.slices())
            for (double v : newLang ? sl.newLoss() : sl.origLoss()) {
                lo = Math.min(lo, v);
                hi = Math.max(hi, v);
            }
        double span = hi > lo ? hi - lo : 1;
        for (int r = 0; r < nr; r++) {
            Slice sl = b.slices().get(r);
            double cy = y1 - (r + 1) * ch;
            s.text(x0 - 10, cy + ch / 2.0 + 4, Svg.tick(sl.peakLr()), 11.5, "end", "#333", false, 0);
            for (int c = 0; c < nc; c++) {
                double cx = x0 + c * cw;
                int k = indexOf(sl.almr(), cols[c]);
                if (k < 0) {
                    s.rect(cx + 1, cy + 1, cw - 2, ch - 2, "#eeeeee", "#ffffff", 1);
                    s.text(cx + cw / 2.0, cy + ch / 2.0 + 4, "n/a", 11, "middle", "#888", false, 0);
                    continue;
                }
                double v = (newLang ? sl.newLoss() : sl.origLoss())[k];
                double t = (v - lo) / span;
                s.group(f("ALMR %s, peak LR %s: %.4f", Svg.tick(cols[c]), Svg.tick(sl.peakLr()), v));
                s.rect(cx + 1, cy + 1, cw - 2, ch - 2, Svg.ramp(t), "#ffffff", 1);
                s.text(
                        cx + cw / 2.0,
                        cy + ch / 2.0 + 4,
                        f("%.3f", v),
                        12,
                        "middle",
                        Svg.lightRamp(t) ? "#111" : "#fff",
                        false,
                        0);
                s.end();
            }
        }
        for (int c = 0; c < nc; c++)
            s.text(x0 + c * cw + cw / 2.0, y1 + 18, Svg.tick(cols[c]), 11.5, "middle", "#333", false, 0);
        s.text(
                (x0 + x1) / 2,
                y1 + 40,
                "ALMR r (share of " + res.additionalLanguage() + " sequences)",
                12.5,
                "middle",
                "#222",
                false,
                0);
        s.text(x0 - 62, (y0 + y1) / 2, "peak LR", 12.5, "middle", "#222", false, -90);
        Slice rec = b.recommendation();
        if (rec != null) {
            double r = rec.optimum().almr();
            double px = x0 + cw / 2.0 + interpolateIndex(cols, r) * cw;
            int row = b.slices().indexOf(rec);
            double py = y1 - (row + 0.5) * ch;
            s.group(f("recommended: ALMR %.3f at peak LR %s", r, Svg.tick(rec.peakLr())));
            s.star(px, py - ch * 0.3, 9, "#ff3b30", "#ffffff");
            s.end();
        }
        // Colour bar.
        double bx = x1 + 30, bw = 16;
        int steps = 60;
        for (int i = 0; i < steps; i++) {
            double yy = y1 - (i + 1) * (y1 - y0) / steps;
            s.rect(bx, yy, bw, (y1 - y0) / steps + 0.6, Svg.ramp((i + 0.5) / steps), null, 0);
        }
        s.rect(bx, y0, bw, y1 - y0, null, "#888", 0.8);
        Scale cs = new Scale(lo, hi > lo ? hi : lo + 1, y1, y0, false);
        for (double t : Svg.niceTicks(lo, hi > lo ? hi : lo + 1, 5)) {
            double yy = cs.at(t);
            s.line(bx + bw, yy, bx + bw + 4, yy, "#555", 1, null);
            s.text(bx + bw + 7, yy + 4, Svg.tick(t), 10.5, "start", "#333", false, 0);
        }
        s.text(bx + bw / 2, y0 - 8, "loss", 11, "middle", "#333", false, 0);
        return s.toString();
    }

    private static int indexOf(double[] a, double v) {
        for (int i = 0; i < a.length; i++) if (a[i] == v) return i;
        return -1;
    }

    /** Fractional column index of r among sorted column values. */
    static double interpolateIndex(double[] cols, double r) {
        if (r <= cols[0]) return 0;
        for (int i = 1; i < cols.length; i++) {
            if (r <= cols[i]) return i - 1 + (r - cols[i - 1]) / (cols[i] - cols[i - 1]);
        }
        return cols.length - 1;
    }

    /** One language's validation loss against steps: a panel per LR, a line per ALMR. */
    public static String curves(SweepResults res, Budget b, boolean newLang) {
        int m = b.slices().size();
        double pw = 250, ph = 260, left = 80, top = 76, gap = 26;
        double[] cols = almrs(b);
        Svg s = new Svg((int) (left + m * pw + (m - 1) * gap + 130), (int) (top + ph + 74));
        s.text(20, 26, f("%s: validation loss during training", lang(res, newLang)), 15, "start", "#111", true, 0);
        s.text(20, 44, budgetLabel(b) + "; one panel per peak LR, one line per ALMR", 11.5, "start", "#555", false, 0);
        double lo = Double.POSITIVE_INFINITY,
                hi = Double.NEGATIVE_INFINITY,
                maxStep = 1,
                startHi = Double.NEGATIVE_INFINITY;
        List<List<double[][]>> data = new ArrayList<>();
        for (Slice sl : b.slices()) {
            List<double[][]> perPoint = new ArrayList<>();
            for (SweepResults.Point p : sl.points()) {
                double[][] c = languageCurve(res, p, newLang);
                perPoint.add(c);
                for (double[] q : c) {
                    maxStep = Math.max(maxStep, q[0]);
                    if (q[0] == 0) {
                        startHi = Math.max(startHi, q[1]);
                        continue; // the start can sit far above the rest; it is clipped, and said so
                    }
                    lo = Math.min(lo, q[1]);
                    hi = Math.max(hi, q[1]);
                }
            }
            data.add(perPoint);
        }
        if (!Double.isFinite(lo)) {
            lo = 0;
            hi = 1;
        }
        if (Double.isFinite(startHi) && startHi > hi + 0.25 * (hi - lo)) {
            s.text(
                    20,
                    top + ph + 62,
                    f(
                            "Step 0 (the starting model, up to %.3f) lies above the plotted range; the lines"
                                    + " leave the top edge there.",
                            startHi),
                    10.5,
                    "start",
                    "#555",
                    false,
                    0);
        } else if (Double.isFinite(startHi)) {
            hi = Math.max(hi, startHi);
        }
        String clip = "clip-curves-" + (newLang ? "new" : "orig") + "-" + b.steps() + "-";
        for (int i = 0; i < m; i++) {
            Slice sl = b.slices().get(i);
            double x0 = left + i * (pw + gap), x1 = x0 + pw, y0 = top, y1 = top + ph;
            Scale xs = new Scale(0, maxStep, x0, x1, false);
            Scale ys = Scale.padded(lo, hi, y1, y0);
            s.axes(xs, ys, x0, x1, y0, y1, "step", i == 0 ? "validation loss (nats/token)" : "");
            s.text((x0 + x1) / 2, y0 - 6, "peak LR " + Svg.tick(sl.peakLr()), 12, "middle", "#222", true, 0);
            s.raw(f(
                    "<clipPath id=\"%s%d\"><rect x=\"%.2f\" y=\"%.2f\" width=\"%.2f\" height=\"%.2f\"/></clipPath>",
                    clip, i, x0, y0, pw, ph));
            s.raw(f("<g clip-path=\"url(#%s%d)\">", clip, i));
            for (int k = 0; k < sl.points().size(); k++) {
                double[][] c = data.get(i).get(k);
                List<double[]> pts = new ArrayList<>();
                for (double[] q : c) pts.add(new double[] {xs.at(q[0]), ys.at(q[1])});
                String col = Svg.ramp(0.9 * interpolateIndex(cols, sl.almr()[k]) / Math.max(1, cols.length - 1));
                s.group(f("ALMR %s, peak LR %s", Svg.tick(sl.almr()[k]), Svg.tick(sl.peakLr())));
                s.polyline(pts, col, 2, null);
                s.end();
            }
            s.raw("</g>");
        }
        legendAlmr(s, cols, left + m * pw + (m - 1) * gap + 18, top + 10);
        return s.toString();
    }

    private static void legendAlmr(Svg s, double[] cols, double x, double y) {
        s.text(x, y, "ALMR", 12, "start", "#222", true, 0);
        for (int c = 0; c < cols.length; c++) {
            double yy = y + 18 + c * 18;
            s.line(x, yy - 4, x + 22, yy - 4, Svg.ramp(0.9 * c / Math.max(1, cols.length - 1)), 3, null);
            s.text(x + 28, yy, Svg.tick(cols[c]), 11.5, "start", "#333", false, 0);
        }
    }

    /** (step, language loss) of a point, combining its sources at each eval step. */
    static double[][] languageCurve(SweepResults res, SweepResults.Point p, boolean newLang) {
        List<double[]> out = new ArrayList<>();
        Map<String, double[][]> cv = p.curves();
        int len = cv.values().stream().mapToInt(a -> a.length).min().orElse(0);
        for (int i = 0; i < len; i++) {
            Map<String, Double> at = new java.util.LinkedHashMap<>();
            double step = Double.NaN;
            for (Map.Entry<String, double[][]> e : cv.entrySet()) {
                at.put(e.getKey(), e.getValue()[i][1]);
                step = e.getValue()[i][0];
            }
            double v = res.languageLoss(at, newLang);
            if (Double.isFinite(v)) out.add(new double[] {step, v});
        }
        return out.toArray(new double[0][]);
    }

    /** Final loss against ALMR with the fitted law per LR (and, for the original language, ε and r*). */
    public static String fits(SweepResults res, Budget b, boolean newLang, double epsilon) {
        double W = 700, H = 460, x0 = 80, x1 = W - 230, y0 = 60, y1 = H - 70;
        Svg s = new Svg((int) W, (int) H);
        s.text(20, 26, f("%s: data-mixing law fits", lang(res, newLang)), 15, "start", "#111", true, 0);
        s.text(
                20,
                44,
                budgetLabel(b) + "; points = final loss, lines = " + ExpLaw.LAW,
                11.5,
                "start",
                "#555",
                false,
                0);
        double[] cols = almrs(b);
        double lo = Double.POSITIVE_INFINITY, hi = Double.NEGATIVE_INFINITY;
        for (Slice sl : b.slices())
            for (double v : newLang ? sl.newLoss() : sl.origLoss()) {
                lo = Math.min(lo, v);
                hi = Math.max(hi, v);
            }
        if (!newLang) {
            lo = Math.min(lo, b.baseline());
            hi = Math.max(hi, b.baseline() + epsilon);
        }
        Scale xs = Scale.padded(cols[0], cols[cols.length - 1], x0, x1);
        Scale ys = Scale.padded(lo, hi, y1, y0);
        s.axes(xs, ys, x0, x1, y0, y1, "ALMR r", "final validation loss (nats/token)");
        if (!newLang) {
            s.line(x0, ys.at(b.baseline()), x1, ys.at(b.baseline()), "#777", 1.2, "5,4");
            s.text(x1 - 4, ys.at(b.baseline()) + 14, "baseline", 10.5, "end", "#555", false, 0);
            double lim = b.baseline() + epsilon;
            s.line(x0, ys.at(lim), x1, ys.at(lim), "#d62728", 1.4, "7,4");
            s.text(x1 - 4, ys.at(lim) - 5, f("baseline + ε (%s)", Svg.tick(epsilon)), 10.5, "end", "#d62728", false, 0);
        }
        double ly = y0 + 8;
        s.text(x1 + 18, ly, "peak LR", 12, "start", "#222", true, 0);
        for (int i = 0; i < b.slices().size(); i++) {
            Slice sl = b.slices().get(i);
            String col = Svg.category(i);
            CurveFit fit = newLang ? sl.newFit() : sl.origFit();
            double[] y = newLang ? sl.newLoss() : sl.origLoss();
            if (fit.usable()) {
                List<double[]> pts = new ArrayList<>();
                double a = sl.almr()[0], z = sl.almr()[sl.almr().length - 1];
                for (int k = 0; k <= 120; k++) {
                    double r = a + (z - a) * k / 120;
                    pts.add(new double[] {xs.at(r), ys.at(fit.predict(r))});
                }
                s.polyline(pts, col, 2.2, null);
            } else {
                List<double[]> pts = new ArrayList<>();
                for (int k = 0; k < y.length; k++) pts.add(new double[] {xs.at(sl.almr()[k]), ys.at(y[k])});
                s.polyline(pts, col, 1.4, "2,4");
            }
            for (int k = 0; k < y.length; k++) {
                s.group(f("ALMR %s, peak LR %s: %.4f", Svg.tick(sl.almr()[k]), Svg.tick(sl.peakLr()), y[k]));
                s.circle(xs.at(sl.almr()[k]), ys.at(y[k]), 4.2, col, "#ffffff", 1.2);
                s.end();
            }
            if (!newLang && Double.isFinite(sl.optimum().almr())) {
                double r = sl.optimum().almr();
                s.line(xs.at(r), y1, xs.at(r), ys.at(sl.optimum().origLoss()), col, 1.2, "3,3");
            }
            if (newLang && b.recommendation() == sl) {
                double r = sl.optimum().almr();
                s.star(xs.at(r), ys.at(sl.optimum().newLoss()), 10, "#ff3b30", "#ffffff");
            }
            double yy = ly + 20 + i * 34;
            s.line(x1 + 18, yy - 4, x1 + 40, yy - 4, col, 3, fit.usable() ? null : "2,4");
            s.circle(x1 + 29, yy - 4, 3.5, col, "#fff", 1);
            s.text(x1 + 46, yy, Svg.tick(sl.peakLr()), 11.5, "start", "#222", false, 0);
            String sub = fit.usable() ? f("R² %.3f", fit.r2()) : "no fit: " + shortReason(fit.refusal());
            if (!newLang) sub += "; " + optimumLabel(sl.optimum());
            s.text(x1 + 46, yy + 14, sub, 10, "start", fit.usable() ? "#555" : "#b00", false, 0);
        }
        if (newLang && b.recommendation() != null) {
            double yy = ly + 20 + b.slices().size() * 34 + 6;
            s.star(x1 + 29, yy - 4, 7, "#ff3b30", "#ffffff");
            s.text(x1 + 46, yy, "recommended", 11, "start", "#222", false, 0);
        }
        return s.toString();
    }

    static String optimumLabel(SweepAnalysis.Optimum o) {
        return switch (o.status()) {
            case BINDING -> f("r* %.3f", o.almr());
            case NOT_BINDING -> f("r* ≥ %.3f", o.almr());
            case INFEASIBLE -> "no r* within ε";
            case TOO_FEW -> "one ALMR only";
        };
    }

    static String shortReason(String why) {
        if (why == null) return "";
        int colon = why.indexOf(':');
        String w = colon > 0 ? why.substring(0, colon) : why;
        return w.length() > 28 ? w.substring(0, 27) + "…" : w;
    }

    /** New-language loss against original-language loss, one line per LR through its ALMR points. */
    public static String tradeoff(SweepResults res, Budget b, double epsilon) {
        double W = 700, H = 460, x0 = 80, x1 = W - 170, y0 = 60, y1 = H - 70;
        Svg s = new Svg((int) W, (int) H);
        s.text(
                20,
                26,
                f("Trade-off: %s gain against %s forgetting", res.additionalLanguage(), res.originalLabel()),
                15,
                "start",
                "#111",
                true,
                0);
        s.text(
                20,
                44,
                budgetLabel(b) + "; labels = ALMR; left of the red line = within ε",
                11.5,
                "start",
                "#555",
                false,
                0);
        double xlo = Double.POSITIVE_INFINITY, xhi = Double.NEGATIVE_INFINITY, ylo = xlo, yhi = xhi;
        for (Slice sl : b.slices()) {
            for (int k = 0; k < sl.almr().length; k++) {
                xlo = Math.min(xlo, sl.origLoss()[k]);
                xhi = Math.max(xhi, sl.origLoss()[k]);
                ylo = Math.min(ylo, sl.newLoss()[k]);
                yhi = Math.max(yhi, sl.newLoss()[k]);
            }
        }
        xhi = Math.max(xhi, b.baseline() + epsilon);
        Scale xs = Scale.padded(xlo, xhi, x0, x1), ys = Scale.padded(ylo, yhi, y1, y0);
        s.axes(
                xs,
                ys,
                x0,
                x1,
                y0,
                y1,
                res.originalLabel() + " validation loss (original)",
                res.additionalLanguage() + " validation loss (new)");
        double lim = xs.at(b.baseline() + epsilon);
        s.line(lim, y0, lim, y1, "#d62728", 1.4, "7,4");
        s.text(lim + 4, y1 - 6, "baseline + ε", 10.5, "start", "#d62728", false, 0);
        s.text(x1 + 18, y0 + 8, "peak LR", 12, "start", "#222", true, 0);
        for (int i = 0; i < b.slices().size(); i++) {
            Slice sl = b.slices().get(i);
            String col = Svg.category(i);
            List<double[]> pts = new ArrayList<>();
            for (int k = 0; k < sl.almr().length; k++)
                pts.add(new double[] {xs.at(sl.origLoss()[k]), ys.at(sl.newLoss()[k])});
            s.polyline(pts, col, 1.8, null);
            for (int k = 0; k < pts.size(); k++) {
                s.circle(pts.get(k)[0], pts.get(k)[1], 4, col, "#fff", 1.2);
                s.text(pts.get(k)[0] + 6, pts.get(k)[1] - 6, Svg.tick(sl.almr()[k]), 9.5, "start", col, false, 0);
            }
            double yy = y0 + 28 + i * 20;
            s.line(x1 + 18, yy - 4, x1 + 40, yy - 4, col, 3, null);
            s.text(x1 + 46, yy, Svg.tick(sl.peakLr()), 11.5, "start", "#222", false, 0);
        }
        return s.toString();
    }

    /** r* against peak LR: points with bootstrap intervals, the fitted line, the recommended point. */
    public static String optimum(SweepResults res, Budget b) {
        double W = 700, H = 440, x0 = 80, x1 = W - 200, y0 = 60, y1 = H - 70;
        Svg s = new Svg((int) W, (int) H);
        s.text(20, 26, "Constrained optimum r* against peak LR", 15, "start", "#111", true, 0);
        s.text(20, 44, budgetLabel(b) + "; bars = 90% bootstrap interval", 11.5, "start", "#555", false, 0);
        double[] cols = almrs(b);
        double lr0 = b.slices().get(0).peakLr(),
                lr1 = b.slices().get(b.slices().size() - 1).peakLr();
        Scale xs = Scale.logPadded(lr0, lr1, x0, x1);
        Scale ys = Scale.padded(cols[0], cols[cols.length - 1], y1, y0);
        s.axes(
                xs,
                ys,
                x0,
                x1,
                y0,
                y1,
                "peak LR (log scale)",
                "r* (largest ALMR within ε)",
                b.slices().stream().map(Slice::peakLr).toList());
        s.line(x0, ys.at(cols[cols.length - 1]), x1, ys.at(cols[cols.length - 1]), "#999", 1, "4,4");
        s.text(x0 + 4, ys.at(cols[cols.length - 1]) - 5, "largest sampled ALMR", 10, "start", "#777", false, 0);
        s.line(x0, ys.at(cols[0]), x1, ys.at(cols[0]), "#999", 1, "4,4");
        s.text(x0 + 4, ys.at(cols[0]) + 13, "smallest sampled ALMR", 10, "start", "#777", false, 0);
        CurveFit line = b.lrRelation();
        if (line.usable()) {
            List<double[]> pts = new ArrayList<>();
            for (int k = 0; k <= 50; k++) {
                double lx = Math.log10(lr0) + (Math.log10(lr1) - Math.log10(lr0)) * k / 50;
                pts.add(new double[] {xs.at(Math.pow(10, lx)), ys.at(line.predict(lx))});
            }
            s.polyline(pts, "#555", 1.6, "6,3");
        }
        for (int i = 0; i < b.slices().size(); i++) {
            Slice sl = b.slices().get(i);
            double px = xs.at(sl.peakLr());
            String col = Svg.category(i);
            if (sl.optimumInterval() != null && sl.optimumInterval().share() > 0) {
                double a = ys.at(sl.optimumInterval().lo()),
                        z = ys.at(sl.optimumInterval().hi());
                s.line(px, a, px, z, col, 1.6, null);
                s.line(px - 6, a, px + 6, a, col, 1.6, null);
                s.line(px - 6, z, px + 6, z, col, 1.6, null);
            }
            SweepAnalysis.Optimum o = sl.optimum();
            switch (o.status()) {
                case BINDING -> s.circle(px, ys.at(o.almr()), 5.5, col, "#fff", 1.4);
                case NOT_BINDING -> {
                    double py = ys.at(o.almr());
                    s.raw(f(
                            "<polygon points=\"%.2f,%.2f %.2f,%.2f %.2f,%.2f\" fill=\"#fff\" stroke=\"%s\" stroke-width=\"2\"/>",
                            px, py - 7, px - 6, py + 5, px + 6, py + 5, col));
                    s.text(px + 9, py + 4, "≥ (not binding)", 10, "start", col, false, 0);
                }
                case TOO_FEW -> s.text(px, ys.at(cols[0]) - 10, "one ALMR only", 10, "middle", col, false, 0);
                case INFEASIBLE -> {
                    double py = ys.at(cols[0]);
                    s.text(px, py + 4, "×", 16, "middle", col, true, 0);
                    s.text(px, py - 10, "none within ε", 10, "middle", col, false, 0);
                }
            }
            if (b.recommendation() == sl) s.star(px + 14, ys.at(o.almr()) - 12, 9, "#ff3b30", "#fff");
        }
        double lx = x1 + 18, ly = y0 + 8;
        s.text(lx, ly, "legend", 12, "start", "#222", true, 0);
        s.circle(lx + 8, ly + 18, 5, "#888", "#fff", 1);
        s.text(lx + 20, ly + 22, "r* (binding)", 11, "start", "#333", false, 0);
        s.star(lx + 8, ly + 40, 7, "#ff3b30", "#fff");
        s.text(lx + 20, ly + 44, "recommended", 11, "start", "#333", false, 0);
        s.line(lx, ly + 62, lx + 16, ly + 62, "#555", 1.6, "6,3");
        s.text(
                lx + 20,
                ly + 66,
                line.usable() ? f("fit, R² %.3f", line.r2()) : "no line fit:",
                11,
                "start",
                "#333",
                false,
                0);
        if (!line.usable()) s.text(lx + 20, ly + 80, shortReason(line.refusal()), 10, "start", "#b00", false, 0);
        return s.toString();
    }

    /** The CMR law: recommended r* against the token budget. */
    public static String cmr(SweepAnalysis.Analysis a) {
        double W = 700, H = 440, x0 = 80, x1 = W - 40, y0 = 60, y1 = H - 70;
        Svg s = new Svg((int) W, (int) H);
        CurveFit c = a.cmr();
        s.text(20, 26, "CMR law: critical mixture ratio against token budget", 15, "start", "#111", true, 0);
        s.text(
                20,
                44,
                c.usable() ? f("%s, R² %.3f", PowerLaw.LAW, c.r2()) : "not fitted: " + c.refusal(),
                11.5,
                "start",
                c.usable() ? "#555" : "#b00",
                false,
                0);
        if (c.x().length == 0) {
            s.text(W / 2, H / 2, "no budget with a binding r*", 14, "middle", "#888", false, 0);
            return s.toString();
        }
        double lo = Double.POSITIVE_INFINITY, hi = 0, rlo = lo, rhi = -lo;
        for (int i = 0; i < c.x().length; i++) {
            lo = Math.min(lo, c.x()[i]);
            hi = Math.max(hi, c.x()[i]);
            rlo = Math.min(rlo, c.y()[i]);
            rhi = Math.max(rhi, c.y()[i]);
        }
        Scale xs = Scale.logPadded(lo, hi, x0, x1), ys = Scale.padded(rlo, rhi, y1, y0);
        s.axes(xs, ys, x0, x1, y0, y1, "token budget T (log scale)", "recommended r*");
        if (c.usable()) {
            List<double[]> pts = new ArrayList<>();
            for (int k = 0; k <= 80; k++) {
                double t = lo * Math.pow(hi / lo, k / 80.0);
                pts.add(new double[] {xs.at(t), ys.at(c.predict(t))});
            }
            s.polyline(pts, "#1f77b4", 2, null);
        }
        for (int i = 0; i < c.x().length; i++) s.circle(xs.at(c.x()[i]), ys.at(c.y()[i]), 5, "#1f77b4", "#fff", 1.4);
        return s.toString();
    }
}
