// flash_harness.cpp: runs the emulated flash-attention kernels (forward, D, dK/dV, dQ; ldmatrix and
// basic variants) on random bf16 inputs with poisoned (NaN) outputs, and compares O, LSE, dQ, dK,
// dV with a double-precision reference. Prints one line per case and "ALL OK" or "FAILED".
#include "emu.h"
#include "fa_emu.cu"
#include <cstdio>
#include <random>
#include <functional>
u32x4 smem_fwd[16384], smem_dkdv[16384], smem_dq[16384];  // 256 KB each
static void launch(D3 grid, int threads, std::function<void()> body) { emu_launch(grid, {(unsigned)threads, 1, 1}, body); }
static int idx(int b, int t, int h, int d, int T, int H, int hd) { return ((b * T + t) * H + h) * hd + d; }
static double rel(const std::vector<double>& g, const std::vector<double>& r) { double n = 0, d = 0; for (size_t i = 0; i < r.size(); i++) { n += (g[i]-r[i])*(g[i]-r[i]); d += r[i]*r[i]; } return std::sqrt(n / d); }
int run(int B, int T, int NH, int NKV, int hd, bool ldm) {
  std::mt19937 rng(T * 7 + NH + hd); std::normal_distribution<float> nd(0, 1);
  int nq = B * T * NH * hd, nk = B * T * NKV * hd;
  std::vector<uint16_t> q(nq), k(nk), v(nk), dO(nq), o(nq, 0xffff), dq(nq, 0xffff), dk(nk, 0xffff), dv(nk, 0xffff);
  for (auto& x : q) x = tobf(nd(rng)); for (auto& x : k) x = tobf(nd(rng)); for (auto& x : v) x = tobf(nd(rng)); for (auto& x : dO) x = tobf(nd(rng));
  std::vector<float> lse(B * NH * T, NAN), D(B * NH * T, NAN);
  float scale = 1.0f / std::sqrt((float)hd), sl2 = scale * 1.4426950408889634f;
  int tiles = (T + 63) / 64;
  launch({(unsigned)((T + 127) / 128), (unsigned)NH, (unsigned)B}, 256, [&] {
    if (hd == 64) (ldm ? flash_fwd_bf16_hd64 : flash_fwd_bf16_hd64_basic)(q.data(), k.data(), v.data(), o.data(), lse.data(), T, NH, NKV, sl2);
    else (ldm ? flash_fwd_bf16_hd128 : flash_fwd_bf16_hd128_basic)(q.data(), k.data(), v.data(), o.data(), lse.data(), T, NH, NKV, sl2); });
  launch({(unsigned)((B * T * NH + 7) / 8), 1, 1}, 256, [&] { flash_bwd_dot_bf16(dO.data(), o.data(), D.data(), B, T, NH, hd); });
  launch({(unsigned)((T + 127) / 128), (unsigned)NKV, (unsigned)B}, 256, [&] {
    if (hd == 64) (ldm ? flash_bwd_dkdv_bf16_hd64 : flash_bwd_dkdv_bf16_hd64_basic)(q.data(), k.data(), v.data(), dO.data(), lse.data(), D.data(), dk.data(), dv.data(), T, NH, NKV, sl2, scale);
    else (ldm ? flash_bwd_dkdv_bf16_hd128 : flash_bwd_dkdv_bf16_hd128_basic)(q.data(), k.data(), v.data(), dO.data(), lse.data(), D.data(), dk.data(), dv.data(), T, NH, NKV, sl2, scale); });
  launch({(unsigned)((T + 127) / 128), (unsigned)NH, (unsigned)B}, 256, [&] {
    if (hd == 64) (ldm ? flash_bwd_dq_bf16_hd64 : flash_bwd_dq_bf16_hd64_basic)(q.data(), k.data(), v.data(), dO.data(), lse.data(), D.data(), dq.data(), T, NH, NKV, sl2, scale);
    else (ldm ? flash_bwd_dq_bf16_hd128 : flash_bwd_dq_bf16_hd128_basic)(q.data(), k.data(), v.data(), dO.data(), lse.data(), D.data(), dq.data(), T, NH, NKV, sl2, scale); });
  // double reference
  int G = NH / NKV;
  std::vector<double> O(nq), L(B * NH * T), dQ(nq), dK(nk), dV(nk);
  for (int b = 0; b < B; b++) for (int h = 0; h < NH; h++) for (int i = 0; i < T; i++) {
    int kh = h / G; std::vector<double> p(i + 1), dp(i + 1); double m = -1e300;
    for (int j = 0; j <= i; j++) { double s = 0; for (int d = 0; d < hd; d++) s += bf(q[idx(b,i,h,d,T,NH,hd)]) * bf(k[idx(b,j,kh,d,T,NKV,hd)]); p[j] = s * (double)scale; m = std::max(m, p[j]); }
    double sum = 0; for (int j = 0; j <= i; j++) { p[j] = std::exp(p[j] - m); sum += p[j]; }
    L[(b*NH+h)*T+i] = m + std::log(sum);
    double rd = 0;
    for (int j = 0; j <= i; j++) { p[j] /= sum; double s = 0; for (int d = 0; d < hd; d++) { O[idx(b,i,h,d,T,NH,hd)] += p[j] * bf(v[idx(b,j,kh,d,T,NKV,hd)]); s += bf(dO[idx(b,i,h,d,T,NH,hd)]) * bf(v[idx(b,j,kh,d,T,NKV,hd)]); } dp[j] = s; rd += p[j] * s; }
    for (int j = 0; j <= i; j++) { double ds = p[j] * (dp[j] - rd) * scale; for (int d = 0; d < hd; d++) { int qi = idx(b,i,h,d,T,NH,hd), kj = idx(b,j,kh,d,T,NKV,hd); dQ[qi] += ds * bf(k[kj]); dK[kj] += ds * bf(q[qi]); dV[kj] += p[j] * bf(dO[qi]); } }
  }
  auto tod = [](const std::vector<uint16_t>& x) { std::vector<double> r(x.size()); for (size_t i = 0; i < x.size(); i++) r[i] = bf(x[i]); return r; };
  std::vector<double> lseD(lse.begin(), lse.end());
  double eo = rel(tod(o), O), el = rel(lseD, L), eq = rel(tod(dq), dQ), ek = rel(tod(dk), dK), ev = rel(tod(dv), dV);
  printf("%s B=%d T=%d NH=%d NKV=%d hd=%d  O %.2e  LSE %.2e  dQ %.2e  dK %.2e  dV %.2e\n", ldm ? "ldm  " : "basic", B, T, NH, NKV, hd, eo, el, eq, ek, ev);
  return (eo < 1e-2 && el < 1e-3 && eq < 2e-2 && ek < 2e-2 && ev < 2e-2) ? 0 : 1;
}
int main() {
  int bad = 0;
  for (int ldm = 0; ldm < 2; ldm++) {
    bad += run(1, 130, 4, 1, 64, ldm);
    bad += run(2, 67, 2, 2, 128, ldm);
    if (ldm) bad += run(1, 5, 8, 2, 128, ldm);
  }
  printf(bad ? "FAILED\n" : "ALL OK\n");
  return bad;
}
