// cuBLAS row-major GEMM against a plain-Java double-precision reference, on odd shapes, all four
// transpose combinations, with alpha and beta, for fp32 and for bf16 inputs (bf16 and fp32 output).
//
// Tolerances, with scale = |alpha|·Σk|a_ik·b_kj| + |beta|·|c_ij| per element:
//   fp32:            |gpu - ref| ≤ 2e-5·scale              (fp32 accumulation, no TF32: TF32 would
//                                                           give ~1e-3 and fail)
//   bf16 → fp32 out: |gpu - ref| ≤ 1e-4·scale              (inputs exactly bf16, products exact,
//                                                           tensor-core fp32 accumulation)
//   bf16 → bf16 out: |gpu - ref| ≤ 2^-8·|ref| + 1e-4·scale (plus one bf16 rounding of the result)
// A layout or transpose mistake gives errors of order scale, far above these bounds.
package dev.shoal.cuda;

import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.shoal.comm.DType;
import java.util.Random;
import org.bytedeco.javacpp.FloatPointer;
import org.bytedeco.javacpp.Pointer;
import org.bytedeco.javacpp.ShortPointer;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

@Tag("gpu")
class CublasGemmGpuTest {
    private static final int[][] SHAPES = {{37, 53, 71}, {1, 129, 64}, {128, 1, 300}, {257, 129, 65}, {64, 64, 1}};

    private static DeviceMemoryPool pool;
    private static CudaStream stream;
    private static CublasGemm blas;

    @BeforeAll
    static void setUp() {
        Assumptions.assumeTrue(
                NativeLibs.available(NativeLibs.Lib.CUBLAS), NativeLibs.unavailableReason(NativeLibs.Lib.CUBLAS));
        CudaDevice.setCurrent(0);
        pool = new DeviceMemoryPool(0);
        stream = CudaStream.create();
        blas = CublasGemm.create(stream, pool);
        System.out.println("cuBLAS version " + blas.version());
    }

    @AfterAll
    static void tearDown() {
        if (blas != null) blas.close();
        if (stream != null) stream.close();
        if (pool != null) pool.close();
    }

    @Test
    void fp32AllTransposes() {
        for (int[] s : SHAPES)
            for (int t = 0; t < 4; t++) check(s[0], s[1], s[2], (t & 1) != 0, (t & 2) != 0, DType.F32, DType.F32);
    }

    @Test
    void bf16WithFp32OutputAllTransposes() {
        for (int[] s : SHAPES)
            for (int t = 0; t < 4; t++) check(s[0], s[1], s[2], (t & 1) != 0, (t & 2) != 0, DType.BF16, DType.F32);
    }

    @Test
    void bf16WithBf16OutputAllTransposes() {
        for (int[] s : SHAPES)
            for (int t = 0; t < 4; t++) check(s[0], s[1], s[2], (t & 1) != 0, (t & 2) != 0, DType.BF16, DType.BF16);
    }

    @Test
    void shapeMismatchNamesTheOperand() {
        try (DeviceBuffer a = DeviceBuffer.allocate(pool, 10, DType.F32);
                DeviceBuffer b = DeviceBuffer.allocate(pool, 100, DType.F32);
                DeviceBuffer c = DeviceBuffer.allocate(pool, 100, DType.F32)) {
            IllegalArgumentException e = assertThrows(
                    IllegalArgumentException.class,
                    () -> blas.gemmF32(false, false, 10, 10, 10, 1f, a.ptr(), b.ptr(), 0f, c.ptr()));
            assertTrue(e.getMessage().contains("A needs 400 bytes"), e.getMessage());
            assertThrows(
                    IllegalArgumentException.class,
                    () -> blas.gemm(
                            false,
                            false,
                            10,
                            10,
                            1,
                            1f,
                            a.ptr(),
                            DType.F32,
                            b.ptr(),
                            DType.BF16,
                            0f,
                            c.ptr(),
                            DType.F32));
        }
    }

    private static void check(int m, int n, int k, boolean ta, boolean tb, DType in, DType out) {
        Random r = new Random(31L * m + 7L * n + k + (ta ? 1000 : 0) + (tb ? 2000 : 0));
        float alpha = 1.5f, beta = -0.75f;
        // Host operands as stored (row-major, transposed storage when the flag is set), bf16-exact for bf16.
        double[] a = new double[m * k], b = new double[k * n], c0 = new double[m * n];
        for (int i = 0; i < a.length; i++) a[i] = value(r, in);
        for (int i = 0; i < b.length; i++) b[i] = value(r, in);
        for (int i = 0; i < c0.length; i++) c0[i] = value(r, out);
        try (DeviceBuffer da = upload(a, in);
                DeviceBuffer db = upload(b, in);
                DeviceBuffer dc = upload(c0, out)) {
            blas.gemm(ta, tb, m, n, k, alpha, da.ptr(), in, db.ptr(), in, beta, dc.ptr(), out);
            stream.synchronize();
            double[] got = download(dc, out);
            String label =
                    String.format("%s->%s %s%s M=%d N=%d K=%d", in, out, ta ? "T" : "N", tb ? "T" : "N", m, n, k);
            for (int i = 0; i < m; i++) {
                for (int j = 0; j < n; j++) {
                    double ref = 0, scale = 0;
                    for (int p = 0; p < k; p++) {
                        double av = ta ? a[p * m + i] : a[i * k + p]; // op(A)[i][p]
                        double bv = tb ? b[j * k + p] : b[p * n + j]; // op(B)[p][j]
                        ref += av * bv;
                        scale += Math.abs(av * bv);
                    }
                    ref = alpha * ref + beta * c0[i * n + j];
                    scale = Math.abs(alpha) * scale + Math.abs(beta * c0[i * n + j]);
                    double tol = (in == DType.F32 ? 2e-5 : 1e-4) * scale + 1e-30;
                    if (out == DType.BF16) tol += Math.abs(ref) * 0x1p-8;
                    double err = Math.abs(got[i * n + j] - ref);
                    if (!(err <= tol)) {
                        throw new AssertionError(label + ": C[" + i + "][" + j + "] = " + got[i * n + j]
                                + ", reference " + ref + ", error " + err + " > tolerance " + tol);
                    }
                }
            }
        }
    }

    private static double value(Random r, DType t) {
        float f = (float) (r.nextGaussian());
        return t == DType.BF16 ? Bf16.round(f) : f;
    }

    private static DeviceBuffer upload(double[] v, DType t) {
        DeviceBuffer d = DeviceBuffer.allocate(pool, v.length, t);
        Pointer host;
        if (t == DType.BF16) {
            ShortPointer s = new ShortPointer(v.length);
            for (int i = 0; i < v.length; i++) s.put(i, Bf16.toBits((float) v[i]));
            host = s;
        } else {
            FloatPointer f = new FloatPointer(v.length);
            for (int i = 0; i < v.length; i++) f.put(i, (float) v[i]);
            host = f;
        }
        d.copyFromHost(host);
        host.close();
        return d;
    }

    private static double[] download(DeviceBuffer d, DType t) {
        double[] v = new double[(int) d.elems()];
        if (t == DType.BF16) {
            try (ShortPointer s = new ShortPointer(v.length)) {
                d.copyToHost(s);
                for (int i = 0; i < v.length; i++) v[i] = Bf16.fromBits(s.get(i));
            }
        } else {
            try (FloatPointer f = new FloatPointer(v.length)) {
                d.copyToHost(f);
                for (int i = 0; i < v.length; i++) v[i] = f.get(i);
            }
        }
        return v;
    }
}
