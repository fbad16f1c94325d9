// Row-major GEMM on the GPU through cuBLAS: C[M×N] = alpha·op(A)[M×K]·op(B)[K×N] + beta·C.
//   bf16 × bf16 → bf16 or fp32 output, fp32 accumulation (CUBLAS_COMPUTE_32F)
//   fp32 × fp32 → fp32, true fp32 (no TF32: CUBLAS_COMPUTE_32F with the default math mode)
// cuBLAS is column-major; a row-major matrix is its column-major transpose, so we compute
// Cᵀ = op(B)ᵀ·op(A)ᵀ: swap the operands and M/N, keep each operand's transpose flag.
//
// Storage: A is stored [M×K] (transA false) or [K×M] (transA true), leading dimension = its row
// length; likewise B [K×N] or [N×K]; C [M×N] with ldc = N.
//
// Guarantees: one handle per instance bound to one stream, with its own 32 MiB workspace from the
// pool; every operand's byte length is checked against the shape before the call; failing calls
// throw CudaException naming the call, the status and the shape.
package dev.shoal.cuda;

import static org.bytedeco.cuda.global.cublas.*;
import static org.bytedeco.cuda.global.cudart.CUDA_R_16BF;
import static org.bytedeco.cuda.global.cudart.CUDA_R_32F;

import dev.shoal.comm.DType;
import org.bytedeco.cuda.cublas.cublasContext;
import org.bytedeco.javacpp.BytePointer;
import org.bytedeco.javacpp.FloatPointer;

public final class CublasGemm implements AutoCloseable {
    /** Workspace size NVIDIA recommends for Hopper. */
    public static final long WORKSPACE_BYTES = 32L << 20;

    private final cublasContext handle;
    private final DeviceMemoryPool pool;
    private final DevicePtr workspace;
    private final FloatPointer alphaHost = new FloatPointer(1); // host-mode scalars
    private final FloatPointer betaHost = new FloatPointer(1);
    private CudaStream stream;
    private boolean closed;

    private CublasGemm(cublasContext handle, DeviceMemoryPool pool, DevicePtr workspace, CudaStream stream) {
        this.handle = handle;
        this.pool = pool;
        this.workspace = workspace;
        bindStream(stream);
    }

    /** A cuBLAS handle on the current device, enqueuing on {@code stream}, workspace from {@code pool}. */
    public static CublasGemm create(CudaStream stream, DeviceMemoryPool pool) {
        NativeLibs.require(NativeLibs.Lib.CUBLAS);
        CudaDevice.setCurrent(pool.device());
        cublasContext h = new cublasContext();
        check(cublasCreate_v2(h), "cublasCreate");
        DevicePtr ws = pool.allocate(WORKSPACE_BYTES);
        return new CublasGemm(h, pool, ws, stream);
    }

    /** Moves later GEMMs to {@code stream} (re-attaching the workspace, which cublasSetStream resets). */
    public synchronized void bindStream(CudaStream s) {
        ensureOpen();
        check(cublasSetStream_v2(handle, s.handle()), "cublasSetStream");
        check(cublasSetWorkspace_v2(handle, workspace, workspace.bytes()), "cublasSetWorkspace");
        this.stream = s;
    }

    public CudaStream stream() {
        return stream;
    }

    /**
     * Row-major C = alpha·op(A)·op(B) + beta·C, enqueued on this handle's stream. A and B are both
     * BF16 (C BF16 or F32) or both F32 (C F32).
     */
    public synchronized void gemm(
            boolean transA,
            boolean transB,
            int m,
            int n,
            int k,
            float alpha,
            DevicePtr a,
            DType aType,
            DevicePtr b,
            DType bType,
            float beta,
            DevicePtr c,
            DType cType) {
        ensureOpen();
        String shape = String.format(
                "gemm%s%s M=%d N=%d K=%d (A %s, B %s, C %s)",
                transA ? "T" : "N", transB ? "T" : "N", m, n, k, aType, bType, cType);
        if (m <= 0 || n <= 0 || k <= 0) throw new IllegalArgumentException(shape + ": dimensions must be positive");
        int inType;
        if (aType == DType.BF16 && bType == DType.BF16 && (cType == DType.BF16 || cType == DType.F32)) {
            inType = CUDA_R_16BF;
        } else if (aType == DType.F32 && bType == DType.F32 && cType == DType.F32) {
            inType = CUDA_R_32F;
        } else {
            throw new IllegalArgumentException(shape + ": supported are bf16·bf16→bf16|f32 and f32·f32→f32");
        }
        int outType = cType == DType.BF16 ? CUDA_R_16BF : CUDA_R_32F;
        checkBytes("A", a, (long) m * k, aType, shape);
        checkBytes("B", b, (long) k * n, bType, shape);
        checkBytes("C", c, (long) m * n, cType, shape);
        alphaHost.put(0, alpha);
        betaHost.put(0, beta);
        ColumnMajorCall p = plan(transA, transB, m, n, k);
        // first cuBLAS operand is our B, second is our A
        int status = cublasGemmEx(
                handle,
                p.transFirst() ? CUBLAS_OP_T : CUBLAS_OP_N,
                p.transSecond() ? CUBLAS_OP_T : CUBLAS_OP_N,
                p.m(),
                p.n(),
                p.k(),
                alphaHost,
                b,
                inType,
                p.ldFirst(),
                a,
                inType,
                p.ldSecond(),
                betaHost,
                c,
                outType,
                p.ldc(),
                CUBLAS_COMPUTE_32F,
                CUBLAS_GEMM_DEFAULT);
        check(status, "cublasGemmEx " + shape);
    }

    /**
     * The column-major BLAS call (transa, transb, m, n, k, lda, ldb, ldc) whose first operand is the
     * row-major B and second the row-major A, computing Cᵀ[N×M] = op(B)ᵀ[N×K]·op(A)ᵀ[K×M], which is
     * the row-major C[M×N]. Leading dimensions are the stored row lengths.
     */
    record ColumnMajorCall(
            boolean transFirst, boolean transSecond, int m, int n, int k, int ldFirst, int ldSecond, int ldc) {}

    static ColumnMajorCall plan(boolean transA, boolean transB, int m, int n, int k) {
        int lda = transA ? m : k; // A stored [K×M] when transposed, else [M×K]
        int ldb = transB ? k : n; // B stored [N×K] when transposed, else [K×N]
        return new ColumnMajorCall(transB, transA, n, m, k, ldb, lda, n);
    }

    /** bf16 inputs, fp32 accumulation, output {@code cType} (BF16 or F32). */
    public void gemmBf16(
            boolean transA,
            boolean transB,
            int m,
            int n,
            int k,
            float alpha,
            DevicePtr a,
            DevicePtr b,
            float beta,
            DevicePtr c,
            DType cType) {
        gemm(transA, transB, m, n, k, alpha, a, DType.BF16, b, DType.BF16, beta, c, cType);
    }

    /** fp32 throughout. */
    public void gemmF32(
            boolean transA,
            boolean transB,
            int m,
            int n,
            int k,
            float alpha,
            DevicePtr a,
            DevicePtr b,
            float beta,
            DevicePtr c) {
        gemm(transA, transB, m, n, k, alpha, a, DType.F32, b, DType.F32, beta, c, DType.F32);
    }

    /** cuBLAS library version, e.g. 130100. */
    public int version() {
        int[] v = new int[1];
        check(cublasGetVersion_v2(handle, v), "cublasGetVersion");
        return v[0];
    }

    @Override
    public synchronized void close() {
        if (closed) return;
        closed = true;
        check(cublasDestroy_v2(handle), "cublasDestroy");
        pool.free(workspace.address());
        alphaHost.close();
        betaHost.close();
    }

    private static void checkBytes(String name, DevicePtr p, long elems, DType t, String shape) {
        if (p == null) throw new IllegalArgumentException(shape + ": " + name + " is null");
        if (p.bytes() < t.bytesFor(elems)) {
            throw new IllegalArgumentException(shape + ": " + name + " needs " + t.bytesFor(elems) + " bytes (" + elems
                    + " " + t + "), its device region has " + p.bytes());
        }
    }

    static void check(int status, String call) {
        if (status != CUBLAS_STATUS_SUCCESS) {
            String name;
            try {
                BytePointer s = cublasGetStatusName(status);
                name = s == null ? "" : s.getString();
            } catch (Throwable t) {
                name = "";
            }
            throw new CudaException(call + ": cuBLAS status " + status + " " + name, status);
        }
    }

    private void ensureOpen() {
        if (closed) throw new IllegalStateException("cuBLAS handle already closed");
    }
}
