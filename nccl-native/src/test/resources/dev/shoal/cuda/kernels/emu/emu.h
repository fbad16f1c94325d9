// emu.h: host emulation of the CUDA features the flash-attention kernels use, so their index logic
// can be checked on a machine without a GPU. One OS thread per CUDA thread, blocks run one after
// another; __syncthreads is a block barrier; warp shuffles, mma.sync m16n8k16 (bf16 in, fp32
// accumulate) and ldmatrix x4 (plain and .trans) exchange values through a per-warp barrier, with
// the fragment layouts of the PTX ISA. Used by FlashAttentionEmulationTest.
#include <barrier>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <algorithm>
#include <thread>
#include <vector>
#include <mutex>
#include <functional>
struct D3 { unsigned x, y, z; };
thread_local D3 threadIdx;
thread_local int g_lin;  // linear thread index within the block
D3 blockIdx, gridDim, blockDim;
#define __device__
#define __global__
#define __forceinline__ inline
#define __shared__ static
#define __launch_bounds__(x)
static std::barrier<>* g_bar;
inline void __syncthreads() { g_bar->arrive_and_wait(); }
struct WarpEx { std::barrier<> bar{32}; float f[32]; uint32_t a[32][4], b[32][2]; float c[32][4]; const uint16_t* p[32]; };
static WarpEx* g_warps;
inline float __shfl_xor_sync(unsigned, float v, int m) {
  WarpEx& w = g_warps[g_lin / 32]; int l = g_lin % 32;
  w.f[l] = v; w.bar.arrive_and_wait(); float r = w.f[l ^ m]; w.bar.arrive_and_wait(); return r;
}
inline unsigned __float_as_uint(float f) { unsigned u; memcpy(&u, &f, 4); return u; }
inline float __uint_as_float(unsigned u) { float f; memcpy(&f, &u, 4); return f; }
inline float __int_as_float(int u) { float f; memcpy(&f, &u, 4); return f; }

static inline float bf(uint16_t h) { return __uint_as_float(((unsigned)h) << 16); }
static inline uint16_t tobf(float f) { unsigned u = __float_as_uint(f); if ((u & 0x7fffffffu) > 0x7f800000u) return (uint16_t)((u >> 16) | 0x40); u += 0x7fffu + ((u >> 16) & 1u); return (uint16_t)(u >> 16); }
inline uint32_t emu_pack(float lo, float hi) { return (uint32_t)tobf(lo) | ((uint32_t)tobf(hi) << 16); }
inline void emu_mma(float c[4], const uint32_t a[4], const uint32_t b[2]) {
  WarpEx& w = g_warps[g_lin / 32]; int l = g_lin % 32;
  for (int i = 0; i < 4; i++) w.a[l][i] = a[i];
  for (int i = 0; i < 2; i++) w.b[l][i] = b[i];
  w.bar.arrive_and_wait();
  float A[16][16], B[16][8];
  for (int L = 0; L < 32; L++) {
    int g = L >> 2, t = L & 3;
    auto put = [&](int r, int cc, uint32_t v) { A[r][cc] = bf(v & 0xffff); A[r][cc + 1] = bf(v >> 16); };
    put(g, 2 * t, w.a[L][0]); put(g + 8, 2 * t, w.a[L][1]); put(g, 2 * t + 8, w.a[L][2]); put(g + 8, 2 * t + 8, w.a[L][3]);
    B[2 * t][g] = bf(w.b[L][0] & 0xffff); B[2 * t + 1][g] = bf(w.b[L][0] >> 16);
    B[2 * t + 8][g] = bf(w.b[L][1] & 0xffff); B[2 * t + 9][g] = bf(w.b[L][1] >> 16);
  }
  w.bar.arrive_and_wait();
  int g = l >> 2, t = l & 3;
  int rows[4] = {g, g, g + 8, g + 8}, cols[4] = {2 * t, 2 * t + 1, 2 * t, 2 * t + 1};
  for (int e = 0; e < 4; e++) { float s = c[e]; for (int k = 0; k < 16; k++) s += A[rows[e]][k] * B[k][cols[e]]; c[e] = s; }
}

inline void emu_ldsm(uint32_t r[4], const uint16_t* p, bool trans) {
  WarpEx& w = g_warps[g_lin / 32]; int l = g_lin % 32;
  w.p[l] = p; w.bar.arrive_and_wait();
  for (int i = 0; i < 4; i++) {
    uint16_t lo, hi;
    if (!trans) { const uint16_t* row = w.p[8 * i + l / 4]; lo = row[2 * (l % 4)]; hi = row[2 * (l % 4) + 1]; }
    else { lo = w.p[8 * i + 2 * (l % 4)][l / 4]; hi = w.p[8 * i + 2 * (l % 4) + 1][l / 4]; }
    r[i] = (uint32_t)lo | ((uint32_t)hi << 16);
  }
  w.bar.arrive_and_wait();
}

inline void emu_cp(void* smem, const void* gmem, int srcBytes) {
  if (srcBytes == 16) memcpy(smem, gmem, 16); else memset(smem, 0, 16);
}

static std::mutex g_atomic;
inline float atomicAdd(float* a, float v) { std::lock_guard<std::mutex> g(g_atomic); float old = *a; *a = old + v; return old; }

// Runs body for every block of grid with block (bx, by) threads, one OS thread per CUDA thread.
static void emu_launch(D3 grid, D3 block, const std::function<void()>& body) {
  gridDim = grid; blockDim = block;
  const int threads = (int)(block.x * block.y * block.z);
  for (unsigned z = 0; z < grid.z; z++) for (unsigned y = 0; y < grid.y; y++) for (unsigned x = 0; x < grid.x; x++) {
    blockIdx = {x, y, z};
    std::barrier<> bar(threads); g_bar = &bar;
    std::vector<WarpEx> warps((threads + 31) / 32); g_warps = warps.data();
    std::vector<std::thread> ts;
    for (int t = 0; t < threads; t++) ts.emplace_back([&, t] {
      g_lin = t; threadIdx = {(unsigned)(t % block.x), (unsigned)((t / block.x) % block.y), (unsigned)(t / (block.x * block.y))};
      body(); });
    for (auto& th : ts) th.join();
  }
}
