// The fitters recover known parameters from synthetic data drawn from known laws with noise, agree with an
// independent closed form where one exists (LM on a linear model = ordinary least squares, SEs included),
// and refuse data that cannot support them, saying why.
package dev.shoal.runtime.sweep.fit;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;

class FitLawsTest {

    static double gauss(SplittableRandom rng) {
        double u = rng.nextDouble(1e-12, 1), v = rng.nextDouble();
        return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * v);
    }

    static double[] grid(double lo, double hi, int n) {
        double[] x = new double[n];
        for (int i = 0; i < n; i++) x[i] = lo + (hi - lo) * i / (n - 1);
        return x;
    }

    @Test
    void expLawRecoversGrowingAndDecayingCurves() {
        double[][] truths = {{2.0, 0.05, 3.0}, {2.5, 3.0, -4.0}, {1.0, -0.4, -2.5}};
        SplittableRandom rng = new SplittableRandom(7);
        for (double[] p : truths) {
            double[] r = grid(0.05, 0.8, 8);
            double[] y = new double[r.length];
            for (int i = 0; i < r.length; i++) y[i] = p[0] + p[1] * Math.exp(p[2] * r[i]) + 0.002 * gauss(rng);
            CurveFit f = ExpLaw.fit(r, y, 0.9);
            assertTrue(f.usable(), f.refusal());
            assertEquals(p[2], f.param("t"), 0.15 * Math.abs(p[2]), "t of " + java.util.Arrays.toString(p));
            assertEquals(p[0], f.param("c"), 0.05 * Math.abs(p[0]) + 0.05, "c");
            assertEquals(p[1], f.param("k"), 0.15 * Math.abs(p[1]) + 0.02, "k");
            assertTrue(f.r2() > 0.99, "R² " + f.r2());
            assertEquals(5, f.df());
            // The standard errors describe the noise: the truth is within 4 SE for t.
            assertTrue(Math.abs(f.param("t") - p[2]) < 4 * f.stdErr()[2], "t within 4 SE");
            // Residuals are y − fitted, and their RMS is the noise level.
            assertEquals(0.002, f.rmse(), 0.0015);
        }
    }

    @Test
    void expLawWithoutNoiseIsExact() {
        double[] r = grid(0, 0.6, 6);
        double[] y = new double[6];
        for (int i = 0; i < 6; i++) y[i] = 3.1 - 0.7 * Math.exp(-5 * r[i]);
        CurveFit f = ExpLaw.fit(r, y, 0.9);
        assertEquals(3.1, f.param("c"), 1e-6);
        assertEquals(-0.7, f.param("k"), 1e-6);
        assertEquals(-5, f.param("t"), 1e-5);
        assertEquals(3.1 - 0.7 * Math.exp(-2), f.predict(0.4), 1e-8);
    }

    @Test
    void expLawRefusesUnsupportiveData() {
        double[] r4 = {0.1, 0.2, 0.3, 0.4};
        // too few points
        CurveFit few = ExpLaw.fit(new double[] {0.1, 0.2, 0.3}, new double[] {3, 2.5, 2.2}, 0.9);
        assertFalse(few.usable());
        assertTrue(few.refusal().contains("needs at least 4"), few.refusal());
        assertTrue(Double.isNaN(few.param("t")), "no numbers for a refused fit");
        // flat
        CurveFit flat = ExpLaw.fit(r4, new double[] {2, 2, 2, 2}, 0.9);
        assertTrue(flat.refusal().startsWith("degenerate"), flat.refusal());
        // zigzag
        CurveFit zig = ExpLaw.fit(r4, new double[] {2.0, 2.4, 2.0, 2.4}, 0.9);
        assertTrue(zig.refusal().startsWith("non-monotone"), zig.refusal());
        // an S-shape the exponential cannot follow, judged at a strict threshold
        double[] r7 = grid(0, 0.6, 7);
        CurveFit s = ExpLaw.fit(r7, new double[] {0, 0.01, 0.05, 0.5, 0.95, 0.99, 1.0}, 0.99);
        assertFalse(s.usable());
        assertTrue(s.refusal().startsWith("poor fit: R²"), s.refusal());
        // a straight line is fitted but flagged: the curvature is not identified
        CurveFit line = ExpLaw.fit(r7, new double[] {1, 1.1, 1.2, 1.3, 1.4, 1.5, 1.6}, 0.9);
        assertTrue(line.usable(), line.refusal());
        assertTrue(
                line.notes().stream().anyMatch(n -> n.contains("straight line")),
                line.notes().toString());
        assertEquals(1.45, line.predict(0.45), 1e-3);
    }

    @Test
    void powerLawRecoversTheCmrLaw() {
        double b0 = 0.05, b1 = 5, s = -0.2;
        double[] t = new double[7];
        double[] rr = new double[7];
        SplittableRandom rng = new SplittableRandom(3);
        for (int i = 0; i < 7; i++) {
            t[i] = 1e6 * Math.pow(10, i * 0.5);
            rr[i] = b0 + b1 * Math.pow(t[i], s) + 0.001 * gauss(rng);
        }
        CurveFit f = PowerLaw.fit(t, rr, 0.9);
        assertTrue(f.usable(), f.refusal());
        assertEquals(s, f.param("s"), 0.04);
        assertEquals(b0, f.param("β0"), 0.03);
        // β1 is strongly correlated with s; check the law instead of the raw coefficient
        for (double x : t) assertEquals(b0 + b1 * Math.pow(x, s), f.predict(x), 0.004);
        assertFalse(PowerLaw.fit(new double[] {1e6, 1e7, 1e8}, new double[] {0.3, 0.2, 0.15}, 0.9)
                .usable());
        assertTrue(PowerLaw.fit(new double[] {0, 1e7, 1e8, 1e9}, new double[] {0.3, 0.2, 0.15, 0.1}, 0.9)
                .refusal()
                .contains("not > 0"));
    }

    @Test
    void lmOnALinearModelIsOrdinaryLeastSquares() {
        double[] x = {-3.3, -3.0, -2.7, -2.4, -2.1};
        double[] y = {0.12, 0.2, 0.25, 0.37, 0.41};
        CurveFit ols = LineFit.fit(x, y, 0.5);
        assertTrue(ols.usable());
        LevenbergMarquardt.Solution lm = LevenbergMarquardt.fit(LineFit.MODEL, x, y, new double[] {5, -3});
        assertTrue(lm.converged());
        assertEquals(ols.params()[0], lm.params()[0], 1e-9);
        assertEquals(ols.params()[1], lm.params()[1], 1e-9);
        assertNotNull(lm.covariance());
        assertEquals(ols.stdErr()[0], Math.sqrt(lm.covariance()[0][0]), 1e-9);
        assertEquals(ols.stdErr()[1], Math.sqrt(lm.covariance()[1][1]), 1e-9);
        // closed form slope: Σ(x−x̄)(y−ȳ)/Σ(x−x̄)²
        assertEquals(0.225 / 0.9, ols.params()[1], 1e-12);
        assertFalse(LineFit.fit(new double[] {1, 2}, new double[] {1, 2}, 0.5).usable());
    }

    @Test
    void lmFindsANonlinearMinimumFromAPoorStart() {
        LevenbergMarquardt.Model decay = new LevenbergMarquardt.Model() {
            public double value(double x, double[] p) {
                return p[0] * Math.exp(-p[1] * x);
            }

            public void gradient(double x, double[] p, double[] g) {
                g[0] = Math.exp(-p[1] * x);
                g[1] = -p[0] * x * Math.exp(-p[1] * x);
            }
        };
        double[] x = grid(0, 4, 12);
        double[] y = new double[12];
        for (int i = 0; i < 12; i++) y[i] = 2.5 * Math.exp(-1.3 * x[i]);
        LevenbergMarquardt.Solution s = LevenbergMarquardt.fit(decay, x, y, new double[] {0.1, 5});
        assertEquals(2.5, s.params()[0], 1e-7);
        assertEquals(1.3, s.params()[1], 1e-7);
    }
}
