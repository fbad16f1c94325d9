// The checker itself must be able to fail: a gradient that is 1% off is caught, the right one passes.
package dev.shoal.runtime.ops;

import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.shoal.runtime.tensor.Tensor;
import java.util.Random;
import org.junit.jupiter.api.Test;

class GradCheckTest {
    @Test
    void detectsAOnePercentGradientError() {
        Random r = new Random(1);
        Tensor x = GradCheck.randn(r, 1.0, 20);
        // L = Σ sin(x_i) · i ; dL/dx_i = cos(x_i) · i.
        java.util.function.DoubleSupplier loss = () -> {
            double acc = 0;
            for (int i = 0; i < 20; i++) {
                acc += Math.sin(x.get(i)) * i;
            }
            return acc;
        };
        Tensor good = Tensor.zeros(20);
        Tensor bad = Tensor.zeros(20);
        for (int i = 0; i < 20; i++) {
            good.set(i, (float) (Math.cos(x.get(i)) * i));
            bad.set(i, good.get(i) * 1.01f);
        }
        GradCheck.Result ok = GradCheck.check("good", x, good, loss, 20, 1e-2, r);
        GradCheck.Result wrong = GradCheck.check("bad", x, bad, loss, 20, 1e-2, r);
        assertTrue(ok.maxErr() < 1e-3, ok.toString());
        assertTrue(wrong.maxErr() > 5e-3, wrong.toString());
    }
}
