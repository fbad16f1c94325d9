// GPU memory on /metrics: for each CUDA device of the node, shoal_gpu_memory_used_bytes (total − free,
// as cudaMemGetInfo reports it: every allocation on the device, this process's memory pools included)
// and shoal_gpu_memory_total_bytes, read at every scrape from the CUDA layer. A node without CUDA
// devices (or whose CUDA libraries do not load) registers nothing: the series are absent, not zero.
//
// Guarantees: a failing read gives NaN for that scrape (the endpoint keeps serving); reading makes the
// device current on the scrape thread only (the runtime API's primary context, shared with the
// workers, so no extra context is created).
package dev.shoal.actors.ops;

import dev.shoal.cuda.CudaDevice;

public final class GpuMemory {

    /** Reads one device's memory: {used bytes, total bytes}. */
    @FunctionalInterface
    public interface Reader {
        long[] read(int device) throws Exception;
    }

    /** The CUDA layer's reader: cudaSetDevice(d), cudaMemGetInfo. */
    public static final Reader CUDA = device -> {
        CudaDevice.setCurrent(device);
        CudaDevice.MemInfo m = CudaDevice.memInfo();
        return new long[] {m.totalBytes() - m.freeBytes(), m.totalBytes()};
    };

    private GpuMemory() {}

    /** Registers the two gauges of each of {@code devices} devices (none when 0). */
    public static void register(NodeMetrics metrics, int devices, Reader reader) {
        for (int d = 0; d < devices; d++) {
            int device = d;
            metrics.gpuMemory(device, () -> read(reader, device, 0), () -> read(reader, device, 1));
        }
    }

    private static double read(Reader reader, int device, int which) {
        try {
            return reader.read(device)[which];
        } catch (Exception | LinkageError e) {
            return Double.NaN;
        }
    }
}
