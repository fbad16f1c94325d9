// shoal_common.cuh: shared device helpers for Shoal's NVRTC-compiled kernels.
// Guarantees: no host headers (NVRTC-safe); bf16 is handled as raw 16-bit storage with
// round-to-nearest-even conversion that keeps NaN a (quiet) NaN; all reductions are in fp32.
#pragma once

typedef unsigned short bf16;  // raw bf16 bits: sign(1) exponent(8) mantissa(7)
typedef unsigned int u32;
typedef long long i64;

#define SHOAL_NEG_INF (__int_as_float(0xff800000))
#define SHOAL_POS_INF (__int_as_float(0x7f800000))

// bf16 -> f32 is exact: the bf16 bits are the top half of the f32.
__device__ __forceinline__ float bf16_to_f32(bf16 h) { return __uint_as_float(((u32)h) << 16); }

// f32 -> bf16 with round-to-nearest-even; NaN stays NaN (quiet bit set), Inf stays Inf.
__device__ __forceinline__ bf16 f32_to_bf16(float f) {
    u32 u = __float_as_uint(f);
    if ((u & 0x7fffffffu) > 0x7f800000u) return (bf16)((u >> 16) | 0x0040u);
    u += 0x7fffu + ((u >> 16) & 1u);
    return (bf16)(u >> 16);
}

__device__ __forceinline__ int imin(int a, int b) { return a < b ? a : b; }

// Typed load/store so one template serves f32 and bf16 tensors.
__device__ __forceinline__ float load_f32(const float* p, i64 i) { return p[i]; }
__device__ __forceinline__ float load_f32(const bf16* p, i64 i) { return bf16_to_f32(p[i]); }
__device__ __forceinline__ void store_f32(float* p, i64 i, float v) { p[i] = v; }
__device__ __forceinline__ void store_f32(bf16* p, i64 i, float v) { p[i] = f32_to_bf16(v); }

// Warp-wide sum and max (all 32 lanes take part).
__device__ __forceinline__ float warp_sum(float v) {
#pragma unroll
    for (int o = 16; o > 0; o >>= 1) v += __shfl_xor_sync(0xffffffffu, v, o);
    return v;
}
__device__ __forceinline__ float warp_max(float v) {
#pragma unroll
    for (int o = 16; o > 0; o >>= 1) v = fmaxf(v, __shfl_xor_sync(0xffffffffu, v, o));
    return v;
}

// Block-wide sum in a fixed order (deterministic); every thread gets the result.
// scratch: at least 32 floats of shared memory; blockDim.x a multiple of 32, at most 1024.
__device__ __forceinline__ float block_sum(float v, float* scratch) {
    const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5, nw = blockDim.x >> 5;
    v = warp_sum(v);
    __syncthreads();
    if (lane == 0) scratch[warp] = v;
    __syncthreads();
    float t = lane < nw ? scratch[lane] : 0.0f;
    return warp_sum(t);
}
__device__ __forceinline__ float block_max(float v, float* scratch) {
    const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5, nw = blockDim.x >> 5;
    v = warp_max(v);
    __syncthreads();
    if (lane == 0) scratch[warp] = v;
    __syncthreads();
    float t = lane < nw ? scratch[lane] : SHOAL_NEG_INF;
    return warp_max(t);
}
