// GPU: add/residual, fp32 accumulate, scale, fill, the deterministic sums, and the vocab-parallel
// embedding gather/scatter against double-precision references, in f32 and bf16.
package dev.shoal.cuda.kernels;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.shoal.comm.DType;
import java.util.Random;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

@Tag("gpu")
class ElementwiseGpuTest {
    private static final int N = 10_007;

    private static void assertRel(double[] got, double[] ref, double tol, String what) {
        double e = Reference.relError(got, ref);
        assertTrue(e < tol, what + ": relative error " + e + " >= " + tol);
    }

    @ParameterizedTest
    @EnumSource(
            value = DType.class,
            names = {"F32", "BF16"})
    void addAccumulateScaleFill(DType t) {
        KernelLibrary lib = Gpu.lib();
        Random r = new Random(21);
        double[] a = Gpu.quantize(t, Gpu.randn(r, N, 1)), b = Gpu.quantize(t, Gpu.randn(r, N, 1));
        double[] acc0 = Gpu.quantize(DType.F32, Gpu.randn(r, N, 1));
        try (Gpu.Buf da = Gpu.upload(t, a);
                Gpu.Buf db = Gpu.upload(t, b);
                Gpu.Buf dy = Gpu.poisoned(t, N);
                Gpu.Buf dacc = Gpu.upload(DType.F32, acc0)) {
            // y = a + b
            ElementwiseKernels.add(lib, t, da.addr(), db.addr(), dy.addr(), N, null);
            double[] sum = new double[N];
            for (int i = 0; i < N; i++) {
                sum[i] = a[i] + b[i];
            }
            assertRel(Gpu.download(t, dy, N), sum, Gpu.tol(t), "add");
            // a += b in place (residual)
            ElementwiseKernels.add(lib, t, da.addr(), db.addr(), da.addr(), N, null);
            assertRel(Gpu.download(t, da, N), sum, Gpu.tol(t), "add in place");
            // acc(f32) += 0.5 * b
            ElementwiseKernels.accumulate(lib, t, db.addr(), dacc.addr(), N, 0.5f, null);
            double[] accRef = new double[N];
            for (int i = 0; i < N; i++) {
                accRef[i] = acc0[i] + 0.5 * b[i];
            }
            assertRel(Gpu.download(DType.F32, dacc, N), accRef, 2e-7, "accumulate");
            // b *= -3
            ElementwiseKernels.scale(lib, t, db.addr(), N, -3f, null);
            double[] scaled = new double[N];
            for (int i = 0; i < N; i++) {
                scaled[i] = -3 * b[i];
            }
            assertRel(Gpu.download(t, db, N), scaled, Gpu.tol(t), "scale");
            // y = 0.375 (exact in both types)
            ElementwiseKernels.fill(lib, t, dy.addr(), N, 0.375f, null);
            for (double v : Gpu.download(t, dy, N)) {
                assertEquals(0.375, v);
            }
        }
    }

    @ParameterizedTest
    @EnumSource(
            value = DType.class,
            names = {"F32", "BF16"})
    void sumsAreAccurateAndBitReproducible(DType t) {
        KernelLibrary lib = Gpu.lib();
        Random r = new Random(22);
        int n = 1_000_003;
        double[] x = Gpu.quantize(t, Gpu.randn(r, n, 1));
        double s = 0, ss = 0;
        for (double v : x) {
            s += v;
            ss += v * v;
        }
        try (Gpu.Buf dx = Gpu.upload(t, x);
                Gpu.Buf partials = Gpu.poisoned(DType.F32, ElementwiseKernels.SUM_PARTIALS);
                Gpu.Buf out = Gpu.poisoned(DType.F32, 2)) {
            ElementwiseKernels.sum(lib, t, dx.addr(), n, true, partials.addr(), out.addr(), false, null);
            double first = Gpu.download(DType.F32, out, 1)[0];
            assertEquals(ss, first, ss * 1e-5, "sum of squares");
            ElementwiseKernels.sum(lib, t, dx.addr(), n, true, partials.addr(), out.addr(), false, null);
            assertEquals(first, Gpu.download(DType.F32, out, 1)[0], 0.0, "same bits on a second run");
            // accumulate: out += sum(x)
            ElementwiseKernels.sum(lib, t, dx.addr(), n, false, partials.addr(), out.addr(), true, null);
            assertEquals(first + s, Gpu.download(DType.F32, out, 1)[0], ss * 1e-5, "accumulated sum");
        }
    }

    @ParameterizedTest
    @EnumSource(
            value = DType.class,
            names = {"F32", "BF16"})
    void embeddingGatherAndScatterForOneVocabShard(DType t) {
        KernelLibrary lib = Gpu.lib();
        Random r = new Random(23);
        int n = 37, C = 130, vocab = 50, off = 20, vl = 17; // this shard holds ids 20..36
        int[] tokens = new int[n];
        for (int i = 0; i < n; i++) {
            tokens[i] = r.nextInt(vocab);
        }
        tokens[0] = 25;
        tokens[1] = 25; // a repeated token: its gradients add up
        double[] wte = Gpu.quantize(t, Gpu.randn(r, vl * C, 1));
        double[] dout = Gpu.quantize(t, Gpu.randn(r, n * C, 1));
        double[] dwte0 = Gpu.quantize(DType.F32, Gpu.randn(r, vl * C, 1));
        try (Gpu.Buf dTok = Gpu.uploadInts(tokens);
                Gpu.Buf dWte = Gpu.upload(t, wte);
                Gpu.Buf out = Gpu.poisoned(t, (long) n * C);
                Gpu.Buf dOut = Gpu.upload(t, dout);
                Gpu.Buf dWteGrad = Gpu.upload(DType.F32, dwte0)) {
            EmbeddingKernel.forward(lib, t, dTok.addr(), dWte.addr(), out.addr(), n, C, off, vl, null);
            double[] got = Gpu.download(t, out, n * C);
            double[] ref = new double[n * C];
            double[] gradRef = dwte0.clone();
            for (int i = 0; i < n; i++) {
                int local = tokens[i] - off;
                if (local >= 0 && local < vl) {
                    for (int c = 0; c < C; c++) {
                        ref[i * C + c] = wte[local * C + c];
                        gradRef[local * C + c] += dout[i * C + c];
                    }
                }
            }
            assertArrayEquals(ref, got, 0.0, "gather copies rows exactly, zeros for other shards");
            EmbeddingKernel.backward(lib, t, dTok.addr(), dOut.addr(), dWteGrad.addr(), n, C, off, vl, null);
            assertRel(Gpu.download(DType.F32, dWteGrad, vl * C), gradRef, 1e-6, "scatter-add");
        }
    }
}
