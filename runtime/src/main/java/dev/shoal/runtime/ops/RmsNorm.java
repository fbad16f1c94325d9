// RMSNorm as Llama defines it: y = w ⊙ x / sqrt(mean(x²) + eps), per row of C.
// Guarantees: row statistics (mean square, mean(dn ⊙ n)) are summed in double; rstd [N] is saved
// for the backward pass; dw is summed over fixed blocks of rows, so it does not depend on the thread
// count. Rows are processed in per-thread heap scratch arrays (see Scratch) so the loops vectorize.
package dev.shoal.runtime.ops;

import dev.shoal.runtime.tensor.Compute;
import dev.shoal.runtime.tensor.Scratch;
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
            float[] wr = Scratch.row(0, c), xr = Scratch.row(1, c), yr = Scratch.row(2, c);
            w.read(0, wr, 0, c);
            for (long i = s; i < e; i++) {
                long row = i * c;
                x.read(row, xr, 0, c);
                // Mean square of the row.
                double ss = 0;
                for (int j = 0; j < c; j++) {
                    ss += (double) xr[j] * xr[j];
                }
                // Reciprocal RMS, rounded to float like the stored statistic.
                float r = (float) (1.0 / Math.sqrt(ss / c + eps));
                rstd.set(i, r);
                // Normalize, then scale by the weight.
                for (int j = 0; j < c; j++) {
                    yr[j] = wr[j] * (xr[j] * r);
                }
                out.write(row, yr, 0, c);
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
            float[] wr = Scratch.row(0, c), xr = Scratch.row(1, c), gr = Scratch.row(2, c), dr = Scratch.row(3, c);
            w.read(0, wr, 0, c);
            for (long i = s; i < e; i++) {
                long row = i * c;
                x.read(row, xr, 0, c);
                dout.read(row, gr, 0, c);
                float r = rstd.get(i);
                // mean(dn ⊙ n) over the row, with dn = dout ⊙ w and n = x · rstd.
                double dot = 0;
                for (int j = 0; j < c; j++) {
                    dot += (double) (gr[j] * wr[j]) * (xr[j] * r);
                }
                float mean = (float) (dot / c);
                if (accumulateDx) {
                    dx.read(row, dr, 0, c);
                } else {
                    java.util.Arrays.fill(dr, 0, c, 0f);
                }
                // dx term 1: the direct path rstd·dn; term 2: through rstd, −rstd·n·mean(dn⊙n).
                for (int j = 0; j < c; j++) {
                    dr[j] += r * (gr[j] * wr[j] - (xr[j] * r) * mean);
                }
                dx.write(row, dr, 0, c);
            }
        });
        // dw: partial sums over fixed blocks of rows (thread-count independent), then added in block order.
        int blocks = (n + DW_ROWS - 1) / DW_ROWS;
        double[][] partial = new double[blocks][];
        cx.par().forRange(blocks, 1, (bs, be) -> {
            float[] xr = Scratch.row(1, c), gr = Scratch.row(2, c), acc = Scratch.row(3, c);
            for (int blk = (int) bs; blk < be; blk++) {
                java.util.Arrays.fill(acc, 0, c, 0f);
                long stop = Math.min(n, (long) (blk + 1) * DW_ROWS);
                for (long i = (long) blk * DW_ROWS; i < stop; i++) {
                    long row = i * c;
                    x.read(row, xr, 0, c);
                    dout.read(row, gr, 0, c);
                    float r = rstd.get(i);
                    for (int j = 0; j < c; j++) {
                        acc[j] += gr[j] * (xr[j] * r);
                    }
                }
                double[] sums = new double[c];
                for (int j = 0; j < c; j++) {
                    sums[j] = acc[j];
                }
                partial[blk] = sums;
            }
        });
        for (int j = 0; j < c; j++) {
            double sum = 0;
            for (double[] p : partial) {
                sum += p[j];
            }
            dw.set(j, (float) (dw.get(j) + sum));
        }
    }
}
