// GPU: RoPE tables from theta, forward (HF rotate_half) and backward (inverse rotation) against
// the double reference, in place, for hd 64 and 128, f32 and bf16.
package dev.shoal.cuda.kernels;

import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.shoal.comm.DType;
import java.util.Random;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

@Tag("gpu")
class RopeGpuTest {
    private static void assertRel(double[] got, double[] ref, double tol, String what) {
        double e = Reference.relError(got, ref);
        assertTrue(e < tol, what + ": relative error " + e + " >= " + tol);
    }

    @ParameterizedTest
    @CsvSource({"F32, 2, 67, 3, 64", "BF16, 1, 130, 4, 128", "F32, 1, 33, 2, 128", "BF16, 2, 5, 8, 64"})
    void tablesForwardBackward(DType t, int B, int T, int NH, int hd) {
        KernelLibrary lib = Gpu.lib();
        Random r = new Random(41 + T);
        int half = hd / 2, pos0 = 3;
        float[] inv = RopeKernel.inverseFrequencies(hd, 500000.0);
        double[] invD = new double[half];
        for (int i = 0; i < half; i++) {
            invD[i] = inv[i];
        }
        // reference tables: fp32 angle (as HF and the kernel compute it), exact cos/sin of it
        double[] cos = new double[T * half], sin = new double[T * half];
        for (int p = 0; p < T; p++) {
            for (int i = 0; i < half; i++) {
                float angle = (float) (pos0 + p) * inv[i];
                cos[p * half + i] = Math.cos(angle);
                sin[p * half + i] = Math.sin(angle);
            }
        }
        int n = B * T * NH * hd;
        double[] x = Gpu.quantize(t, Gpu.randn(r, n, 1));
        double[] dy = Gpu.quantize(t, Gpu.randn(r, n, 1));
        try (Gpu.Buf dInv = Gpu.upload(DType.F32, invD);
                Gpu.Buf dCos = Gpu.poisoned(DType.F32, (long) T * half);
                Gpu.Buf dSin = Gpu.poisoned(DType.F32, (long) T * half);
                Gpu.Buf dX = Gpu.upload(t, x);
                Gpu.Buf dDy = Gpu.upload(t, dy)) {
            RopeKernel.tables(lib, dInv.addr(), dCos.addr(), dSin.addr(), T, half, pos0, null);
            double[] gotCos = Gpu.download(DType.F32, dCos, T * half);
            double[] gotSin = Gpu.download(DType.F32, dSin, T * half);
            assertTrue(Reference.maxAbsError(gotCos, cos) < 2e-6, "cos table");
            assertTrue(Reference.maxAbsError(gotSin, sin) < 2e-6, "sin table");
            // forward in place; the reference uses the tables the GPU holds
            RopeKernel.forward(lib, t, dX.addr(), dX.addr(), dCos.addr(), dSin.addr(), B, T, NH, hd, null);
            assertRel(Gpu.download(t, dX, n), Reference.rope(x, B, T, NH, hd, gotCos, gotSin, 1), Gpu.tol(t), "y");
            RopeKernel.backward(lib, t, dDy.addr(), dDy.addr(), dCos.addr(), dSin.addr(), B, T, NH, hd, null);
            assertRel(Gpu.download(t, dDy, n), Reference.rope(dy, B, T, NH, hd, gotCos, gotSin, -1), Gpu.tol(t), "dx");
        }
    }
}
