// GPU: SwiGLU forward and backward against the double reference, f32 and bf16, odd length,
// with dg written over g and du over u.
package dev.shoal.cuda.kernels;

import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.shoal.comm.DType;
import java.util.Random;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

@Tag("gpu")
class SwiGluGpuTest {
    private static void assertRel(double[] got, double[] ref, double tol, String what) {
        double e = Reference.relError(got, ref);
        assertTrue(e < tol, what + ": relative error " + e + " >= " + tol);
    }

    @ParameterizedTest
    @EnumSource(
            value = DType.class,
            names = {"F32", "BF16"})
    void forwardAndBackwardMatchReference(DType t) {
        KernelLibrary lib = Gpu.lib();
        Random r = new Random(51);
        int n = 3 * 14336 + 5;
        double[] g = Gpu.quantize(t, Gpu.randn(r, n, 3));
        double[] u = Gpu.quantize(t, Gpu.randn(r, n, 1));
        double[] dh = Gpu.quantize(t, Gpu.randn(r, n, 1));
        double[][] bwd = Reference.swigluBackward(dh, g, u);
        try (Gpu.Buf dG = Gpu.upload(t, g);
                Gpu.Buf dU = Gpu.upload(t, u);
                Gpu.Buf dH = Gpu.poisoned(t, n);
                Gpu.Buf dDh = Gpu.upload(t, dh)) {
            SwiGluKernel.forward(lib, t, dG.addr(), dU.addr(), dH.addr(), n, null);
            assertRel(Gpu.download(t, dH, n), Reference.swigluForward(g, u), Gpu.tol(t), "h");
            SwiGluKernel.backward(lib, t, dDh.addr(), dG.addr(), dU.addr(), dG.addr(), dU.addr(), n, null);
            assertRel(Gpu.download(t, dG, n), bwd[0], Gpu.tol(t), "dg");
            assertRel(Gpu.download(t, dU, n), bwd[1], Gpu.tol(t), "du");
        }
    }
}
