// SGEMM through OpenBLAS (bytedeco presets) on the tensors' off-heap memory: no copies, no float[].
// Guarantees: bounds are checked in Java before the native call. Two threading modes:
//  - split (the default): OpenBLAS runs single-threaded and this class cuts C into two blocks of
//    rows or columns (four for products of >= 2^26 multiply-adds; at least 128 each), shared out over
//    a Parallel pool. The pool blocks instead of spinning, so it stays fast when the machine is
//    shared, and a GEMM called from inside a parallel region (attention heads) runs its blocks on its
//    caller's thread. When the blocks would all run on the calling thread anyway (a 1-thread pool, or
//    a GEMM nested in a parallel region) the product is one OpenBLAS call instead: one call packs each
//    operand once and runs ~1.5x faster at 1 thread than the split (SGEMM 1024^3, docs/perf.md).
//    OpenBLAS's blocked kernel sums each element of C over k in the same order whatever rows or
//    columns a call covers, so one call and the split give the same bits (OpenBlasGemmTest checks it
//    on the engine's shapes); results are therefore the same on 1 thread or many.
//  - blasThreaded: OpenBLAS's own (process-wide) thread pool; kept for comparison in benchmarks.
package dev.shoal.runtime.tensor;

import static org.bytedeco.openblas.global.openblas_nolapack.CblasNoTrans;
import static org.bytedeco.openblas.global.openblas_nolapack.CblasRowMajor;
import static org.bytedeco.openblas.global.openblas_nolapack.CblasTrans;

import org.bytedeco.javacpp.FloatPointer;
import org.bytedeco.openblas.global.openblas_nolapack;

public final class OpenBlasGemm implements Gemm {
    /** Below this many multiply-adds a GEMM is not split (the hand-off would cost more than it saves). */
    private static final long SPLIT_MIN_MACS = 1L << 18;
    /** Smallest block of rows (or columns) of C per OpenBLAS call when splitting. */
    private static final int BLOCK = 128;

    /** From this many multiply-adds on, C is cut into about four blocks instead of two. */
    private static final long QUARTER_MIN_MACS = 1L << 26;

    /**
     * Rows (or columns) per block for a dimension of size d of a product of macs multiply-adds: about
     * d/2, or d/4 for products of at least QUARTER_MIN_MACS (so 1, 2 or 4 threads share the blocks
     * evenly), at least BLOCK, a multiple of 16. Each block re-packs the other operand, which on one
     * thread costs 5–15 % on the engine's products against a single call (GemmSplitBench); halves
     * recover about half of that, and only large products are cut finer. It depends on the shape only,
     * never on the thread count, so the same calls happen on 1 thread or many and the result has the
     * same bits.
     */
    static int blockSize(int d, long macs) {
        int parts = macs >= QUARTER_MIN_MACS ? 4 : 2;
        int part = ((d + parts - 1) / parts + 15) / 16 * 16;
        return Math.max(BLOCK, part);
    }

    private final Parallel par; // null in blasThreaded mode
    private final int threads;

    /** Split mode over par's threads; OpenBLAS itself is set to one thread (process-wide). */
    public OpenBlasGemm(Parallel par) {
        setBlasThreads(1);
        this.par = par;
        this.threads = par.threads();
    }

    /** OpenBLAS's own threading with the given (process-wide) thread count. */
    public static OpenBlasGemm blasThreaded(int threads) {
        return new OpenBlasGemm(threads);
    }

    private OpenBlasGemm(int blasThreads) {
        setBlasThreads(blasThreads);
        this.par = null;
        this.threads = openblas_nolapack.blas_get_num_threads();
    }

    private static void setBlasThreads(int n) {
        if (n < 1) {
            throw new IllegalArgumentException("OpenBLAS thread count must be >= 1, got " + n);
        }
        try {
            openblas_nolapack.blas_set_num_threads(n);
        } catch (UnsatisfiedLinkError e) {
            throw new IllegalStateException(
                    "could not load the bundled OpenBLAS native library (bytedeco openblas linux-x86_64 jar): "
                            + e.getMessage(),
                    e);
        }
    }

    public int threads() {
        return threads;
    }

    public boolean splitMode() {
        return par != null;
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
        if (par == null || (long) m * n * k < SPLIT_MIN_MACS || Math.max(m, n) < 2 * BLOCK || par.runsInline()) {
            call(transA, transB, m, n, k, alpha, a, aOff, lda, b, bOff, ldb, beta, c, cOff, ldc);
            return;
        }
        if (m >= n) {
            // Row blocks of C: rows i0..i1 of op(A) start at row i0 of A (or column i0 of Aᵀ).
            int rows = blockSize(m, (long) m * n * k);
            int blocks = (m + rows - 1) / rows;
            par.forRange(blocks, 1, (s, e) -> {
                for (long blk = s; blk < e; blk++) {
                    int i0 = (int) blk * rows, i1 = Math.min(m, i0 + rows);
                    long aStart = aOff + (transA ? i0 : (long) i0 * lda);
                    call(
                            transA,
                            transB,
                            i1 - i0,
                            n,
                            k,
                            alpha,
                            a,
                            aStart,
                            lda,
                            b,
                            bOff,
                            ldb,
                            beta,
                            c,
                            cOff + (long) i0 * ldc,
                            ldc);
                }
            });
        } else {
            // Column blocks of C: columns j0..j1 of op(B) start at column j0 of B (or row j0 of Bᵀ).
            int cols = blockSize(n, (long) m * n * k);
            int blocks = (n + cols - 1) / cols;
            par.forRange(blocks, 1, (s, e) -> {
                for (long blk = s; blk < e; blk++) {
                    int j0 = (int) blk * cols, j1 = Math.min(n, j0 + cols);
                    long bStart = bOff + (transB ? (long) j0 * ldb : j0);
                    call(transA, transB, m, j1 - j0, k, alpha, a, aOff, lda, b, bStart, ldb, beta, c, cOff + j0, ldc);
                }
            });
        }
    }

    private static void call(
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
