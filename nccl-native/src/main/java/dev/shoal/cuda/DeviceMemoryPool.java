// A caching device allocator for one GPU: cudaMalloc'd blocks are kept on size-class free lists and
// handed out again instead of being freed, because cudaMalloc/cudaFree synchronize the device and
// cost milliseconds. Never managed memory.
//
// Size classes: requests round up to 512 B below 1 MiB; above it, to 2^k·{1, 1.25, 1.5, 1.75}
// (at most 25 % slack), rounded to 2 MiB pages. A free returns the block to its class's list.
// On cudaMalloc failure the pool frees every cached block and retries once.
//
// Stream safety: blocks are reused right away, so free a block only after the work that uses it is
// ordered before later users (same stream, or a synchronize / event wait in between).
//
// Guarantees: stats() counts bytes in use (class sizes handed out), reserved (cudaMalloc'd and not
// yet freed), and the peaks of both; a double free or a foreign address throws.
package dev.shoal.cuda;

import static org.bytedeco.cuda.global.cudart.*;

import java.util.ArrayDeque;
import java.util.HashMap;
import java.util.Map;
import java.util.TreeMap;
import org.bytedeco.javacpp.Pointer;

public final class DeviceMemoryPool implements AutoCloseable {

    /** Counters of one pool; bytes are size-class bytes, not requested bytes. */
    public record Stats(
            long inUseBytes,
            long reservedBytes,
            long peakInUseBytes,
            long peakReservedBytes,
            long allocations,
            long cacheHits,
            long cudaMallocs,
            long cudaFrees) {}

    static final long SMALL_LIMIT = 1L << 20;
    static final long SMALL_ROUND = 512;
    static final long LARGE_PAGE = 2L << 20;

    private final int device;
    private final TreeMap<Long, ArrayDeque<Long>> free = new TreeMap<>(); // class bytes -> addresses
    private final Map<Long, Long> live = new HashMap<>(); // address -> class bytes
    private long inUse, reserved, peakInUse, peakReserved, allocations, hits, mallocs, frees;
    private boolean closed;

    /** A pool for device {@code device}; allocations make it current on the calling thread. */
    public DeviceMemoryPool(int device) {
        NativeLibs.require();
        this.device = device;
    }

    public int device() {
        return device;
    }

    /** The size class {@code bytes} rounds up to. */
    public static long sizeClass(long bytes) {
        if (bytes <= 0) throw new IllegalArgumentException("allocation of " + bytes + " bytes");
        if (bytes <= SMALL_LIMIT) return roundUp(bytes, SMALL_ROUND);
        int k = 63 - Long.numberOfLeadingZeros(bytes - 1); // 2^k < bytes <= 2^(k+1)
        long base = 1L << k;
        long step = base / 4;
        long cls = base + step * ((bytes - base + step - 1) / step);
        return roundUp(cls, LARGE_PAGE);
    }

    /** A device block of at least {@code bytes}; free it with {@link #free(long)}. */
    public synchronized DevicePtr allocate(long bytes) {
        if (closed) throw new IllegalStateException("memory pool of device " + device + " is closed");
        long cls = sizeClass(bytes);
        allocations++;
        Long addr = null;
        ArrayDeque<Long> list = free.get(cls);
        if (list != null && !list.isEmpty()) {
            addr = list.pop();
            hits++;
        }
        if (addr == null) addr = cudaAlloc(cls, bytes);
        live.put(addr, cls);
        inUse += cls;
        peakInUse = Math.max(peakInUse, inUse);
        return new DevicePtr(addr, bytes);
    }

    /** Returns a block from {@link #allocate(long)} to its free list. */
    public synchronized void free(long address) {
        Long cls = live.remove(address);
        if (cls == null) {
            throw new IllegalArgumentException(String.format(
                    "free of 0x%x: not a live block of the pool of device %d (double free?)", address, device));
        }
        inUse -= cls;
        if (closed) {
            cudaFreeChecked(address, cls);
            return;
        }
        free.computeIfAbsent(cls, c -> new ArrayDeque<>()).push(address);
    }

    /** Frees every cached (not in use) block back to CUDA; returns the bytes released. */
    public synchronized long emptyCache() {
        long released = 0;
        CudaDevice.setCurrent(device);
        for (Map.Entry<Long, ArrayDeque<Long>> e : free.entrySet()) {
            for (long a : e.getValue()) {
                cudaFreeChecked(a, e.getKey());
                released += e.getKey();
            }
        }
        free.clear();
        return released;
    }

    public synchronized Stats stats() {
        return new Stats(inUse, reserved, peakInUse, peakReserved, allocations, hits, mallocs, frees);
    }

    /** Frees the cache; blocks still in use are freed when they are returned. */
    @Override
    public synchronized void close() {
        if (closed) return;
        emptyCache();
        closed = true;
    }

    private long cudaAlloc(long cls, long requested) {
        CudaDevice.setCurrent(device);
        Pointer p = new Pointer();
        int rc = cudaMalloc(p, cls);
        if (rc == cudaErrorMemoryAllocation) {
            cudaGetLastError(); // clear the sticky-free error before retrying
            emptyCache();
            p = new Pointer();
            rc = cudaMalloc(p, cls);
        }
        if (rc != cudaSuccess) {
            throw new CudaException(
                    String.format(
                            "cudaMalloc(%d bytes for a request of %d) on device %d: %s; pool holds %d B in use, %d B reserved",
                            cls, requested, device, CudaCheck.errorText(rc), inUse, reserved),
                    rc);
        }
        mallocs++;
        reserved += cls;
        peakReserved = Math.max(peakReserved, reserved);
        return p.address();
    }

    private void cudaFreeChecked(long address, long cls) {
        CudaCheck.check(cudaFree(new DevicePtr(address, cls)), "cudaFree");
        reserved -= cls;
        frees++;
    }

    private static long roundUp(long v, long m) {
        return (v + m - 1) / m * m;
    }
}
