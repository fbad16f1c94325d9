// cast.cu: f32 <-> bf16 conversion over flat arrays (grid-stride loops).
// Guarantees: f32 -> bf16 rounds to nearest even, keeps NaN a NaN and +-Inf as Inf; bf16 -> f32 is exact.
#include "shoal_common.cuh"

extern "C" __global__ void cast_f32_to_bf16(const float* __restrict__ x, bf16* __restrict__ y, i64 n) {
    for (i64 i = blockIdx.x * (i64)blockDim.x + threadIdx.x; i < n; i += (i64)gridDim.x * blockDim.x)
        y[i] = f32_to_bf16(x[i]);
}

extern "C" __global__ void cast_bf16_to_f32(const bf16* __restrict__ x, float* __restrict__ y, i64 n) {
    for (i64 i = blockIdx.x * (i64)blockDim.x + threadIdx.x; i < n; i += (i64)gridDim.x * blockDim.x)
        y[i] = bf16_to_f32(x[i]);
}
