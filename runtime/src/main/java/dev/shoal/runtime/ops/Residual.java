// Residual connection: out = a + b, and its backward, which hands the same gradient to both branches.
// Guarantees: element-wise, multi-threaded; out may alias a or b.
package dev.shoal.runtime.ops;

import dev.shoal.runtime.tensor.Compute;
import dev.shoal.runtime.tensor.Tensor;

public final class Residual {
    private Residual() {}

    /** out = a + b (all the same element count). */
    public static void forward(Compute cx, Tensor out, Tensor a, Tensor b) {
        check(out, a);
        check(out, b);
        cx.par().forRange(out.numel(), (s, e) -> {
            for (long i = s; i < e; i++) {
                out.set(i, a.get(i) + b.get(i));
            }
        });
    }

    /**
     * The gradient of out = a + b reaches a and b unchanged, so the backward pass is a sum where the
     * stream fans out: dstream += dbranch (accumulates: the stream's gradient is the sum of its uses).
     */
    public static void backward(Compute cx, Tensor dstream, Tensor dbranch) {
        check(dstream, dbranch);
        cx.par().forRange(dstream.numel(), (s, e) -> {
            for (long i = s; i < e; i++) {
                dstream.set(i, dstream.get(i) + dbranch.get(i));
            }
        });
    }

    private static void check(Tensor x, Tensor y) {
        if (x.numel() != y.numel()) {
            throw new IllegalArgumentException("residual: " + x + " and " + y + " differ in size");
        }
    }
}
