#!/usr/bin/env python3
"""PyTorch baseline for Shoal's GPU kernels (KernelBench), on the GPU check machine (torch 2.11, one H100).

Times, with CUDA events (warm-up, then the median):
  1. scaled_dot_product_attention(is_causal=True, enable_gqa=True), bf16, forward and forward+backward,
     at the Llama-3-8B attention shape B=1 T=2048 NH=32 NKV=8 hd=128 (same shape as KernelBench);
  2. the memory-bound ops KernelBench times (RMSNorm, SwiGLU, fused AdamW, cross-entropy);
  3. a training step of a stack of Llama-3-8B-shaped decoder layers (dim 4096, 32 heads, 8 KV heads,
     FFN 14336, seq 2048, RoPE theta 500000), bf16 autocast over fp32 master weights, AdamW.

FLOP conventions (stated so the numbers compare):
  attention: causal forward = 4*B*NH*T^2*hd/2 (two matmuls over the lower triangle), backward = 2.5x.
  model (MFU): PaLM's formula per token, 6*N + 12*L*C*T (N = parameters of the layer stack, L layers,
  C = model dim, T = sequence length; attention counted as if not causal), and the causal variant
  6*N + 6*L*C*T. MFU = model FLOP/s / 989 TFLOP/s (H100 SXM dense bf16 peak).

Usage: python3 deploy/gpu-check/torch_kernel_bench.py [--layers 8] [--batch 1] [--iters 10] [--train-only]
(--train-only: only the layer-stack training step, e.g. at the layer count CudaLayerBench --layers fit chose)
(about 20-40 s; when the layer stack does not fit in memory it retries with half the layers)
"""
import argparse
import gc
import sys
import time

try:
    import torch
    import torch.nn as nn
    import torch.nn.functional as F
except ImportError:
    print("torch_kernel_bench skipped: PyTorch is not installed for", sys.executable)
    sys.exit(2)

PEAK = 989e12


def timed(fn, warmup=5, iters=20):
    for _ in range(warmup):
        fn()
    torch.cuda.synchronize()
    start = [torch.cuda.Event(enable_timing=True) for _ in range(iters)]
    stop = [torch.cuda.Event(enable_timing=True) for _ in range(iters)]
    for i in range(iters):
        start[i].record()
        fn()
        stop[i].record()
    torch.cuda.synchronize()
    ms = sorted(s.elapsed_time(e) for s, e in zip(start, stop))
    return ms[len(ms) // 2]


ROWS = []


def row(name, shape, ms, rate):
    ROWS.append((name, shape, f"{ms:.3f}", rate))


def attention_bench(iters):
    B, T, NH, NKV, hd = 1, 2048, 32, 8, 128
    dev, dt = "cuda", torch.bfloat16
    q = torch.randn(B, NH, T, hd, device=dev, dtype=dt, requires_grad=True)
    k = torch.randn(B, NKV, T, hd, device=dev, dtype=dt, requires_grad=True)
    v = torch.randn(B, NKV, T, hd, device=dev, dtype=dt, requires_grad=True)
    do = torch.randn(B, NH, T, hd, device=dev, dtype=dt)
    fwd_flops = 4.0 * B * NH * T * T * hd / 2
    bwd_flops = 2.5 * fwd_flops

    def fwd():
        with torch.no_grad():
            F.scaled_dot_product_attention(q, k, v, is_causal=True, enable_gqa=True)

    def fwd_bwd():
        o = F.scaled_dot_product_attention(q, k, v, is_causal=True, enable_gqa=True)
        o.backward(do)

    shape = "B1 T2048 NH32 NKV8 hd128"
    f = timed(fwd, iters=iters)
    fb = timed(fwd_bwd, iters=iters)
    row("sdpa fwd (bf16)", shape, f, f"{fwd_flops / f / 1e9:.1f} TFLOP/s")
    row("sdpa fwd+bwd (bf16)", shape, fb, f"{(fwd_flops + bwd_flops) / fb / 1e9:.1f} TFLOP/s")
    row("sdpa bwd (derived)", shape, fb - f, f"{bwd_flops / (fb - f) / 1e9:.1f} TFLOP/s")


def memory_bound_bench(iters):
    dev, bf = "cuda", torch.bfloat16
    N, C = 16384, 4096
    x = torch.randn(N, C, device=dev, dtype=bf)
    w = torch.randn(C, device=dev, dtype=bf)
    ms = timed(lambda: F.rms_norm(x, (C,), w, 1e-5), iters=iters)
    row("torch rms_norm fwd (bf16)", f"{N} x {C}", ms, f"{(2 * N * C * 2) / ms / 1e6:.0f} GB/s")
    n = 4096 * 14336
    g = torch.randn(n, device=dev, dtype=bf)
    u = torch.randn(n, device=dev, dtype=bf)
    ms = timed(lambda: F.silu(g) * u, iters=iters)
    row("torch silu(g)*u (bf16, eager)", "4096 x 14336", ms, f"{(3 * n * 2) / ms / 1e6:.0f} GB/s (min traffic)")
    p = nn.Parameter(torch.randn(n, device=dev))
    p.grad = torch.randn(n, device=dev)
    opt = torch.optim.AdamW([p], lr=1e-5, betas=(0.9, 0.95), weight_decay=0.1, fused=True)
    ms = timed(opt.step, iters=iters)
    row("torch fused AdamW (fp32)", "58.7M params", ms, f"{(28 * n) / ms / 1e6:.0f} GB/s")
    del p, opt
    Nt, V = 2048, 128256
    logits = torch.randn(Nt, V, device=dev, dtype=bf, requires_grad=True)
    tgt = torch.randint(0, V, (Nt,), device=dev)
    ms = timed(lambda: F.cross_entropy(logits.float(), tgt).backward(), iters=iters)
    row("torch cross_entropy fwd+bwd", f"{Nt} x {V}", ms, "(upcast to fp32 as HF does)")


class RMSNorm(nn.Module):
    def __init__(self, dim, eps=1e-5):
        super().__init__()
        self.weight = nn.Parameter(torch.ones(dim))
        self.eps = eps

    def forward(self, x):
        h = x.float()
        h = h * torch.rsqrt(h.pow(2).mean(-1, keepdim=True) + self.eps)
        return self.weight * h.to(x.dtype)


def rotate_half(x):
    h = x.shape[-1] // 2
    return torch.cat((-x[..., h:], x[..., :h]), dim=-1)


class DecoderLayer(nn.Module):
    """One Llama-3 decoder layer: pre-norm GQA attention with RoPE, pre-norm SwiGLU MLP."""

    def __init__(self, C=4096, NH=32, NKV=8, FFN=14336):
        super().__init__()
        self.C, self.NH, self.NKV, self.hd = C, NH, NKV, C // NH
        self.attn_norm = RMSNorm(C)
        self.wq = nn.Linear(C, C, bias=False)
        self.wk = nn.Linear(C, NKV * self.hd, bias=False)
        self.wv = nn.Linear(C, NKV * self.hd, bias=False)
        self.wo = nn.Linear(C, C, bias=False)
        self.mlp_norm = RMSNorm(C)
        self.w_gate = nn.Linear(C, FFN, bias=False)
        self.w_up = nn.Linear(C, FFN, bias=False)
        self.w_down = nn.Linear(FFN, C, bias=False)

    def forward(self, x, cos, sin):
        B, T, _ = x.shape
        h = self.attn_norm(x)
        q = self.wq(h).view(B, T, self.NH, self.hd).transpose(1, 2)
        k = self.wk(h).view(B, T, self.NKV, self.hd).transpose(1, 2)
        v = self.wv(h).view(B, T, self.NKV, self.hd).transpose(1, 2)
        q = q * cos + rotate_half(q) * sin
        k = k * cos + rotate_half(k) * sin
        o = F.scaled_dot_product_attention(q, k, v, is_causal=True, enable_gqa=True)
        x = x + self.wo(o.transpose(1, 2).reshape(B, T, self.C))
        h = self.mlp_norm(x)
        return x + self.w_down(F.silu(self.w_gate(h)) * self.w_up(h))


def training_bench(layers, batch, iters):
    C, NH, NKV, FFN, T = 4096, 32, 8, 14336, 2048
    dev = "cuda"
    torch.manual_seed(0)
    with torch.device(dev):
        stack = nn.ModuleList([DecoderLayer(C, NH, NKV, FFN) for _ in range(layers)])
    for p in stack.parameters():  # small init keeps activations tame over the stack
        if p.dim() == 2:
            nn.init.normal_(p, std=0.02)
    n_params = sum(p.numel() for p in stack.parameters())
    opt = torch.optim.AdamW(stack.parameters(), lr=1e-4, betas=(0.9, 0.95), eps=1e-8, weight_decay=0.1,
                            fused=True)
    hd = C // NH
    inv = 1.0 / (500000.0 ** (torch.arange(0, hd, 2, device=dev, dtype=torch.float32) / hd))
    ang = torch.outer(torch.arange(T, device=dev, dtype=torch.float32), inv)
    emb = torch.cat((ang, ang), dim=-1)
    cos, sin = emb.cos()[None, None].to(torch.bfloat16), emb.sin()[None, None].to(torch.bfloat16)
    x0 = torch.randn(batch, T, C, device=dev)

    def step():
        opt.zero_grad(set_to_none=True)
        with torch.autocast("cuda", dtype=torch.bfloat16):
            x = x0
            for layer in stack:
                x = layer(x, cos, sin)
            loss = x.float().pow(2).mean()
        loss.backward()
        opt.step()
        return loss

    torch.cuda.reset_peak_memory_stats()
    ms = timed(step, warmup=3, iters=iters)
    tokens = batch * T
    tok_s = tokens / (ms / 1e3)
    palm = (6 * n_params + 12 * layers * C * T) * tok_s
    causal = (6 * n_params + 6 * layers * C * T) * tok_s
    mem = torch.cuda.max_memory_allocated() / 2**30
    shape = f"{layers} layers, {batch}x{T} tok"
    row("train step (autocast bf16, AdamW)", shape, ms, f"{tok_s:,.0f} tok/s")
    row("  MFU PaLM 6N+12LCT", f"N={n_params / 1e9:.2f}B", ms, f"{palm / 1e12:.0f} TFLOP/s = {100 * palm / PEAK:.1f}%")
    row("  MFU causal 6N+6LCT", f"peak mem {mem:.1f} GiB", ms, f"{causal / 1e12:.0f} TFLOP/s = {100 * causal / PEAK:.1f}%")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--layers", type=int, default=8)
    ap.add_argument("--batch", type=int, default=1)
    ap.add_argument("--iters", type=int, default=10)
    ap.add_argument("--train-only", action="store_true")
    args = ap.parse_args()
    t0 = time.time()
    if not torch.cuda.is_available():
        print("torch_kernel_bench skipped: torch.cuda.is_available() is False")
        sys.exit(2)
    torch.backends.cuda.matmul.allow_tf32 = False
    print(f"torch {torch.__version__}, {torch.cuda.get_device_name(0)}, CUDA {torch.version.cuda}")
    if not args.train_only:
        attention_bench(20)
        memory_bound_bench(20)
    layers = args.layers
    while True:
        oom = False
        try:
            training_bench(layers, args.batch, args.iters)
        except torch.OutOfMemoryError:
            oom = True
        if not oom:
            break
        gc.collect()  # outside the except block, so the failed step's tensors are really gone
        torch.cuda.empty_cache()
        if layers <= 1:
            row("train step", "out of memory even at 1 layer", float("nan"), "-")
            break
        layers //= 2
        print(f"out of memory: retrying the training step with {layers} layers")
    print(f"\n{'op':<36} {'shape':<28} {'median ms':>10}  rate")
    for r in ROWS:
        print(f"{r[0]:<36} {r[1]:<28} {r[2]:>10}  {r[3]}")
    print(f"(median of CUDA-event timings; H100 SXM dense bf16 peak {PEAK / 1e12:.0f} TFLOP/s; "
          f"total {time.time() - t0:.1f} s)")


if __name__ == "__main__":
    main()
