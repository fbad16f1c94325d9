# PyTorch baseline for GpuBench, on the same GPU and shapes: cuBLAS GEMM TFLOP/s (bf16 inputs with
# fp32 accumulation, and true fp32 with TF32 off) and host<->device copy GB/s, printed as Markdown
# tables in GpuBench's layout so the two can be read side by side. Timed with CUDA events after
# warm-up; operands are random (uniform in [-1, 1)).
import sys
import time

try:
    import torch
except ImportError:
    print("torch_bench skipped: PyTorch is not installed for", sys.executable)
    sys.exit(2)

if not torch.cuda.is_available():
    print("torch_bench skipped: torch.cuda.is_available() is False")
    sys.exit(2)

torch.backends.cuda.matmul.allow_tf32 = False  # fp32 GEMM is real fp32, as in CublasGemm
torch.backends.cuda.matmul.allow_bf16_reduced_precision_reduction = False


def time_ms(fn, target_s=0.3, warmup=3):
    """Mean milliseconds per call of fn, over about target_s seconds of GPU time."""
    for _ in range(warmup):
        fn()
    start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
    start.record()
    fn()
    end.record()
    end.synchronize()
    one = max(start.elapsed_time(end), 1e-3)
    iters = int(max(5, min(1000, target_s * 1e3 / one)))
    start.record()
    for _ in range(iters):
        fn()
    end.record()
    end.synchronize()
    return start.elapsed_time(end) / iters


def main():
    t0 = time.time()
    dev = torch.cuda.get_device_properties(0)
    print("# torch_bench")
    print()
    print(f"device: {dev.name}, {dev.multi_processor_count} SMs, {dev.total_memory / 2**30:.1f} GiB; "
          f"torch {torch.__version__}, CUDA {torch.version.cuda}, cuBLAS {torch.backends.cuda.preferred_blas_library()}")
    print()
    print("## torch.matmul (C = A·B)")
    print()
    print("| inputs -> output | M×N×K | ms / GEMM | TFLOP/s |")
    print("|---|---|---:|---:|")
    for d, dtype, name in [(4096, torch.bfloat16, "BF16·BF16 -> BF16"), (8192, torch.bfloat16, "BF16·BF16 -> BF16"),
                           (4096, torch.float32, "F32·F32 -> F32"), (8192, torch.float32, "F32·F32 -> F32")]:
        a = torch.rand(d, d, device="cuda", dtype=dtype) * 2 - 1
        b = torch.rand(d, d, device="cuda", dtype=dtype) * 2 - 1
        c = torch.empty(d, d, device="cuda", dtype=dtype)
        ms = time_ms(lambda: torch.matmul(a, b, out=c))
        print(f"| {name} | {d}×{d}×{d} | {ms:.3f} | {2 * d**3 / (ms * 1e-3) / 1e12:.1f} |")
        del a, b, c
    torch.cuda.empty_cache()

    print()
    print("## Host <-> device copies (256 MiB)")
    print()
    print("| direction | host memory | ms | GB/s |")
    print("|---|---|---:|---:|")
    n = 256 << 20
    dbuf = torch.empty(n, dtype=torch.uint8, device="cuda")
    for pinned in (True, False):
        host = torch.ones(n, dtype=torch.uint8).pin_memory() if pinned else torch.ones(n, dtype=torch.uint8)
        mem = "pinned" if pinned else "pageable"
        ms = time_ms(lambda: dbuf.copy_(host, non_blocking=True), warmup=2)
        print(f"| H2D | {mem} | {ms:.2f} | {n / (ms * 1e-3) / 1e9:.1f} |")
        ms = time_ms(lambda: host.copy_(dbuf, non_blocking=True), warmup=2)
        print(f"| D2H | {mem} | {ms:.2f} | {n / (ms * 1e-3) / 1e9:.1f} |")
    print()
    print(f"torch_bench took {time.time() - t0:.1f} s")


if __name__ == "__main__":
    main()
