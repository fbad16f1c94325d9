// OpenBLAS SGEMM against the plain-Java reference: odd shapes, every transpose pair, alpha/beta, offsets.
package dev.shoal.runtime.tensor;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.Random;
import org.junit.jupiter.api.Test;

class GemmTest {
    private static Tensor random(Random r, int n) {
        Tensor t = Tensor.zeros(n);
        for (int i = 0; i < n; i++) {
            t.set(i, (float) r.nextGaussian());
        }
        return t;
    }

    @Test
    void splitOpenBlasMatchesReference() {
        try (Parallel par = new Parallel(3)) {
            matchesReference(new OpenBlasGemm(par));
        }
    }

    @Test
    void blasThreadedOpenBlasMatchesReference() {
        matchesReference(OpenBlasGemm.blasThreaded(2));
    }

    @Test
    void splitResultDoesNotDependOnThreadCount() {
        Random r = new Random(8);
        int m = 301, n = 77, k = 129;
        Tensor a = random(r, m * k), b = random(r, n * k);
        Tensor c1 = Tensor.zeros(m, n), c3 = Tensor.zeros(m, n), ct1 = Tensor.zeros(n, m), ct3 = Tensor.zeros(n, m);
        try (Parallel p1 = new Parallel(1);
                Parallel p3 = new Parallel(3)) {
            new OpenBlasGemm(p1).sgemm(false, true, m, n, k, 1f, a, 0, k, b, 0, k, 0f, c1, 0, n);
            new OpenBlasGemm(p3).sgemm(false, true, m, n, k, 1f, a, 0, k, b, 0, k, 0f, c3, 0, n);
            new OpenBlasGemm(p1).sgemm(false, true, n, m, k, 1f, b, 0, k, a, 0, k, 0f, ct1, 0, m);
            new OpenBlasGemm(p3).sgemm(false, true, n, m, k, 1f, b, 0, k, a, 0, k, 0f, ct3, 0, m);
        }
        org.junit.jupiter.api.Assertions.assertArrayEquals(c1.toArray(), c3.toArray());
        org.junit.jupiter.api.Assertions.assertArrayEquals(ct1.toArray(), ct3.toArray());
    }

    /**
     * A 1-thread pool issues one OpenBLAS call per product, a 3-thread pool splits it into blocks: the
     * bits must agree on the engine's linear-layer products (forward x·Wᵀ, backward dy·W and dyᵀ·x, with
     * beta 0 and the fused residual's beta 1), for the tiny and small weight shapes and an odd row count.
     */
    @Test
    void oneCallAndSplitGiveTheSameBitsOnTheEngineShapes() {
        Random r = new Random(9);
        int rows = 333;
        int[][] weights = {{64, 176}, {176, 64}, {256, 256}, {256, 128}, {256, 688}, {688, 256}, {256, 4096}};
        try (Parallel p1 = new Parallel(1);
                Parallel p3 = new Parallel(3)) {
            Gemm one = new OpenBlasGemm(p1), split = new OpenBlasGemm(p3);
            for (int[] w : weights) {
                int in = w[0], out = w[1];
                int[][] mnk = {{rows, out, in}, {rows, in, out}, {out, in, rows}};
                for (int v = 0; v < 3; v++) {
                    boolean ta = v == 2, tb = v == 0;
                    int m = mnk[v][0], n = mnk[v][1], k = mnk[v][2];
                    Tensor a = random(r, m * k), b = random(r, k * n), c0 = random(r, m * n);
                    for (float beta : new float[] {0f, 1f}) {
                        Tensor c1 = c0.copy(), c3 = c0.copy();
                        int lda = ta ? m : k, ldb = tb ? k : n;
                        one.sgemm(ta, tb, m, n, k, 1f, a, 0, lda, b, 0, ldb, beta, c1, 0, n);
                        split.sgemm(ta, tb, m, n, k, 1f, a, 0, lda, b, 0, ldb, beta, c3, 0, n);
                        org.junit.jupiter.api.Assertions.assertArrayEquals(
                                c1.toArray(),
                                c3.toArray(),
                                "m" + m + " n" + n + " k" + k + " ta " + ta + " tb " + tb + " beta " + beta);
                    }
                }
            }
        }
    }

    private static void matchesReference(Gemm blas) {
        Gemm ref = new ReferenceGemm();
        Random r = new Random(7);
        int[][] shapes = {
            {1, 1, 1}, {3, 5, 7}, {17, 1, 9}, {33, 65, 31}, {64, 48, 129}, {7, 130, 2}, {300, 20, 50}, {20, 300, 50}
        };
        for (int[] s : shapes) {
            int m = s[0], n = s[1], k = s[2];
            for (int variant = 0; variant < 4; variant++) {
                boolean ta = (variant & 1) != 0, tb = (variant & 2) != 0;
                // Padded leading dimensions and a non-zero start offset exercise the sub-matrix addressing.
                int lda = (ta ? m : k) + 3, ldb = (tb ? k : n) + 2, ldc = n + 1;
                long aOff = 5, bOff = 11, cOff = 4;
                Tensor a = random(r, (int) (aOff + (long) (ta ? k : m) * lda));
                Tensor b = random(r, (int) (bOff + (long) (tb ? n : k) * ldb));
                Tensor c0 = random(r, (int) (cOff + (long) m * ldc));
                Tensor c1 = c0.copy();
                float alpha = 0.75f, beta = -0.5f;
                blas.sgemm(ta, tb, m, n, k, alpha, a, aOff, lda, b, bOff, ldb, beta, c0, cOff, ldc);
                ref.sgemm(ta, tb, m, n, k, alpha, a, aOff, lda, b, bOff, ldb, beta, c1, cOff, ldc);
                for (long i = 0; i < c0.numel(); i++) {
                    float want = c1.get(i);
                    assertEquals(
                            want,
                            c0.get(i),
                            1e-5f * (Math.abs(want) + Math.sqrt(k)),
                            "m" + m + " n" + n + " k" + k + " ta " + ta + " tb " + tb + " at " + i);
                }
                // Padding columns of C (j >= n) must be untouched by both.
                for (int i = 0; i < m; i++) {
                    long pad = cOff + (long) i * ldc + n;
                    assertEquals(c1.get(pad), c0.get(pad));
                }
            }
        }
    }

    @Test
    void betaZeroIgnoresNaNInOutput() {
        Gemm blas = OpenBlasGemm.blasThreaded(1);
        Tensor a = Tensor.of(new float[] {1, 2, 3, 4}, 2, 2);
        Tensor b = Tensor.of(new float[] {1, 0, 0, 1}, 2, 2);
        Tensor c = Tensor.of(new float[] {Float.NaN, Float.NaN, Float.NaN, Float.NaN}, 2, 2);
        blas.matmul(false, false, 1f, a, b, 0f, c);
        assertEquals(4f, c.at(1, 1));
        assertTrue(!Float.isNaN(c.get(0)));
    }

    @Test
    void outOfBoundsMatrixIsRefusedBeforeNativeCall() {
        Gemm blas = OpenBlasGemm.blasThreaded(1);
        Tensor a = Tensor.zeros(2, 3);
        Tensor c = Tensor.zeros(2, 2);
        IndexOutOfBoundsException e = assertThrows(
                IndexOutOfBoundsException.class,
                () -> blas.sgemm(false, false, 2, 2, 3, 1f, a, 1, 3, a, 0, 2, 0f, c, 0, 2));
        assertTrue(e.getMessage().contains("sgemm A"), e.getMessage());
        assertThrows(IllegalArgumentException.class, () -> blas.matmul(false, false, 1f, a, a, 0f, c));
    }
}
