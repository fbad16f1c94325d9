// FastMath.expf against Math.exp over a dense sweep, and its edge cases.
package dev.shoal.runtime.tensor;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.junit.jupiter.api.Test;

class FastMathTest {
    @Test
    void relativeErrorBelowThreeTenMillionths() {
        double worst = 0;
        float worstX = 0;
        for (int i = 0; i <= 2_000_000; i++) {
            float x = -87f + 175f * i / 2_000_000f;
            double want = Math.exp(x);
            double err = Math.abs(FastMath.expf(x) - want) / want;
            if (err > worst) {
                worst = err;
                worstX = x;
            }
        }
        assertTrue(worst < 3e-7, "worst relative error " + worst + " at x = " + worstX);
    }

    @Test
    void edges() {
        assertEquals(1f, FastMath.expf(0f));
        assertEquals(0f, FastMath.expf(-100f));
        assertEquals(0f, FastMath.expf(Float.NEGATIVE_INFINITY));
        assertEquals(Float.POSITIVE_INFINITY, FastMath.expf(100f));
        assertTrue(Float.isNaN(FastMath.expf(Float.NaN)));
        assertEquals((float) Math.E, FastMath.expf(1f), 1e-6f);
    }

    @Test
    void bulkGivesExpfBitsInTheNormalRangeAndTheSameEdges() {
        // Odd lengths and offsets cross the 1024-element blocks; values sweep [-87, 88].
        int n = 5003;
        float[] x = new float[n + 7];
        for (int i = 0; i < x.length; i++) {
            x[i] = -87f + 175f * i / x.length;
        }
        float[] want = x.clone();
        FastMath.expInPlace(x, 3, 3 + n);
        for (int i = 0; i < want.length; i++) {
            float expect = i >= 3 && i < 3 + n ? FastMath.expf(want[i]) : want[i];
            // Only an exact tie of x·log2(e) halfway between integers may round the other way.
            if (Float.floatToRawIntBits(x[i]) != Float.floatToRawIntBits(expect)) {
                double rel = Math.abs(x[i] - Math.exp(want[i])) / Math.exp(want[i]);
                assertTrue(rel < 3e-7, "x = " + want[i] + ": bulk " + x[i] + " vs expf " + expect);
            }
        }
        float[] edges = {0f, 1f, -100f, -104.5f, -1e30f, Float.NEGATIVE_INFINITY, 100f, 89f, Float.NaN, -87.5f};
        FastMath.expInPlace(edges, 0, edges.length);
        assertEquals(1f, edges[0]);
        assertEquals((float) Math.E, edges[1], 1e-6f);
        assertTrue(edges[2] >= 0f && edges[2] < 1.2e-38f, "e^-100 underflows: " + edges[2]);
        assertEquals(0f, edges[3]);
        assertEquals(0f, edges[4]);
        assertEquals(0f, edges[5]);
        assertEquals(Float.POSITIVE_INFINITY, edges[6]);
        assertEquals(Float.POSITIVE_INFINITY, edges[7]);
        assertTrue(Float.isNaN(edges[8]));
        // Gradual underflow: e^-87.5 is subnormal, within a few subnormal steps of the truth.
        assertEquals(Math.exp(-87.5), edges[9], 1e-44);
    }

    @Test
    void bulkRelativeErrorBelowThreeTenMillionths() {
        float[] x = new float[2_000_001];
        for (int i = 0; i < x.length; i++) {
            x[i] = -87f + 175f * i / 2_000_000f;
        }
        float[] in = x.clone();
        FastMath.expInPlace(x, 0, x.length);
        double worst = 0;
        for (int i = 0; i < x.length; i++) {
            double want = Math.exp(in[i]);
            worst = Math.max(worst, Math.abs(x[i] - want) / want);
        }
        assertTrue(worst < 3e-7, "worst relative error " + worst);
    }
}
