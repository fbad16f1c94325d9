// The row-major -> column-major operand mapping of CublasGemm, checked on the CPU: the planned call
// is executed with the textbook column-major BLAS definition and compared with row-major C = op(A)·op(B).
package dev.shoal.cuda;

import static org.junit.jupiter.api.Assertions.assertEquals;

import java.util.Random;
import org.junit.jupiter.api.Test;

class CublasGemmPlanTest {

    /** Column-major GEMM as BLAS defines it: C = alpha·op(X)·op(Y) + beta·C, element (i,j) at i + j·ldc. */
    private static void blasColumnMajor(
            boolean tx,
            boolean ty,
            int m,
            int n,
            int k,
            double alpha,
            double[] x,
            int ldx,
            double[] y,
            int ldy,
            double beta,
            double[] c,
            int ldc) {
        for (int j = 0; j < n; j++) {
            for (int i = 0; i < m; i++) {
                double s = 0;
                for (int p = 0; p < k; p++) {
                    double xv = tx ? x[p + i * ldx] : x[i + p * ldx]; // op(X)[i][p]
                    double yv = ty ? y[j + p * ldy] : y[p + j * ldy]; // op(Y)[p][j]
                    s += xv * yv;
                }
                c[i + j * ldc] = alpha * s + beta * c[i + j * ldc];
            }
        }
    }

    @Test
    void plannedCallComputesRowMajorProductForAllTransposes() {
        Random r = new Random(3);
        int[][] shapes = {{3, 5, 7}, {1, 4, 2}, {6, 1, 3}, {4, 4, 1}};
        for (int[] sh : shapes) {
            int m = sh[0], n = sh[1], k = sh[2];
            for (int t = 0; t < 4; t++) {
                boolean ta = (t & 1) != 0, tb = (t & 2) != 0;
                double[] a = new double[m * k], b = new double[k * n], c = new double[m * n];
                for (int i = 0; i < a.length; i++) a[i] = r.nextInt(7) - 3;
                for (int i = 0; i < b.length; i++) b[i] = r.nextInt(7) - 3;
                for (int i = 0; i < c.length; i++) c[i] = r.nextInt(7) - 3;
                double[] expected = new double[m * n];
                for (int i = 0; i < m; i++) {
                    for (int j = 0; j < n; j++) {
                        double s = 0;
                        for (int p = 0; p < k; p++) {
                            double av = ta ? a[p * m + i] : a[i * k + p];
                            double bv = tb ? b[j * k + p] : b[p * n + j];
                            s += av * bv;
                        }
                        expected[i * n + j] = 2 * s - c[i * n + j];
                    }
                }
                CublasGemm.ColumnMajorCall p = CublasGemm.plan(ta, tb, m, n, k);
                blasColumnMajor(
                        p.transFirst(),
                        p.transSecond(),
                        p.m(),
                        p.n(),
                        p.k(),
                        2,
                        b,
                        p.ldFirst(),
                        a,
                        p.ldSecond(),
                        -1,
                        c,
                        p.ldc());
                for (int i = 0; i < m * n; i++) {
                    assertEquals(
                            expected[i],
                            c[i],
                            "M=" + m + " N=" + n + " K=" + k + " tA=" + ta + " tB=" + tb + " at " + i);
                }
            }
        }
    }
}
