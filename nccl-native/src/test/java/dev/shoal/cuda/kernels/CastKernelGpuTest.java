// GPU: f32 -> bf16 matches the host round-to-nearest-even bit for bit (ties, NaN, Inf, overflow,
// subnormals, random values), and bf16 -> f32 is exact.
package dev.shoal.cuda.kernels;

import static org.junit.jupiter.api.Assertions.assertEquals;

import dev.shoal.comm.DType;
import dev.shoal.cuda.Bf16;
import java.util.Random;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

@Tag("gpu")
class CastKernelGpuTest {
    @Test
    void f32ToBf16MatchesHostRoundingBitForBit() {
        KernelLibrary lib = Gpu.lib();
        Random r = new Random(11);
        int n = 100_003;
        int[] special = {
            0x3f808000,
            0x3f818000,
            0x3f808001,
            0x7f800000,
            0xff800000,
            0x7fc00000,
            0x7f800001,
            0xff800001,
            0x7f7fffff,
            0x00000001,
            0x80000001,
            0x007fffff,
            0x00000000,
            0x80000000,
            0x3f7fffff
        };
        float[] f = new float[n];
        for (int i = 0; i < n; i++) {
            f[i] = i < special.length
                    ? Float.intBitsToFloat(special[i])
                    : Float.intBitsToFloat(r.nextInt()); // every bit pattern, NaNs included
        }
        try (Gpu.Buf src = Gpu.uploadFloats(f);
                Gpu.Buf dst = Gpu.poisoned(DType.BF16, n)) {
            CastKernel.f32ToBf16(lib, src.addr(), dst.addr(), n, null);
            short[] got = Gpu.downloadBits(dst, n);
            for (int i = 0; i < n; i++) {
                short want = Bf16.toBits(f[i]);
                if (Float.isNaN(f[i])) {
                    assertEquals(true, Float.isNaN(Bf16.fromBits(got[i])), "NaN kept at " + i);
                    assertEquals(want, got[i], "NaN bits at " + i);
                } else {
                    assertEquals(want, got[i], "element " + i + " = " + f[i]);
                }
            }
        }
    }

    @Test
    void bf16ToF32IsExact() {
        KernelLibrary lib = Gpu.lib();
        int n = 65536; // every bf16 bit pattern
        double[] x = new double[n];
        try (Gpu.Buf src = new Gpu.Buf(2L * n);
                Gpu.Buf dst = Gpu.poisoned(DType.F32, n)) {
            short[] bits = new short[n];
            for (int i = 0; i < n; i++) {
                bits[i] = (short) i;
            }
            try (org.bytedeco.javacpp.ShortPointer h = new org.bytedeco.javacpp.ShortPointer(bits)) {
                Gpu.check(
                        org.bytedeco.cuda.global.cudart.cudaMemcpy(
                                src.ptr, h, 2L * n, org.bytedeco.cuda.global.cudart.cudaMemcpyHostToDevice),
                        "upload");
            }
            CastKernel.bf16ToF32(lib, src.addr(), dst.addr(), n, null);
            double[] got = Gpu.download(DType.F32, dst, n);
            for (int i = 0; i < n; i++) {
                float want = Bf16.fromBits((short) i);
                if (Float.isNaN(want)) {
                    assertEquals(true, Double.isNaN(got[i]), "NaN at " + i);
                } else {
                    assertEquals(want, (float) got[i], "pattern " + Integer.toHexString(i));
                }
            }
        }
    }
}
