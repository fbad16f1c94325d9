// rope.cu: rotary position embedding with Hugging Face's rotate_half convention.
// A head vector [x1 | x2] (halves of hd/2) becomes [x1*cos - x2*sin | x2*cos + x1*sin].
// Shapes: x, y [B, T, NH, hd] (f32 or bf16); cos, sin [T, hd/2] fp32; invFreq [hd/2] fp32.
// Guarantees: backward is the exact inverse rotation (sign = -1); y may alias x.
#include "shoal_common.cuh"

// cos/sin tables: angle = float(pos0 + t) * invFreq[i] in fp32 (as HF computes it), accurate cosf/sinf.
// grid-stride over T * half entries.
extern "C" __global__ void rope_tables(const float* __restrict__ invFreq, float* __restrict__ cosT, float* __restrict__ sinT,
                                       int T, int half, int pos0) {
    const i64 n = (i64)T * half;
    for (i64 k = blockIdx.x * (i64)blockDim.x + threadIdx.x; k < n; k += (i64)gridDim.x * blockDim.x) {
        const int t = (int)(k / half), i = (int)(k % half);
        const float angle = (float)(pos0 + t) * invFreq[i];
        cosT[k] = cosf(angle);
        sinT[k] = sinf(angle);
    }
}

// One thread per rotated pair (b, t, h, i < half). sign = +1 forward, -1 backward (rotation by -angle).
template <typename T>
__device__ void rope_impl(const T* x, T* y, const float* __restrict__ cosT, const float* __restrict__ sinT,
                          int Tn, int NH, int hd, float sign, i64 pairs) {
    const int half = hd >> 1;
    for (i64 k = blockIdx.x * (i64)blockDim.x + threadIdx.x; k < pairs; k += (i64)gridDim.x * blockDim.x) {
        const int i = (int)(k % half);
        const i64 head = k / half;             // (b * T + t) * NH + h
        const int t = (int)((head / NH) % Tn);
        const i64 base = head * hd;
        const float c = cosT[(i64)t * half + i], s = sign * sinT[(i64)t * half + i];
        const float x1 = load_f32(x, base + i), x2 = load_f32(x, base + i + half);
        store_f32(y, base + i, x1 * c - x2 * s);
        store_f32(y, base + i + half, x2 * c + x1 * s);
    }
}
extern "C" __global__ void rope_f32(const float* x, float* y, const float* cosT, const float* sinT, int T, int NH, int hd,
                                    float sign, i64 pairs) {
    rope_impl(x, y, cosT, sinT, T, NH, hd, sign, pairs);
}
extern "C" __global__ void rope_bf16(const bf16* x, bf16* y, const float* cosT, const float* sinT, int T, int NH, int hd,
                                     float sign, i64 pairs) {
    rope_impl(x, y, cosT, sinT, T, NH, hd, sign, pairs);
}
