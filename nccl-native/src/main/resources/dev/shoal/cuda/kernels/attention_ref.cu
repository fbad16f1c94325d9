// attention_ref.cu: straightforward causal grouped-query attention, one warp per row, fp32 math.
// It is the exactness twin of flash_attention.cu: f32 (and bf16) inputs, any hd <= 128, the same
// layouts and the same LSE/D conventions, O(T^2) time but no T x T storage. Used where fp32
// exactness matters and to cross-check the tensor-core kernels at full size.
// Layouts: Q, O, dQ, dO [B, T, NH, hd]; K, V, dK, dV [B, T, NKV, hd]; LSE, D [B, NH, T] fp32.
#include "shoal_common.cuh"

#define REF_WARPS 4

// Forward: grid (ceil(T/4), NH, B), block 128; warp w handles query row blockIdx.x*4 + w.
template <typename T>
__device__ void attn_ref_fwd_impl(const T* __restrict__ Q, const T* __restrict__ K, const T* __restrict__ V,
                                  T* __restrict__ O, float* __restrict__ LSE, int Tn, int NH, int NKV, int hd,
                                  float scale) {
    const int warp = threadIdx.x >> 5, lane = threadIdx.x & 31;
    const int i = blockIdx.x * REF_WARPS + warp;
    if (i >= Tn) return;
    const int h = blockIdx.y, b = blockIdx.z, kvh = h / (NH / NKV);
    const i64 qrow = (((i64)b * Tn + i) * NH + h) * hd;
    float qr[4], acc[4];
#pragma unroll
    for (int u = 0; u < 4; u++) {
        const int d = lane + 32 * u;
        qr[u] = d < hd ? load_f32(Q, qrow + d) : 0.0f;
        acc[u] = 0.0f;
    }
    float m = SHOAL_NEG_INF, l = 0.0f;
    for (int j = 0; j <= i; j++) {
        const i64 krow = (((i64)b * Tn + j) * NKV + kvh) * hd;
        float s = 0.0f;
#pragma unroll
        for (int u = 0; u < 4; u++) {
            const int d = lane + 32 * u;
            if (d < hd) s += qr[u] * load_f32(K, krow + d);
        }
        s = warp_sum(s) * scale;
        const float mn = fmaxf(m, s), a = expf(m - mn), p = expf(s - mn);
        l = l * a + p;
#pragma unroll
        for (int u = 0; u < 4; u++) {
            const int d = lane + 32 * u;
            acc[u] = acc[u] * a + (d < hd ? p * load_f32(V, krow + d) : 0.0f);
        }
        m = mn;
    }
#pragma unroll
    for (int u = 0; u < 4; u++) {
        const int d = lane + 32 * u;
        if (d < hd) store_f32(O, qrow + d, acc[u] / l);
    }
    if (lane == 0) LSE[((i64)b * NH + h) * Tn + i] = m + logf(l);
}

// D[b, h, t] = sum_d dO * O; grid (ceil(B*T*NH/8)), block 256, one warp per row.
template <typename T>
__device__ void attn_ref_dot_impl(const T* __restrict__ dO, const T* __restrict__ O, float* __restrict__ D, int B,
                                  int Tn, int NH, int hd) {
    const i64 row = (i64)blockIdx.x * 8 + (threadIdx.x >> 5);
    const int lane = threadIdx.x & 31;
    if (row >= (i64)B * Tn * NH) return;
    float acc = 0.0f;
    for (int d = lane; d < hd; d += 32) acc += load_f32(dO, row * hd + d) * load_f32(O, row * hd + d);
    acc = warp_sum(acc);
    if (lane == 0) {
        const int h = (int)(row % NH);
        const i64 bt = row / NH;
        D[((i64)(bt / Tn) * NH + h) * Tn + (int)(bt % Tn)] = acc;
    }
}

// dQ: grid (ceil(T/4), NH, B), block 128; warp per query row.
template <typename T>
__device__ void attn_ref_dq_impl(const T* __restrict__ Q, const T* __restrict__ K, const T* __restrict__ V,
                                 const T* __restrict__ dO, const float* __restrict__ LSE, const float* __restrict__ D,
                                 T* __restrict__ dQ, int Tn, int NH, int NKV, int hd, float scale) {
    const int warp = threadIdx.x >> 5, lane = threadIdx.x & 31;
    const int i = blockIdx.x * REF_WARPS + warp;
    if (i >= Tn) return;
    const int h = blockIdx.y, b = blockIdx.z, kvh = h / (NH / NKV);
    const i64 qrow = (((i64)b * Tn + i) * NH + h) * hd;
    const float lse = LSE[((i64)b * NH + h) * Tn + i], Di = D[((i64)b * NH + h) * Tn + i];
    float qr[4], gr[4], acc[4];
#pragma unroll
    for (int u = 0; u < 4; u++) {
        const int d = lane + 32 * u;
        qr[u] = d < hd ? load_f32(Q, qrow + d) : 0.0f;
        gr[u] = d < hd ? load_f32(dO, qrow + d) : 0.0f;
        acc[u] = 0.0f;
    }
    for (int j = 0; j <= i; j++) {
        const i64 krow = (((i64)b * Tn + j) * NKV + kvh) * hd;
        float s = 0.0f, dp = 0.0f;
#pragma unroll
        for (int u = 0; u < 4; u++) {
            const int d = lane + 32 * u;
            if (d < hd) {
                s += qr[u] * load_f32(K, krow + d);
                dp += gr[u] * load_f32(V, krow + d);
            }
        }
        s = warp_sum(s);
        dp = warp_sum(dp);
        const float p = expf(s * scale - lse);
        const float ds = p * (dp - Di);
#pragma unroll
        for (int u = 0; u < 4; u++) {
            const int d = lane + 32 * u;
            if (d < hd) acc[u] += ds * load_f32(K, krow + d);
        }
    }
#pragma unroll
    for (int u = 0; u < 4; u++) {
        const int d = lane + 32 * u;
        if (d < hd) store_f32(dQ, qrow + d, acc[u] * scale);
    }
}

// dK, dV: grid (ceil(T/4), NKV, B), block 128; warp per key row, summed over the group's heads.
template <typename T>
__device__ void attn_ref_dkdv_impl(const T* __restrict__ Q, const T* __restrict__ K, const T* __restrict__ V,
                                   const T* __restrict__ dO, const float* __restrict__ LSE,
                                   const float* __restrict__ D, T* __restrict__ dK, T* __restrict__ dV, int Tn, int NH,
                                   int NKV, int hd, float scale) {
    const int warp = threadIdx.x >> 5, lane = threadIdx.x & 31;
    const int j = blockIdx.x * REF_WARPS + warp;
    if (j >= Tn) return;
    const int kvh = blockIdx.y, b = blockIdx.z, G = NH / NKV;
    const i64 krow = (((i64)b * Tn + j) * NKV + kvh) * hd;
    float kr[4], vr[4], dk[4], dv[4];
#pragma unroll
    for (int u = 0; u < 4; u++) {
        const int d = lane + 32 * u;
        kr[u] = d < hd ? load_f32(K, krow + d) : 0.0f;
        vr[u] = d < hd ? load_f32(V, krow + d) : 0.0f;
        dk[u] = dv[u] = 0.0f;
    }
    for (int hh = 0; hh < G; hh++) {
        const int h = kvh * G + hh;
        for (int i = j; i < Tn; i++) {
            const i64 qrow = (((i64)b * Tn + i) * NH + h) * hd;
            float s = 0.0f, dp = 0.0f;
#pragma unroll
            for (int u = 0; u < 4; u++) {
                const int d = lane + 32 * u;
                if (d < hd) {
                    s += load_f32(Q, qrow + d) * kr[u];
                    dp += load_f32(dO, qrow + d) * vr[u];
                }
            }
            s = warp_sum(s);
            dp = warp_sum(dp);
            const float p = expf(s * scale - LSE[((i64)b * NH + h) * Tn + i]);
            const float ds = p * (dp - D[((i64)b * NH + h) * Tn + i]);
#pragma unroll
            for (int u = 0; u < 4; u++) {
                const int d = lane + 32 * u;
                if (d < hd) {
                    dv[u] += p * load_f32(dO, qrow + d);
                    dk[u] += ds * load_f32(Q, qrow + d);
                }
            }
        }
    }
#pragma unroll
    for (int u = 0; u < 4; u++) {
        const int d = lane + 32 * u;
        if (d < hd) {
            store_f32(dK, krow + d, dk[u] * scale);
            store_f32(dV, krow + d, dv[u]);
        }
    }
}

// Entry points (written out so the kernel-name scan finds them).
extern "C" __global__ void attn_ref_fwd_f32(const float* Q, const float* K, const float* V, float* O, float* LSE,
        int Tn, int NH, int NKV, int hd, float scale) {
    attn_ref_fwd_impl(Q, K, V, O, LSE, Tn, NH, NKV, hd, scale);
}
extern "C" __global__ void attn_ref_dot_f32(const float* dO, const float* O, float* D, int B, int Tn, int NH, int hd) {
    attn_ref_dot_impl(dO, O, D, B, Tn, NH, hd);
}
extern "C" __global__ void attn_ref_dq_f32(const float* Q, const float* K, const float* V, const float* dO, const float* LSE,
        const float* D, float* dQ, int Tn, int NH, int NKV, int hd, float scale) {
    attn_ref_dq_impl(Q, K, V, dO, LSE, D, dQ, Tn, NH, NKV, hd, scale);
}
extern "C" __global__ void attn_ref_dkdv_f32(const float* Q, const float* K, const float* V, const float* dO,
        const float* LSE, const float* D, float* dK, float* dV, int Tn, int NH, int NKV, int hd, float scale) {
    attn_ref_dkdv_impl(Q, K, V, dO, LSE, D, dK, dV, Tn, NH, NKV, hd, scale);
}

extern "C" __global__ void attn_ref_fwd_bf16(const bf16* Q, const bf16* K, const bf16* V, bf16* O, float* LSE,
        int Tn, int NH, int NKV, int hd, float scale) {
    attn_ref_fwd_impl(Q, K, V, O, LSE, Tn, NH, NKV, hd, scale);
}
extern "C" __global__ void attn_ref_dot_bf16(const bf16* dO, const bf16* O, float* D, int B, int Tn, int NH, int hd) {
    attn_ref_dot_impl(dO, O, D, B, Tn, NH, hd);
}
extern "C" __global__ void attn_ref_dq_bf16(const bf16* Q, const bf16* K, const bf16* V, const bf16* dO, const float* LSE,
        const float* D, bf16* dQ, int Tn, int NH, int NKV, int hd, float scale) {
    attn_ref_dq_impl(Q, K, V, dO, LSE, D, dQ, Tn, NH, NKV, hd, scale);
}
extern "C" __global__ void attn_ref_dkdv_bf16(const bf16* Q, const bf16* K, const bf16* V, const bf16* dO,
        const float* LSE, const float* D, bf16* dK, bf16* dV, int Tn, int NH, int NKV, int hd, float scale) {
    attn_ref_dkdv_impl(Q, K, V, dO, LSE, D, dK, dV, Tn, NH, NKV, hd, scale);
}
