// swiglu.cu: SwiGLU gate h = silu(g) * u and its backward.
// Shapes: g, u, h, dh, dg, du [N, F] flat (f32 or bf16).
// Guarantees: fp32 math with accurate expf; dg may alias g and du may alias u.
#include "shoal_common.cuh"

template <typename T>
__device__ void swiglu_fwd_impl(const T* __restrict__ g, const T* __restrict__ u, T* __restrict__ h, i64 n) {
    for (i64 i = blockIdx.x * (i64)blockDim.x + threadIdx.x; i < n; i += (i64)gridDim.x * blockDim.x) {
        const float gv = load_f32(g, i);
        const float sig = 1.0f / (1.0f + expf(-gv));
        store_f32(h, i, gv * sig * load_f32(u, i));
    }
}
extern "C" __global__ void swiglu_fwd_f32(const float* g, const float* u, float* h, i64 n) { swiglu_fwd_impl(g, u, h, n); }
extern "C" __global__ void swiglu_fwd_bf16(const bf16* g, const bf16* u, bf16* h, i64 n) { swiglu_fwd_impl(g, u, h, n); }

// dg = dh * u * sig * (1 + g * (1 - sig)),  du = dh * g * sig
template <typename T>
__device__ void swiglu_bwd_impl(const T* __restrict__ dh, const T* g, const T* u, T* dg, T* du, i64 n) {
    for (i64 i = blockIdx.x * (i64)blockDim.x + threadIdx.x; i < n; i += (i64)gridDim.x * blockDim.x) {
        const float gv = load_f32(g, i), uv = load_f32(u, i), d = load_f32(dh, i);
        const float sig = 1.0f / (1.0f + expf(-gv));
        store_f32(dg, i, d * uv * sig * (1.0f + gv * (1.0f - sig)));
        store_f32(du, i, d * gv * sig);
    }
}
extern "C" __global__ void swiglu_bwd_f32(const float* dh, const float* g, const float* u, float* dg, float* du, i64 n) {
    swiglu_bwd_impl(dh, g, u, dg, du, n);
}
extern "C" __global__ void swiglu_bwd_bf16(const bf16* dh, const bf16* g, const bf16* u, bf16* dg, bf16* du, i64 n) {
    swiglu_bwd_impl(dh, g, u, dg, du, n);
}
