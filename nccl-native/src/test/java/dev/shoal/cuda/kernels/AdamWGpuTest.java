// GPU: three AdamW steps (fp32 and bf16 gradients, gradient scale, device clip factor) against the
// double-precision PyTorch-order reference; the bf16 copy is the RNE rounding of the fp32 master.
package dev.shoal.cuda.kernels;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.shoal.comm.DType;
import dev.shoal.cuda.Bf16;
import java.util.Random;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

@Tag("gpu")
class AdamWGpuTest {
    @ParameterizedTest
    @EnumSource(
            value = DType.class,
            names = {"F32", "BF16"})
    void threeStepsMatchReference(DType gradType) {
        KernelLibrary lib = Gpu.lib();
        Random r = new Random(71);
        int n = 50_001;
        double[] p = Gpu.quantize(DType.F32, Gpu.randn(r, n, 0.02));
        double[] m = new double[n], v = new double[n];
        float lr = 3e-4f, b1 = 0.9f, b2 = 0.95f, eps = 1e-8f, wd = 0.1f, gradScale = 0.5f;
        try (Gpu.Buf dP = Gpu.upload(DType.F32, p);
                Gpu.Buf dM = Gpu.zeros(DType.F32, n);
                Gpu.Buf dV = Gpu.zeros(DType.F32, n);
                Gpu.Buf dPb = Gpu.poisoned(DType.BF16, n);
                Gpu.Buf sumSq = Gpu.upload(DType.F32, new double[] {16.0}); // norm 4
                Gpu.Buf clip = Gpu.poisoned(DType.F32, 1);
                Gpu.Buf norm = Gpu.poisoned(DType.F32, 1)) {
            AdamWKernel.clipFactor(lib, sumSq.addr(), 1.0f, clip.addr(), norm.addr(), null);
            double clipF = Gpu.download(DType.F32, clip, 1)[0];
            assertEquals(4.0, Gpu.download(DType.F32, norm, 1)[0], 1e-6);
            assertEquals(1.0 / (4.0 + 1e-6), clipF, 1e-7);
            for (int step = 1; step <= 3; step++) {
                double[] g = Gpu.quantize(gradType, Gpu.randn(r, n, 1e-3));
                try (Gpu.Buf dG = Gpu.upload(gradType, g)) {
                    AdamWKernel.Hyper h = new AdamWKernel.Hyper(lr, b1, b2, eps, wd, step);
                    AdamWKernel.step(
                            lib,
                            gradType,
                            dP.addr(),
                            dG.addr(),
                            dM.addr(),
                            dV.addr(),
                            dPb.addr(),
                            n,
                            h,
                            gradScale,
                            clip.addr(),
                            null);
                    Reference.adamw(p, g, m, v, lr, b1, b2, eps, wd, step, gradScale * clipF);
                }
            }
            double[] gotP = Gpu.download(DType.F32, dP, n);
            double e = Reference.relError(gotP, p);
            assertTrue(e < 1e-6, "master weights relative error " + e);
            assertTrue(Reference.relError(Gpu.download(DType.F32, dM, n), m) < 1e-5, "m");
            assertTrue(Reference.relError(Gpu.download(DType.F32, dV, n), v) < 1e-5, "v");
            short[] bits = Gpu.downloadBits(dPb, n);
            for (int i = 0; i < n; i++) {
                assertEquals(Bf16.toBits((float) gotP[i]), bits[i], "bf16 copy at " + i);
            }
        }
    }
}
