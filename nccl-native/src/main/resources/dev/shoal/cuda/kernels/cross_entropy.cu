// cross_entropy.cu: vocab-parallel softmax cross-entropy (Megatron style) over a logit shard.
// Shapes: logits, dlogits [N, Vlocal] (f32 or bf16) holding vocab ids [vocabOffset, vocabOffset + Vlocal);
// targets [N] int32 (ignoreIndex rows give zero loss and zero gradient); per-row stats [N] fp32.
// Protocol with TP ranks (single rank: skip the all-reduces and the rescale):
//   1. ce_stats        -> rowMax (local), rowSumExp (local, relative to local max), targetLogit (0 if not here)
//   2. caller          -> globalMax = allReduce(MAX, rowMax copy)
//   3. ce_rescale      -> rowSumExp *= exp(rowMax - globalMax)
//   4. caller          -> allReduce(SUM, rowSumExp), allReduce(SUM, targetLogit)
//   5. ce_loss_grad    -> loss[n] = log(sumExp) + max - target;  dlogits = (softmax - onehot) * scale
// Guarantees: fp32 math, fixed-order block reductions (bit-reproducible).
#include "shoal_common.cuh"

// Pass 1, one block per row: online (max, sum-exp) per thread, merged across the block.
template <typename T>
__device__ void ce_stats_impl(const T* __restrict__ logits, const int* __restrict__ targets, int Vl, int vocabOffset,
                              int ignoreIndex, float* __restrict__ rowMax, float* __restrict__ rowSumExp,
                              float* __restrict__ targetLogit) {
    __shared__ float scratch[32];
    const int n = blockIdx.x;
    const i64 row = (i64)n * Vl;
    // step 1: thread-local online softmax statistics
    float m = SHOAL_NEG_INF, s = 0.0f;
    for (int v = threadIdx.x; v < Vl; v += blockDim.x) {
        const float x = load_f32(logits, row + v);
        if (x > m) {
            s = s * expf(m - x) + 1.0f;
            m = x;
        } else {
            s += expf(x - m);
        }
    }
    // step 2: block max, then rescale each thread's sum to it and add up
    const float M = block_max(m, scratch);
    const float scaled = (m == SHOAL_NEG_INF) ? 0.0f : s * expf(m - M);
    const float S = block_sum(scaled, scratch);
    if (threadIdx.x == 0) {
        rowMax[n] = M;
        rowSumExp[n] = S;
        const int tgt = targets[n];
        const int local = tgt - vocabOffset;
        targetLogit[n] = (tgt != ignoreIndex && local >= 0 && local < Vl) ? load_f32(logits, row + local) : 0.0f;
    }
}
extern "C" __global__ void ce_stats_f32(const float* logits, const int* targets, int Vl, int off, int ignoreIndex,
                                        float* rowMax, float* rowSumExp, float* targetLogit) {
    ce_stats_impl(logits, targets, Vl, off, ignoreIndex, rowMax, rowSumExp, targetLogit);
}
extern "C" __global__ void ce_stats_bf16(const bf16* logits, const int* targets, int Vl, int off, int ignoreIndex,
                                         float* rowMax, float* rowSumExp, float* targetLogit) {
    ce_stats_impl(logits, targets, Vl, off, ignoreIndex, rowMax, rowSumExp, targetLogit);
}

// Step 3: re-base each rank's local sum-exp onto the global max.
extern "C" __global__ void ce_rescale(const float* __restrict__ localMax, const float* __restrict__ globalMax,
                                      float* __restrict__ rowSumExp, int N) {
    const int n = blockIdx.x * blockDim.x + threadIdx.x;
    if (n < N) rowSumExp[n] *= expf(localMax[n] - globalMax[n]);
}

// Pass 2, one block per row: loss and dlogits = (exp(x - max) / sumExp - onehot) * scale.
// dlogits may alias logits.
template <typename T>
__device__ void ce_loss_grad_impl(const T* logits, const int* __restrict__ targets, int Vl, int vocabOffset,
                                  int ignoreIndex, const float* __restrict__ gMax, const float* __restrict__ gSumExp,
                                  const float* __restrict__ gTarget, float* __restrict__ loss, T* dlogits, float scale) {
    const int n = blockIdx.x;
    const i64 row = (i64)n * Vl;
    const int tgt = targets[n];
    const bool valid = tgt != ignoreIndex;
    const float M = gMax[n], S = gSumExp[n];
    if (threadIdx.x == 0) loss[n] = valid ? logf(S) + M - gTarget[n] : 0.0f;
    if (dlogits == nullptr) return;
    const float invS = 1.0f / S;
    const int local = tgt - vocabOffset;
    for (int v = threadIdx.x; v < Vl; v += blockDim.x) {
        float g = 0.0f;
        if (valid) {
            g = expf(load_f32(logits, row + v) - M) * invS;
            if (v == local) g -= 1.0f;
            g *= scale;
        }
        store_f32(dlogits, row + v, g);
    }
}
extern "C" __global__ void ce_loss_grad_f32(const float* logits, const int* targets, int Vl, int off, int ignoreIndex,
                                            const float* gMax, const float* gSumExp, const float* gTarget, float* loss,
                                            float* dlogits, float scale) {
    ce_loss_grad_impl(logits, targets, Vl, off, ignoreIndex, gMax, gSumExp, gTarget, loss, dlogits, scale);
}
extern "C" __global__ void ce_loss_grad_bf16(const bf16* logits, const int* targets, int Vl, int off, int ignoreIndex,
                                             const float* gMax, const float* gSumExp, const float* gTarget, float* loss,
                                             bf16* dlogits, float scale) {
    ce_loss_grad_impl(logits, targets, Vl, off, ignoreIndex, gMax, gSumExp, gTarget, loss, dlogits, scale);
}
