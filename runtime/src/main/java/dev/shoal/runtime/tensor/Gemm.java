// The matrix multiply the model calls: single-precision, row-major, with optional transposes.
// Guarantees: every implementation computes C = alpha·op(A)·op(B) + beta·C for the sub-matrices that
// start at the given element offsets with the given leading dimensions (row strides), like cblas_sgemm
// in row-major order; with beta == 0 the old contents of C are ignored (NaN in C does not leak).
package dev.shoal.runtime.tensor;

public interface Gemm {
    /**
     * C[m,n] = alpha · op(A)[m,k] · op(B)[k,n] + beta · C[m,n], where op(X) = Xᵀ when transX. A is
     * stored [m,k] (or [k,m] when transA) with row stride lda, starting at element aOff of a; likewise B
     * [k,n] (or [n,k]) with ldb, and C [m,n] with ldc.
     */
    void sgemm(
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
            int ldc);

    /**
     * Whole-tensor form: A, B and C are read as matrices whose last dimension is the column count and
     * whose leading dimensions are flattened into rows; m, n, k come from their shapes.
     */
    default void matmul(boolean transA, boolean transB, float alpha, Tensor a, Tensor b, float beta, Tensor c) {
        int aCols = a.dim(-1);
        int aRows = (int) (a.numel() / Math.max(1, aCols));
        int bCols = b.dim(-1);
        int bRows = (int) (b.numel() / Math.max(1, bCols));
        int m = transA ? aCols : aRows;
        int k = transA ? aRows : aCols;
        int kb = transB ? bCols : bRows;
        int n = transB ? bRows : bCols;
        int cCols = c.dim(-1);
        long cRows = c.numel() / Math.max(1, cCols);
        if (k != kb || cCols != n || cRows != m) {
            throw new IllegalArgumentException("matmul shapes do not agree: op(A) " + m + "x" + k + " from " + a
                    + (transA ? "ᵀ" : "") + ", op(B) " + kb + "x" + n + " from " + b + (transB ? "ᵀ" : "") + ", C "
                    + c);
        }
        sgemm(transA, transB, m, n, k, alpha, a, 0, aCols, b, 0, bCols, beta, c, 0, cCols);
    }

    /** Checks that every matrix of an sgemm call lies inside its tensor; throws with the whole picture. */
    static void checkBounds(
            boolean transA,
            boolean transB,
            int m,
            int n,
            int k,
            Tensor a,
            long aOff,
            int lda,
            Tensor b,
            long bOff,
            int ldb,
            Tensor c,
            long cOff,
            int ldc) {
        int aRows = transA ? k : m, aCols = transA ? m : k;
        int bRows = transB ? n : k, bCols = transB ? k : n;
        check("A", a, aOff, aRows, aCols, lda);
        check("B", b, bOff, bRows, bCols, ldb);
        check("C", c, cOff, m, n, ldc);
    }

    private static void check(String what, Tensor t, long off, int rows, int cols, int ld) {
        if (rows < 0 || cols < 0 || ld < Math.max(1, cols) || off < 0) {
            throw new IllegalArgumentException("sgemm " + what + ": " + rows + "x" + cols + " with leading dimension "
                    + ld + " at offset " + off + " is not a valid matrix");
        }
        if (rows > 0 && cols > 0 && off + (long) (rows - 1) * ld + cols > t.numel()) {
            throw new IndexOutOfBoundsException("sgemm " + what + ": " + rows + "x" + cols + " with leading dimension "
                    + ld + " at offset " + off + " runs past " + t);
        }
    }
}
