// GPU micro-benchmarks of the native layer, printed as Markdown tables:
//   1. cuBLAS GEMM throughput: bf16 inputs with fp32 accumulation (4096³, 8192³) and fp32 (4096³, 8192³);
//   2. host<->device copy bandwidth, pinned and pageable host memory;
//   3. an NCCL all-reduce sweep in nccl-tests style (size, time, algbw, busbw, #wrong), on one rank.
// Times come from CUDA events around a loop of iterations after warm-up. Inputs are random
// (a 1 Mi-element random tile repeated), since all-zero operands run faster than real data.
//
// busbw follows nccl-tests: busbw = algbw · 2(n-1)/n for all-reduce, so it is 0 on one rank;
// algbw = bytes / time. Exit status 2 when no GPU is usable (the reason is printed).
package dev.shoal.nccl;

import static org.bytedeco.cuda.global.cudart.*;

import dev.shoal.comm.DType;
import dev.shoal.comm.ReduceOp;
import dev.shoal.cuda.Bf16;
import dev.shoal.cuda.CublasGemm;
import dev.shoal.cuda.CudaCheck;
import dev.shoal.cuda.CudaDevice;
import dev.shoal.cuda.CudaEvent;
import dev.shoal.cuda.CudaStream;
import dev.shoal.cuda.DeviceBuffer;
import dev.shoal.cuda.DeviceMemoryPool;
import dev.shoal.cuda.NativeLibs;
import dev.shoal.cuda.PinnedHostBuffer;
import java.util.Random;
import org.bytedeco.javacpp.BytePointer;
import org.bytedeco.javacpp.FloatPointer;
import org.bytedeco.javacpp.IntPointer;
import org.bytedeco.javacpp.ShortPointer;

public final class GpuBench {
    private static final int TILE = 1 << 20; // elements of the random tile

    private GpuBench() {}

    public static void main(String[] args) {
        String why = NativeLibs.report().whyUnavailable(NativeLibs.Lib.CUBLAS, NativeLibs.Lib.NCCL);
        if (why != null) {
            System.out.println("GpuBench skipped: " + why);
            System.exit(2);
        }
        CudaDevice.setCurrent(0);
        CudaDevice dev = CudaDevice.get(0);
        System.out.println("# GpuBench");
        System.out.println();
        System.out.println(
                "device: " + dev + "; CUDA " + CudaDevice.versions() + "; NCCL " + NcclCommunicator.libraryVersion());
        try (DeviceMemoryPool pool = new DeviceMemoryPool(0);
                CudaStream stream = CudaStream.create();
                PinnedHostBuffer tile = PinnedHostBuffer.allocate(4L * TILE)) {
            gemmTable(pool, stream, tile);
            copyTable(pool, stream);
            allReduceTable(pool);
            System.out.printf(
                    "%npool: peak in use %.1f MiB, peak reserved %.1f MiB%n",
                    pool.stats().peakInUseBytes() / 1048576.0, pool.stats().peakReservedBytes() / 1048576.0);
        }
    }

    // ---- 1. GEMM -----------------------------------------------------------------------------

    private static void gemmTable(DeviceMemoryPool pool, CudaStream stream, PinnedHostBuffer tile) {
        System.out.println();
        System.out.println("## cuBLAS GEMM (row-major, C = A·B, fp32 accumulation)");
        System.out.println();
        System.out.println("| inputs -> output | M×N×K | ms / GEMM | TFLOP/s |");
        System.out.println("|---|---|---:|---:|");
        try (CublasGemm blas = CublasGemm.create(stream, pool)) {
            gemmRow(blas, pool, stream, tile, 4096, DType.BF16, DType.BF16);
            gemmRow(blas, pool, stream, tile, 8192, DType.BF16, DType.BF16);
            gemmRow(blas, pool, stream, tile, 8192, DType.BF16, DType.F32);
            gemmRow(blas, pool, stream, tile, 4096, DType.F32, DType.F32);
            gemmRow(blas, pool, stream, tile, 8192, DType.F32, DType.F32);
        }
    }

    private static void gemmRow(
            CublasGemm blas,
            DeviceMemoryPool pool,
            CudaStream stream,
            PinnedHostBuffer tile,
            int d,
            DType in,
            DType out) {
        long elems = (long) d * d;
        try (DeviceBuffer a = DeviceBuffer.allocate(pool, elems, in);
                DeviceBuffer b = DeviceBuffer.allocate(pool, elems, in);
                DeviceBuffer c = DeviceBuffer.allocate(pool, elems, out)) {
            fillRandom(a, tile, stream, 1);
            fillRandom(b, tile, stream, 2);
            Runnable op = () -> blas.gemm(false, false, d, d, d, 1f, a.ptr(), in, b.ptr(), in, 0f, c.ptr(), out);
            double ms = timeMs(op, stream, 3, 0.3);
            double tflops = 2.0 * d * d * (double) d / (ms * 1e-3) / 1e12;
            System.out.printf("| %s·%s -> %s | %d×%d×%d | %.3f | %.1f |%n", in, in, out, d, d, d, ms, tflops);
        }
    }

    /** Fills {@code buf} with a random tile (uniform in [-1, 1)), repeated; waits for the copies. */
    private static void fillRandom(DeviceBuffer buf, PinnedHostBuffer tile, CudaStream stream, long seed) {
        Random r = new Random(seed);
        long tileBytes;
        if (buf.dtype() == DType.BF16) {
            ShortPointer s = tile.asShorts();
            for (int i = 0; i < TILE; i++) s.put(i, Bf16.toBits(r.nextFloat() * 2 - 1));
            tileBytes = 2L * TILE;
        } else {
            FloatPointer f = tile.asFloats();
            for (int i = 0; i < TILE; i++) f.put(i, r.nextFloat() * 2 - 1);
            tileBytes = 4L * TILE;
        }
        BytePointer src = tile.asBytes();
        for (long off = 0; off < buf.bytes(); off += tileBytes) {
            long n = Math.min(tileBytes, buf.bytes() - off);
            CudaCheck.check(
                    cudaMemcpyAsync(buf.ptr().slice(off, n), src, n, cudaMemcpyHostToDevice, stream.handle()),
                    "cudaMemcpyAsync tile");
        }
        stream.synchronize();
    }

    /** Mean milliseconds per call of {@code op} on {@code stream}, over about {@code targetSeconds}. */
    private static double timeMs(Runnable op, CudaStream stream, int warmup, double targetSeconds) {
        try (CudaEvent start = CudaEvent.create(true);
                CudaEvent end = CudaEvent.create(true)) {
            for (int i = 0; i < warmup; i++) op.run();
            start.record(stream);
            op.run();
            end.record(stream);
            double one = Math.max(CudaEvent.elapsedMs(start, end), 1e-3);
            int iters = (int) Math.max(5, Math.min(1000, targetSeconds * 1e3 / one));
            start.record(stream);
            for (int i = 0; i < iters; i++) op.run();
            end.record(stream);
            return CudaEvent.elapsedMs(start, end) / iters;
        }
    }

    // ---- 2. copies ---------------------------------------------------------------------------

    private static void copyTable(DeviceMemoryPool pool, CudaStream stream) {
        long bytes = 256L << 20;
        System.out.println();
        System.out.println("## Host <-> device copies (256 MiB)");
        System.out.println();
        System.out.println("| direction | host memory | ms | GB/s |");
        System.out.println("|---|---|---:|---:|");
        try (DeviceBuffer dbuf = DeviceBuffer.allocate(pool, bytes / 4, DType.F32);
                PinnedHostBuffer pinned = PinnedHostBuffer.allocate(bytes);
                BytePointer pageable = new BytePointer(bytes)) {
            pageable.fill(1);
            pinned.asBytes().fill(1);
            copyRow("H2D", "pinned", bytes, () -> dbuf.copyFromHostAsync(pinned.asBytes(), stream), stream);
            copyRow("D2H", "pinned", bytes, () -> dbuf.copyToHostAsync(pinned.asBytes(), stream), stream);
            copyRow("H2D", "pageable", bytes, () -> dbuf.copyFromHostAsync(pageable, stream), stream);
            copyRow("D2H", "pageable", bytes, () -> dbuf.copyToHostAsync(pageable, stream), stream);
        }
    }

    private static void copyRow(String dir, String mem, long bytes, Runnable op, CudaStream stream) {
        double ms = timeMs(op, stream, 2, 0.3);
        System.out.printf("| %s | %s | %.2f | %.1f |%n", dir, mem, ms, bytes / (ms * 1e-3) / 1e9);
    }

    // ---- 3. NCCL all-reduce ------------------------------------------------------------------

    private static void allReduceTable(DeviceMemoryPool pool) {
        System.out.println();
        System.out.println("## NCCL all-reduce, in place, float, sum (nccl-tests style; busbw = algbw·2(n-1)/n)");
        System.out.println();
        NcclCommunicator comm =
                NcclCommunicator.create(NcclUniqueId.generate(), 0, 1, 0, 0, NcclCommunicator.Options.defaults());
        int n = comm.size();
        System.out.println("ranks: " + n + " (one GPU: NCCL runs no inter-GPU traffic, so busbw is 0)");
        System.out.println();
        System.out.println("| size (B) | count | type | redop | time (µs) | algbw (GB/s) | busbw (GB/s) | #wrong |");
        System.out.println("|---:|---:|---|---|---:|---:|---:|---:|");
        try {
            for (long bytes = 1024; bytes <= (1L << 30); bytes *= 4) {
                long count = bytes / 4;
                try (DeviceBuffer buf = DeviceBuffer.allocate(pool, count, DType.F32)) {
                    // every float = bit pattern 0x3f3f3f3f (memset byte 0x3f); a sum over one rank keeps it
                    CudaCheck.check(
                            cudaMemsetAsync(
                                    buf.ptr(), 0x3f, bytes, comm.stream().handle()),
                            "cudaMemsetAsync");
                    Runnable op = () -> comm.allReduce(buf.ptr(), count, DType.F32, ReduceOp.SUM);
                    double us = timeMs(op, comm.stream(), 5, 0.2) * 1e3;
                    comm.synchronize();
                    long wrong = countWrong(buf, 0x3f3f3f3f);
                    double algbw = bytes / (us * 1e-6) / 1e9;
                    double busbw = algbw * 2.0 * (n - 1) / n;
                    System.out.printf(
                            "| %d | %d | float | sum | %.2f | %.2f | %.2f | %d |%n",
                            bytes, count, us, algbw, busbw, wrong);
                }
            }
        } finally {
            comm.close();
        }
    }

    /** Elements whose bits differ from {@code bits}: all of buffers up to 64 MiB, else the first and last 16 MiB. */
    private static long countWrong(DeviceBuffer buf, int bits) {
        long bytes = buf.bytes();
        long window = bytes <= (64L << 20) ? bytes : 16L << 20;
        long wrong = 0;
        try (IntPointer host = new IntPointer(window / 4)) {
            for (long off : bytes <= (64L << 20) ? new long[] {0} : new long[] {0, bytes - window}) {
                CudaCheck.check(
                        cudaMemcpy(host, buf.ptr().slice(off, window), window, cudaMemcpyDeviceToHost),
                        "cudaMemcpy D2H");
                for (long i = 0; i < window / 4; i++) if (host.get(i) != bits) wrong++;
            }
        }
        return wrong;
    }
}
