// SGEMM through OpenBLAS (bytedeco presets) on the tensors' off-heap memory: no copies, no float[].
// Guarantees: bounds are checked in Java before the native call; the BLAS thread count is set once
// here (OpenBLAS keeps it process-wide) and reported back by threads().
package dev.shoal.runtime.tensor;

import static org.bytedeco.openblas.global.openblas_nolapack.CblasNoTrans;
import static org.bytedeco.openblas.global.openblas_nolapack.CblasRowMajor;
import static org.bytedeco.openblas.global.openblas_nolapack.CblasTrans;

import org.bytedeco.javacpp.FloatPointer;
import org.bytedeco.openblas.global.openblas_nolapack;

public final class OpenBlasGemm implements Gemm {
    private final int threads;

    /** Loads OpenBLAS and sets its (process-wide) thread count. */
    public OpenBlasGemm(int threads) {
        if (threads < 1) {
            throw new IllegalArgumentException("OpenBLAS thread count must be >= 1, got " + threads);
        }
        try {
            openblas_nolapack.blas_set_num_threads(threads);
        } catch (UnsatisfiedLinkError e) {
            throw new IllegalStateException(
                    "could not load the bundled OpenBLAS native library (bytedeco openblas" + " linux-x86_64 jar): "
                            + e.getMessage(),
                    e);
        }
        this.threads = openblas_nolapack.blas_get_num_threads();
    }

    public int threads() {
        return threads;
    }

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
        if (m == 0 || n == 0) {
            return;
        }
        openblas_nolapack.cblas_sgemm(
                CblasRowMajor,
                transA ? CblasTrans : CblasNoTrans,
                transB ? CblasTrans : CblasNoTrans,
                m,
                n,
                k,
                alpha,
                at(a, aOff),
                lda,
                at(b, bOff),
                ldb,
                beta,
                at(c, cOff),
                ldc);
    }

    /** A pointer to element off of t (a fresh Pointer object, so concurrent calls never share a position). */
    private static FloatPointer at(Tensor t, long off) {
        FloatPointer base = t.pointer();
        if (off == 0) {
            return base;
        }
        return new FloatPointer(base).position(base.position() + off);
    }
}
