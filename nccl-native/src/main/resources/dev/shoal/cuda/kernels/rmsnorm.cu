// rmsnorm.cu: RMSNorm forward and backward over rows: y = x * rstd * w, rstd = 1/sqrt(mean(x^2) + eps).
// Shapes: x, y, dy, dx [N, C] (f32 or bf16); w, dw [C] fp32; rstd [N] fp32 (saved by forward).
// Guarantees: fp32 reductions in a fixed order (bit-reproducible); dw accumulates (+=) without atomics.
#include "shoal_common.cuh"

// Forward: one block per row.
template <typename T>
__device__ void rmsnorm_fwd_impl(const T* __restrict__ x, const float* __restrict__ w, T* __restrict__ y,
                                 float* __restrict__ rstd, int C, float eps) {
    __shared__ float scratch[32];
    const i64 row = (i64)blockIdx.x * C;
    // step 1: sum of squares of the row
    float ss = 0.0f;
    for (int c = threadIdx.x; c < C; c += blockDim.x) {
        float v = load_f32(x, row + c);
        ss += v * v;
    }
    ss = block_sum(ss, scratch);
    // step 2: reciprocal RMS (IEEE sqrt and division, no fast-math approximation)
    const float r = 1.0f / sqrtf(ss / (float)C + eps);
    if (threadIdx.x == 0) rstd[blockIdx.x] = r;
    // step 3: scale by r and the weight
    for (int c = threadIdx.x; c < C; c += blockDim.x) store_f32(y, row + c, load_f32(x, row + c) * r * w[c]);
}
extern "C" __global__ void rmsnorm_fwd_f32(const float* x, const float* w, float* y, float* rstd, int C, float eps) {
    rmsnorm_fwd_impl(x, w, y, rstd, C, eps);
}
extern "C" __global__ void rmsnorm_fwd_bf16(const bf16* x, const float* w, bf16* y, float* rstd, int C, float eps) {
    rmsnorm_fwd_impl(x, w, y, rstd, C, eps);
}

// Backward for the input, one block per row:
//   dx_j = r * w_j * dy_j - r^3 * x_j * (1/C) * sum_i(dy_i * w_i * x_i)
// dx may alias dy (each element is read before the same thread overwrites it).
template <typename T>
__device__ void rmsnorm_bwd_dx_impl(const T* dy, const T* __restrict__ x, const float* __restrict__ w,
                                    const float* __restrict__ rstd, T* dx, int C) {
    __shared__ float scratch[32];
    const i64 row = (i64)blockIdx.x * C;
    const float r = rstd[blockIdx.x];
    // step 1: c = sum(dy * w * x)
    float dot = 0.0f;
    for (int c = threadIdx.x; c < C; c += blockDim.x) dot += load_f32(dy, row + c) * w[c] * load_f32(x, row + c);
    dot = block_sum(dot, scratch);
    const float k = r * r * r * dot / (float)C;
    // step 2: dx
    for (int c = threadIdx.x; c < C; c += blockDim.x) {
        float g = load_f32(dy, row + c) * w[c];
        store_f32(dx, row + c, r * g - k * load_f32(x, row + c));
    }
}
extern "C" __global__ void rmsnorm_bwd_dx_f32(const float* dy, const float* x, const float* w, const float* rstd, float* dx, int C) {
    rmsnorm_bwd_dx_impl(dy, x, w, rstd, dx, C);
}
extern "C" __global__ void rmsnorm_bwd_dx_bf16(const bf16* dy, const bf16* x, const float* w, const float* rstd, bf16* dx, int C) {
    rmsnorm_bwd_dx_impl(dy, x, w, rstd, dx, C);
}

// Backward for the weight: dw_c += sum_n dy[n,c] * x[n,c] * rstd[n].
// block (32, 8): 32 columns x 8 row groups; grid (ceil(C/32)). Fixed-order combine, no atomics.
template <typename T>
__device__ void rmsnorm_bwd_dw_impl(const T* __restrict__ dy, const T* __restrict__ x, const float* __restrict__ rstd,
                                    float* __restrict__ dw, int N, int C) {
    __shared__ float part[8][33];
    const int c = blockIdx.x * 32 + threadIdx.x;
    float acc = 0.0f;
    if (c < C) {
        for (int n = threadIdx.y; n < N; n += 8) {
            const i64 i = (i64)n * C + c;
            acc += load_f32(dy, i) * load_f32(x, i) * rstd[n];
        }
    }
    part[threadIdx.y][threadIdx.x] = acc;
    __syncthreads();
    if (threadIdx.y == 0 && c < C) {
        float s = 0.0f;
#pragma unroll
        for (int k = 0; k < 8; k++) s += part[k][threadIdx.x];
        dw[c] += s;
    }
}
extern "C" __global__ void rmsnorm_bwd_dw_f32(const float* dy, const float* x, const float* rstd, float* dw, int N, int C) {
    rmsnorm_bwd_dw_impl(dy, x, rstd, dw, N, C);
}
extern "C" __global__ void rmsnorm_bwd_dw_bf16(const bf16* dy, const bf16* x, const float* rstd, float* dw, int N, int C) {
    rmsnorm_bwd_dw_impl(dy, x, rstd, dw, N, C);
}
