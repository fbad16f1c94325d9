// simple_harness.cpp: runs the emulated elementwise, RMSNorm, RoPE, SwiGLU, cross-entropy, AdamW,
// cast and fp32 reference-attention kernels on small odd shapes with poisoned outputs, against double-precision references.
// Prints one line per check and "ALL OK" or "FAILED".
#include "emu.h"
#include "cast.cu"
#include "elementwise.cu"
#include "rmsnorm.cu"
#include "rope.cu"
#include "swiglu.cu"
#include "cross_entropy.cu"
#include "adamw.cu"
#include "attention_ref.cu"
#include <cstdio>
#include <random>

static int bad = 0;
static void report(const char* what, double err, double tol) {
  bool ok = err < tol;  // NaN fails
  printf("%-28s rel err %.2e (tol %.0e) %s\n", what, err, tol, ok ? "ok" : "FAIL");
  if (!ok) bad++;
}
static double rel(const std::vector<double>& g, const std::vector<double>& r) {
  double n = 0, d = 0;
  for (size_t i = 0; i < r.size(); i++) { n += (g[i] - r[i]) * (g[i] - r[i]); d += r[i] * r[i]; }
  return std::sqrt(n) / std::max(std::sqrt(d), 1e-30);
}
static std::mt19937 rng(5);
static std::vector<float> randv(size_t n, float sc = 1) { std::normal_distribution<float> nd(0, sc); std::vector<float> v(n); for (auto& x : v) x = nd(rng); return v; }
static std::vector<uint16_t> tob(const std::vector<float>& v) { std::vector<uint16_t> r(v.size()); for (size_t i = 0; i < v.size(); i++) r[i] = tobf(v[i]); return r; }
static std::vector<double> fromb(const std::vector<uint16_t>& v) { std::vector<double> r(v.size()); for (size_t i = 0; i < v.size(); i++) r[i] = bf(v[i]); return r; }
static std::vector<double> fromf(const std::vector<float>& v) { return std::vector<double>(v.begin(), v.end()); }
static D3 g1(unsigned x) { return {x, 1, 1}; }

int main() {
  // casts: every bf16 pattern round trip, RNE on random floats
  {
    std::vector<float> x = randv(1000, 3); x[0] = NAN; x[1] = INFINITY; x[2] = __uint_as_float(0x3f808000u);
    std::vector<uint16_t> y(x.size(), 0xffff);
    emu_launch(g1(2), g1(256), [&] { cast_f32_to_bf16(x.data(), y.data(), (i64)x.size()); });
    int mism = 0; for (size_t i = 0; i < x.size(); i++) if (y[i] != tobf(x[i])) mism++;
    report("cast f32->bf16 mismatches", mism, 0.5);
    std::vector<float> z(x.size(), NAN);
    emu_launch(g1(3), g1(256), [&] { cast_bf16_to_f32(y.data(), z.data(), (i64)y.size()); });
    mism = 0; for (size_t i = 3; i < x.size(); i++) if (z[i] != bf(y[i])) mism++;
    report("cast bf16->f32 mismatches", mism, 0.5);
  }
  // rmsnorm bf16: N=5, C=300
  {
    int N = 5, C = 300; float eps = 1e-5f;
    auto xf = randv(N * C, 2), w = randv(C), dyf = randv(N * C), dw0 = randv(C);
    auto x = tob(xf), dy = tob(dyf); auto xd = fromb(x), dyd = fromb(dy);
    std::vector<uint16_t> y(N * C, 0xffff), dx(N * C, 0xffff); std::vector<float> rstd(N, NAN), dw = dw0;
    emu_launch(g1(N), g1(256), [&] { rmsnorm_fwd_bf16(x.data(), w.data(), y.data(), rstd.data(), C, eps); });
    emu_launch(g1((C + 31) / 32), {32, 8, 1}, [&] { rmsnorm_bwd_dw_bf16(dy.data(), x.data(), rstd.data(), dw.data(), N, C); });
    emu_launch(g1(N), g1(256), [&] { rmsnorm_bwd_dx_bf16(dy.data(), x.data(), w.data(), rstd.data(), dx.data(), C); });
    std::vector<double> yr(N * C), rr(N), dxr(N * C), dwr(dw0.begin(), dw0.end());
    for (int n = 0; n < N; n++) {
      double ss = 0; for (int c = 0; c < C; c++) ss += xd[n * C + c] * xd[n * C + c];
      double r = 1 / std::sqrt(ss / C + eps); rr[n] = r; double dot = 0;
      for (int c = 0; c < C; c++) { yr[n * C + c] = xd[n * C + c] * r * w[c]; dot += dyd[n * C + c] * w[c] * xd[n * C + c]; }
      for (int c = 0; c < C; c++) { int i = n * C + c; dxr[i] = r * w[c] * dyd[i] - r * r * r * xd[i] * dot / C; dwr[c] += dyd[i] * xd[i] * r; }
    }
    report("rmsnorm y", rel(fromb(y), yr), 8e-3);
    report("rmsnorm rstd", rel(fromf(rstd), rr), 1e-6);
    report("rmsnorm dx", rel(fromb(dx), dxr), 1e-2);
    report("rmsnorm dw (accumulated)", rel(fromf(dw), dwr), 1e-5);
  }
  // rope f32: B=1 T=3 NH=2 hd=8, tables from theta
  {
    int T = 3, NH = 2, hd = 8, half = 4, pos0 = 2;
    std::vector<float> inv(half); for (int i = 0; i < half; i++) inv[i] = (float)(1.0 / std::pow(10000.0, 2.0 * i / hd));
    std::vector<float> cs(T * half, NAN), sn(T * half, NAN);
    emu_launch(g1(1), g1(256), [&] { rope_tables(inv.data(), cs.data(), sn.data(), T, half, pos0); });
    auto x = randv(T * NH * hd); std::vector<float> y(x.size(), NAN);
    i64 pairs = (i64)T * NH * half;
    emu_launch(g1(1), g1(256), [&] { rope_f32(x.data(), y.data(), cs.data(), sn.data(), T, NH, hd, 1.0f, pairs); });
    std::vector<double> yr(x.size()), csr(T * half);
    for (int t = 0; t < T; t++) for (int i = 0; i < half; i++) csr[t * half + i] = std::cos((double)((float)(pos0 + t) * inv[i]));
    for (int t = 0; t < T; t++) for (int h = 0; h < NH; h++) for (int i = 0; i < half; i++) {
      int base = (t * NH + h) * hd; double c = cs[t * half + i], s = sn[t * half + i];
      yr[base + i] = x[base + i] * c - x[base + i + half] * s; yr[base + i + half] = x[base + i + half] * c + x[base + i] * s;
    }
    report("rope cos table", rel(fromf(cs), csr), 1e-6);
    report("rope forward", rel(fromf(y), yr), 1e-6);
    emu_launch(g1(1), g1(256), [&] { rope_f32(y.data(), y.data(), cs.data(), sn.data(), T, NH, hd, -1.0f, pairs); });
    report("rope backward inverts", rel(fromf(y), fromf(x)), 1e-6);
  }
  // swiglu f32
  {
    int n = 777; auto g = randv(n, 3), u = randv(n), dh = randv(n);
    std::vector<float> h(n, NAN), dg(n, NAN), du(n, NAN);
    emu_launch(g1(2), g1(256), [&] { swiglu_fwd_f32(g.data(), u.data(), h.data(), n); });
    emu_launch(g1(2), g1(256), [&] { swiglu_bwd_f32(dh.data(), g.data(), u.data(), dg.data(), du.data(), n); });
    std::vector<double> hr(n), dgr(n), dur(n);
    for (int i = 0; i < n; i++) { double s = 1 / (1 + std::exp(-(double)g[i])); hr[i] = g[i] * s * u[i]; dgr[i] = dh[i] * u[i] * s * (1 + g[i] * (1 - s)); dur[i] = dh[i] * g[i] * s; }
    report("swiglu h", rel(fromf(h), hr), 1e-6);
    report("swiglu dg", rel(fromf(dg), dgr), 1e-6);
    report("swiglu du", rel(fromf(du), dur), 1e-6);
  }
  // cross-entropy f32, two shards, host all-reduce
  {
    int N = 3, V = 700, off1 = 400; auto lg = randv(N * V, 3);
    std::vector<int> tg = {5, -100, 650};
    std::vector<float> s0(N * off1), s1(N * (V - off1));
    for (int n = 0; n < N; n++) { for (int v = 0; v < off1; v++) s0[n * off1 + v] = lg[n * V + v]; for (int v = off1; v < V; v++) s1[n * (V - off1) + v - off1] = lg[n * V + v]; }
    std::vector<float> m0(N, NAN), e0(N, NAN), t0(N, NAN), m1(N, NAN), e1(N, NAN), t1(N, NAN);
    emu_launch(g1(N), g1(512), [&] { ce_stats_f32(s0.data(), tg.data(), off1, 0, -100, m0.data(), e0.data(), t0.data()); });
    emu_launch(g1(N), g1(512), [&] { ce_stats_f32(s1.data(), tg.data(), V - off1, off1, -100, m1.data(), e1.data(), t1.data()); });
    std::vector<float> gm(N), ge(N), gt(N);
    for (int n = 0; n < N; n++) gm[n] = std::max(m0[n], m1[n]);
    emu_launch(g1(1), g1(256), [&] { ce_rescale(m0.data(), gm.data(), e0.data(), N); });
    emu_launch(g1(1), g1(256), [&] { ce_rescale(m1.data(), gm.data(), e1.data(), N); });
    for (int n = 0; n < N; n++) { ge[n] = e0[n] + e1[n]; gt[n] = t0[n] + t1[n]; }
    std::vector<float> loss(N, NAN), loss1(N, NAN), d0(s0.size(), NAN), d1(s1.size(), NAN); float scale = 0.5f;
    emu_launch(g1(N), g1(512), [&] { ce_loss_grad_f32(s0.data(), tg.data(), off1, 0, -100, gm.data(), ge.data(), gt.data(), loss.data(), d0.data(), scale); });
    emu_launch(g1(N), g1(512), [&] { ce_loss_grad_f32(s1.data(), tg.data(), V - off1, off1, -100, gm.data(), ge.data(), gt.data(), loss1.data(), d1.data(), scale); });
    std::vector<double> lr(N), dr(N * V), dg(N * V);
    for (int n = 0; n < N; n++) {
      for (int v = 0; v < V; v++) dg[n * V + v] = v < off1 ? d0[n * off1 + v] : d1[n * (V - off1) + v - off1];
      if (tg[n] == -100) continue;
      double m = -1e300; for (int v = 0; v < V; v++) m = std::max(m, (double)lg[n * V + v]);
      double s = 0; for (int v = 0; v < V; v++) s += std::exp(lg[n * V + v] - m);
      lr[n] = std::log(s) + m - lg[n * V + tg[n]];
      for (int v = 0; v < V; v++) dr[n * V + v] = (std::exp(lg[n * V + v] - m) / s - (v == tg[n])) * scale;
    }
    report("cross-entropy loss", rel(fromf(loss), lr), 1e-6);
    report("cross-entropy loss shard 1", rel(fromf(loss1), lr), 1e-6);
    report("cross-entropy dlogits", rel(dg, dr), 1e-5);
  }
  // sums and embedding backward
  {
    int n = 5000; auto x = randv(n); std::vector<float> parts(64, NAN), out(1, 7.0f);
    emu_launch(g1(64), g1(256), [&] { sum_partial_f32(x.data(), n, 1, parts.data()); });
    emu_launch(g1(1), g1(256), [&] { sum_finish(parts.data(), 64, out.data(), 1); });
    double ss = 7; for (float v : x) ss += (double)v * v;
    report("sum of squares (accumulate)", std::fabs(out[0] - ss) / ss, 1e-6);
    int N = 6, C = 40, off = 10, vl = 5; std::vector<int> tok = {12, 3, 12, 14, 10, 30};
    auto dout = randv(N * C); std::vector<float> dw(vl * C, 1.0f);
    emu_launch(g1(N), g1(256), [&] { embedding_bwd_f32(tok.data(), dout.data(), dw.data(), C, off, vl); });
    std::vector<double> dwr(vl * C, 1.0);
    for (int i = 0; i < N; i++) { int l = tok[i] - off; if (l >= 0 && l < vl) for (int c = 0; c < C; c++) dwr[l * C + c] += dout[i * C + c]; }
    report("embedding scatter-add", rel(fromf(dw), dwr), 1e-6);
  }
  // adamw f32 grads, one step with clip scale
  {
    int n = 1000; auto p = randv(n, 0.02f), g = randv(n, 1e-3f); std::vector<float> m(n, 0), v(n, 0); std::vector<uint16_t> pb(n, 0xffff);
    float lr = 1e-3f, b1 = 0.9f, b2 = 0.95f, eps = 1e-8f, wd = 0.1f, clip = 0.5f; int step = 1;
    float stepSize = (float)(lr / (1 - std::pow((double)b1, step))), bc2 = (float)std::sqrt(1 - std::pow((double)b2, step));
    std::vector<double> pr(p.begin(), p.end());
    emu_launch(g1(4), g1(256), [&] { adamw_gf32(p.data(), g.data(), m.data(), v.data(), pb.data(), n, lr, b1, b2, eps, wd, stepSize, bc2, 2.0f, &clip); });
    for (int i = 0; i < n; i++) {
      double gi = g[i] * 2.0 * clip, mi = (1 - b1) * gi, vi = (1 - b2) * gi * gi;
      pr[i] = pr[i] * (1 - (double)lr * wd) - (lr / (1 - b1)) * mi / (std::sqrt(vi) / std::sqrt(1 - (double)b2) + eps);
    }
    report("adamw master weights", rel(fromf(p), pr), 1e-6);
    int mism = 0; for (int i = 0; i < n; i++) if (pb[i] != tobf(p[i])) mism++;
    report("adamw bf16 copy mismatches", mism, 0.5);
  }
  // fp32 reference attention: B=2 T=37 NH=4 NKV=2 hd=40 (hd not a multiple of 32)
  {
    int B = 2, T = 37, NH = 4, NKV = 2, hd = 40, G = NH / NKV;
    int nq = B * T * NH * hd, nk = B * T * NKV * hd;
    auto q = randv(nq), k = randv(nk), v = randv(nk), dO = randv(nq);
    std::vector<float> o(nq, NAN), lse(B * NH * T, NAN), D(B * NH * T, NAN), dq(nq, NAN), dk(nk, NAN), dv(nk, NAN);
    float scale = 1.0f / std::sqrt((float)hd);
    emu_launch({(unsigned)((T + 3) / 4), (unsigned)NH, (unsigned)B}, g1(128), [&] { attn_ref_fwd_f32(q.data(), k.data(), v.data(), o.data(), lse.data(), T, NH, NKV, hd, scale); });
    emu_launch(g1((B * T * NH + 7) / 8), g1(256), [&] { attn_ref_dot_f32(dO.data(), o.data(), D.data(), B, T, NH, hd); });
    emu_launch({(unsigned)((T + 3) / 4), (unsigned)NH, (unsigned)B}, g1(128), [&] { attn_ref_dq_f32(q.data(), k.data(), v.data(), dO.data(), lse.data(), D.data(), dq.data(), T, NH, NKV, hd, scale); });
    emu_launch({(unsigned)((T + 3) / 4), (unsigned)NKV, (unsigned)B}, g1(128), [&] { attn_ref_dkdv_f32(q.data(), k.data(), v.data(), dO.data(), lse.data(), D.data(), dk.data(), dv.data(), T, NH, NKV, hd, scale); });
    auto id = [&](int b, int t, int h, int d, int H) { return ((b * T + t) * H + h) * hd + d; };
    std::vector<double> O(nq), L(B * NH * T), dQ(nq), dK(nk), dV(nk);
    for (int b = 0; b < B; b++) for (int h = 0; h < NH; h++) for (int i = 0; i < T; i++) {
      int kh = h / G; std::vector<double> p(i + 1), dp(i + 1); double m = -1e300;
      for (int j = 0; j <= i; j++) { double s = 0; for (int d = 0; d < hd; d++) s += (double)q[id(b, i, h, d, NH)] * k[id(b, j, kh, d, NKV)]; p[j] = s * scale; m = std::max(m, p[j]); }
      double sum = 0; for (int j = 0; j <= i; j++) { p[j] = std::exp(p[j] - m); sum += p[j]; }
      L[(b * NH + h) * T + i] = m + std::log(sum); double rd = 0;
      for (int j = 0; j <= i; j++) { p[j] /= sum; double s = 0; for (int d = 0; d < hd; d++) { O[id(b, i, h, d, NH)] += p[j] * v[id(b, j, kh, d, NKV)]; s += (double)dO[id(b, i, h, d, NH)] * v[id(b, j, kh, d, NKV)]; } dp[j] = s; rd += p[j] * s; }
      for (int j = 0; j <= i; j++) { double ds = p[j] * (dp[j] - rd) * scale; for (int d = 0; d < hd; d++) { int qi = id(b, i, h, d, NH), kj = id(b, j, kh, d, NKV); dQ[qi] += ds * k[kj]; dK[kj] += ds * q[qi]; dV[kj] += p[j] * dO[qi]; } }
    }
    report("reference attention O", rel(fromf(o), O), 1e-5);
    report("reference attention LSE", rel(fromf(lse), L), 1e-6);
    report("reference attention dQ", rel(fromf(dq), dQ), 1e-5);
    report("reference attention dK", rel(fromf(dk), dK), 1e-5);
    report("reference attention dV", rel(fromf(dv), dV), 1e-5);
  }
  printf(bad ? "FAILED\n" : "ALL OK\n");
  return bad;
}
