// The ALMR × LR analysis on synthetic sweeps drawn from known laws: the constrained optimum r* per LR, the
// recommended LR, the line r*(log10 LR) and the CMR law over budgets come back within tolerance; the
// bootstrap's 90% interval covers the true r* in most repetitions; and data that cannot support a fit
// (too few ALMRs, two LRs, one budget) gives refusals with reasons, not numbers.
package dev.shoal.runtime.sweep.fit;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.shoal.runtime.sweep.SweepResults;
import dev.shoal.runtime.sweep.fit.SweepAnalysis.Baseline;
import dev.shoal.runtime.sweep.fit.SweepAnalysis.Options;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;
import javax.xml.parsers.DocumentBuilderFactory;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class SweepAnalysisTest {

    static final double EPS = 0.05, START_EN = 2.3;

    /** The true r* of a peak LR: 0.3 + 0.1 per decade above 1e-3. */
    static double trueOptimum(double lr) {
        return 0.3 + 0.1 * Math.log10(lr / 1e-3);
    }

    /**
     * en(r) = START + a·(exp(3r) − 1) with a chosen so that en(r*) = START + ε exactly; zh(r) = 2 + m·3·exp(−4r),
     * with m smallest at LR 2e-3 so that LR wins. Steps scale r* by (steps/100)^0.2 when budgets vary.
     */
    static SweepResults synthetic(double[] almrs, double[] lrs, long[] steps, double noise, long seed) {
        SplittableRandom rng = new SplittableRandom(seed);
        List<SweepResults.Point> pts = new ArrayList<>();
        for (long st : steps) {
            for (double lr : lrs) {
                double rStar = trueOptimum(lr) * Math.pow(st / 100.0, 0.2);
                double a = EPS / (Math.exp(3 * rStar) - 1);
                double m = 1 + Math.abs(Math.log10(lr / 2e-3));
                for (double r : almrs) {
                    double en = START_EN + a * (Math.exp(3 * r) - 1) + noise * FitLawsTest.gauss(rng);
                    double zh = 2 + m * 3 * Math.exp(-4 * r) + noise * FitLawsTest.gauss(rng);
                    Map<String, Double> fin = new LinkedHashMap<>();
                    fin.put("en", en);
                    fin.put("zh", zh);
                    pts.add(new SweepResults.Point(
                            "p", r, lr, st, st * 1024, fin, Map.of("en", START_EN, "zh", 9.0), Map.of()));
                }
            }
        }
        return new SweepResults(
                "synthetic",
                "zh",
                Map.of("en", "en", "zh", "zh"),
                Map.of("en", 0.5, "zh", 0.5),
                1024,
                pts,
                List.of(),
                Map.of());
    }

    static Options opts(int boot, long seed) {
        return new Options(EPS, Baseline.START, boot, seed, 0.9, 0.5);
    }

    @Test
    void recoversOptimaRecommendationAndLrRelation() {
        double[] lrs = {5e-4, 1e-3, 2e-3, 4e-3};
        SweepResults res = synthetic(FitLawsTest.grid(0.05, 0.6, 8), lrs, new long[] {100}, 0.001, 1);
        SweepAnalysis.Analysis a = SweepAnalysis.analyse(res, opts(200, 1));
        SweepAnalysis.Budget b = a.budgets().get(0);
        assertEquals(START_EN, b.baseline(), 1e-12);
        for (SweepAnalysis.Slice s : b.slices()) {
            assertTrue(s.newFit().usable() && s.origFit().usable(), s.origFit().refusal());
            assertEquals(SweepAnalysis.Status.BINDING, s.optimum().status());
            assertEquals("law", s.optimum().method());
            assertEquals(trueOptimum(s.peakLr()), s.optimum().almr(), 0.02, "r* at LR " + s.peakLr());
        }
        assertEquals(2e-3, b.recommendation().peakLr(), 0, "the LR with the lowest zh loss at its r*");
        assertTrue(b.lrShare().get(2e-3) > 0.8, "bootstrap agrees on the LR: " + b.lrShare());
        CurveFit line = b.lrRelation();
        assertTrue(line.usable(), line.refusal());
        assertEquals(0.1, line.param("b"), 0.02, "slope per decade");
        assertEquals(0.6, line.param("a"), 0.06, "intercept at LR 1 (0.3 + 0.1·3)");
        assertFalse(a.cmr().usable(), "one budget: no CMR law");
        assertTrue(a.cmr().refusal().contains("one token budget"), a.cmr().refusal());
    }

    @Test
    void bootstrapIntervalsCoverTheTruth() {
        int trials = 16, covered = 0;
        for (int k = 0; k < trials; k++) {
            SweepResults res = synthetic(
                    FitLawsTest.grid(0.05, 0.6, 8), new double[] {1e-3, 2e-3}, new long[] {100}, 0.003, 100 + k);
            SweepAnalysis.Slice s = SweepAnalysis.analyse(res, opts(100, k))
                    .budgets()
                    .get(0)
                    .slices()
                    .get(0);
            SweepAnalysis.Interval iv = s.optimumInterval();
            double truth = trueOptimum(1e-3);
            if (iv.lo() <= truth && truth <= iv.hi()) covered++;
        }
        System.out.println("bootstrap 90% intervals covered the true r* in " + covered + " of " + trials);
        // Nominal 90%; a residual bootstrap on 8 points under-covers a little. P(< 11 of 16 | 0.9) ≈ 0.3%.
        assertTrue(covered >= 11, "90% intervals covered the true r* in " + covered + " of " + trials);
    }

    @TempDir
    Path dir;

    @Test
    void cmrLawOverBudgets() throws Exception {
        long[] steps = {100, 200, 400, 800, 1600};
        SweepResults res = synthetic(FitLawsTest.grid(0.05, 0.7, 8), new double[] {1e-3, 2e-3, 4e-3}, steps, 0.0005, 5);
        SweepAnalysis.Analysis a = SweepAnalysis.analyse(res, opts(0, 1));
        assertEquals(5, a.budgets().size());
        CurveFit c = a.cmr();
        assertTrue(c.usable(), c.refusal());
        // truth at LR 2e-3: r*(T) = 0.33·(T / 102400)^0.2 = 0 + β1·T^0.2
        assertEquals(0.2, c.param("s"), 0.03);
        for (long st : steps) {
            double t = st * 1024.0;
            assertEquals(trueOptimum(2e-3) * Math.pow(st / 100.0, 0.2), c.predict(t), 0.01, "R at " + st + " steps");
        }
        assertNull(a.budgets().get(0).recommendedAlmr(), "no bootstrap asked");
        // The report of a multi-budget sweep: per-budget pictures and the CMR picture, all well-formed.
        String keep = System.getenv("SHOAL_TEST_REPORT_DIR"); // set it to keep the pictures and look at them
        Path out = keep != null ? Path.of(keep) : dir.resolve("report");
        long t0 = System.nanoTime();
        List<Path> files = Report.write(a, out);
        System.out.printf("report written in %.2fs%n", (System.nanoTime() - t0) / 1e9);
        assertTrue(files.contains(out.resolve("cmr.svg")), files.toString());
        assertTrue(files.contains(out.resolve("heatmap-zh-s1600.svg")), files.toString());
        for (Path f : files) {
            if (f.toString().endsWith(".svg") || f.toString().endsWith(".html")) {
                DocumentBuilderFactory.newInstance().newDocumentBuilder().parse(f.toFile());
            }
        }
        assertTrue(Files.readString(out.resolve("report.md")).contains(PowerLaw.LAW + " with β0 = "));
    }

    @Test
    void refusesWhatTheDataDoNotSupport() {
        // 3 ALMRs, 2 LRs, one budget: no law fit, no line; the optimum falls back to interpolation.
        SweepResults res = synthetic(new double[] {0.1, 0.3, 0.5}, new double[] {1e-3, 4e-3}, new long[] {100}, 0, 1);
        SweepAnalysis.Budget b =
                SweepAnalysis.analyse(res, opts(100, 1)).budgets().get(0);
        for (SweepAnalysis.Slice s : b.slices()) {
            assertFalse(s.newFit().usable());
            assertTrue(
                    s.origFit().refusal().contains("needs at least 4"),
                    s.origFit().refusal());
            assertEquals("interpolated", s.optimum().method());
        }
        assertFalse(b.lrRelation().usable());
        assertTrue(b.lrRelation().refusal().contains("2 points"), b.lrRelation().refusal());
        assertNull(b.recommendedAlmr(), "no usable fit: no residuals to bootstrap");
        // ε too small for any ALMR: no recommendation at all.
        SweepResults tight = synthetic(FitLawsTest.grid(0.3, 0.6, 5), new double[] {1e-3}, new long[] {100}, 0, 1);
        SweepAnalysis.Budget t = SweepAnalysis.analyse(tight, new Options(1e-4, Baseline.START, 0, 1, 0.9, 0.5))
                .budgets()
                .get(0);
        assertEquals(
                SweepAnalysis.Status.INFEASIBLE, t.slices().get(0).optimum().status());
        assertNull(t.recommendation());
        // ε larger than any increase: r* is reported as a lower bound at the largest sampled ALMR.
        SweepAnalysis.Budget loose = SweepAnalysis.analyse(tight, new Options(10, Baseline.START, 0, 1, 0.9, 0.5))
                .budgets()
                .get(0);
        assertEquals(
                SweepAnalysis.Status.NOT_BINDING,
                loose.slices().get(0).optimum().status());
        assertEquals(0.6, loose.slices().get(0).optimum().almr(), 0);
    }
}
