#!/usr/bin/python3
"""PyTorch CPU baseline for EngineBench: the same Llama configs, batch shapes and training step
(forward + backward + grad clip 1.0 + AdamW 0.9/0.95, wd 0.1 off for 1-D weights), on 1 and 2 threads,
plus torch's 1024^3 SGEMM GFLOP/s. Prints a table like EngineBench's.

Run with Debian's torch (not the pyenv python first on PATH):
    /usr/bin/python3 runtime/src/test/python/bench_torch.py [--steps N] [--threads 1,2] [--configs tiny,small]
The model is written out here (no transformers package needed) and follows HF LlamaForCausalLM:
RMSNorm, rotate_half RoPE, grouped-query attention with a causal mask, SwiGLU, untied head.
"""
import argparse
import math
import os
import subprocess
import sys
import time


def _pick_openblas_core():
    """Debian's OpenBLAS detects this VM's masked CPU model as 'Prescott' and picks its slowest SGEMM
    kernel (about 35 GFLOP/s on 2 cores instead of 180). The peer must run at its best, so name the
    kernel from the CPU flags unless the caller already chose one. Must run before torch loads BLAS."""
    if os.environ.get("OPENBLAS_CORETYPE"):
        return os.environ["OPENBLAS_CORETYPE"] + " (from the environment)"
    try:
        flags = open("/proc/cpuinfo").read()
    except OSError:
        return "auto (no /proc/cpuinfo)"
    core = "SkylakeX" if "avx512f" in flags else "Haswell" if "avx2" in flags else None
    if core:
        os.environ["OPENBLAS_CORETYPE"] = core
        return core + " (from CPU flags)"
    return "auto"


OPENBLAS_CORE = _pick_openblas_core()

import torch  # noqa: E402  (after OPENBLAS_CORETYPE is set)
import torch.nn as nn
import torch.nn.functional as F

# Mirrors dev.shoal.runtime.model.LlamaConfig presets (layers, dim, heads, kv heads, ffn, vocab).
CONFIGS = {
    "tiny": dict(layers=2, dim=64, heads=4, kv_heads=2, ffn=176, vocab=512),
    "small": dict(layers=4, dim=256, heads=8, kv_heads=4, ffn=688, vocab=4096),
}
# Mirrors EngineBench.batchFor.
BATCH = {"tiny": (8, 128), "small": (4, 256)}
THETA = 500000.0
EPS = 1e-5


class RMSNorm(nn.Module):
    def __init__(self, dim):
        super().__init__()
        self.weight = nn.Parameter(torch.ones(dim))

    def forward(self, x):
        var = x.pow(2).mean(-1, keepdim=True)
        return self.weight * (x * torch.rsqrt(var + EPS))


def rotate_half(x):
    half = x.shape[-1] // 2
    return torch.cat((-x[..., half:], x[..., :half]), dim=-1)


class Block(nn.Module):
    def __init__(self, c):
        super().__init__()
        d, self.nh, self.nkv = c["dim"], c["heads"], c["kv_heads"]
        self.hd = d // self.nh
        self.input_layernorm = RMSNorm(d)
        self.q_proj = nn.Linear(d, d, bias=False)
        self.k_proj = nn.Linear(d, self.nkv * self.hd, bias=False)
        self.v_proj = nn.Linear(d, self.nkv * self.hd, bias=False)
        self.o_proj = nn.Linear(d, d, bias=False)
        self.post_attention_layernorm = RMSNorm(d)
        self.gate_proj = nn.Linear(d, c["ffn"], bias=False)
        self.up_proj = nn.Linear(d, c["ffn"], bias=False)
        self.down_proj = nn.Linear(c["ffn"], d, bias=False)

    def forward(self, x, cos, sin, mask):
        b, t, d = x.shape
        h = self.input_layernorm(x)
        q = self.q_proj(h).view(b, t, self.nh, self.hd).transpose(1, 2)
        k = self.k_proj(h).view(b, t, self.nkv, self.hd).transpose(1, 2)
        v = self.v_proj(h).view(b, t, self.nkv, self.hd).transpose(1, 2)
        q = q * cos + rotate_half(q) * sin
        k = k * cos + rotate_half(k) * sin
        rep = self.nh // self.nkv
        k = k.repeat_interleave(rep, dim=1)
        v = v.repeat_interleave(rep, dim=1)
        att = (q @ k.transpose(-1, -2)) / math.sqrt(self.hd) + mask
        y = att.softmax(-1) @ v
        x = x + self.o_proj(y.transpose(1, 2).reshape(b, t, d))
        h = self.post_attention_layernorm(x)
        return x + self.down_proj(F.silu(self.gate_proj(h)) * self.up_proj(h))


class Llama(nn.Module):
    def __init__(self, c, max_t):
        super().__init__()
        self.embed_tokens = nn.Embedding(c["vocab"], c["dim"])
        self.layers = nn.ModuleList(Block(c) for _ in range(c["layers"]))
        self.norm = RMSNorm(c["dim"])
        self.lm_head = nn.Linear(c["dim"], c["vocab"], bias=False)
        hd = c["dim"] // c["heads"]
        inv = 1.0 / (THETA ** (torch.arange(0, hd, 2, dtype=torch.int64).float() / hd))
        freqs = torch.outer(torch.arange(max_t).float(), inv)
        emb = torch.cat((freqs, freqs), dim=-1)
        self.register_buffer("cos", emb.cos())
        self.register_buffer("sin", emb.sin())
        self.register_buffer("mask", torch.full((max_t, max_t), float("-inf")).triu(1))
        for p in self.parameters():
            if p.dim() > 1:
                nn.init.normal_(p, std=0.02)

    def forward(self, idx, targets):
        t = idx.shape[1]
        x = self.embed_tokens(idx)
        cos, sin, mask = self.cos[:t], self.sin[:t], self.mask[:t, :t]
        for blk in self.layers:
            x = blk(x, cos, sin, mask)
        logits = self.lm_head(self.norm(x))
        return F.cross_entropy(logits.view(-1, logits.shape[-1]), targets.view(-1))


def bench_model(name, threads, steps):
    torch.set_num_threads(threads)
    torch.manual_seed(1)
    c = CONFIGS[name]
    b, t = BATCH[name]
    model = Llama(c, t)
    decay = [p for p in model.parameters() if p.dim() >= 2]
    no_decay = [p for p in model.parameters() if p.dim() < 2]
    opt = torch.optim.AdamW(
        [{"params": decay, "weight_decay": 0.1}, {"params": no_decay, "weight_decay": 0.0}],
        lr=1e-4, betas=(0.9, 0.95), eps=1e-8)
    x = torch.randint(0, c["vocab"], (b, t))
    y = torch.randint(0, c["vocab"], (b, t))
    def step():
        opt.zero_grad(set_to_none=False)
        loss = model(x, y)
        t1 = time.perf_counter()
        loss.backward()
        t2 = time.perf_counter()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        return t1, t2, time.perf_counter()

    # Warm-up: at least 3 steps and 3 seconds (the same rule as EngineBench).
    warm_start, warmup = time.perf_counter(), 0
    while warmup < 3 or time.perf_counter() - warm_start < 3.0:
        step()
        warmup += 1
    fwd = bwd = upd = 0.0
    step_s = []
    # Process CPU time over all measured steps.
    cpu_start = time.process_time()
    for _ in range(steps):
        t0 = time.perf_counter()
        t1, t2, t3 = step()
        fwd += t1 - t0
        bwd += t2 - t1
        upd += t3 - t2
        step_s.append(t3 - t0)
    cpu = (time.process_time() - cpu_start) * 1e3 / steps
    # Median and best step: robust to other work on a shared machine; phases are means.
    step_s.sort()
    ms, best = step_s[steps // 2] * 1e3, step_s[0] * 1e3
    print(f"{name:<8} {f'{b}x{t}':<9} {threads:>7} {ms:>10.1f} {best:>10.1f} {cpu:>10.1f} {b * t / (ms / 1e3):>10.0f} "
          f"{fwd * 1e3 / steps:>9.1f} {bwd * 1e3 / steps:>9.1f} {upd * 1e3 / steps:>9.1f}", flush=True)


def sgemm_gflops(threads):
    torch.set_num_threads(threads)
    n = 1024
    a, b = torch.rand(n, n), torch.rand(n, n)
    c = a @ b
    best = 0.0
    for _ in range(3):
        t0 = time.perf_counter()
        for _ in range(10):
            c = torch.mm(a, b)
        best = max(best, 2.0 * n ** 3 * 10 / (time.perf_counter() - t0) / 1e9)
    return best


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--steps", type=int, default=10)
    ap.add_argument("--threads", default="1,2")
    ap.add_argument("--configs", default="tiny,small")
    ap.add_argument("--one", help=argparse.SUPPRESS)  # internal: "config:threads" or "sgemm:threads"
    args = ap.parse_args()
    if args.one:
        what, th = args.one.split(":")
        if what == "sgemm":
            print(f"{'torch.mm':<40} {int(th):>7} {sgemm_gflops(int(th)):>10.1f}", flush=True)
        else:
            bench_model(what, int(th), args.steps)
        return
    # Each measurement runs in a fresh process with OMP_NUM_THREADS and OPENBLAS_NUM_THREADS set to the
    # thread count: torch.set_num_threads does not reach OpenBLAS's own pool, which would otherwise use
    # every core even in the "1 thread" rows.
    threads = [int(s) for s in args.threads.split(",")]

    def child(one):
        env = dict(os.environ, OMP_NUM_THREADS=one.split(":")[1], OPENBLAS_NUM_THREADS=one.split(":")[1])
        subprocess.run([sys.executable, __file__, "--steps", str(args.steps), "--one", one], env=env, check=True)

    print(f"torch {torch.__version__}, {os.cpu_count()} CPUs, OpenBLAS kernel {OPENBLAS_CORE}, load average {os.getloadavg()[0]:.2f} at start")
    print(f"{'config':<8} {'B x T':<9} {'threads':>7} {'median ms':>10} {'best ms':>10} {'cpu ms':>10} {'tokens/s':>10} "
          f"{'fwd ms':>9} {'bwd ms':>9} {'opt ms':>9}", flush=True)
    for name in args.configs.split(","):
        for th in threads:
            child(f"{name}:{th}")
    print(f"load average {os.getloadavg()[0]:.2f} at end")
    print()
    print(f"{'SGEMM 1024x1024x1024':<40} {'threads':>7} {'GFLOP/s':>10}", flush=True)
    for th in threads:
        child(f"sgemm:{th}")


if __name__ == "__main__":
    main()
