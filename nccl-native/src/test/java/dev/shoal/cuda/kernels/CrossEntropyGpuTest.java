// GPU: vocab-parallel cross-entropy. One shard (stats then loss/grad, dlogits over the logits) and
// two shards with the all-reduces done on the host, both against the full-softmax double reference,
// with ignored (-100) rows giving zero loss and zero gradient.
package dev.shoal.cuda.kernels;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.shoal.comm.DType;
import java.util.Random;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

@Tag("gpu")
class CrossEntropyGpuTest {
    private static final int N = 19;
    private static final int V = 1003;

    private static int[] targets(Random r) {
        int[] t = new int[N];
        for (int i = 0; i < N; i++) {
            t[i] = r.nextInt(V);
        }
        t[3] = CrossEntropyKernel.IGNORE_INDEX;
        t[4] = 0;
        t[5] = V - 1;
        return t;
    }

    private static double[] slice(double[] full, int off, int vl) {
        double[] s = new double[N * vl];
        for (int n = 0; n < N; n++) {
            System.arraycopy(full, n * V + off, s, n * vl, vl);
        }
        return s;
    }

    private static void assertRel(double[] got, double[] ref, double tol, String what) {
        double e = Reference.relError(got, ref);
        assertTrue(e < tol, what + ": relative error " + e + " >= " + tol);
    }

    @ParameterizedTest
    @EnumSource(
            value = DType.class,
            names = {"F32", "BF16"})
    void singleShardMatchesReference(DType t) {
        KernelLibrary lib = Gpu.lib();
        Random r = new Random(61);
        double[] logits = Gpu.quantize(t, Gpu.randn(r, N * V, 4));
        int[] tg = targets(r);
        double scale = 1.0 / (N - 1);
        double[][] ref = Reference.crossEntropy(logits, tg, N, V, scale, CrossEntropyKernel.IGNORE_INDEX);
        try (Gpu.Buf dL = Gpu.upload(t, logits);
                Gpu.Buf dT = Gpu.uploadInts(tg);
                Gpu.Buf mx = Gpu.poisoned(DType.F32, N);
                Gpu.Buf se = Gpu.poisoned(DType.F32, N);
                Gpu.Buf tl = Gpu.poisoned(DType.F32, N);
                Gpu.Buf loss = Gpu.poisoned(DType.F32, N)) {
            CrossEntropyKernel.stats(lib, t, dL.addr(), dT.addr(), N, V, 0, mx.addr(), se.addr(), tl.addr(), null);
            CrossEntropyKernel.lossAndGrad(
                    lib,
                    t,
                    dL.addr(),
                    dT.addr(),
                    N,
                    V,
                    0,
                    mx.addr(),
                    se.addr(),
                    tl.addr(),
                    loss.addr(),
                    dL.addr(),
                    (float) scale,
                    null);
            double[] gotLoss = Gpu.download(DType.F32, loss, N);
            assertRel(gotLoss, ref[0], 1e-5, "loss");
            assertEquals(0.0, gotLoss[3], "ignored row loss");
            double[] gotGrad = Gpu.download(t, dL, N * V);
            assertRel(gotGrad, ref[1], t == DType.F32 ? 1e-5 : 1e-2, "dlogits");
            for (int v = 0; v < V; v++) {
                assertEquals(0.0, gotGrad[3 * V + v], "ignored row gradient");
            }
        }
    }

    @ParameterizedTest
    @EnumSource(
            value = DType.class,
            names = {"F32", "BF16"})
    void twoVocabShardsWithHostAllReduceMatchReference(DType t) {
        KernelLibrary lib = Gpu.lib();
        Random r = new Random(62);
        double[] logits = Gpu.quantize(t, Gpu.randn(r, N * V, 4));
        // shard 1 gets larger logits in some rows so the global max comes from either shard
        for (int n = 0; n < N; n += 2) {
            logits[n * V + 900] = Gpu.quantize(t, new double[] {12.0})[0];
        }
        int[] tg = targets(r);
        double scale = 0.25;
        double[][] ref = Reference.crossEntropy(logits, tg, N, V, scale, CrossEntropyKernel.IGNORE_INDEX);
        int[] offs = {0, 600};
        int[] vls = {600, V - 600};
        Gpu.Buf dT = Gpu.uploadInts(tg);
        Gpu.Buf[] dL = new Gpu.Buf[2], mx = new Gpu.Buf[2], se = new Gpu.Buf[2], tl = new Gpu.Buf[2];
        try {
            double[] gMax = new double[N];
            java.util.Arrays.fill(gMax, Double.NEGATIVE_INFINITY);
            for (int s = 0; s < 2; s++) {
                dL[s] = Gpu.upload(t, slice(logits, offs[s], vls[s]));
                mx[s] = Gpu.poisoned(DType.F32, N);
                se[s] = Gpu.poisoned(DType.F32, N);
                tl[s] = Gpu.poisoned(DType.F32, N);
                CrossEntropyKernel.stats(
                        lib,
                        t,
                        dL[s].addr(),
                        dT.addr(),
                        N,
                        vls[s],
                        offs[s],
                        mx[s].addr(),
                        se[s].addr(),
                        tl[s].addr(),
                        null);
                double[] m = Gpu.download(DType.F32, mx[s], N);
                for (int n = 0; n < N; n++) {
                    gMax[n] = Math.max(gMax[n], m[n]); // allReduce(MAX)
                }
            }
            double[] gSum = new double[N], gTgt = new double[N];
            try (Gpu.Buf dGMax = Gpu.upload(DType.F32, gMax)) {
                for (int s = 0; s < 2; s++) {
                    CrossEntropyKernel.rescale(lib, mx[s].addr(), dGMax.addr(), se[s].addr(), N, null);
                    double[] e = Gpu.download(DType.F32, se[s], N), tt = Gpu.download(DType.F32, tl[s], N);
                    for (int n = 0; n < N; n++) {
                        gSum[n] += e[n]; // allReduce(SUM)
                        gTgt[n] += tt[n];
                    }
                }
                double[] grad = new double[N * V];
                try (Gpu.Buf dGSum = Gpu.upload(DType.F32, gSum);
                        Gpu.Buf dGTgt = Gpu.upload(DType.F32, gTgt)) {
                    for (int s = 0; s < 2; s++) {
                        try (Gpu.Buf loss = Gpu.poisoned(DType.F32, N);
                                Gpu.Buf dd = Gpu.poisoned(t, (long) N * vls[s])) {
                            CrossEntropyKernel.lossAndGrad(
                                    lib,
                                    t,
                                    dL[s].addr(),
                                    dT.addr(),
                                    N,
                                    vls[s],
                                    offs[s],
                                    dGMax.addr(),
                                    dGSum.addr(),
                                    dGTgt.addr(),
                                    loss.addr(),
                                    dd.addr(),
                                    (float) scale,
                                    null);
                            assertRel(Gpu.download(DType.F32, loss, N), ref[0], 1e-5, "loss on shard " + s);
                            double[] g = Gpu.download(t, dd, N * vls[s]);
                            for (int n = 0; n < N; n++) {
                                System.arraycopy(g, n * vls[s], grad, n * V + offs[s], vls[s]);
                            }
                        }
                    }
                }
                assertRel(grad, ref[1], t == DType.F32 ? 1e-5 : 1e-2, "dlogits over both shards");
            }
        } finally {
            dT.close();
            for (Gpu.Buf[] bs : new Gpu.Buf[][] {dL, mx, se, tl}) {
                for (Gpu.Buf b : bs) {
                    if (b != null) {
                        b.close();
                    }
                }
            }
        }
    }
}
