// Every CudaOps call against the host stand-in (HostOps) on the same inputs (tag gpu): proves that
// CudaOps hands each launcher its arguments in the right order and units, op by op, so that a
// failure of the whole-model test can be traced to one op. Odd sizes on purpose.
// Tolerances: fp32 outputs relative L2 ≤ 1e-4 (summation order only); bf16 outputs ≤ 1e-2 (one
// rounding of 2^-9 either side, more through attention's bf16 P and dS).
package dev.shoal.runtime.cuda;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import dev.shoal.cuda.Bf16;
import dev.shoal.cuda.kernels.AdamWKernel;
import dev.shoal.runtime.backend.RawPointer;
import java.util.Random;
import org.bytedeco.javacpp.FloatPointer;
import org.bytedeco.javacpp.IntPointer;
import org.bytedeco.javacpp.ShortPointer;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

@Tag("gpu")
class CudaOpsGpuTest {
    private CudaOps gpu;
    private HostOps host;
    private final Random rnd = new Random(42);

    /** One buffer on both backends. */
    private record Buf(long g, long h, long bytes) {}

    @BeforeEach
    void open() {
        String why = CudaOps.unavailableReason();
        assumeTrue(why.isEmpty(), why);
        gpu = CudaOps.create();
        host = new HostOps();
    }

    @AfterEach
    void close() {
        if (gpu != null) {
            gpu.close();
        }
        if (host != null) {
            host.close();
        }
    }

    private Buf alloc(long bytes) {
        return new Buf(gpu.alloc(bytes), host.alloc(bytes), bytes);
    }

    /** Random values already representable in bf16. */
    private float[] randn(int n, double scale) {
        float[] v = new float[n];
        for (int i = 0; i < n; i++) {
            v[i] = Bf16.round((float) (rnd.nextGaussian() * scale));
        }
        return v;
    }

    private Buf bf16(float[] v) {
        Buf b = alloc(2L * v.length);
        try (ShortPointer s = new ShortPointer(v.length)) {
            for (int i = 0; i < v.length; i++) {
                s.put(i, Bf16.toBits(v[i]));
            }
            gpu.upload(b.g(), new RawPointer(s.address(), b.bytes()), b.bytes());
            host.upload(b.h(), new RawPointer(s.address(), b.bytes()), b.bytes());
        }
        return b;
    }

    private Buf f32(float[] v) {
        Buf b = alloc(4L * v.length);
        try (FloatPointer f = new FloatPointer(v)) {
            gpu.upload(b.g(), new RawPointer(f.address(), b.bytes()), b.bytes());
            host.upload(b.h(), new RawPointer(f.address(), b.bytes()), b.bytes());
        }
        return b;
    }

    private Buf i32(int[] v) {
        Buf b = alloc(4L * v.length);
        try (IntPointer p = new IntPointer(v)) {
            gpu.upload(b.g(), new RawPointer(p.address(), b.bytes()), b.bytes());
            host.upload(b.h(), new RawPointer(p.address(), b.bytes()), b.bytes());
        }
        return b;
    }

    /** Compares n elements (bf16 or fp32) of both sides; returns the relative L2 error. */
    private double compare(String what, Buf b, int n, boolean isF32, double tol) {
        float[] g = new float[n];
        if (isF32) {
            try (FloatPointer p = new FloatPointer(n)) {
                gpu.download(new RawPointer(p.address(), 4L * n), b.g(), 4L * n);
                p.get(g);
            }
        } else {
            try (ShortPointer p = new ShortPointer(n)) {
                gpu.download(new RawPointer(p.address(), 2L * n), b.g(), 2L * n);
                for (int i = 0; i < n; i++) {
                    g[i] = Bf16.fromBits(p.get(i));
                }
            }
        }
        float[] h = isF32 ? host.f32(b.h(), n) : host.bf(b.h(), n);
        double num = 0, den = 0;
        for (int i = 0; i < n; i++) {
            assertTrue(Float.isFinite(g[i]), what + ": element " + i + " is " + g[i] + " on the GPU");
            num += (g[i] - h[i]) * (double) (g[i] - h[i]);
            den += (double) h[i] * h[i];
        }
        double err = Math.sqrt(num / Math.max(den, 1e-30));
        System.out.printf("%-40s rel L2 %.2e%n", what, err);
        assertTrue(err <= tol, what + ": relative L2 error " + err + " > " + tol);
        return err;
    }

    @ParameterizedTest
    @ValueSource(ints = {0, 1, 2, 3})
    void gemmEveryTransposeBothOutputTypes(int flags) {
        boolean ta = (flags & 1) != 0, tb = (flags & 2) != 0;
        int m = 37, n = 53, k = 29;
        Buf a = bf16(randn(m * k, 1)), b = bf16(randn(k * n, 1));
        Buf c16 = bf16(randn(m * n, 1)), c32 = f32(randn(m * n, 1));
        gpu.gemm(ta, tb, m, n, k, 0.5f, a.g(), b.g(), 1f, c16.g(), false);
        host.gemm(ta, tb, m, n, k, 0.5f, a.h(), b.h(), 1f, c16.h(), false);
        gpu.gemm(ta, tb, m, n, k, 1f, a.g(), b.g(), 1f, c32.g(), true);
        host.gemm(ta, tb, m, n, k, 1f, a.h(), b.h(), 1f, c32.h(), true);
        compare("gemm " + ta + "," + tb + " bf16 out, beta 1", c16, m * n, false, 1e-2);
        compare("gemm " + ta + "," + tb + " f32 out, beta 1", c32, m * n, true, 1e-4);
        gpu.gemm(ta, tb, m, n, k, 1f, a.g(), b.g(), 0f, c32.g(), true);
        host.gemm(ta, tb, m, n, k, 1f, a.h(), b.h(), 0f, c32.h(), true);
        compare("gemm " + ta + "," + tb + " f32 out, beta 0", c32, m * n, true, 1e-4);
    }

    @Test
    void embeddingNormRopeSwiGluAddCast() {
        int n = 19, c = 48, v = 23;
        int[] tok = new int[n];
        for (int i = 0; i < n; i++) {
            tok[i] = i % 5 == 0 ? 3 : rnd.nextInt(v); // repeated token 3: the backward adds rows
        }
        Buf tokens = i32(tok), wte = bf16(randn(v * c, 1)), out = bf16(new float[n * c]);
        gpu.embeddingForward(tokens.g(), wte.g(), out.g(), n, c, v);
        host.embeddingForward(tokens.h(), wte.h(), out.h(), n, c, v);
        compare("embedding forward", out, n * c, false, 0);
        Buf dwte = f32(randn(v * c, 1));
        gpu.embeddingBackward(tokens.g(), out.g(), dwte.g(), n, c, v);
        host.embeddingBackward(tokens.h(), out.h(), dwte.h(), n, c, v);
        compare("embedding backward (+=)", dwte, v * c, true, 1e-6);

        Buf x = bf16(randn(n * c, 2)), w = f32(randn(c, 1)), y = bf16(new float[n * c]), rstd = f32(new float[n]);
        gpu.rmsnormForward(x.g(), w.g(), y.g(), rstd.g(), n, c, 1e-5f);
        host.rmsnormForward(x.h(), w.h(), y.h(), rstd.h(), n, c, 1e-5f);
        compare("rmsnorm forward y", y, n * c, false, 1e-2);
        compare("rmsnorm forward rstd", rstd, n, true, 1e-5);
        Buf dy = bf16(randn(n * c, 1)), dx = bf16(new float[n * c]), dw = f32(randn(c, 1));
        gpu.rmsnormBackward(dy.g(), x.g(), w.g(), rstd.g(), dx.g(), dw.g(), n, c);
        host.rmsnormBackward(dy.h(), x.h(), w.h(), rstd.h(), dx.h(), dw.h(), n, c);
        compare("rmsnorm backward dx", dx, n * c, false, 1e-2);
        compare("rmsnorm backward dw (+=)", dw, c, true, 1e-4);

        int b = 2, t = 5, nh = 3, hd = 16, half = hd / 2;
        Buf cos = f32(randn(t * half, 1)), sin = f32(randn(t * half, 1));
        Buf q = bf16(randn(b * t * nh * hd, 1)), q2 = bf16(new float[b * t * nh * hd]);
        gpu.rope(q.g(), q2.g(), cos.g(), sin.g(), b, t, nh, hd, false);
        host.rope(q.h(), q2.h(), cos.h(), sin.h(), b, t, nh, hd, false);
        compare("rope forward", q2, b * t * nh * hd, false, 1e-2);
        gpu.rope(q2.g(), q2.g(), cos.g(), sin.g(), b, t, nh, hd, true);
        host.rope(q2.h(), q2.h(), cos.h(), sin.h(), b, t, nh, hd, true);
        compare("rope backward in place", q2, b * t * nh * hd, false, 1e-2);

        int f = 333;
        Buf g = bf16(randn(f, 2)), u = bf16(randn(f, 1)), h = bf16(new float[f]), dh = bf16(randn(f, 1));
        gpu.swigluForward(g.g(), u.g(), h.g(), f);
        host.swigluForward(g.h(), u.h(), h.h(), f);
        compare("swiglu forward", h, f, false, 1e-2);
        gpu.swigluBackward(dh.g(), g.g(), u.g(), g.g(), u.g(), f);
        host.swigluBackward(dh.h(), g.h(), u.h(), g.h(), u.h(), f);
        compare("swiglu backward dgate (aliasing gate)", g, f, false, 1e-2);
        compare("swiglu backward dup (aliasing up)", u, f, false, 1e-2);

        Buf a1 = bf16(randn(f, 1)), a2 = bf16(randn(f, 1));
        gpu.add(a1.g(), a2.g(), a1.g(), f);
        host.add(a1.h(), a2.h(), a1.h(), f);
        compare("add in place", a1, f, false, 1e-2);

        Buf src = f32(randn(f, 3)), dst = bf16(new float[f]);
        gpu.castToCompute(src.g(), dst.g(), f);
        host.castToCompute(src.h(), dst.h(), f);
        compare("cast f32 -> bf16", dst, f, false, 0);
    }

    @ParameterizedTest
    @ValueSource(ints = {16, 64})
    void attentionForwardAndBackward(int hd) {
        int b = 2, t = 70, nh = 4, nkv = 2, c = nh * hd, kv = nkv * hd;
        Buf q = bf16(randn(b * t * c, 1)), k = bf16(randn(b * t * kv, 1)), v = bf16(randn(b * t * kv, 1));
        Buf o = bf16(new float[b * t * c]), lse = f32(new float[b * nh * t]);
        gpu.attentionForward(q.g(), k.g(), v.g(), o.g(), lse.g(), b, t, nh, nkv, hd);
        host.attentionForward(q.h(), k.h(), v.h(), o.h(), lse.h(), b, t, nh, nkv, hd);
        String impl = "attention " + gpu.attentionImpl(hd) + " hd " + hd;
        compare(impl + " O", o, b * t * c, false, 1e-2);
        compare(impl + " LSE", lse, b * nh * t, true, 1e-4);
        Buf dO = bf16(randn(b * t * c, 1));
        Buf dq = bf16(new float[b * t * c]), dk = bf16(new float[b * t * kv]), dv = bf16(new float[b * t * kv]);
        Buf work = alloc(gpu.attentionWorkspaceBytes(b, nh, t));
        gpu.attentionBackward(
                q.g(), k.g(), v.g(), o.g(), lse.g(), dO.g(), dq.g(), dk.g(), dv.g(), work.g(), b, t, nh, nkv, hd);
        host.attentionBackward(
                q.h(), k.h(), v.h(), o.h(), lse.h(), dO.h(), dq.h(), dk.h(), dv.h(), work.h(), b, t, nh, nkv, hd);
        compare(impl + " dQ", dq, b * t * c, false, 2e-2);
        compare(impl + " dK", dk, b * t * kv, false, 2e-2);
        compare(impl + " dV", dv, b * t * kv, false, 2e-2);
    }

    @Test
    void crossEntropySumClipAdamW() {
        int n = 21, v = 1031;
        float[] x = randn(n * v, 2);
        int[] y = new int[n];
        for (int i = 0; i < n; i++) {
            y[i] = i % 7 == 3 ? -100 : rnd.nextInt(v);
        }
        Buf logits = f32(x), targets = i32(y);
        Buf mx = f32(new float[n]), se = f32(new float[n]), tl = f32(new float[n]), loss = f32(new float[n]);
        gpu.crossEntropy(logits.g(), targets.g(), n, v, mx.g(), se.g(), tl.g(), loss.g(), 0, 0.5f);
        host.crossEntropy(logits.h(), targets.h(), n, v, mx.h(), se.h(), tl.h(), loss.h(), 0, 0.5f);
        compare("cross-entropy row losses", loss, n, true, 1e-5);
        compare("cross-entropy logits untouched", logits, n * v, true, 0);
        gpu.crossEntropy(logits.g(), targets.g(), n, v, mx.g(), se.g(), tl.g(), loss.g(), logits.g(), 0.5f);
        host.crossEntropy(logits.h(), targets.h(), n, v, mx.h(), se.h(), tl.h(), loss.h(), logits.h(), 0.5f);
        compare("cross-entropy dlogits in place", logits, n * v, true, 1e-5);

        Buf parts = alloc(4L * Math.max(gpu.sumPartials(), host.sumPartials()));
        Buf out = f32(new float[4]);
        Buf data = f32(randn(100_003, 1));
        gpu.sum(data.g(), 100_003, true, parts.g(), out.g());
        host.sum(data.h(), 100_003, true, parts.h(), out.h());
        gpu.sum(data.g(), 100_003, false, parts.g(), out.g() + 4);
        host.sum(data.h(), 100_003, false, parts.h(), out.h() + 4);
        gpu.clipFactor(out.g(), 1f, out.g() + 8, out.g() + 12);
        host.clipFactor(out.h(), 1f, out.h() + 8, out.h() + 12);
        compare("sum of squares, sum, clip factor, norm", out, 4, true, 1e-4);

        int p = 5001;
        Buf w = f32(randn(p, 1)), gr = f32(randn(p, 1)), m = f32(randn(p, 0.1)), vv = f32(new float[p]);
        Buf w16 = bf16(new float[p]), clip = f32(new float[] {0.25f});
        for (int s = 1; s <= 3; s++) {
            AdamWKernel.Hyper hy = new AdamWKernel.Hyper(1e-2f, 0.9f, 0.95f, 1e-8f, 0.1f, s);
            gpu.adamw(w.g(), gr.g(), m.g(), vv.g(), w16.g(), p, hy, clip.g());
            host.adamw(w.h(), gr.h(), m.h(), vv.h(), w16.h(), p, hy, clip.h());
        }
        compare("adamw p", w, p, true, 1e-5);
        compare("adamw m", m, p, true, 1e-5);
        compare("adamw v", vv, p, true, 1e-5);
        compare("adamw bf16 copy", w16, p, false, 1e-2);
    }

    @Test
    void copiesZeroAndPinnedStaging() {
        Buf a = f32(randn(1000, 1));
        gpu.zero(a.g() + 400, 400);
        host.zero(a.h() + 400, 400);
        compare("zero a middle range", a, 1000, true, 0);
        var pin = gpu.pinned(64);
        new FloatPointer(pin).put(new float[] {1, 2, 3, 4});
        Buf s = f32(new float[4]);
        gpu.uploadAsync(s.g(), pin, 16);
        gpu.synchronize();
        new FloatPointer(pin).put(new float[] {0, 0, 0, 0});
        gpu.downloadAsync(pin, s.g(), 16);
        gpu.synchronize();
        FloatPointer back = new FloatPointer(pin);
        assertEquals(3f, back.get(2));
    }
}
