// adamw.cu: AdamW on fp32 master weights, in PyTorch's order of operations:
//   p *= (1 - lr * wd);  m = b1 m + (1 - b1) g;  v = b2 v + (1 - b2) g^2;
//   p -= stepSize * m / (sqrt(v) / bc2Sqrt + eps)    with stepSize = lr / (1 - b1^t), bc2Sqrt = sqrt(1 - b2^t)
// The gradient is first multiplied by gradScale and, when clipScale is not null, by clipScale[0]
// (the global-norm clip factor, kept on the device so no host sync is needed).
// Shapes: p, m, v [n] fp32; g [n] fp32 or bf16; pBf16 [n] bf16 (optional copy for compute, may be null).
#include "shoal_common.cuh"

template <typename G>
__device__ void adamw_impl(float* __restrict__ p, const G* __restrict__ g, float* __restrict__ m, float* __restrict__ v,
                           bf16* __restrict__ pBf16, i64 n, float lr, float beta1, float beta2, float eps, float wd,
                           float stepSize, float bc2Sqrt, float gradScale, const float* __restrict__ clipScale) {
    const float gs = gradScale * (clipScale != nullptr ? clipScale[0] : 1.0f);
    for (i64 i = blockIdx.x * (i64)blockDim.x + threadIdx.x; i < n; i += (i64)gridDim.x * blockDim.x) {
        const float grad = load_f32(g, i) * gs;
        const float mi = beta1 * m[i] + (1.0f - beta1) * grad;
        const float vi = beta2 * v[i] + (1.0f - beta2) * grad * grad;
        float pi = p[i] * (1.0f - lr * wd);
        pi -= stepSize * mi / (sqrtf(vi) / bc2Sqrt + eps);
        m[i] = mi;
        v[i] = vi;
        p[i] = pi;
        if (pBf16 != nullptr) pBf16[i] = f32_to_bf16(pi);
    }
}
extern "C" __global__ void adamw_gf32(float* p, const float* g, float* m, float* v, bf16* pBf16, i64 n, float lr,
                                      float beta1, float beta2, float eps, float wd, float stepSize, float bc2Sqrt,
                                      float gradScale, const float* clipScale) {
    adamw_impl(p, g, m, v, pBf16, n, lr, beta1, beta2, eps, wd, stepSize, bc2Sqrt, gradScale, clipScale);
}
extern "C" __global__ void adamw_gbf16(float* p, const bf16* g, float* m, float* v, bf16* pBf16, i64 n, float lr,
                                       float beta1, float beta2, float eps, float wd, float stepSize, float bc2Sqrt,
                                       float gradScale, const float* clipScale) {
    adamw_impl(p, g, m, v, pBf16, n, lr, beta1, beta2, eps, wd, stepSize, bc2Sqrt, gradScale, clipScale);
}

// Global-norm clip factor: out[0] = min(1, maxNorm / (sqrt(sumSq[0]) + 1e-6)); also norm[0] = sqrt(sumSq[0]).
extern "C" __global__ void clip_factor(const float* __restrict__ sumSq, float maxNorm, float* __restrict__ out,
                                       float* __restrict__ norm) {
    if (threadIdx.x == 0 && blockIdx.x == 0) {
        const float nrm = sqrtf(sumSq[0]);
        norm[0] = nrm;
        out[0] = fminf(1.0f, maxNorm / (nrm + 1e-6f));
    }
}
