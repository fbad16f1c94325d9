// Launcher for adamw.cu: AdamW on fp32 master weights with PyTorch's order of operations, plus the
// global-norm clip factor kept on the device.
// Shapes: p, m, v [n] fp32; g [n] F32 or BF16; pBf16 [n] bf16 compute copy (optional, 0 = none).
// Guarantees: bias corrections computed in double on the host from the 1-based step; decoupled
// weight decay p *= 1 - lr*wd before the Adam update; m, v, p and the bf16 copy written in one pass.
package dev.shoal.cuda.kernels;

import dev.shoal.comm.DType;
import org.bytedeco.cuda.cudart.CUstream_st;

/** AdamW update over one flat parameter buffer. */
public final class AdamWKernel {
    private static final int BLOCK = 256;

    private AdamWKernel() {}

    /** AdamW hyper-parameters of one update. */
    public record Hyper(float lr, float beta1, float beta2, float eps, float weightDecay, long step) {
        public Hyper {
            if (!(lr >= 0) || !Float.isFinite(lr)) {
                throw new IllegalArgumentException("adamw: lr must be finite and >= 0, got " + lr);
            }
            if (!(beta1 >= 0 && beta1 < 1) || !(beta2 >= 0 && beta2 < 1)) {
                throw new IllegalArgumentException("adamw: betas must be in [0, 1), got " + beta1 + ", " + beta2);
            }
            if (!(eps > 0)) {
                throw new IllegalArgumentException("adamw: eps must be > 0, got " + eps);
            }
            if (!(weightDecay >= 0) || !Float.isFinite(weightDecay)) {
                throw new IllegalArgumentException("adamw: weightDecay must be finite and >= 0, got " + weightDecay);
            }
            if (step < 1) {
                throw new IllegalArgumentException("adamw: step counts from 1, got " + step);
            }
        }

        /** lr / (1 - beta1^step). */
        public float stepSize() {
            return (float) (lr / (1.0 - Math.pow(beta1, step)));
        }

        /** sqrt(1 - beta2^step). */
        public float bias2Sqrt() {
            return (float) Math.sqrt(1.0 - Math.pow(beta2, step));
        }
    }

    /**
     * One AdamW step. The gradient is multiplied by {@code gradScale} and, when {@code clipScale} != 0,
     * by the device scalar clipScale[0] (see {@link #clipFactor}).
     */
    public static void step(
            KernelLibrary lib,
            DType gradType,
            long p,
            long g,
            long m,
            long v,
            long pBf16,
            long n,
            Hyper h,
            float gradScale,
            long clipScale,
            CUstream_st stream) {
        String op = "adamw";
        Check.floatType(op, "gradient dtype", gradType);
        Check.ptr(op, "p", p, 4);
        Check.ptr(op, "g", g, gradType.bytes());
        Check.ptr(op, "m", m, 4);
        Check.ptr(op, "v", v, 4);
        Check.optionalPtr(op, "pBf16", pBf16, 2);
        Check.optionalPtr(op, "clipScale", clipScale, 4);
        Check.positive(op, "n", n);
        Check.finite(op, "gradScale", gradScale);
        if (h == null) {
            throw new IllegalArgumentException(op + ": hyper-parameters are null");
        }
        Check.lib(op, lib)
                .launch(
                        gradType == DType.F32 ? "adamw_gf32" : "adamw_gbf16",
                        Check.gridFor(lib, n, BLOCK),
                        BLOCK,
                        0,
                        stream,
                        KernelArgs.begin()
                                .ptr(p)
                                .ptr(g)
                                .ptr(m)
                                .ptr(v)
                                .ptr(pBf16)
                                .i64(n)
                                .f32(h.lr())
                                .f32(h.beta1())
                                .f32(h.beta2())
                                .f32(h.eps())
                                .f32(h.weightDecay())
                                .f32(h.stepSize())
                                .f32(h.bias2Sqrt())
                                .f32(gradScale)
                                .ptr(clipScale));
    }

    /** out[0] = min(1, maxNorm / (sqrt(sumSq[0]) + 1e-6)), norm[0] = sqrt(sumSq[0]) (device scalars). */
    public static void clipFactor(
            KernelLibrary lib, long sumSq, float maxNorm, long out, long norm, CUstream_st stream) {
        String op = "clip factor";
        Check.ptr(op, "sumSq", sumSq, 4);
        Check.ptr(op, "out", out, 4);
        Check.ptr(op, "norm", norm, 4);
        if (!(maxNorm > 0) || !Float.isFinite(maxNorm)) {
            throw new IllegalArgumentException(op + ": maxNorm must be positive and finite, got " + maxNorm);
        }
        Check.lib(op, lib)
                .launch(
                        "clip_factor",
                        1,
                        32,
                        0,
                        stream,
                        KernelArgs.begin().ptr(sumSq).f32(maxNorm).ptr(out).ptr(norm));
    }
}
