// GPU: RMSNorm forward (y, rstd) and backward (dx assigned, dw accumulated) against the double
// reference, in f32 and bf16, on odd sizes; dx aliasing dy is allowed.
package dev.shoal.cuda.kernels;

import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.shoal.comm.DType;
import java.util.Random;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

@Tag("gpu")
class RmsNormGpuTest {
    private static void assertRel(double[] got, double[] ref, double tol, String what) {
        double e = Reference.relError(got, ref);
        assertTrue(e < tol, what + ": relative error " + e + " >= " + tol);
    }

    @ParameterizedTest
    @CsvSource({"F32, 37, 1000", "BF16, 37, 1000", "F32, 5, 4096", "BF16, 129, 96"})
    void forwardAndBackwardMatchReference(DType t, int N, int C) {
        KernelLibrary lib = Gpu.lib();
        Random r = new Random(31 + N + C);
        float eps = 1e-5f;
        double[] x = Gpu.quantize(t, Gpu.randn(r, N * C, 2));
        double[] w = Gpu.quantize(DType.F32, Gpu.randn(r, C, 1));
        double[] dy = Gpu.quantize(t, Gpu.randn(r, N * C, 1));
        double[] dw0 = Gpu.quantize(DType.F32, Gpu.randn(r, C, 1));
        double[][] fwd = Reference.rmsnormForward(x, w, N, C, eps);
        double[][] bwd = Reference.rmsnormBackward(dy, x, w, N, C, eps);
        try (Gpu.Buf dX = Gpu.upload(t, x);
                Gpu.Buf dW = Gpu.upload(DType.F32, w);
                Gpu.Buf dY = Gpu.poisoned(t, (long) N * C);
                Gpu.Buf rstd = Gpu.poisoned(DType.F32, N);
                Gpu.Buf dDy = Gpu.upload(t, dy);
                Gpu.Buf dDw = Gpu.upload(DType.F32, dw0)) {
            RmsNormKernel.forward(lib, t, dX.addr(), dW.addr(), dY.addr(), rstd.addr(), N, C, eps, null);
            assertRel(Gpu.download(t, dY, N * C), fwd[0], Gpu.tol(t), "y");
            assertRel(Gpu.download(DType.F32, rstd, N), fwd[1], 1e-6, "rstd");
            // backward in place: dx overwrites dy
            RmsNormKernel.backward(
                    lib, t, dDy.addr(), dX.addr(), dW.addr(), rstd.addr(), dDy.addr(), dDw.addr(), N, C, null);
            assertRel(Gpu.download(t, dDy, N * C), bwd[0], t == DType.F32 ? 1e-5 : 1e-2, "dx");
            double[] dwRef = new double[C];
            for (int c = 0; c < C; c++) {
                dwRef[c] = dw0[c] + bwd[1][c];
            }
            assertRel(Gpu.download(DType.F32, dDw, C), dwRef, 1e-5, "dw (accumulated)");
        }
    }
}
