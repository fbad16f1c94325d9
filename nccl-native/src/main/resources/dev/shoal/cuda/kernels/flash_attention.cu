// flash_attention.cu: causal grouped-query attention, flash style, on bf16 tensor cores
// (mma.sync m16n8k16, fp32 accumulation), forward and backward.
// Layouts: Q, O, dQ, dO [B, T, NH, hd]; K, V, dK, dV [B, T, NKV, hd] (all bf16);
//          LSE, D [B, NH, T] fp32 (LSE in natural log units: log sum_j exp(scale * q.k_j)).
// Tiles: 128 rows per block (8 warps x 16 rows) against 64-row tiles of the other side, double-buffered. Scores live only in
// registers: the T x T matrix never reaches global memory. hd is a template parameter (64 or 128).
// Backward: D = rowsum(dO * O) first; then one kernel per key tile accumulates dK, dV over every
// query tile and every head of the KV group (no atomics), and one kernel per query tile
// accumulates dQ over every key tile (no atomics): the results are bit-reproducible.
#include "shoal_common.cuh"

#define FA_TILE 64
#define FA_LOG2E 1.4426950408889634f
#define FA_LN2 0.6931471805599453f

struct alignas(16) u32x4 {
    u32 x, y, z, w;
};

// two floats -> packed bf16x2 (lo in the low half), round-to-nearest-even
__device__ __forceinline__ u32 pack_bf16x2(float lo, float hi) {
    u32 r;
    asm("cvt.rn.bf16x2.f32 %0, %1, %2;" : "=r"(r) : "f"(hi), "f"(lo));
    return r;
}
__device__ __forceinline__ u32 pack_raw(bf16 lo, bf16 hi) { return (u32)lo | ((u32)hi << 16); }

// c[16x8] += a[16x16] * b[16x8], bf16 inputs, fp32 accumulators
__device__ __forceinline__ void mma16816(float c[4], const u32 a[4], const u32 b[2]) {
    asm volatile(
        "mma.sync.aligned.m16n8k16.row.col.f32.bf16.bf16.f32 {%0,%1,%2,%3}, {%4,%5,%6,%7}, {%8,%9}, {%0,%1,%2,%3};\n"
        : "+f"(c[0]), "+f"(c[1]), "+f"(c[2]), "+f"(c[3])
        : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "r"(b[0]), "r"(b[1]));
}

// ldmatrix: lane l supplies the row address of row (l % 8) of 8x8 matrix (l / 8); register i of
// lane l receives matrix i's row l/4, elements 2(l%4), 2(l%4)+1 (transposed with .trans).
__device__ __forceinline__ void ldsm_x4(u32 r[4], const bf16* p) {
    asm volatile(
        "{\n .reg .u64 a;\n cvta.to.shared.u64 a, %4;\n ldmatrix.sync.aligned.m8n8.x4.shared.b16 {%0,%1,%2,%3}, [a];\n}\n"
        : "=r"(r[0]), "=r"(r[1]), "=r"(r[2]), "=r"(r[3])
        : "l"(p));
}
__device__ __forceinline__ void ldsm_x4_trans(u32 r[4], const bf16* p) {
    asm volatile(
        "{\n .reg .u64 a;\n cvta.to.shared.u64 a, %4;\n ldmatrix.sync.aligned.m8n8.x4.trans.shared.b16 {%0,%1,%2,%3}, [a];\n}\n"
        : "=r"(r[0]), "=r"(r[1]), "=r"(r[2]), "=r"(r[3])
        : "l"(p));
}

// A fragment: rows r0..r0+15, cols k0..k0+15 of a row-major shared matrix (stride lds elements)
template <bool LDM>
__device__ __forceinline__ void ld_a(u32 a[4], const bf16* s, int lds, int r0, int k0, int lane) {
    if (LDM) {
        const int m = lane >> 3;
        ldsm_x4(a, s + (r0 + (m & 1) * 8 + (lane & 7)) * lds + k0 + (m >> 1) * 8);
    } else {
        const bf16* p = s + (r0 + (lane >> 2)) * lds + k0 + (lane & 3) * 2;
        a[0] = *(const u32*)p;
        a[1] = *(const u32*)(p + 8 * lds);
        a[2] = *(const u32*)(p + 8);
        a[3] = *(const u32*)(p + 8 * lds + 8);
    }
}
// B fragments of two n-tiles (n0 and n0 + 8) with B[k][n] = M[n][k0 + k], M row-major (k contiguous)
template <bool LDM>
__device__ __forceinline__ void ld_b_nk2(u32 b0[2], u32 b1[2], const bf16* s, int lds, int n0, int k0, int lane) {
    if (LDM) {
        const int m = lane >> 3;
        u32 r[4];
        ldsm_x4(r, s + (n0 + (m >> 1) * 8 + (lane & 7)) * lds + k0 + (m & 1) * 8);
        b0[0] = r[0];
        b0[1] = r[1];
        b1[0] = r[2];
        b1[1] = r[3];
    } else {
        const bf16* p = s + (n0 + (lane >> 2)) * lds + k0 + (lane & 3) * 2;
        b0[0] = *(const u32*)p;
        b0[1] = *(const u32*)(p + 8);
        b1[0] = *(const u32*)(p + 8 * lds);
        b1[1] = *(const u32*)(p + 8 * lds + 8);
    }
}
// B fragments of two n-tiles (n0 and n0 + 8) with B[k][n] = M[k0 + k][n], M row-major (n contiguous)
template <bool LDM>
__device__ __forceinline__ void ld_b_kn2(u32 b0[2], u32 b1[2], const bf16* s, int lds, int k0, int n0, int lane) {
    if (LDM) {
        const int m = lane >> 3;
        u32 r[4];
        ldsm_x4_trans(r, s + (k0 + (m & 1) * 8 + (lane & 7)) * lds + n0 + (m >> 1) * 8);
        b0[0] = r[0];
        b0[1] = r[1];
        b1[0] = r[2];
        b1[1] = r[3];
    } else {
        const bf16* p = s + (k0 + (lane & 3) * 2) * lds + n0 + (lane >> 2);
        b0[0] = pack_raw(p[0], p[lds]);
        b0[1] = pack_raw(p[8 * lds], p[9 * lds]);
        b1[0] = pack_raw(p[8], p[lds + 8]);
        b1[1] = pack_raw(p[8 * lds + 8], p[9 * lds + 8]);
    }
}

// Asynchronous 16-byte global -> shared copy (cp.async, L2 only); srcBytes 0 zero-fills the destination.
__device__ __forceinline__ void cp_async16(void* smem, const void* gmem, int srcBytes) {
    asm volatile(
        "{\n .reg .u64 a;\n cvta.to.shared.u64 a, %0;\n cp.async.cg.shared.global [a], [%1], 16, %2;\n}\n"
        :
        : "l"(smem), "l"(gmem), "r"(srcBytes)
        : "memory");
}
__device__ __forceinline__ void cp_async_commit() { asm volatile("cp.async.commit_group;\n" ::: "memory"); }
// Waits until at most N committed groups of this thread are still in flight.
template <int N>
__device__ __forceinline__ void cp_async_wait() {
    asm volatile("cp.async.wait_group %0;\n" ::"n"(N) : "memory");
}

// Starts copying a rows x HD bf16 tile (rows >= valid are zero-filled) to shared memory (stride HD + 8).
template <int HD, int THREADS>
__device__ __forceinline__ void load_tile_async(bf16* s, const bf16* g, i64 gs, int rows, int valid) {
    constexpr int VPR = HD / 8;
    constexpr int LDS = HD + 8;
    for (int i = threadIdx.x; i < rows * VPR; i += THREADS) {
        const int r = i / VPR, c = i % VPR;
        const bool ok = r < valid;
        cp_async16(s + r * LDS + c * 8, ok ? (const void*)(g + r * gs + c * 8) : (const void*)g, ok ? 16 : 0);
    }
}

// ------------------------------------------------------------------------------------------
// Forward: 128 queries per block (8 warps x 16 rows), 64-key tiles double-buffered with cp.async.
// grid (ceil(T/128), NH, B), block 256, dynamic smem 4 * 64 * (HD + 8) * 2 bytes.
#define FA_FWD_WARPS 8
#define FA_FWD_ROWS (FA_FWD_WARPS * 16)
#define FA_FWD_THREADS (FA_FWD_WARPS * 32)

template <int HD, bool LDM>
__device__ void flash_fwd_impl(const bf16* __restrict__ Q, const bf16* __restrict__ K, const bf16* __restrict__ V,
                               bf16* __restrict__ O, float* __restrict__ LSE, int T, int NH, int NKV, float scaleLog2) {
    constexpr int LDS = HD + 8;
    constexpr int TILE_ELEMS = FA_TILE * LDS;
    extern __shared__ u32x4 smem_fwd[];
    bf16* sm = (bf16*)smem_fwd;  // stage s: K at sm + 2s * TILE_ELEMS, V right after it
    const int qt = gridDim.x - 1 - blockIdx.x;  // longest rows first
    const int h = blockIdx.y, b = blockIdx.z, kvh = h / (NH / NKV);
    const int warp = threadIdx.x >> 5, lane = threadIdx.x & 31, t4 = lane & 3;
    const int q0 = qt * FA_FWD_ROWS;
    const i64 qs = (i64)NH * HD, kvs = (i64)NKV * HD;
    const bf16* Qb = Q + ((i64)b * T * NH + h) * HD;
    const bf16* Kb = K + ((i64)b * T * NKV + kvh) * HD;
    const bf16* Vb = V + ((i64)b * T * NKV + kvh) * HD;
    const int warpRow0 = q0 + warp * 16;
    const int rowA = warpRow0 + (lane >> 2), rowB = rowA + 8;
    const int nkt = (imin(q0 + FA_FWD_ROWS, T) - 1) / FA_TILE + 1;  // key tiles this block needs

    // step 1: start the Q tile (128 rows, staged in stage 1) and key/value tile 0 (stage 0)
    load_tile_async<HD, FA_FWD_THREADS>(sm + 2 * TILE_ELEMS, Qb + (i64)q0 * qs, qs, FA_FWD_ROWS,
                                        imin(FA_FWD_ROWS, T - q0));
    cp_async_commit();
    load_tile_async<HD, FA_FWD_THREADS>(sm, Kb, kvs, FA_TILE, imin(FA_TILE, T));
    load_tile_async<HD, FA_FWD_THREADS>(sm + TILE_ELEMS, Vb, kvs, FA_TILE, imin(FA_TILE, T));
    cp_async_commit();
    cp_async_wait<1>();  // Q has landed (tile 0 may still be in flight)
    __syncthreads();
    u32 qa[HD / 16][4];
#pragma unroll
    for (int kk = 0; kk < HD / 16; kk++) ld_a<LDM>(qa[kk], sm + 2 * TILE_ELEMS, LDS, warp * 16, kk * 16, lane);
    __syncthreads();  // stage 1 is free for tile 1

    float o[HD / 8][4];
#pragma unroll
    for (int n = 0; n < HD / 8; n++) o[n][0] = o[n][1] = o[n][2] = o[n][3] = 0.0f;
    float mrow[2] = {SHOAL_NEG_INF, SHOAL_NEG_INF}, lrow[2] = {0.0f, 0.0f};

    for (int j = 0; j < nkt; j++) {
        const int k0 = j * FA_TILE;
        // step 2: prefetch tile j+1 into the other stage, then wait for tile j
        if (j + 1 < nkt) {
            bf16* nxt = sm + ((j + 1) & 1) * 2 * TILE_ELEMS;
            const int k1 = k0 + FA_TILE;
            load_tile_async<HD, FA_FWD_THREADS>(nxt, Kb + (i64)k1 * kvs, kvs, FA_TILE, imin(FA_TILE, T - k1));
            load_tile_async<HD, FA_FWD_THREADS>(nxt + TILE_ELEMS, Vb + (i64)k1 * kvs, kvs, FA_TILE,
                                                imin(FA_TILE, T - k1));
            cp_async_commit();
            cp_async_wait<1>();
        } else {
            cp_async_wait<0>();
        }
        __syncthreads();
        const bf16* Ks = sm + (j & 1) * 2 * TILE_ELEMS;
        const bf16* Vs = Ks + TILE_ELEMS;
        // a warp whose rows all precede this tile has nothing to do (k0, warpRow0 are multiples of 16,
        // so a warp that does work has every row >= k0: no row is fully masked)
        if (k0 <= warpRow0) {
            // step 3: S = Q K^T for 16 rows x 64 keys
            float s[8][4];
#pragma unroll
            for (int n = 0; n < 8; n++) s[n][0] = s[n][1] = s[n][2] = s[n][3] = 0.0f;
#pragma unroll
            for (int kk = 0; kk < HD / 16; kk++) {
#pragma unroll
                for (int n = 0; n < 8; n += 2) {
                    u32 b0[2], b1[2];
                    ld_b_nk2<LDM>(b0, b1, Ks, LDS, n * 8, kk * 16, lane);
                    mma16816(s[n], qa[kk], b0);
                    mma16816(s[n + 1], qa[kk], b1);
                }
            }
            // step 4: scale to log2 units, causal mask where the tile crosses the diagonal, online softmax
            float mx[2] = {mrow[0], mrow[1]};
            const bool diag = (k0 + FA_TILE - 1 > warpRow0);
#pragma unroll
            for (int n = 0; n < 8; n++) {
#pragma unroll
                for (int e = 0; e < 4; e++) {
                    const int col = k0 + n * 8 + t4 * 2 + (e & 1);
                    float v = s[n][e] * scaleLog2;
                    if (diag && col > ((e < 2) ? rowA : rowB)) v = SHOAL_NEG_INF;
                    s[n][e] = v;
                    mx[e >> 1] = fmaxf(mx[e >> 1], v);
                }
            }
            float alpha[2], ls[2] = {0.0f, 0.0f};
#pragma unroll
            for (int r = 0; r < 2; r++) {
                mx[r] = fmaxf(mx[r], __shfl_xor_sync(0xffffffffu, mx[r], 1));
                mx[r] = fmaxf(mx[r], __shfl_xor_sync(0xffffffffu, mx[r], 2));
                alpha[r] = exp2f(mrow[r] - mx[r]);  // 0 on the first tile
                mrow[r] = mx[r];
            }
#pragma unroll
            for (int n = 0; n < 8; n++) {
#pragma unroll
                for (int e = 0; e < 4; e++) {
                    const float p = exp2f(s[n][e] - mrow[e >> 1]);
                    s[n][e] = p;
                    ls[e >> 1] += p;
                }
            }
            lrow[0] = lrow[0] * alpha[0] + ls[0];
            lrow[1] = lrow[1] * alpha[1] + ls[1];
#pragma unroll
            for (int n = 0; n < HD / 8; n++) {
                o[n][0] *= alpha[0];
                o[n][1] *= alpha[0];
                o[n][2] *= alpha[1];
                o[n][3] *= alpha[1];
            }
            // step 5: O += P V (P re-used from the accumulators as bf16 A fragments)
#pragma unroll
            for (int kk = 0; kk < 4; kk++) {
                u32 pa[4];
                pa[0] = pack_bf16x2(s[2 * kk][0], s[2 * kk][1]);
                pa[1] = pack_bf16x2(s[2 * kk][2], s[2 * kk][3]);
                pa[2] = pack_bf16x2(s[2 * kk + 1][0], s[2 * kk + 1][1]);
                pa[3] = pack_bf16x2(s[2 * kk + 1][2], s[2 * kk + 1][3]);
#pragma unroll
                for (int n = 0; n < HD / 8; n += 2) {
                    u32 b0[2], b1[2];
                    ld_b_kn2<LDM>(b0, b1, Vs, LDS, kk * 16, n * 8, lane);
                    mma16816(o[n], pa, b0);
                    mma16816(o[n + 1], pa, b1);
                }
            }
        }
        __syncthreads();  // everyone is done with stage j & 1 before it is refilled
    }
    // step 6: normalise, write O (bf16) and LSE (natural log)
#pragma unroll
    for (int r = 0; r < 2; r++) {
        lrow[r] += __shfl_xor_sync(0xffffffffu, lrow[r], 1);
        lrow[r] += __shfl_xor_sync(0xffffffffu, lrow[r], 2);
    }
    const float inv0 = 1.0f / lrow[0], inv1 = 1.0f / lrow[1];
    bf16* Ob = O + ((i64)b * T * NH + h) * HD;
#pragma unroll
    for (int n = 0; n < HD / 8; n++) {
        const int col = n * 8 + t4 * 2;
        if (rowA < T) *(u32*)(Ob + (i64)rowA * qs + col) = pack_bf16x2(o[n][0] * inv0, o[n][1] * inv0);
        if (rowB < T) *(u32*)(Ob + (i64)rowB * qs + col) = pack_bf16x2(o[n][2] * inv1, o[n][3] * inv1);
    }
    if (t4 == 0) {
        float* L = LSE + ((i64)b * NH + h) * T;
        if (rowA < T) L[rowA] = (mrow[0] + log2f(lrow[0])) * FA_LN2;
        if (rowB < T) L[rowB] = (mrow[1] + log2f(lrow[1])) * FA_LN2;
    }
}

// Entry points: *_hd{64,128} use ldmatrix fragment loads; *_basic use plain 32/16-bit shared loads.
extern "C" __global__ void __launch_bounds__(FA_FWD_THREADS) flash_fwd_bf16_hd64(const bf16* Q, const bf16* K,
        const bf16* V, bf16* O, float* LSE, int T, int NH, int NKV, float scaleLog2) {
    flash_fwd_impl<64, true>(Q, K, V, O, LSE, T, NH, NKV, scaleLog2);
}
extern "C" __global__ void __launch_bounds__(FA_FWD_THREADS) flash_fwd_bf16_hd64_basic(const bf16* Q, const bf16* K,
        const bf16* V, bf16* O, float* LSE, int T, int NH, int NKV, float scaleLog2) {
    flash_fwd_impl<64, false>(Q, K, V, O, LSE, T, NH, NKV, scaleLog2);
}
extern "C" __global__ void __launch_bounds__(FA_FWD_THREADS) flash_fwd_bf16_hd128(const bf16* Q, const bf16* K,
        const bf16* V, bf16* O, float* LSE, int T, int NH, int NKV, float scaleLog2) {
    flash_fwd_impl<128, true>(Q, K, V, O, LSE, T, NH, NKV, scaleLog2);
}
extern "C" __global__ void __launch_bounds__(FA_FWD_THREADS) flash_fwd_bf16_hd128_basic(const bf16* Q, const bf16* K,
        const bf16* V, bf16* O, float* LSE, int T, int NH, int NKV, float scaleLog2) {
    flash_fwd_impl<128, false>(Q, K, V, O, LSE, T, NH, NKV, scaleLog2);
}

// ------------------------------------------------------------------------------------------
// Backward step 1: D[b, h, t] = sum_d dO[b, t, h, d] * O[b, t, h, d]; one warp per row.
// grid (ceil(B*T*NH / 8)), block 256.
extern "C" __global__ void flash_bwd_dot_bf16(const bf16* __restrict__ dO, const bf16* __restrict__ O,
                                              float* __restrict__ D, int B, int T, int NH, int hd) {
    const i64 row = (i64)blockIdx.x * 8 + (threadIdx.x >> 5);  // (b * T + t) * NH + h
    const int lane = threadIdx.x & 31;
    if (row >= (i64)B * T * NH) return;
    float acc = 0.0f;
    for (int d = lane; d < hd; d += 32) acc += bf16_to_f32(dO[row * hd + d]) * bf16_to_f32(O[row * hd + d]);
    acc = warp_sum(acc);
    if (lane == 0) {
        const int h = (int)(row % NH);
        const i64 bt = row / NH;
        const int t = (int)(bt % T), b = (int)(bt / T);
        D[((i64)b * NH + h) * T + t] = acc;
    }
}

// Backward step 2: dK, dV for one 128-key block of one KV head (8 warps x 16 keys), summed over the
// group's heads and every 64-query tile at or after it; query tiles double-buffered with cp.async.
// grid (ceil(T/128), NKV, B), block 256, dynamic smem 8 * 64 * (HD + 8) * 2 + 2 * 128 * 4 bytes.
#define FA_BWD_WARPS 8
#define FA_BWD_ROWS (FA_BWD_WARPS * 16)
#define FA_BWD_THREADS (FA_BWD_WARPS * 32)

template <int HD, bool LDM>
__device__ void flash_bwd_dkdv_impl(const bf16* __restrict__ Q, const bf16* __restrict__ K, const bf16* __restrict__ V,
                                    const bf16* __restrict__ dO, const float* __restrict__ LSE,
                                    const float* __restrict__ D, bf16* __restrict__ dK, bf16* __restrict__ dV, int T,
                                    int NH, int NKV, float scaleLog2, float scale) {
    constexpr int LDS = HD + 8;
    constexpr int TILE_ELEMS = FA_TILE * LDS;
    extern __shared__ u32x4 smem_dkdv[];
    bf16* Ks = (bf16*)smem_dkdv;        // 128 key rows
    bf16* Vs = Ks + 2 * TILE_ELEMS;     // 128 value rows
    bf16* qd = Vs + 2 * TILE_ELEMS;     // stage s: Q tile at qd + 2s * TILE_ELEMS, dO tile right after
    float* ld = (float*)(qd + 4 * TILE_ELEMS);  // stage s: LSE*log2e at ld + 128s, D at ld + 128s + 64
    const int kt = blockIdx.x;  // low key blocks see the most queries: they start first
    const int kvh = blockIdx.y, b = blockIdx.z, G = NH / NKV;
    const int warp = threadIdx.x >> 5, lane = threadIdx.x & 31, t4 = lane & 3;
    const int k0 = kt * FA_BWD_ROWS, nqt = (T + FA_TILE - 1) / FA_TILE;
    const i64 qs = (i64)NH * HD, kvs = (i64)NKV * HD;
    const int warpKey0 = k0 + warp * 16;
    const int keyA = warpKey0 + (lane >> 2), keyB = keyA + 8;
    const int qtStart = k0 / FA_TILE;            // earlier query tiles precede every key here
    const int perHead = nqt - qtStart, steps = G * perHead;

    // step 1: start this block's keys and values
    load_tile_async<HD, FA_BWD_THREADS>(Ks, K + ((i64)b * T * NKV + kvh) * HD + (i64)k0 * kvs, kvs, FA_BWD_ROWS,
                                        imin(FA_BWD_ROWS, T - k0));
    load_tile_async<HD, FA_BWD_THREADS>(Vs, V + ((i64)b * T * NKV + kvh) * HD + (i64)k0 * kvs, kvs, FA_BWD_ROWS,
                                        imin(FA_BWD_ROWS, T - k0));
    cp_async_commit();

    // issue(step, stage): start Q and dO of (head, query tile) = step; write its LSE (log2 units) and D
    auto issue = [&](int step, int stage) {
        const int h = kvh * G + step / perHead, q0 = (qtStart + step % perHead) * FA_TILE;
        const int valid = imin(FA_TILE, T - q0);
        bf16* Qst = qd + 2 * stage * TILE_ELEMS;
        load_tile_async<HD, FA_BWD_THREADS>(Qst, Q + ((i64)b * T * NH + h) * HD + (i64)q0 * qs, qs, FA_TILE, valid);
        load_tile_async<HD, FA_BWD_THREADS>(Qst + TILE_ELEMS, dO + ((i64)b * T * NH + h) * HD + (i64)q0 * qs, qs,
                                            FA_TILE, valid);
        cp_async_commit();
        if (threadIdx.x < FA_TILE) {
            const int i = threadIdx.x;
            const i64 row = ((i64)b * NH + h) * T + q0 + i;
            ld[stage * 128 + i] = i < valid ? LSE[row] * FA_LOG2E : SHOAL_POS_INF;  // padded rows get P = 0
            ld[stage * 128 + 64 + i] = i < valid ? D[row] : 0.0f;
        }
    };
    issue(0, 0);

    float dk[HD / 8][4], dv[HD / 8][4];
#pragma unroll
    for (int n = 0; n < HD / 8; n++) {
        dk[n][0] = dk[n][1] = dk[n][2] = dk[n][3] = 0.0f;
        dv[n][0] = dv[n][1] = dv[n][2] = dv[n][3] = 0.0f;
    }
    for (int step = 0; step < steps; step++) {
        // step 2: prefetch the next query tile into the other stage, wait for this one
        if (step + 1 < steps) {
            issue(step + 1, (step + 1) & 1);
            cp_async_wait<1>();
        } else {
            cp_async_wait<0>();
        }
        __syncthreads();
        const int stage = step & 1;
        const int q0 = (qtStart + step % perHead) * FA_TILE;
        const bf16* Qs = qd + 2 * stage * TILE_ELEMS;
        const bf16* dOs = Qs + TILE_ELEMS;
        const float* Ls = ld + stage * 128;
        const float* Ds = Ls + 64;
        if (q0 + FA_TILE - 1 >= warpKey0) {  // some query of the tile sees some key of this warp
#pragma unroll
            for (int half = 0; half < 2; half++) {
                const int qc0 = half * 32;
                // step 3: S^T = K Q^T and dP^T = V dO^T for 16 keys x 32 queries
                float st[4][4], dpt[4][4];
#pragma unroll
                for (int n = 0; n < 4; n++) {
                    st[n][0] = st[n][1] = st[n][2] = st[n][3] = 0.0f;
                    dpt[n][0] = dpt[n][1] = dpt[n][2] = dpt[n][3] = 0.0f;
                }
#pragma unroll
                for (int kk = 0; kk < HD / 16; kk++) {
                    u32 ka[4], va[4];
                    ld_a<LDM>(ka, Ks, LDS, warp * 16, kk * 16, lane);
                    ld_a<LDM>(va, Vs, LDS, warp * 16, kk * 16, lane);
#pragma unroll
                    for (int n = 0; n < 4; n += 2) {
                        u32 b0[2], b1[2];
                        ld_b_nk2<LDM>(b0, b1, Qs, LDS, qc0 + n * 8, kk * 16, lane);
                        mma16816(st[n], ka, b0);
                        mma16816(st[n + 1], ka, b1);
                        ld_b_nk2<LDM>(b0, b1, dOs, LDS, qc0 + n * 8, kk * 16, lane);
                        mma16816(dpt[n], va, b0);
                        mma16816(dpt[n + 1], va, b1);
                    }
                }
                // step 4: P^T = exp(S * scale - LSE) under the causal mask; dS^T = P^T (dP^T - D)
#pragma unroll
                for (int n = 0; n < 4; n++) {
#pragma unroll
                    for (int e = 0; e < 4; e++) {
                        const int ql = qc0 + n * 8 + t4 * 2 + (e & 1);
                        const int key = (e < 2) ? keyA : keyB;
                        const float p = (q0 + ql >= key) ? exp2f(st[n][e] * scaleLog2 - Ls[ql]) : 0.0f;
                        st[n][e] = p;
                        dpt[n][e] = p * (dpt[n][e] - Ds[ql]);
                    }
                }
                // step 5: dV += P^T dO ;  dK += dS^T Q   (k = the 32 queries of this half)
#pragma unroll
                for (int kk = 0; kk < 2; kk++) {
                    u32 pa[4], da[4];
                    pa[0] = pack_bf16x2(st[2 * kk][0], st[2 * kk][1]);
                    pa[1] = pack_bf16x2(st[2 * kk][2], st[2 * kk][3]);
                    pa[2] = pack_bf16x2(st[2 * kk + 1][0], st[2 * kk + 1][1]);
                    pa[3] = pack_bf16x2(st[2 * kk + 1][2], st[2 * kk + 1][3]);
                    da[0] = pack_bf16x2(dpt[2 * kk][0], dpt[2 * kk][1]);
                    da[1] = pack_bf16x2(dpt[2 * kk][2], dpt[2 * kk][3]);
                    da[2] = pack_bf16x2(dpt[2 * kk + 1][0], dpt[2 * kk + 1][1]);
                    da[3] = pack_bf16x2(dpt[2 * kk + 1][2], dpt[2 * kk + 1][3]);
#pragma unroll
                    for (int n = 0; n < HD / 8; n += 2) {
                        u32 b0[2], b1[2];
                        ld_b_kn2<LDM>(b0, b1, dOs, LDS, qc0 + kk * 16, n * 8, lane);
                        mma16816(dv[n], pa, b0);
                        mma16816(dv[n + 1], pa, b1);
                        ld_b_kn2<LDM>(b0, b1, Qs, LDS, qc0 + kk * 16, n * 8, lane);
                        mma16816(dk[n], da, b0);
                        mma16816(dk[n + 1], da, b1);
                    }
                }
            }
        }
        __syncthreads();  // everyone is done with this stage before it is refilled
    }
    // step 6: write dK = scale * dk and dV for keys < T
    bf16* dKb = dK + ((i64)b * T * NKV + kvh) * HD;
    bf16* dVb = dV + ((i64)b * T * NKV + kvh) * HD;
#pragma unroll
    for (int n = 0; n < HD / 8; n++) {
        const int col = n * 8 + t4 * 2;
        if (keyA < T) {
            *(u32*)(dKb + (i64)keyA * kvs + col) = pack_bf16x2(dk[n][0] * scale, dk[n][1] * scale);
            *(u32*)(dVb + (i64)keyA * kvs + col) = pack_bf16x2(dv[n][0], dv[n][1]);
        }
        if (keyB < T) {
            *(u32*)(dKb + (i64)keyB * kvs + col) = pack_bf16x2(dk[n][2] * scale, dk[n][3] * scale);
            *(u32*)(dVb + (i64)keyB * kvs + col) = pack_bf16x2(dv[n][2], dv[n][3]);
        }
    }
}

extern "C" __global__ void __launch_bounds__(FA_BWD_THREADS) flash_bwd_dkdv_bf16_hd64(const bf16* Q,
        const bf16* K, const bf16* V, const bf16* dO, const float* LSE, const float* D, bf16* dK, bf16* dV, int T,
        int NH, int NKV, float scaleLog2, float scale) {
    flash_bwd_dkdv_impl<64, true>(Q, K, V, dO, LSE, D, dK, dV, T, NH, NKV, scaleLog2, scale);
}
extern "C" __global__ void __launch_bounds__(FA_BWD_THREADS) flash_bwd_dkdv_bf16_hd64_basic(const bf16* Q,
        const bf16* K, const bf16* V, const bf16* dO, const float* LSE, const float* D, bf16* dK, bf16* dV, int T,
        int NH, int NKV, float scaleLog2, float scale) {
    flash_bwd_dkdv_impl<64, false>(Q, K, V, dO, LSE, D, dK, dV, T, NH, NKV, scaleLog2, scale);
}
extern "C" __global__ void __launch_bounds__(FA_BWD_THREADS) flash_bwd_dkdv_bf16_hd128(const bf16* Q,
        const bf16* K, const bf16* V, const bf16* dO, const float* LSE, const float* D, bf16* dK, bf16* dV, int T,
        int NH, int NKV, float scaleLog2, float scale) {
    flash_bwd_dkdv_impl<128, true>(Q, K, V, dO, LSE, D, dK, dV, T, NH, NKV, scaleLog2, scale);
}
extern "C" __global__ void __launch_bounds__(FA_BWD_THREADS) flash_bwd_dkdv_bf16_hd128_basic(const bf16* Q,
        const bf16* K, const bf16* V, const bf16* dO, const float* LSE, const float* D, bf16* dK, bf16* dV, int T,
        int NH, int NKV, float scaleLog2, float scale) {
    flash_bwd_dkdv_impl<128, false>(Q, K, V, dO, LSE, D, dK, dV, T, NH, NKV, scaleLog2, scale);
}

// Backward step 3: dQ for one 128-query block of one head (8 warps x 16 rows), over every key tile
// at or before it; key/value tiles double-buffered with cp.async.
// grid (ceil(T/128), NH, B), block 256, dynamic smem 8 * 64 * (HD + 8) * 2 bytes.
template <int HD, bool LDM>
__device__ void flash_bwd_dq_impl(const bf16* __restrict__ Q, const bf16* __restrict__ K, const bf16* __restrict__ V,
                                  const bf16* __restrict__ dO, const float* __restrict__ LSE,
                                  const float* __restrict__ D, bf16* __restrict__ dQ, int T, int NH, int NKV,
                                  float scaleLog2, float scale) {
    constexpr int LDS = HD + 8;
    constexpr int TILE_ELEMS = FA_TILE * LDS;
    extern __shared__ u32x4 smem_dq[];
    bf16* Qs = (bf16*)smem_dq;        // 128 query rows
    bf16* dOs = Qs + 2 * TILE_ELEMS;  // 128 rows
    bf16* kv = dOs + 2 * TILE_ELEMS;  // stage s: K tile at kv + 2s * TILE_ELEMS, V tile right after
    const int qt = gridDim.x - 1 - blockIdx.x;  // longest rows first
    const int h = blockIdx.y, b = blockIdx.z, kvh = h / (NH / NKV);
    const int warp = threadIdx.x >> 5, lane = threadIdx.x & 31, t4 = lane & 3;
    const int q0 = qt * FA_BWD_ROWS;
    const i64 qs = (i64)NH * HD, kvs = (i64)NKV * HD;
    const int warpRow0 = q0 + warp * 16;
    const int rowA = warpRow0 + (lane >> 2), rowB = rowA + 8;
    const int nkt = (imin(q0 + FA_BWD_ROWS, T) - 1) / FA_TILE + 1;
    const bf16* Kb = K + ((i64)b * T * NKV + kvh) * HD;
    const bf16* Vb = V + ((i64)b * T * NKV + kvh) * HD;

    // step 1: start Q and dO of this block, and key/value tile 0
    load_tile_async<HD, FA_BWD_THREADS>(Qs, Q + ((i64)b * T * NH + h) * HD + (i64)q0 * qs, qs, FA_BWD_ROWS,
                                        imin(FA_BWD_ROWS, T - q0));
    load_tile_async<HD, FA_BWD_THREADS>(dOs, dO + ((i64)b * T * NH + h) * HD + (i64)q0 * qs, qs, FA_BWD_ROWS,
                                        imin(FA_BWD_ROWS, T - q0));
    cp_async_commit();
    load_tile_async<HD, FA_BWD_THREADS>(kv, Kb, kvs, FA_TILE, imin(FA_TILE, T));
    load_tile_async<HD, FA_BWD_THREADS>(kv + TILE_ELEMS, Vb, kvs, FA_TILE, imin(FA_TILE, T));
    cp_async_commit();
    const float* Lb = LSE + ((i64)b * NH + h) * T;
    const float* Db = D + ((i64)b * NH + h) * T;
    const float lse2[2] = {rowA < T ? Lb[rowA] * FA_LOG2E : SHOAL_POS_INF, rowB < T ? Lb[rowB] * FA_LOG2E : SHOAL_POS_INF};
    const float dd[2] = {rowA < T ? Db[rowA] : 0.0f, rowB < T ? Db[rowB] : 0.0f};

    float dq[HD / 8][4];
#pragma unroll
    for (int n = 0; n < HD / 8; n++) dq[n][0] = dq[n][1] = dq[n][2] = dq[n][3] = 0.0f;

    for (int j = 0; j < nkt; j++) {
        const int k0 = j * FA_TILE;
        // step 2: prefetch tile j+1 into the other stage, wait for tile j (and Q, dO)
        if (j + 1 < nkt) {
            bf16* nxt = kv + ((j + 1) & 1) * 2 * TILE_ELEMS;
            const int k1 = k0 + FA_TILE;
            load_tile_async<HD, FA_BWD_THREADS>(nxt, Kb + (i64)k1 * kvs, kvs, FA_TILE, imin(FA_TILE, T - k1));
            load_tile_async<HD, FA_BWD_THREADS>(nxt + TILE_ELEMS, Vb + (i64)k1 * kvs, kvs, FA_TILE,
                                                imin(FA_TILE, T - k1));
            cp_async_commit();
            cp_async_wait<1>();
        } else {
            cp_async_wait<0>();
        }
        __syncthreads();
        const bf16* Ks = kv + (j & 1) * 2 * TILE_ELEMS;
        const bf16* Vs = Ks + TILE_ELEMS;
        if (k0 <= warpRow0) {  // otherwise every key of the tile is after every row of this warp
#pragma unroll
            for (int half = 0; half < 2; half++) {
                const int kc0 = half * 32;
                // step 3: S = Q K^T and dP = dO V^T for 16 queries x 32 keys
                float s[4][4], dp[4][4];
#pragma unroll
                for (int n = 0; n < 4; n++) {
                    s[n][0] = s[n][1] = s[n][2] = s[n][3] = 0.0f;
                    dp[n][0] = dp[n][1] = dp[n][2] = dp[n][3] = 0.0f;
                }
#pragma unroll
                for (int kk = 0; kk < HD / 16; kk++) {
                    u32 qa[4], oa[4];
                    ld_a<LDM>(qa, Qs, LDS, warp * 16, kk * 16, lane);
                    ld_a<LDM>(oa, dOs, LDS, warp * 16, kk * 16, lane);
#pragma unroll
                    for (int n = 0; n < 4; n += 2) {
                        u32 b0[2], b1[2];
                        ld_b_nk2<LDM>(b0, b1, Ks, LDS, kc0 + n * 8, kk * 16, lane);
                        mma16816(s[n], qa, b0);
                        mma16816(s[n + 1], qa, b1);
                        ld_b_nk2<LDM>(b0, b1, Vs, LDS, kc0 + n * 8, kk * 16, lane);
                        mma16816(dp[n], oa, b0);
                        mma16816(dp[n + 1], oa, b1);
                    }
                }
                // step 4: dS = P (dP - D) under the causal mask
#pragma unroll
                for (int n = 0; n < 4; n++) {
#pragma unroll
                    for (int e = 0; e < 4; e++) {
                        const int key = k0 + kc0 + n * 8 + t4 * 2 + (e & 1);
                        const int row = (e < 2) ? rowA : rowB;
                        const float p = (key <= row) ? exp2f(s[n][e] * scaleLog2 - lse2[e >> 1]) : 0.0f;
                        s[n][e] = p * (dp[n][e] - dd[e >> 1]);
                    }
                }
                // step 5: dQ += dS K   (k = the 32 keys of this half)
#pragma unroll
                for (int kk = 0; kk < 2; kk++) {
                    u32 da[4];
                    da[0] = pack_bf16x2(s[2 * kk][0], s[2 * kk][1]);
                    da[1] = pack_bf16x2(s[2 * kk][2], s[2 * kk][3]);
                    da[2] = pack_bf16x2(s[2 * kk + 1][0], s[2 * kk + 1][1]);
                    da[3] = pack_bf16x2(s[2 * kk + 1][2], s[2 * kk + 1][3]);
#pragma unroll
                    for (int n = 0; n < HD / 8; n += 2) {
                        u32 b0[2], b1[2];
                        ld_b_kn2<LDM>(b0, b1, Ks, LDS, kc0 + kk * 16, n * 8, lane);
                        mma16816(dq[n], da, b0);
                        mma16816(dq[n + 1], da, b1);
                    }
                }
            }
        }
        __syncthreads();  // everyone is done with stage j & 1 before it is refilled
    }
    bf16* dQb = dQ + ((i64)b * T * NH + h) * HD;
#pragma unroll
    for (int n = 0; n < HD / 8; n++) {
        const int col = n * 8 + t4 * 2;
        if (rowA < T) *(u32*)(dQb + (i64)rowA * qs + col) = pack_bf16x2(dq[n][0] * scale, dq[n][1] * scale);
        if (rowB < T) *(u32*)(dQb + (i64)rowB * qs + col) = pack_bf16x2(dq[n][2] * scale, dq[n][3] * scale);
    }
}

extern "C" __global__ void __launch_bounds__(FA_BWD_THREADS) flash_bwd_dq_bf16_hd64(const bf16* Q, const bf16* K,
        const bf16* V, const bf16* dO, const float* LSE, const float* D, bf16* dQ, int T, int NH, int NKV,
        float scaleLog2, float scale) {
    flash_bwd_dq_impl<64, true>(Q, K, V, dO, LSE, D, dQ, T, NH, NKV, scaleLog2, scale);
}
extern "C" __global__ void __launch_bounds__(FA_BWD_THREADS) flash_bwd_dq_bf16_hd64_basic(const bf16* Q, const bf16* K,
        const bf16* V, const bf16* dO, const float* LSE, const float* D, bf16* dQ, int T, int NH, int NKV,
        float scaleLog2, float scale) {
    flash_bwd_dq_impl<64, false>(Q, K, V, dO, LSE, D, dQ, T, NH, NKV, scaleLog2, scale);
}
extern "C" __global__ void __launch_bounds__(FA_BWD_THREADS) flash_bwd_dq_bf16_hd128(const bf16* Q, const bf16* K,
        const bf16* V, const bf16* dO, const float* LSE, const float* D, bf16* dQ, int T, int NH, int NKV,
        float scaleLog2, float scale) {
    flash_bwd_dq_impl<128, true>(Q, K, V, dO, LSE, D, dQ, T, NH, NKV, scaleLog2, scale);
}
extern "C" __global__ void __launch_bounds__(FA_BWD_THREADS) flash_bwd_dq_bf16_hd128_basic(const bf16* Q, const bf16* K,
        const bf16* V, const bf16* dO, const float* LSE, const float* D, bf16* dQ, int T, int NH, int NKV,
        float scaleLog2, float scale) {
    flash_bwd_dq_impl<128, false>(Q, K, V, dO, LSE, D, dQ, T, NH, NKV, scaleLog2, scale);
}
