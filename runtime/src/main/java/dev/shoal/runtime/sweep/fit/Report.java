// Writes the sweep report into a folder: report.html (self-contained: inline SVG and CSS, nothing fetched),
// report.md (the same text, pictures as links to the SVG files), one standalone SVG per picture, and
// fit.json (every number of the analysis, for scripts). The text states every refusal with its reason and
// never prints a number for a fit the data do not support.
package dev.shoal.runtime.sweep.fit;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.shoal.runtime.sweep.SweepResults;
import dev.shoal.runtime.sweep.fit.SweepAnalysis.Analysis;
import dev.shoal.runtime.sweep.fit.SweepAnalysis.Budget;
import dev.shoal.runtime.sweep.fit.SweepAnalysis.Slice;
import dev.shoal.runtime.sweep.fit.SweepAnalysis.Status;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Map;

/** Stateless. */
public final class Report {
    private Report() {}

    /** Writes every file and returns their paths (report.html first). */
    public static List<Path> write(Analysis a, Path dir) throws IOException {
        Files.createDirectories(dir);
        SweepResults res = a.results();
        double eps = a.options().epsilon();
        Doc d = new Doc();
        List<Path> files = new ArrayList<>();
        d.h(1, "Sweep report: " + res.name());
        d.p(summary(a));
        for (String n : a.notes()) d.p("Note: " + n);
        boolean many = a.budgets().size() > 1;
        for (Budget b : a.budgets()) {
            String sfx = many ? "-s" + b.steps() : "";
            if (many) d.h(2, "Token budget: " + Charts.budgetLabel(b));
            d.h(many ? 3 : 2, "Recommendation");
            d.p(recommendation(res, b, eps));
            d.figure(
                    save(dir, files, "heatmap-" + res.additionalLanguage() + sfx, Charts.heatmap(res, b, true)),
                    res.additionalLanguage() + " final validation loss over the grid");
            d.figure(
                    save(dir, files, "heatmap-" + res.originalLabel() + sfx, Charts.heatmap(res, b, false)),
                    res.originalLabel() + " final validation loss over the grid (★ = recommended ALMR at its LR)");
            d.h(many ? 3 : 2, "Fits per learning rate");
            d.p("Each language's final validation loss against the ALMR r, fitted per peak LR with the data-mixing law "
                    + ExpLaw.LAW + " (variable projection, then Levenberg–Marquardt). A fit is refused when the points"
                    + " cannot support it (fewer than 4, flat, non-monotone, R² < "
                    + a.options().minR2()
                    + "); the optimum then uses straight lines between the measured points.");
            d.table(fitHeader(), fitRows(res, b));
            d.figure(
                    save(dir, files, "fit-" + res.additionalLanguage() + sfx, Charts.fits(res, b, true, eps)),
                    "new-language loss and its fits");
            d.figure(
                    save(dir, files, "fit-" + res.originalLabel() + sfx, Charts.fits(res, b, false, eps)),
                    "original-language loss, its fits, the ε limit and r* per LR");
            d.figure(
                    save(dir, files, "tradeoff" + sfx, Charts.tradeoff(res, b, eps)),
                    "the trade-off between languages");
            d.h(many ? 3 : 2, "Constrained optimum per learning rate");
            d.p(String.format(
                    Locale.ROOT,
                    "r* is the largest ALMR in the sampled range whose predicted %s loss stays"
                            + " within ε = %s of the baseline %.4f (%s). \"not binding\" means every sampled ALMR is within ε,"
                            + " so r* is at least the largest one sampled (no extrapolation).",
                    res.originalLabel(),
                    Svg.tick(eps),
                    b.baseline(),
                    baselineText(a.options().baseline())));
            d.table(
                    List.of(
                            "peak LR",
                            "r*",
                            "status",
                            "from",
                            "90% interval",
                            "share feasible",
                            res.additionalLanguage() + " at r*",
                            res.originalLabel() + " at r*",
                            "chosen in"),
                    optimumRows(b));
            d.p(lineText(b.lrRelation()));
            d.figure(save(dir, files, "optimum-lr" + sfx, Charts.optimum(res, b)), "r* against peak LR");
            d.h(many ? 3 : 2, "Validation curves");
            d.figure(
                    save(dir, files, "curves-" + res.additionalLanguage() + sfx, Charts.curves(res, b, true)),
                    res.additionalLanguage() + " validation loss during training");
            d.figure(
                    save(dir, files, "curves-" + res.originalLabel() + sfx, Charts.curves(res, b, false)),
                    res.originalLabel() + " validation loss during training");
        }
        d.h(2, "CMR law over token budgets");
        d.p(cmrText(a.cmr()));
        if (many) d.figure(save(dir, files, "cmr", Charts.cmr(a)), "recommended r* against token budget");
        d.h(2, "Points");
        d.table(
                List.of(
                        "point",
                        "ALMR",
                        "peak LR",
                        "steps",
                        res.additionalLanguage() + " final",
                        res.originalLabel() + " final",
                        res.additionalLanguage() + " start",
                        res.originalLabel() + " start"),
                pointRows(a));
        Path html = dir.resolve("report.html");
        Files.writeString(html, d.html("Sweep report: " + res.name()), StandardCharsets.UTF_8);
        Path md = dir.resolve("report.md");
        Files.writeString(md, d.markdown(), StandardCharsets.UTF_8);
        Path json = dir.resolve("fit.json");
        Files.writeString(json, json(a), StandardCharsets.UTF_8);
        List<Path> all = new ArrayList<>(List.of(html, md, json));
        all.addAll(files);
        return all;
    }

    private static Doc.Figure save(Path dir, List<Path> files, String name, String svg) throws IOException {
        String file = name.replaceAll("[^A-Za-z0-9_.+-]", "_") + ".svg";
        Path p = dir.resolve(file);
        Files.writeString(p, svg, StandardCharsets.UTF_8);
        files.add(p);
        return new Doc.Figure(file, svg);
    }

    static String f(String fmt, Object... a) {
        return String.format(Locale.ROOT, fmt, a);
    }

    static String baselineText(SweepAnalysis.Baseline b) {
        return b == SweepAnalysis.Baseline.START
                ? "the starting model's loss"
                : "the lowest original-language loss at the lowest ALMR over the LRs";
    }

    static String summary(Analysis a) {
        SweepResults res = a.results();
        long nA = res.points().stream()
                .mapToDouble(SweepResults.Point::almr)
                .distinct()
                .count();
        long nL = res.points().stream()
                .mapToDouble(SweepResults.Point::peakLr)
                .distinct()
                .count();
        return f(
                "%d finished points (%d ALMR × %d peak LR × %d token budget%s); new language %s, original %s."
                        + " ε = %s nats/token above %s. Uncertainty: %d residual-bootstrap replicates (seed %d).",
                res.points().size(),
                nA,
                nL,
                a.budgets().size(),
                a.budgets().size() == 1 ? "" : "s",
                res.additionalLanguage(),
                res.originalLabel(),
                Svg.tick(a.options().epsilon()),
                baselineText(a.options().baseline()),
                a.options().bootstrap(),
                a.options().seed());
    }

    static String recommendation(SweepResults res, Budget b, double eps) {
        Slice s = b.recommendation();
        if (s == null) {
            return f(
                    "No recommendation: at every peak LR even the smallest ALMR raises the %s loss by more than ε = %s"
                            + " over the baseline %.4f. Raise ε, sample smaller ALMRs, or lower the LR.",
                    res.originalLabel(), Svg.tick(eps), b.baseline());
        }
        SweepAnalysis.Optimum o = s.optimum();
        StringBuilder sb = new StringBuilder();
        sb.append(f(
                "**ALMR %s%.3f at peak LR %s**",
                o.status() == Status.NOT_BINDING ? "≥ " : "", o.almr(), Svg.tick(s.peakLr())));
        if (b.recommendedAlmr() != null && b.recommendedAlmr().share() > 0) {
            sb.append(f(
                    " (90%% bootstrap interval of the recommended ALMR %.3f–%.3f; this LR chosen in %.0f%% of %d"
                            + " replicates)",
                    b.recommendedAlmr().lo(),
                    b.recommendedAlmr().hi(),
                    100 * b.lrShare().get(s.peakLr()),
                    b.bootstrapReplicates()));
        } else {
            sb.append(" (no bootstrap: no usable fit left residuals to resample)");
        }
        sb.append(f(
                ": predicted %s loss %.4f and %s loss %.4f (baseline %.4f + ε %s), from %s.",
                res.additionalLanguage(),
                o.newLoss(),
                res.originalLabel(),
                o.origLoss(),
                b.baseline(),
                Svg.tick(eps),
                o.method().equals("law") ? "the fitted law" : "straight lines between the measured points"));
        if (o.status() == Status.NOT_BINDING) {
            sb.append(" Every sampled ALMR is within ε at this LR: the best ALMR may be larger; sample larger values.");
        }
        int i = b.slices().indexOf(s);
        if (b.slices().size() > 1 && (i == 0 || i == b.slices().size() - 1)) {
            sb.append(f(
                    " The chosen LR is the %s one sampled: the best LR may lie beyond the grid; extend sweep.peak_lr"
                            + " to check.",
                    i == 0 ? "smallest" : "largest"));
        }
        return sb.toString();
    }

    static List<String> fitHeader() {
        return List.of("peak LR", "language", "c", "k", "t", "R²", "RMSE", "df", "max |residual|", "verdict");
    }

    static List<List<String>> fitRows(SweepResults res, Budget b) {
        List<List<String>> rows = new ArrayList<>();
        for (Slice s : b.slices()) {
            for (boolean nw : new boolean[] {true, false}) {
                CurveFit c = nw ? s.newFit() : s.origFit();
                List<String> r = new ArrayList<>();
                r.add(Svg.tick(s.peakLr()));
                r.add(nw ? res.additionalLanguage() : res.originalLabel());
                if (c.usable()) {
                    for (int i = 0; i < 3; i++) r.add(pm(c.params()[i], c.stdErr()[i]));
                    r.add(f("%.4f", c.r2()));
                    r.add(f("%.2g", c.rmse()));
                    r.add(Integer.toString(c.df()));
                    double mx = 0;
                    for (double e : c.residuals()) mx = Math.max(mx, Math.abs(e));
                    r.add(f("%.2g", mx));
                    r.add(c.notes().isEmpty() ? "fit" : "fit; " + String.join("; ", c.notes()));
                } else {
                    for (int i = 0; i < 6; i++) r.add("–");
                    r.add("refused: " + c.refusal());
                }
                rows.add(r);
            }
        }
        return rows;
    }

    static String pm(double v, double se) {
        return Double.isFinite(se) ? f("%.4g ± %.2g", v, se) : f("%.4g", v);
    }

    static List<List<String>> optimumRows(Budget b) {
        List<List<String>> rows = new ArrayList<>();
        for (Slice s : b.slices()) {
            SweepAnalysis.Optimum o = s.optimum();
            SweepAnalysis.Interval iv = s.optimumInterval();
            boolean has = Double.isFinite(o.almr());
            rows.add(List.of(
                    Svg.tick(s.peakLr()),
                    has ? f("%s%.3f", o.status() == Status.NOT_BINDING ? "≥ " : "", o.almr()) : "none",
                    switch (o.status()) {
                        case BINDING -> "binding";
                        case NOT_BINDING -> "not binding";
                        case INFEASIBLE -> "infeasible";
                        case TOO_FEW -> "one ALMR only";
                    },
                    o.method(),
                    iv != null && iv.share() > 0 ? f("%.3f–%.3f", iv.lo(), iv.hi()) : "–",
                    iv != null ? f("%.0f%%", 100 * iv.share()) : "–",
                    has ? f("%.4f", o.newLoss()) : "–",
                    has ? f("%.4f", o.origLoss()) : "–",
                    Double.isFinite(b.lrShare().getOrDefault(s.peakLr(), Double.NaN))
                            ? f("%.0f%%", 100 * b.lrShare().get(s.peakLr()))
                            : "–"));
        }
        return rows;
    }

    static String lineText(CurveFit c) {
        if (!c.usable()) return "r* against log10(peak LR): not fitted: " + c.refusal() + ".";
        return f(
                "r* against log10(peak LR): %s with a = %s, b = %s per decade of LR; R² %.3f, RMSE %.3g, %d"
                        + " degree%s of freedom.%s",
                LineFit.LAW,
                pm(c.params()[0], c.stdErr()[0]),
                pm(c.params()[1], c.stdErr()[1]),
                c.r2(),
                c.rmse(),
                c.df(),
                c.df() == 1 ? "" : "s",
                c.notes().isEmpty() ? "" : " " + String.join("; ", c.notes()) + ".");
    }

    static String cmrText(CurveFit c) {
        if (!c.usable()) return "Not fitted: " + c.refusal() + ".";
        return f(
                "%s with β0 = %s, β1 = %s, s = %s (T in tokens); R² %.3f, RMSE %.3g over %d budgets.%s",
                PowerLaw.LAW,
                pm(c.params()[0], c.stdErr()[0]),
                pm(c.params()[1], c.stdErr()[1]),
                pm(c.params()[2], c.stdErr()[2]),
                c.r2(),
                c.rmse(),
                c.x().length,
                c.notes().isEmpty() ? "" : " " + String.join("; ", c.notes()) + ".");
    }

    static List<List<String>> pointRows(Analysis a) {
        SweepResults res = a.results();
        List<List<String>> rows = new ArrayList<>();
        for (SweepResults.Point p : res.points()) {
            rows.add(List.of(
                    p.id(),
                    Svg.tick(p.almr()),
                    Svg.tick(p.peakLr()),
                    Long.toString(p.steps()),
                    f("%.4f", res.languageLoss(p.finalLoss(), true)),
                    f("%.4f", res.languageLoss(p.finalLoss(), false)),
                    num(res.languageLoss(p.startLoss(), true)),
                    num(res.languageLoss(p.startLoss(), false))));
        }
        for (Map.Entry<String, String> e : res.failed().entrySet()) {
            rows.add(List.of(e.getKey(), "", "", "", "diverged", "", "", ""));
        }
        for (String m : res.missing()) rows.add(List.of(m, "", "", "", "not finished", "", "", ""));
        return rows;
    }

    static String num(double v) {
        return Double.isFinite(v) ? f("%.4f", v) : "–";
    }

    // ---- fit.json ----

    static String json(Analysis a) throws IOException {
        ObjectMapper m = new ObjectMapper().enable(SerializationFeature.INDENT_OUTPUT);
        ObjectNode root = m.createObjectNode();
        root.put("sweep", a.results().name());
        root.put("epsilon", a.options().epsilon());
        root.put("baseline_mode", a.options().baseline().name().toLowerCase(Locale.ROOT));
        root.put("bootstrap", a.options().bootstrap());
        root.put("seed", a.options().seed());
        a.notes().forEach(root.putArray("notes")::add);
        ArrayNode budgets = root.putArray("budgets");
        for (Budget b : a.budgets()) {
            ObjectNode bn = budgets.addObject();
            bn.put("steps", b.steps());
            bn.put("tokens", b.tokens());
            bn.put("baseline", b.baseline());
            Slice rec = b.recommendation();
            if (rec != null) {
                ObjectNode r = bn.putObject("recommendation");
                r.put("almr", rec.optimum().almr());
                r.put("peak_lr", rec.peakLr());
                r.put("status", rec.optimum().status().name().toLowerCase(Locale.ROOT));
                r.put("new_loss", rec.optimum().newLoss());
                r.put("orig_loss", rec.optimum().origLoss());
                if (b.recommendedAlmr() != null) {
                    r.put("almr_lo", b.recommendedAlmr().lo());
                    r.put("almr_hi", b.recommendedAlmr().hi());
                }
            } else {
                bn.putNull("recommendation");
            }
            ArrayNode sl = bn.putArray("slices");
            for (Slice s : b.slices()) {
                ObjectNode sn = sl.addObject();
                sn.put("peak_lr", s.peakLr());
                sn.set("new_fit", fitJson(m, s.newFit()));
                sn.set("orig_fit", fitJson(m, s.origFit()));
                ObjectNode o = sn.putObject("optimum");
                o.put("almr", s.optimum().almr());
                o.put("status", s.optimum().status().name().toLowerCase(Locale.ROOT));
                o.put("method", s.optimum().method());
                if (s.optimumInterval() != null) {
                    o.put("lo", s.optimumInterval().lo());
                    o.put("hi", s.optimumInterval().hi());
                    o.put("share_feasible", s.optimumInterval().share());
                }
                o.put("chosen_share", b.lrShare().getOrDefault(s.peakLr(), Double.NaN));
            }
            bn.set("lr_relation", fitJson(m, b.lrRelation()));
        }
        root.set("cmr", fitJson(m, a.cmr()));
        return m.writeValueAsString(root);
    }

    static ObjectNode fitJson(ObjectMapper m, CurveFit c) {
        ObjectNode n = m.createObjectNode();
        n.put("law", c.law());
        n.put("usable", c.usable());
        if (!c.usable()) n.put("refusal", c.refusal());
        ObjectNode p = n.putObject("params");
        ObjectNode se = n.putObject("std_err");
        for (int i = 0; i < c.names().size(); i++) {
            if (c.usable()) {
                p.put(c.names().get(i), c.params()[i]);
                se.put(c.names().get(i), c.stdErr()[i]);
            }
        }
        if (c.usable()) {
            n.put("r2", c.r2());
            n.put("rmse", c.rmse());
            n.put("df", c.df());
            ArrayNode res = n.putArray("residuals");
            for (double e : c.residuals()) res.add(e);
        }
        ArrayNode x = n.putArray("x"), y = n.putArray("y");
        for (double v : c.x()) x.add(v);
        for (double v : c.y()) y.add(v);
        c.notes().forEach(n.putArray("notes")::add);
        return n;
    }
}
