// Plain-Java SGEMM: the independent reference the BLAS-backed Gemm is tested against.
// Guarantees: the textbook triple loop with a double accumulator, single-threaded; slow but obviously right.
package dev.shoal.runtime.tensor;

public final class ReferenceGemm implements Gemm {
    @Override
    public void sgemm(
            boolean transA,
            boolean transB,
            int m,
            int n,
            int k,
            float alpha,
            Tensor a,
            long aOff,
            int lda,
            Tensor b,
            long bOff,
            int ldb,
            float beta,
            Tensor c,
            long cOff,
            int ldc) {
        Gemm.checkBounds(transA, transB, m, n, k, a, aOff, lda, b, bOff, ldb, c, cOff, ldc);
        for (int i = 0; i < m; i++) {
            for (int j = 0; j < n; j++) {
                double acc = 0;
                for (int p = 0; p < k; p++) {
                    float av = transA ? a.get(aOff + (long) p * lda + i) : a.get(aOff + (long) i * lda + p);
                    float bv = transB ? b.get(bOff + (long) j * ldb + p) : b.get(bOff + (long) p * ldb + j);
                    acc += (double) av * bv;
                }
                long ci = cOff + (long) i * ldc + j;
                double old = beta == 0 ? 0 : (double) beta * c.get(ci);
                c.set(ci, (float) (alpha * acc + old));
            }
        }
    }
}
