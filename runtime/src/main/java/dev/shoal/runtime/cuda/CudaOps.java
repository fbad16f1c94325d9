// TensorBackend on a real CUDA device: one non-blocking stream, the caching DeviceMemoryPool, cuBLAS
// GemmEx (bf16 in, fp32 accumulate) and the NVRTC-compiled Shoal kernels.
// Guarantees: every op is enqueued on the one stream in call order; attention runs the bf16 flash
// kernels when the head size is 64 or 128 and the fp32-arithmetic reference kernels (bf16 storage)
// otherwise, unless an implementation is forced (see chooseAttention); with a PhaseProfiler attached, every op records
// a
// CUDA event first, so the profiler can split a step's GPU time into GEMM, attention and the rest.
package dev.shoal.runtime.cuda;

import static org.bytedeco.cuda.global.cudart.*;

import dev.shoal.comm.DType;
import dev.shoal.cuda.CublasGemm;
import dev.shoal.cuda.CudaCheck;
import dev.shoal.cuda.CudaDevice;
import dev.shoal.cuda.CudaStream;
import dev.shoal.cuda.DeviceMemoryPool;
import dev.shoal.cuda.DevicePtr;
import dev.shoal.cuda.NativeLibs;
import dev.shoal.cuda.PinnedHostBuffer;
import dev.shoal.cuda.kernels.AdamWKernel;
import dev.shoal.cuda.kernels.CastKernel;
import dev.shoal.cuda.kernels.CrossEntropyKernel;
import dev.shoal.cuda.kernels.ElementwiseKernels;
import dev.shoal.cuda.kernels.EmbeddingKernel;
import dev.shoal.cuda.kernels.FlashAttention;
import dev.shoal.cuda.kernels.KernelLibrary;
import dev.shoal.cuda.kernels.RmsNormKernel;
import dev.shoal.cuda.kernels.RopeKernel;
import dev.shoal.cuda.kernels.SwiGluKernel;
import dev.shoal.runtime.backend.TensorBackend;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import org.bytedeco.cuda.cudart.CUstream_st;
import org.bytedeco.javacpp.Pointer;

public final class CudaOps implements TensorBackend {
    private static final DType BF16 = DType.BF16, F32 = DType.F32;

    private final int device;
    private final KernelLibrary lib;
    private final CudaStream stream;
    private final DeviceMemoryPool pool;
    private final CublasGemm gemm;
    private final FlashAttention.Impl forcedImpl; // null: choose by head size
    private final Map<Long, Long> live = new HashMap<>(); // address -> requested bytes
    private final List<PinnedHostBuffer> pinnedBuffers = new ArrayList<>();
    private PhaseProfiler profiler;
    private boolean closed;

    private CudaOps(
            int device,
            KernelLibrary lib,
            CudaStream stream,
            DeviceMemoryPool pool,
            CublasGemm gemm,
            FlashAttention.Impl forcedImpl) {
        this.device = device;
        this.lib = lib;
        this.stream = stream;
        this.pool = pool;
        this.gemm = gemm;
        this.forcedImpl = forcedImpl;
    }

    /**
     * Ops on CUDA device {@code device}: compiles (or loads from the cache) the kernels, creates the
     * stream, the pool and the cuBLAS handle. Throws GpuUnavailableException when CUDA, cuBLAS, NVRTC
     * or a device is missing. attention null chooses by head size.
     */
    public static CudaOps create(int device, FlashAttention.Impl attention) {
        require();
        CudaDevice.setCurrent(device);
        KernelLibrary lib = KernelLibrary.forDevice(device);
        CudaDevice.setCurrent(device);
        CudaStream stream = CudaStream.create();
        DeviceMemoryPool pool = new DeviceMemoryPool(device);
        CublasGemm gemm = CublasGemm.create(stream, pool);
        return new CudaOps(device, lib, stream, pool, gemm, attention);
    }

    /** Libraries this class needs. */
    private static final NativeLibs.Lib[] LIBS = {NativeLibs.Lib.CUBLAS, NativeLibs.Lib.NVRTC};

    /** Empty when CUDA, cuBLAS, NVRTC and a device are all there, else why not (NativeLibs' report). */
    public static String unavailableReason() {
        return NativeLibs.unavailableReason(LIBS);
    }

    private static void require() {
        NativeLibs.require(LIBS);
    }

    /** Ops on device 0, attention chosen by head size. */
    public static CudaOps create() {
        return create(0, null);
    }

    /** The attention kernels used for head size hd. */
    public FlashAttention.Impl attentionImpl(int hd) {
        return chooseAttention(forcedImpl, hd);
    }

    /**
     * The tensor-core kernels' default (FLASH, or FLASH_BASIC with -Dshoal.flash.basic=true) for hd 64 or
     * 128, which they support; REFERENCE (fp32 arithmetic on bf16 storage) for other head sizes; a forced
     * implementation wins.
     */
    public static FlashAttention.Impl chooseAttention(FlashAttention.Impl forced, int hd) {
        if (forced != null) {
            return forced;
        }
        return hd == 64 || hd == 128 ? FlashAttention.defaultImpl(BF16) : FlashAttention.Impl.REFERENCE;
    }

    public CudaStream stream() {
        return stream;
    }

    public DeviceMemoryPool pool() {
        return pool;
    }

    public KernelLibrary kernels() {
        return lib;
    }

    public int device() {
        return device;
    }

    /** Attaches (or, with null, detaches) a profiler that records an event before every op. */
    public void setProfiler(PhaseProfiler p) {
        this.profiler = p;
    }

    private CUstream_st s(PhaseProfiler.Kind kind) {
        if (profiler != null) {
            profiler.mark(kind, stream);
        }
        return stream.handle();
    }

    /** bf16 activations and GEMM operands (cuBLAS GemmEx and the kernels read and write bf16). */
    @Override
    public Precision computeType() {
        return Precision.BF16;
    }

    // ---- memory and copies ----

    @Override
    public long alloc(long bytes) {
        DevicePtr p = pool.allocate(bytes);
        live.put(p.address(), bytes);
        return p.address();
    }

    @Override
    public void free(long address) {
        if (live.remove(address) == null) {
            throw new IllegalArgumentException(String.format("free of 0x%x: not allocated by these ops", address));
        }
        pool.free(address);
    }

    @Override
    public void zero(long address, long bytes) {
        CudaCheck.check(
                cudaMemsetAsync(new DevicePtr(address, bytes), 0, bytes, s(PhaseProfiler.Kind.OTHER)),
                "cudaMemsetAsync " + bytes + " B");
    }

    @Override
    public void upload(long dst, Pointer src, long bytes) {
        requireRaw(src, "upload");
        CudaCheck.check(
                cudaMemcpyAsync(new DevicePtr(dst, bytes), src, bytes, cudaMemcpyHostToDevice, stream.handle()),
                "cudaMemcpyAsync H2D " + bytes + " B");
        stream.synchronize();
    }

    @Override
    public void download(Pointer dst, long src, long bytes) {
        requireRaw(dst, "download");
        CudaCheck.check(
                cudaMemcpyAsync(dst, new DevicePtr(src, bytes), bytes, cudaMemcpyDeviceToHost, stream.handle()),
                "cudaMemcpyAsync D2H " + bytes + " B");
        stream.synchronize();
    }

    @Override
    public Pointer pinned(long bytes) {
        PinnedHostBuffer b = PinnedHostBuffer.allocate(bytes);
        pinnedBuffers.add(b);
        return b.asBytes();
    }

    @Override
    public void uploadAsync(long dst, Pointer pinnedSrc, long bytes) {
        requireRaw(pinnedSrc, "uploadAsync");
        CudaCheck.check(
                cudaMemcpyAsync(
                        new DevicePtr(dst, bytes),
                        pinnedSrc,
                        bytes,
                        cudaMemcpyHostToDevice,
                        s(PhaseProfiler.Kind.OTHER)),
                "cudaMemcpyAsync H2D " + bytes + " B");
    }

    @Override
    public void downloadAsync(Pointer pinnedDst, long src, long bytes) {
        requireRaw(pinnedDst, "downloadAsync");
        CudaCheck.check(
                cudaMemcpyAsync(
                        pinnedDst,
                        new DevicePtr(src, bytes),
                        bytes,
                        cudaMemcpyDeviceToHost,
                        s(PhaseProfiler.Kind.OTHER)),
                "cudaMemcpyAsync D2H " + bytes + " B");
    }

    @Override
    public void synchronize() {
        stream.synchronize();
    }

    /** Host pointers must point at their first byte: JavaCPP adds position·sizeof when passing them. */
    private static void requireRaw(Pointer p, String op) {
        if (p == null || p.isNull() || p.position() != 0) {
            throw new IllegalArgumentException(op + ": host pointer must be non-null with position 0, got " + p);
        }
    }

    // ---- compute ----

    @Override
    public void gemm(
            boolean transA,
            boolean transB,
            int m,
            int n,
            int k,
            float alpha,
            long a,
            long b,
            float beta,
            long c,
            boolean cF32) {
        s(PhaseProfiler.Kind.GEMM);
        DType ct = cF32 ? F32 : BF16;
        gemm.gemmBf16(
                transA,
                transB,
                m,
                n,
                k,
                alpha,
                new DevicePtr(a, BF16.bytesFor((long) m * k)),
                new DevicePtr(b, BF16.bytesFor((long) k * n)),
                beta,
                new DevicePtr(c, ct.bytesFor((long) m * n)),
                ct);
    }

    @Override
    public void embeddingForward(long tokens, long wte, long out, int n, int c, int v) {
        EmbeddingKernel.forward(lib, BF16, tokens, wte, out, n, c, 0, v, s(PhaseProfiler.Kind.OTHER));
    }

    @Override
    public void embeddingBackward(long tokens, long dout, long dwte, int n, int c, int v) {
        EmbeddingKernel.backward(lib, BF16, tokens, dout, dwte, n, c, 0, v, s(PhaseProfiler.Kind.OTHER));
    }

    @Override
    public void rmsnormForward(long x, long w, long y, long rstd, int n, int c, float eps) {
        RmsNormKernel.forward(lib, BF16, x, w, y, rstd, n, c, eps, s(PhaseProfiler.Kind.OTHER));
    }

    @Override
    public void rmsnormBackward(long dy, long x, long w, long rstd, long dx, long dw, int n, int c) {
        RmsNormKernel.backward(lib, BF16, dy, x, w, rstd, dx, dw, n, c, s(PhaseProfiler.Kind.OTHER));
    }

    @Override
    public void rope(long x, long y, long cos, long sin, int b, int t, int nh, int hd, boolean backward) {
        CUstream_st st = s(PhaseProfiler.Kind.OTHER);
        if (backward) {
            RopeKernel.backward(lib, BF16, x, y, cos, sin, b, t, nh, hd, st);
        } else {
            RopeKernel.forward(lib, BF16, x, y, cos, sin, b, t, nh, hd, st);
        }
    }

    @Override
    public void attentionForward(long q, long k, long v, long o, long lse, int b, int t, int nh, int nkv, int hd) {
        FlashAttention.forward(
                lib, attentionImpl(hd), BF16, q, k, v, o, lse, b, t, nh, nkv, hd, s(PhaseProfiler.Kind.ATTENTION));
    }

    @Override
    public void attentionBackward(
            long q,
            long k,
            long v,
            long o,
            long lse,
            long dO,
            long dq,
            long dk,
            long dv,
            long workspace,
            int b,
            int t,
            int nh,
            int nkv,
            int hd) {
        FlashAttention.backward(
                lib,
                attentionImpl(hd),
                BF16,
                q,
                k,
                v,
                o,
                lse,
                dO,
                dq,
                dk,
                dv,
                workspace,
                b,
                t,
                nh,
                nkv,
                hd,
                s(PhaseProfiler.Kind.ATTENTION));
    }

    @Override
    public long attentionWorkspaceBytes(int b, int nh, int t) {
        return FlashAttention.workspaceBytes(b, nh, t);
    }

    @Override
    public void swigluForward(long g, long u, long h, long n) {
        SwiGluKernel.forward(lib, BF16, g, u, h, n, s(PhaseProfiler.Kind.OTHER));
    }

    @Override
    public void swigluBackward(long dh, long g, long u, long dg, long du, long n) {
        SwiGluKernel.backward(lib, BF16, dh, g, u, dg, du, n, s(PhaseProfiler.Kind.OTHER));
    }

    @Override
    public void add(long a, long b, long y, long n) {
        ElementwiseKernels.add(lib, BF16, a, b, y, n, s(PhaseProfiler.Kind.OTHER));
    }

    @Override
    public void crossEntropy(
            long logits,
            long targets,
            int n,
            int v,
            long rowMax,
            long rowSumExp,
            long targetLogit,
            long lossRows,
            long dlogits,
            float scale) {
        CUstream_st st = s(PhaseProfiler.Kind.OTHER);
        // One vocab shard: the local statistics are the global ones.
        CrossEntropyKernel.stats(lib, F32, logits, targets, n, v, 0, rowMax, rowSumExp, targetLogit, st);
        CrossEntropyKernel.lossAndGrad(
                lib, F32, logits, targets, n, v, 0, rowMax, rowSumExp, targetLogit, lossRows, dlogits, scale, st);
    }

    @Override
    public void castToCompute(long src, long dst, long n) {
        CastKernel.f32ToBf16(lib, src, dst, n, s(PhaseProfiler.Kind.OTHER));
    }

    @Override
    public int sumPartials() {
        return ElementwiseKernels.SUM_PARTIALS;
    }

    @Override
    public void sum(long x, long n, boolean squared, long partials, long out) {
        ElementwiseKernels.sum(lib, F32, x, n, squared, partials, out, false, s(PhaseProfiler.Kind.OTHER));
    }

    @Override
    public void clipFactor(long sumSq, float maxNorm, long out, long norm) {
        AdamWKernel.clipFactor(lib, sumSq, maxNorm, out, norm, s(PhaseProfiler.Kind.OTHER));
    }

    @Override
    public void adamw(long p, long g, long m, long v, long pCompute, long n, AdamWKernel.Hyper h, long clipScale) {
        AdamWKernel.step(lib, F32, p, g, m, v, pCompute, n, h, 1f, clipScale, s(PhaseProfiler.Kind.OTHER));
    }

    @Override
    public synchronized void close() {
        if (closed) {
            return;
        }
        closed = true;
        stream.synchronize();
        for (long a : new ArrayList<>(live.keySet())) {
            pool.free(a);
        }
        live.clear();
        gemm.close();
        for (PinnedHostBuffer b : pinnedBuffers) {
            b.close();
        }
        pool.close();
        stream.close();
    }
}
