// GPU: causal GQA attention, forward and backward, against the double-precision reference
// (Reference.attentionForward/Backward, itself checked by finite differences), for the bf16
// tensor-core flash kernels and the fp32 reference kernels, on odd sizes: T not a multiple of the
// 64 tile, hd 64 and 128, group sizes 1, 2 and 4, B 1 and 2. Outputs start poisoned (NaN) so an
// unwritten element fails; the flash backward is checked to be bit-reproducible.
package dev.shoal.cuda.kernels;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.shoal.comm.DType;
import java.util.Random;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

@Tag("gpu")
class FlashAttentionGpuTest {
    private static void assertRel(double[] got, double[] ref, double tol, String what) {
        double e = Reference.relError(got, ref);
        assertTrue(e < tol, what + ": relative error " + e + " >= " + tol);
    }

    @ParameterizedTest(name = "{0} {1} B={2} T={3} NH={4} NKV={5} hd={6}")
    @CsvSource({
        "FLASH, BF16, 1, 130, 4, 1, 64",
        "FLASH, BF16, 2, 67, 2, 2, 128",
        "FLASH, BF16, 1, 200, 8, 2, 128",
        "FLASH, BF16, 1, 64, 4, 4, 64",
        "FLASH, BF16, 1, 5, 8, 2, 128",
        "FLASH_BASIC, BF16, 1, 130, 4, 1, 64",
        "FLASH_BASIC, BF16, 1, 200, 8, 2, 128",
        "REFERENCE, F32, 1, 130, 4, 1, 64",
        "REFERENCE, F32, 2, 67, 8, 2, 128",
        "REFERENCE, F32, 1, 33, 4, 4, 96",
        "REFERENCE, BF16, 1, 70, 4, 1, 128"
    })
    void forwardAndBackwardMatchReference(FlashAttention.Impl impl, DType t, int B, int T, int NH, int NKV, int hd) {
        KernelLibrary lib = Gpu.lib();
        Random r = new Random(1000L * T + 10L * NH + hd);
        int nq = B * T * NH * hd, nk = B * T * NKV * hd, nl = B * NH * T;
        double scale = 1.0 / Math.sqrt(hd);
        double[] q = Gpu.quantize(t, Gpu.randn(r, nq, 1));
        double[] k = Gpu.quantize(t, Gpu.randn(r, nk, 1));
        double[] v = Gpu.quantize(t, Gpu.randn(r, nk, 1));
        double[] dO = Gpu.quantize(t, Gpu.randn(r, nq, 1));
        double[][] fwd = Reference.attentionForward(q, k, v, B, T, NH, NKV, hd, scale);
        double[][] bwd = Reference.attentionBackward(q, k, v, dO, B, T, NH, NKV, hd, scale);
        boolean f32 = t == DType.F32;
        try (Gpu.Buf dq = Gpu.upload(t, q);
                Gpu.Buf dk = Gpu.upload(t, k);
                Gpu.Buf dv = Gpu.upload(t, v);
                Gpu.Buf ddO = Gpu.upload(t, dO);
                Gpu.Buf o = Gpu.poisoned(t, nq);
                Gpu.Buf lse = Gpu.poisoned(DType.F32, nl);
                Gpu.Buf gq = Gpu.poisoned(t, nq);
                Gpu.Buf gk = Gpu.poisoned(t, nk);
                Gpu.Buf gv = Gpu.poisoned(t, nk);
                Gpu.Buf ws = Gpu.poisoned(DType.F32, nl)) {
            FlashAttention.forward(
                    lib, impl, t, dq.addr(), dk.addr(), dv.addr(), o.addr(), lse.addr(), B, T, NH, NKV, hd, null);
            assertRel(Gpu.download(t, o, nq), fwd[0], f32 ? 1e-5 : 1e-2, "O");
            assertRel(Gpu.download(DType.F32, lse, nl), fwd[1], 1e-5, "LSE");
            FlashAttention.backward(
                    lib,
                    impl,
                    t,
                    dq.addr(),
                    dk.addr(),
                    dv.addr(),
                    o.addr(),
                    lse.addr(),
                    ddO.addr(),
                    gq.addr(),
                    gk.addr(),
                    gv.addr(),
                    ws.addr(),
                    B,
                    T,
                    NH,
                    NKV,
                    hd,
                    null);
            double tol = f32 ? 1e-4 : 2.5e-2;
            assertRel(Gpu.download(t, gq, nq), bwd[0], tol, "dQ");
            assertRel(Gpu.download(t, gk, nk), bwd[1], tol, "dK");
            assertRel(Gpu.download(t, gv, nk), bwd[2], tol, "dV");
            if (impl != FlashAttention.Impl.REFERENCE) {
                short[] q1 = Gpu.downloadBits(gq, nq), k1 = Gpu.downloadBits(gk, nk), v1 = Gpu.downloadBits(gv, nk);
                FlashAttention.backward(
                        lib,
                        impl,
                        t,
                        dq.addr(),
                        dk.addr(),
                        dv.addr(),
                        o.addr(),
                        lse.addr(),
                        ddO.addr(),
                        gq.addr(),
                        gk.addr(),
                        gv.addr(),
                        ws.addr(),
                        B,
                        T,
                        NH,
                        NKV,
                        hd,
                        null);
                assertArrayEquals(q1, Gpu.downloadBits(gq, nq), "dQ bit-reproducible");
                assertArrayEquals(k1, Gpu.downloadBits(gk, nk), "dK bit-reproducible");
                assertArrayEquals(v1, Gpu.downloadBits(gv, nk), "dV bit-reproducible");
            }
        }
    }

    @ParameterizedTest(name = "flash vs fp32 reference kernel at T={0}")
    @CsvSource({"1000", "2048"})
    void flashAgreesWithReferenceKernelAtLongerSequences(int T) {
        KernelLibrary lib = Gpu.lib();
        int B = 1, NH = 8, NKV = 2, hd = 128;
        Random r = new Random(T);
        int nq = B * T * NH * hd, nk = B * T * NKV * hd, nl = B * NH * T;
        double[] q = Gpu.quantize(DType.BF16, Gpu.randn(r, nq, 1));
        double[] k = Gpu.quantize(DType.BF16, Gpu.randn(r, nk, 1));
        double[] v = Gpu.quantize(DType.BF16, Gpu.randn(r, nk, 1));
        double[] dO = Gpu.quantize(DType.BF16, Gpu.randn(r, nq, 1));
        double[][] outs = new double[2][];
        double[][][] grads = new double[2][][];
        DType[] types = {DType.BF16, DType.F32};
        FlashAttention.Impl[] impls = {FlashAttention.Impl.FLASH, FlashAttention.Impl.REFERENCE};
        for (int run = 0; run < 2; run++) {
            DType t = types[run];
            try (Gpu.Buf dq = Gpu.upload(t, q);
                    Gpu.Buf dk = Gpu.upload(t, k);
                    Gpu.Buf dv = Gpu.upload(t, v);
                    Gpu.Buf ddO = Gpu.upload(t, dO);
                    Gpu.Buf o = Gpu.poisoned(t, nq);
                    Gpu.Buf lse = Gpu.poisoned(DType.F32, nl);
                    Gpu.Buf gq = Gpu.poisoned(t, nq);
                    Gpu.Buf gk = Gpu.poisoned(t, nk);
                    Gpu.Buf gv = Gpu.poisoned(t, nk);
                    Gpu.Buf ws = Gpu.poisoned(DType.F32, nl)) {
                FlashAttention.forward(
                        lib,
                        impls[run],
                        t,
                        dq.addr(),
                        dk.addr(),
                        dv.addr(),
                        o.addr(),
                        lse.addr(),
                        B,
                        T,
                        NH,
                        NKV,
                        hd,
                        null);
                FlashAttention.backward(
                        lib,
                        impls[run],
                        t,
                        dq.addr(),
                        dk.addr(),
                        dv.addr(),
                        o.addr(),
                        lse.addr(),
                        ddO.addr(),
                        gq.addr(),
                        gk.addr(),
                        gv.addr(),
                        ws.addr(),
                        B,
                        T,
                        NH,
                        NKV,
                        hd,
                        null);
                outs[run] = Gpu.download(t, o, nq);
                grads[run] = new double[][] {Gpu.download(t, gq, nq), Gpu.download(t, gk, nk), Gpu.download(t, gv, nk)};
            }
        }
        assertRel(outs[0], outs[1], 1e-2, "O flash vs fp32");
        String[] names = {"dQ", "dK", "dV"};
        for (int i = 0; i < 3; i++) {
            assertRel(grads[0][i], grads[1][i], 3e-2, names[i] + " flash vs fp32");
        }
    }
}
