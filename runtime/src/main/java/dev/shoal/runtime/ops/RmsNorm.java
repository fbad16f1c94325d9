// RMSNorm as Llama defines it: y = w ⊙ x / sqrt(mean(x²) + eps), per row of C.
// Guarantees: statistics in double; rstd [N] is saved for the backward pass.
package dev.shoal.runtime.ops;

import dev.shoal.runtime.tensor.Compute;
import dev.shoal.runtime.tensor.Tensor;

public final class RmsNorm {
    private RmsNorm() {}

    /** Rows per partial sum of dw: fixed, so the rounding of dw does not depend on the thread count. */
    private static final int DW_ROWS = 64;

    /** out [N, C] = w [C] ⊙ x [N, C] · rstd; rstd [N] = 1 / sqrt(mean(x²) + eps). */
    public static void forward(Compute cx, Tensor out, Tensor rstd, Tensor x, Tensor w, double eps) {
        int c = w.dim(0);
        int n = (int) (x.numel() / c);
        cx.par().forRange(n, 16, (s, e) -> {
            for (long i = s; i < e; i++) {
                long row = i * c;
                // Mean square of the row.
                double ss = 0;
                for (int j = 0; j < c; j++) {
                    double xv = x.get(row + j);
                    ss += xv * xv;
                }
                // Reciprocal RMS, rounded to float like the stored statistic.
                float r = (float) (1.0 / Math.sqrt(ss / c + eps));
                rstd.set(i, r);
                // Normalize, then scale by the weight.
                for (int j = 0; j < c; j++) {
                    out.set(row + j, w.get(j) * (x.get(row + j) * r));
                }
            }
        });
    }

    /**
     * dx [N, C] = (assigned) rstd · (dn − n · mean(dn ⊙ n)) with n = x·rstd and dn = dout ⊙ w; dw [C]
     * += Σ_rows dout ⊙ n.
     */
    public static void backward(Compute cx, Tensor dx, Tensor dw, Tensor dout, Tensor x, Tensor w, Tensor rstd) {
        backward(cx, dx, dw, dout, x, w, rstd, false);
    }

    /**
     * As above; with accumulateDx, dx += the input gradient instead (the norm sits on a residual branch,
     * and its gradient adds into the stream's).
     */
    public static void backward(
            Compute cx, Tensor dx, Tensor dw, Tensor dout, Tensor x, Tensor w, Tensor rstd, boolean accumulateDx) {
        int c = w.dim(0);
        int n = (int) (x.numel() / c);
        // dx: rows are independent.
        cx.par().forRange(n, 16, (s, e) -> {
            for (long i = s; i < e; i++) {
                long row = i * c;
                double r = rstd.get(i);
                // mean(dn ⊙ n) over the row.
                double dot = 0;
                for (int j = 0; j < c; j++) {
                    dot += (double) dout.get(row + j) * w.get(j) * (x.get(row + j) * r);
                }
                double mean = dot / c;
                // dx term 1: the direct path rstd·dn; term 2: through rstd, −rstd·n·mean(dn⊙n).
                for (int j = 0; j < c; j++) {
                    double nv = x.get(row + j) * r;
                    double dn = (double) dout.get(row + j) * w.get(j);
                    float g = (float) (r * (dn - nv * mean));
                    dx.set(row + j, accumulateDx ? dx.get(row + j) + g : g);
                }
            }
        });
        // dw: partial sums over fixed blocks of rows (thread-count independent), then added in block order.
        int blocks = (n + DW_ROWS - 1) / DW_ROWS;
        double[][] partial = new double[blocks][];
        cx.par().forRange(blocks, 1, (bs, be) -> {
            for (int blk = (int) bs; blk < be; blk++) {
                double[] acc = new double[c];
                long stop = Math.min(n, (long) (blk + 1) * DW_ROWS);
                for (long i = (long) blk * DW_ROWS; i < stop; i++) {
                    long row = i * c;
                    float r = rstd.get(i);
                    for (int j = 0; j < c; j++) {
                        acc[j] += (double) dout.get(row + j) * (x.get(row + j) * r);
                    }
                }
                partial[blk] = acc;
            }
        });
        for (int j = 0; j < c; j++) {
            double sum = 0;
            for (double[] acc : partial) {
                sum += acc[j];
            }
            dw.set(j, (float) (dw.get(j) + sum));
        }
    }
}
