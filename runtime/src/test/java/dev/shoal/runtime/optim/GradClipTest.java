// Global-norm clipping against hand-computed values (a 3-4-12 triangle: norm 13).
package dev.shoal.runtime.optim;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;

import dev.shoal.runtime.tensor.Parallel;
import dev.shoal.runtime.tensor.Tensor;
import java.util.List;
import org.junit.jupiter.api.Test;

class GradClipTest {
    @Test
    void clipsToMaxNormAndReturnsThePreClipNorm() {
        Tensor a = Tensor.of(new float[] {3, 4}, 2), b = Tensor.of(new float[] {12}, 1);
        double norm = GradClip.clipGlobalNorm(List.of(a, b), 1.3, Parallel.serial());
        assertEquals(13.0, norm, 1e-9);
        // coef = 1.3 / (13 + 1e-6) ≈ 0.1
        assertArrayEquals(new float[] {0.3f, 0.4f}, a.toArray(), 1e-6f);
        assertArrayEquals(new float[] {1.2f}, b.toArray(), 1e-6f);
        assertEquals(1.3, GradClip.globalNorm(List.of(a, b), Parallel.serial()), 1e-6);
    }

    @Test
    void belowTheLimitNothingChanges() {
        Tensor a = Tensor.of(new float[] {3, 4}, 2);
        assertEquals(5.0, GradClip.clipGlobalNorm(List.of(a), 5.0 + 1e-3, Parallel.serial()), 1e-9);
        assertArrayEquals(new float[] {3, 4}, a.toArray());
    }

    @Test
    void nonFiniteNormIsReportedAndNothingScaled() {
        Tensor a = Tensor.of(new float[] {Float.NaN, 4}, 2);
        double norm = GradClip.clipGlobalNorm(List.of(a), 1.0, Parallel.serial());
        assertEquals(Double.NaN, norm);
        assertEquals(4f, a.get(1));
    }
}
