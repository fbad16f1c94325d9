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
}
