// Central finite differences against analytic gradients, for the op and model gradient tests.
// The loss is evaluated in double from the float tensors; a perturbation of +-h is applied in float and
// the actual float step is used as the denominator. Error measure per checked element:
//   |fd - analytic| / (|analytic| + 0.1 * rms(analytic over the whole tensor))
// so near-zero entries are judged on the tensor's own scale.
package dev.shoal.runtime.ops;

import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.shoal.runtime.tensor.Tensor;
import java.util.Random;
import java.util.function.DoubleSupplier;

public final class GradCheck {
    private GradCheck() {}

    public record Result(String name, int checked, double maxErr, long worstIndex, double fd, double analytic) {
        @Override
        public String toString() {
            return String.format(
                    "%s: %d checked, max err %.3g at %d (fd %.6g, analytic %.6g)",
                    name, checked, maxErr, worstIndex, fd, analytic);
        }
    }

    public static Tensor randn(Random r, double std, int... shape) {
        Tensor t = Tensor.zeros(shape);
        for (long i = 0; i < t.numel(); i++) {
            t.set(i, (float) (r.nextGaussian() * std));
        }
        return t;
    }

    /** Σ out ⊙ weights, in double. */
    public static double weighted(Tensor out, Tensor weights) {
        double acc = 0;
        for (long i = 0; i < out.numel(); i++) {
            acc += (double) out.get(i) * weights.get(i);
        }
        return acc;
    }

    /** Checks up to {@code samples} elements of x (all if fewer) against grad (same shape). */
    public static Result check(
            String name, Tensor x, Tensor grad, DoubleSupplier loss, int samples, double h, Random rnd) {
        double ss = 0;
        for (long i = 0; i < grad.numel(); i++) {
            ss += (double) grad.get(i) * grad.get(i);
        }
        double floor = 0.1 * Math.sqrt(ss / Math.max(1, grad.numel())) + 1e-12;
        long n = x.numel();
        int count = (int) Math.min(n, samples);
        double worst = -1, worstFd = 0, worstAn = 0;
        long worstIdx = -1;
        for (int s = 0; s < count; s++) {
            long i = n <= samples ? s : (long) (rnd.nextDouble() * n);
            float orig = x.get(i);
            float plus = (float) (orig + h);
            float minus = (float) (orig - h);
            x.set(i, plus);
            double lp = loss.getAsDouble();
            x.set(i, minus);
            double lm = loss.getAsDouble();
            x.set(i, orig);
            double fd = (lp - lm) / ((double) plus - (double) minus);
            double an = grad.get(i);
            double err = Math.abs(fd - an) / (Math.abs(an) + floor);
            if (err > worst) {
                worst = err;
                worstIdx = i;
                worstFd = fd;
                worstAn = an;
            }
        }
        return new Result(name, count, worst, worstIdx, worstFd, worstAn);
    }

    public static void assertWithin(Result r, double tol) {
        System.out.println("gradcheck " + r + " (tolerance " + tol + ")");
        assertTrue(r.maxErr() <= tol, r + " exceeds tolerance " + tol);
    }
}
