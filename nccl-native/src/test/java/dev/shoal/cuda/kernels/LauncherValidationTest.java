// CPU checks that every launcher rejects bad arguments (null or misaligned pointers, bad shapes,
// unsupported dtypes) with a message naming the op and the argument, before touching the GPU.
package dev.shoal.cuda.kernels;

import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.shoal.comm.DType;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.function.Executable;

class LauncherValidationTest {
    private static final long A = 0x7f00_0000_0000L; // a 256-byte aligned fake device address
    private static final long ODD = A + 2; // bf16-aligned, not f32-aligned

    private static void rejects(Executable call, String... fragments) {
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, call);
        for (String f : fragments) {
            assertTrue(e.getMessage().contains(f), "message '" + e.getMessage() + "' lacks '" + f + "'");
        }
    }

    @Test
    void castChecksPointersAndCount() {
        rejects(() -> CastKernel.f32ToBf16(null, 0, A, 10, null), "cast f32->bf16", "src", "null");
        rejects(() -> CastKernel.f32ToBf16(null, ODD, A, 10, null), "src", "aligned to 4");
        rejects(() -> CastKernel.bf16ToF32(null, A, A, 0, null), "n must be positive");
        rejects(() -> CastKernel.bf16ToF32(null, A, A, 5, null), "kernel library is null");
    }

    @Test
    void elementwiseChecksTypeAndAlignment() {
        rejects(() -> ElementwiseKernels.add(null, DType.F16, A, A, A, 4, null), "add", "F32 or BF16", "F16");
        rejects(() -> ElementwiseKernels.add(null, DType.F32, A, ODD, A, 4, null), "b", "aligned to 4");
        rejects(() -> ElementwiseKernels.accumulate(null, DType.BF16, A, ODD, 4, 1f, null), "y", "aligned");
        rejects(() -> ElementwiseKernels.accumulate(null, DType.BF16, A, A, 4, Float.NaN, null), "alpha", "finite");
        rejects(() -> ElementwiseKernels.scale(null, DType.F32, A, -1, 2f, null), "scale", "n");
        rejects(() -> ElementwiseKernels.fill(null, DType.BF16, 0, 3, 2f, null), "fill", "x", "null");
        rejects(() -> ElementwiseKernels.sum(null, DType.F32, A, 10, true, 0, A, false, null), "partials", "null");
    }

    @Test
    void embeddingChecksShardAndShape() {
        rejects(() -> EmbeddingKernel.forward(null, DType.BF16, A, A, A, 0, 8, 0, 100, null), "embedding", "N");
        rejects(() -> EmbeddingKernel.forward(null, DType.BF16, A, A, A, 4, 8, -1, 100, null), "vocabOffset");
        rejects(() -> EmbeddingKernel.backward(null, DType.BF16, A, A, ODD, 4, 8, 0, 100, null), "dwte", "aligned");
        rejects(() -> EmbeddingKernel.backward(null, DType.F32, ODD, A, A, 4, 8, 0, 100, null), "tokens", "aligned");
    }

    @Test
    void rmsnormChecksShapesAndEps() {
        rejects(() -> RmsNormKernel.forward(null, DType.F32, A, A, A, A, 0, 16, 1e-5f, null), "rmsnorm", "N");
        rejects(() -> RmsNormKernel.forward(null, DType.F32, A, A, A, A, 4, 16, 0f, null), "eps");
        rejects(() -> RmsNormKernel.forward(null, DType.BF16, A, ODD, A, A, 4, 16, 1e-5f, null), "w", "aligned to 4");
        rejects(() -> RmsNormKernel.backward(null, DType.BF16, A, A, A, A, A, ODD, 4, 16, null), "dw", "aligned");
    }

    @Test
    void ropeChecksHeadDim() {
        rejects(() -> RopeKernel.forward(null, DType.BF16, A, A, A, A, 1, 4, 2, 7, null), "rope forward", "hd", "even");
        rejects(() -> RopeKernel.backward(null, DType.F32, A, A, A, 0, 1, 4, 2, 8, null), "rope backward", "sin");
        rejects(() -> RopeKernel.tables(null, A, A, A, 0, 4, 0, null), "rope tables", "T");
        rejects(() -> RopeKernel.inverseFrequencies(7, 500000), "even");
        rejects(() -> RopeKernel.inverseFrequencies(8, 1.0), "theta");
    }

    @Test
    void ropeInverseFrequenciesFollowTheta() {
        float[] f = RopeKernel.inverseFrequencies(8, 10000);
        assertTrue(f.length == 4 && f[0] == 1.0f && Math.abs(f[1] - 0.1f) < 1e-7 && Math.abs(f[3] - 0.001f) < 1e-9);
    }

    @Test
    void swigluAndCrossEntropyCheckArguments() {
        rejects(() -> SwiGluKernel.forward(null, DType.F32, A, A, ODD, 8, null), "swiglu forward", "h");
        rejects(() -> SwiGluKernel.backward(null, DType.BF16, A, A, A, A, 0, 8, null), "swiglu backward", "du");
        rejects(() -> CrossEntropyKernel.stats(null, DType.F32, A, A, 0, 10, 0, A, A, A, null), "cross-entropy", "N");
        rejects(() -> CrossEntropyKernel.stats(null, DType.F32, A, A, 3, 10, 0, A, ODD, A, null), "rowSumExp");
        rejects(
                () -> CrossEntropyKernel.lossAndGrad(null, DType.BF16, A, A, 3, 10, 0, A, A, A, A, A, Float.NaN, null),
                "scale");
        rejects(() -> CrossEntropyKernel.rescale(null, A, A, A, 0, null), "rescale", "N");
    }

    @Test
    void adamwChecksHyperParametersAndBuffers() {
        rejects(() -> new AdamWKernel.Hyper(1e-3f, 0.9f, 1.0f, 1e-8f, 0.1f, 1), "betas");
        rejects(() -> new AdamWKernel.Hyper(1e-3f, 0.9f, 0.95f, 1e-8f, 0.1f, 0), "step");
        rejects(() -> new AdamWKernel.Hyper(-1f, 0.9f, 0.95f, 1e-8f, 0.1f, 1), "lr");
        AdamWKernel.Hyper h = new AdamWKernel.Hyper(1e-3f, 0.9f, 0.95f, 1e-8f, 0.1f, 1);
        rejects(() -> AdamWKernel.step(null, DType.F32, A, A, A, ODD, 0, 8, h, 1f, 0, null), "adamw", "v");
        rejects(() -> AdamWKernel.step(null, DType.BF16, A, A, A, A, A + 1, 8, h, 1f, 0, null), "pBf16", "aligned");
        rejects(() -> AdamWKernel.clipFactor(null, A, 0f, A, A, null), "maxNorm");
    }

    @Test
    void adamwBiasCorrectionsAreComputedInDouble() {
        AdamWKernel.Hyper h = new AdamWKernel.Hyper(1e-3f, 0.9f, 0.95f, 1e-8f, 0.1f, 2);
        double b1 = 0.9f, b2 = 0.95f, lr = 1e-3f; // the float hyper-parameters, widened exactly
        assertTrue(Math.abs(h.stepSize() / (lr / (1 - b1 * b1)) - 1) < 1e-6, "stepSize " + h.stepSize());
        assertTrue(Math.abs(h.bias2Sqrt() / Math.sqrt(1 - b2 * b2) - 1) < 1e-6, "bias2Sqrt " + h.bias2Sqrt());
    }

    @Test
    void attentionChecksGroupsHeadDimAndAlignment() {
        FlashAttention.Impl F = FlashAttention.Impl.FLASH, R = FlashAttention.Impl.REFERENCE;
        rejects(
                () -> FlashAttention.forward(null, F, DType.BF16, A, A, A, A, A, 1, 128, 32, 6, 128, null),
                "attention forward (FLASH)",
                "NH 32 is not a multiple of NKV 6");
        rejects(
                () -> FlashAttention.forward(null, F, DType.F32, A, A, A, A, A, 1, 128, 32, 8, 128, null),
                "flash kernels take BF16");
        rejects(
                () -> FlashAttention.forward(null, F, DType.BF16, A, A, A, A, A, 1, 128, 32, 8, 96, null),
                "hd 64 or 128",
                "96");
        rejects(
                () -> FlashAttention.forward(null, R, DType.F32, A, A, A, A, A, 1, 128, 32, 8, 160, null),
                "at most 128");
        rejects(
                () -> FlashAttention.forward(null, F, DType.BF16, A + 8, A, A, A, A, 1, 128, 32, 8, 128, null),
                "q",
                "aligned to 16");
        rejects(
                () -> FlashAttention.backward(null, DType.BF16, A, A, A, A, A, A, A, A, A, 0, 1, 128, 32, 8, 128, null),
                "attention backward",
                "workspace",
                "null");
        rejects(
                () -> FlashAttention.backward(null, DType.F32, A, A, A, A, A, A, A, A, A, A, 1, 0, 32, 8, 128, null),
                "T must be positive");
    }

    @Test
    void attentionFlopCountsFollowTheCausalFormula() {
        double fwd = FlashAttention.forwardFlops(1, 2048, 32, 128);
        assertTrue(fwd == 2.0 * 2 * 32 * 2048.0 * 2048 * 128 / 2);
        assertTrue(FlashAttention.backwardFlops(1, 2048, 32, 128) == 2.5 * fwd);
        assertTrue(FlashAttention.workspaceBytes(2, 32, 2048) == 4L * 2 * 32 * 2048);
    }
}
