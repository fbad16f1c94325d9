// Benchmark of Shoal's GPU kernels: flash attention forward and forward+backward at the Llama-3-8B
// shape (TFLOP/s, causal FLOPs), and the memory-bound kernels (GB/s). Times with CUDA events after
// warm-up; reports the median. Also cross-checks the flash kernels against the fp32-math reference
// kernels on the same inputs and exits non-zero when they disagree.
// Usage: java -cp <nccl-native jar + javacpp + cuda jars> dev.shoal.cuda.kernels.KernelBench
//            [--iters N] [--warmup N] [--device D] [--no-check]
package dev.shoal.cuda.kernels;

import static org.bytedeco.cuda.global.cudart.*;

import dev.shoal.comm.DType;
import dev.shoal.cuda.Bf16;
import dev.shoal.cuda.NativeLibs;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.SplittableRandom;
import org.bytedeco.cuda.cudart.CUevent_st;
import org.bytedeco.javacpp.FloatPointer;
import org.bytedeco.javacpp.IntPointer;
import org.bytedeco.javacpp.Pointer;
import org.bytedeco.javacpp.ShortPointer;

/** Prints a table of kernel timings on one GPU. */
public final class KernelBench {
    private static final long STAGING_BYTES = 8L << 20;

    private final KernelLibrary lib;
    private final int warmup;
    private final int iters;
    private final List<Pointer> allocations = new ArrayList<>();
    private final List<String[]> rows = new ArrayList<>();
    private long staging;

    private KernelBench(KernelLibrary lib, int warmup, int iters) {
        this.lib = lib;
        this.warmup = warmup;
        this.iters = iters;
    }

    public static void main(String[] args) {
        int iters = 20, warmup = 5, device = 0;
        boolean check = true;
        for (int i = 0; i < args.length; i++) {
            switch (args[i]) {
                case "--iters" -> iters = Integer.parseInt(args[++i]);
                case "--warmup" -> warmup = Integer.parseInt(args[++i]);
                case "--device" -> device = Integer.parseInt(args[++i]);
                case "--no-check" -> check = false;
                default -> {
                    System.err.println("usage: KernelBench [--iters N] [--warmup N] [--device D] [--no-check]");
                    System.exit(2);
                }
            }
        }
        String why = NativeLibs.unavailableReason(NativeLibs.Lib.NVRTC);
        if (!why.isEmpty()) {
            System.err.println("KernelBench needs a CUDA GPU and NVRTC: " + why);
            System.exit(3);
        }
        long t0 = System.nanoTime();
        KernelLibrary lib = KernelLibrary.forDevice(device);
        double startS = (System.nanoTime() - t0) / 1e9;
        System.out.printf(
                "device %d: %s, sm_%d, %d SMs, NVRTC target %s, kernel library ready in %.2f s%n",
                device, lib.deviceName(), lib.computeCapability(), lib.multiprocessors(), lib.target(), startS);
        KernelBench b = new KernelBench(lib, warmup, iters);
        int rc = 0;
        try {
            b.staging = b.alloc(STAGING_BYTES);
            b.uploadRandom(b.staging);
            rc = b.attention(check);
            b.memoryBound();
            b.print();
        } finally {
            b.freeAll();
        }
        System.exit(rc);
    }

    // ---- attention ----

    private int attention(boolean check) {
        int B = 1, T = 2048, NH = 32, NKV = 8, hd = 128;
        long nq = (long) B * T * NH * hd, nk = (long) B * T * NKV * hd, nl = (long) B * NH * T;
        long q = random(DType.BF16, nq), k = random(DType.BF16, nk), v = random(DType.BF16, nk);
        long dO = random(DType.BF16, nq);
        long o = alloc(2 * nq), lse = alloc(4 * nl), ws = alloc(4 * nl);
        long dq = alloc(2 * nq), dk = alloc(2 * nk), dv = alloc(2 * nk);
        String shape = "B1 T2048 NH32 NKV8 hd128";
        double fwdFlops = FlashAttention.forwardFlops(B, T, NH, hd);
        double bwdFlops = FlashAttention.backwardFlops(B, T, NH, hd);
        // the fp32-math reference kernels on the same bf16 inputs, for the cross-check
        long o2 = 0, lse2 = 0, dq2 = 0, dk2 = 0, dv2 = 0;
        if (check) {
            o2 = alloc(2 * nq);
            lse2 = alloc(4 * nl);
            dq2 = alloc(2 * nq);
            dk2 = alloc(2 * nk);
            dv2 = alloc(2 * nk);
            FlashAttention.Impl ref = FlashAttention.Impl.REFERENCE;
            FlashAttention.forward(lib, ref, DType.BF16, q, k, v, o2, lse2, B, T, NH, NKV, hd, null);
            FlashAttention.backward(
                    lib, ref, DType.BF16, q, k, v, o2, lse2, dO, dq2, dk2, dv2, ws, B, T, NH, NKV, hd, null);
            sync();
        }
        int rc = 0;
        for (FlashAttention.Impl impl :
                new FlashAttention.Impl[] {FlashAttention.Impl.FLASH, FlashAttention.Impl.FLASH_BASIC}) {
            String tag = impl == FlashAttention.Impl.FLASH ? "ldmatrix" : "basic";
            Runnable fwd =
                    () -> FlashAttention.forward(lib, impl, DType.BF16, q, k, v, o, lse, B, T, NH, NKV, hd, null);
            Runnable bwd = () -> FlashAttention.backward(
                    lib, impl, DType.BF16, q, k, v, o, lse, dO, dq, dk, dv, ws, B, T, NH, NKV, hd, null);
            double fMs = time(fwd);
            double fbMs = time(() -> {
                fwd.run();
                bwd.run();
            });
            rows.add(new String[] {"flash attn fwd (bf16, " + tag + ")", shape, ms(fMs), tflops(fwdFlops, fMs)});
            rows.add(new String[] {
                "flash attn fwd+bwd (bf16, " + tag + ")", shape, ms(fbMs), tflops(fwdFlops + bwdFlops, fbMs)
            });
            rows.add(new String[] {
                "flash attn bwd (" + tag + ", derived)", shape, ms(fbMs - fMs), tflops(bwdFlops, fbMs - fMs)
            });
            if (check) {
                fwd.run();
                bwd.run();
                sync();
                double eO = relErrBf16(o, o2, nq), eQ = relErrBf16(dq, dq2, nq);
                double eK = relErrBf16(dk, dk2, nk), eV = relErrBf16(dv, dv2, nk), eL = relErrF32(lse, lse2, nl);
                boolean ok = eO < 1e-2 && eL < 1e-4 && eQ < 3e-2 && eK < 3e-2 && eV < 3e-2;
                System.out.printf(
                        "check flash (%s) vs fp32 reference kernel: O %.2e  LSE %.2e  dQ %.2e  dK %.2e  dV %.2e  -> %s%n",
                        tag, eO, eL, eQ, eK, eV, ok ? "OK" : "MISMATCH");
                rc |= ok ? 0 : 1;
            }
        }
        return rc;
    }

    // ---- memory-bound kernels ----

    private void memoryBound() {
        DType bf = DType.BF16;
        // RMSNorm over 16384 tokens x 4096
        int N = 16384, C = 4096;
        long nc = (long) N * C;
        long x = random(bf, nc), dy = random(bf, nc), y = alloc(2 * nc), dx = alloc(2 * nc);
        long w = random(DType.F32, C), dw = alloc(4L * C), rstd = alloc(4L * N);
        double f = time(() -> RmsNormKernel.forward(lib, bf, x, w, y, rstd, N, C, 1e-5f, null));
        rows.add(new String[] {"rmsnorm fwd (bf16)", N + " x " + C, ms(f), gbps(2 * nc * 2 + 4L * C + 4L * N, f)});
        double bw = time(() -> RmsNormKernel.backward(lib, bf, dy, x, w, rstd, dx, dw, N, C, null));
        rows.add(new String[] {"rmsnorm bwd (bf16)", N + " x " + C, ms(bw), gbps(5 * nc * 2 + 8L * N, bw)});
        // SwiGLU over 4096 tokens x 14336
        long n = 4096L * 14336;
        long g = random(bf, n), u = random(bf, n), h = alloc(2 * n), dh = random(bf, n);
        long dg = alloc(2 * n), du = alloc(2 * n);
        double sf = time(() -> SwiGluKernel.forward(lib, bf, g, u, h, n, null));
        rows.add(new String[] {"swiglu fwd (bf16)", "4096 x 14336", ms(sf), gbps(3 * n * 2, sf)});
        double sb = time(() -> SwiGluKernel.backward(lib, bf, dh, g, u, dg, du, n, null));
        rows.add(new String[] {"swiglu bwd (bf16)", "4096 x 14336", ms(sb), gbps(5 * n * 2, sb)});
        // AdamW over one 4096 x 14336 matrix: fp32 master, m, v, fp32 grad, bf16 copy
        long p = random(DType.F32, n), gr = random(DType.F32, n), m = alloc(4 * n), vv = alloc(4 * n);
        long pb = alloc(2 * n);
        memset(m, 4 * n);
        memset(vv, 4 * n);
        AdamWKernel.Hyper hy = new AdamWKernel.Hyper(1e-5f, 0.9f, 0.95f, 1e-8f, 0.1f, 10);
        double a = time(() -> AdamWKernel.step(lib, DType.F32, p, gr, m, vv, pb, n, hy, 1f, 0, null));
        rows.add(new String[] {"adamw (fp32 master + bf16 copy)", "58.7M params", ms(a), gbps(30 * n, a)});
        // vocab cross-entropy over 2048 tokens x 128256
        int Nt = 2048, V = 128256;
        long nv = (long) Nt * V;
        long logits = random(bf, nv), dl = alloc(2 * nv), tg = alloc(4L * Nt);
        long mx = alloc(4L * Nt), se = alloc(4L * Nt), tl = alloc(4L * Nt), loss = alloc(4L * Nt);
        uploadTargets(tg, Nt, V);
        double cs = time(() -> CrossEntropyKernel.stats(lib, bf, logits, tg, Nt, V, 0, mx, se, tl, null));
        rows.add(new String[] {"cross-entropy stats (bf16)", Nt + " x " + V, ms(cs), gbps(nv * 2, cs)});
        double cg = time(() ->
                CrossEntropyKernel.lossAndGrad(lib, bf, logits, tg, Nt, V, 0, mx, se, tl, loss, dl, 1f / Nt, null));
        rows.add(new String[] {"cross-entropy loss+grad (bf16)", Nt + " x " + V, ms(cg), gbps(2 * nv * 2, cg)});
    }

    // ---- timing ----

    private double time(Runnable r) {
        CUevent_st start = new CUevent_st(), stop = new CUevent_st();
        KernelLibrary.checkRuntime(cudaEventCreate(start), "cudaEventCreate");
        KernelLibrary.checkRuntime(cudaEventCreate(stop), "cudaEventCreate");
        try {
            for (int i = 0; i < warmup; i++) {
                r.run();
            }
            sync();
            double[] t = new double[iters];
            float[] ms = {0f};
            for (int i = 0; i < iters; i++) {
                KernelLibrary.checkRuntime(cudaEventRecord(start, null), "cudaEventRecord");
                r.run();
                KernelLibrary.checkRuntime(cudaEventRecord(stop, null), "cudaEventRecord");
                KernelLibrary.checkRuntime(cudaEventSynchronize(stop), "cudaEventSynchronize");
                KernelLibrary.checkRuntime(cudaEventElapsedTime(ms, start, stop), "cudaEventElapsedTime");
                t[i] = ms[0];
            }
            Arrays.sort(t);
            return t[iters / 2];
        } finally {
            cudaEventDestroy(start);
            cudaEventDestroy(stop);
        }
    }

    private static void sync() {
        KernelLibrary.checkRuntime(cudaDeviceSynchronize(), "cudaDeviceSynchronize");
        KernelLibrary.checkRuntime(cudaGetLastError(), "kernel execution");
    }

    private static String ms(double v) {
        return String.format("%.3f", v);
    }

    private static String tflops(double flops, double ms) {
        return String.format("%.1f TFLOP/s", flops / (ms * 1e-3) / 1e12);
    }

    private static String gbps(long bytes, double ms) {
        return String.format("%.0f GB/s", bytes / (ms * 1e-3) / 1e9);
    }

    private void print() {
        System.out.printf("%n%-34s %-26s %10s  %s%n", "kernel", "shape", "median ms", "rate");
        for (String[] r : rows) {
            System.out.printf("%-34s %-26s %10s  %s%n", r[0], r[1], r[2], r[3]);
        }
        System.out.printf(
                "(median of %d after %d warm-up; attention FLOPs causal: fwd 4*B*NH*T^2*hd/2, bwd 2.5x)%n",
                iters, warmup);
    }

    // ---- device memory ----

    private long alloc(long bytes) {
        Pointer p = new Pointer();
        KernelLibrary.checkRuntime(cudaMalloc(p, bytes), "cudaMalloc(" + bytes + ")");
        allocations.add(p);
        return p.address();
    }

    private void freeAll() {
        for (Pointer p : allocations) {
            cudaFree(p);
        }
        allocations.clear();
    }

    /** A JavaCPP pointer object for a raw device address (no ownership). */
    private static Pointer at(long deviceAddress) {
        return new Pointer() {
            {
                this.address = deviceAddress;
            }
        };
    }

    private static void memset(long dst, long bytes) {
        KernelLibrary.checkRuntime(cudaMemset(at(dst), 0, bytes), "cudaMemset");
    }

    /** Allocates n elements of uniform values in [-1, 1): bf16 tiled from the staging buffer, f32 from the host. */
    private long random(DType t, long n) {
        long bytes = t.bytesFor(n);
        long dst = alloc(bytes);
        if (t == DType.BF16) {
            for (long off = 0; off < bytes; off += STAGING_BYTES) {
                long len = Math.min(STAGING_BYTES, bytes - off);
                KernelLibrary.checkRuntime(
                        cudaMemcpy(at(dst + off), at(staging), len, cudaMemcpyDeviceToDevice), "cudaMemcpy D2D");
            }
            return dst;
        }
        int chunkElems = (int) Math.min(n, STAGING_BYTES / 4);
        float[] chunk = new float[chunkElems];
        SplittableRandom r = new SplittableRandom(7);
        for (int i = 0; i < chunkElems; i++) {
            chunk[i] = (float) (r.nextDouble() * 2 - 1);
        }
        try (FloatPointer h = new FloatPointer(chunk)) {
            for (long off = 0; off < bytes; off += 4L * chunkElems) {
                long len = Math.min(4L * chunkElems, bytes - off);
                KernelLibrary.checkRuntime(cudaMemcpy(at(dst + off), h, len, cudaMemcpyHostToDevice), "cudaMemcpy H2D");
            }
        }
        return dst;
    }

    /** Fills the staging buffer with bf16 values uniform in [-1, 1). */
    private void uploadRandom(long dst) {
        int n = (int) (STAGING_BYTES / 2);
        short[] s = new short[n];
        SplittableRandom r = new SplittableRandom(42);
        for (int i = 0; i < n; i++) {
            float f = (float) (r.nextDouble() * 2 - 1);
            s[i] = Bf16.toBits(f);
        }
        try (ShortPointer h = new ShortPointer(s)) {
            KernelLibrary.checkRuntime(cudaMemcpy(at(dst), h, STAGING_BYTES, cudaMemcpyHostToDevice), "upload");
        }
    }

    private static void uploadTargets(long dst, int n, int V) {
        int[] t = new int[n];
        SplittableRandom r = new SplittableRandom(3);
        for (int i = 0; i < n; i++) {
            t[i] = r.nextInt(V);
        }
        try (IntPointer h = new IntPointer(t)) {
            KernelLibrary.checkRuntime(cudaMemcpy(at(dst), h, 4L * n, cudaMemcpyHostToDevice), "upload targets");
        }
    }

    private static double relErrBf16(long a, long b, long n) {
        short[] x = new short[(int) n], y = new short[(int) n];
        try (ShortPointer ha = new ShortPointer(n);
                ShortPointer hb = new ShortPointer(n)) {
            KernelLibrary.checkRuntime(cudaMemcpy(ha, at(a), 2 * n, cudaMemcpyDeviceToHost), "download");
            KernelLibrary.checkRuntime(cudaMemcpy(hb, at(b), 2 * n, cudaMemcpyDeviceToHost), "download");
            ha.get(x);
            hb.get(y);
        }
        double num = 0, den = 0;
        for (int i = 0; i < n; i++) {
            double xv = Float.intBitsToFloat((x[i] & 0xffff) << 16);
            double yv = Float.intBitsToFloat((y[i] & 0xffff) << 16);
            num += (xv - yv) * (xv - yv);
            den += yv * yv;
        }
        return Math.sqrt(num / Math.max(den, 1e-30));
    }

    private static double relErrF32(long a, long b, long n) {
        float[] x = new float[(int) n], y = new float[(int) n];
        try (FloatPointer ha = new FloatPointer(n);
                FloatPointer hb = new FloatPointer(n)) {
            KernelLibrary.checkRuntime(cudaMemcpy(ha, at(a), 4 * n, cudaMemcpyDeviceToHost), "download");
            KernelLibrary.checkRuntime(cudaMemcpy(hb, at(b), 4 * n, cudaMemcpyDeviceToHost), "download");
            ha.get(x);
            hb.get(y);
        }
        double num = 0, den = 0;
        for (int i = 0; i < n; i++) {
            num += ((double) x[i] - y[i]) * ((double) x[i] - y[i]);
            den += (double) y[i] * y[i];
        }
        return Math.sqrt(num / Math.max(den, 1e-30));
    }
}
