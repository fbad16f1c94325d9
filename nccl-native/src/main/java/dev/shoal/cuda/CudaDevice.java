// What one CUDA device is (name, compute capability, SMs, memory, L2) and how to make it current.
// Reads plain device attributes and the driver API rather than cudaDeviceProp, whose layout may
// differ between the CUDA 13.1 headers of the presets and the 13.0 runtime on the machine.
//
// Guarantees: every method first checks NativeLibs (GpuUnavailableException, never a linkage error);
// a failing CUDA call throws CudaException naming the call and the device index.
package dev.shoal.cuda;

import static org.bytedeco.cuda.global.cudart.*;

import org.bytedeco.javacpp.BytePointer;
import org.bytedeco.javacpp.SizeTPointer;

public record CudaDevice(
        int index,
        String name,
        int ccMajor,
        int ccMinor,
        int smCount,
        long totalMemBytes,
        int l2CacheBytes,
        int maxSharedMemPerBlockOptinBytes) {

    /** Free and total device memory of the current device, in bytes. */
    public record MemInfo(long freeBytes, long totalBytes) {}

    /** Number of CUDA devices; throws GpuUnavailableException when the libraries or devices are missing. */
    public static int count() {
        NativeLibs.require();
        return NativeLibs.report().deviceCount();
    }

    /** Properties of device {@code index} (0 ≤ index < count()). */
    public static CudaDevice get(int index) {
        int n = count();
        if (index < 0 || index >= n) {
            throw new IllegalArgumentException("CUDA device " + index + " does not exist: this machine has " + n);
        }
        CudaCheck.check(cuInit(0), "cuInit");
        int[] dev = new int[1];
        CudaCheck.check(cuDeviceGet(dev, index), "cuDeviceGet(" + index + ")");
        String name;
        try (BytePointer buf = new BytePointer(256)) {
            CudaCheck.check(cuDeviceGetName(buf, 256, dev[0]), "cuDeviceGetName(" + index + ")");
            // getString() reads up to the pointer's limit (256 bytes); the name ends at the first NUL.
            String raw = buf.getString();
            int nul = raw.indexOf('\0');
            name = nul >= 0 ? raw.substring(0, nul) : raw;
        }
        long total;
        try (SizeTPointer sz = new SizeTPointer(1)) {
            CudaCheck.check(cuDeviceTotalMem(sz, dev[0]), "cuDeviceTotalMem(" + index + ")");
            total = sz.get();
        }
        return new CudaDevice(
                index,
                name,
                attr(cudaDevAttrComputeCapabilityMajor, index),
                attr(cudaDevAttrComputeCapabilityMinor, index),
                attr(cudaDevAttrMultiProcessorCount, index),
                total,
                attr(cudaDevAttrL2CacheSize, index),
                attr(cudaDevAttrMaxSharedMemoryPerBlockOptin, index));
    }

    /** Makes {@code index} the current device of the calling thread. */
    public static void setCurrent(int index) {
        NativeLibs.require();
        CudaCheck.check(cudaSetDevice(index), "cudaSetDevice(" + index + ")");
    }

    /** The calling thread's current device. */
    public static int current() {
        NativeLibs.require();
        int[] d = new int[1];
        CudaCheck.check(cudaGetDevice(d), "cudaGetDevice");
        return d[0];
    }

    /** Free/total memory of the current device (creates its context if needed). */
    public static MemInfo memInfo() {
        NativeLibs.require();
        try (SizeTPointer free = new SizeTPointer(1);
                SizeTPointer total = new SizeTPointer(1)) {
            CudaCheck.check(cudaMemGetInfo(free, total), "cudaMemGetInfo");
            return new MemInfo(free.get(), total.get());
        }
    }

    /** Waits for all work on the current device. */
    public static void synchronizeCurrent() {
        NativeLibs.require();
        CudaCheck.check(cudaDeviceSynchronize(), "cudaDeviceSynchronize");
    }

    /** CUDA runtime and driver versions as "runtime 13.0, driver 13.0". */
    public static String versions() {
        NativeLibs.require();
        int[] rt = new int[1];
        int[] drv = new int[1];
        CudaCheck.check(cudaRuntimeGetVersion(rt), "cudaRuntimeGetVersion");
        CudaCheck.check(cudaDriverGetVersion(drv), "cudaDriverGetVersion");
        return "runtime " + rt[0] / 1000 + "." + (rt[0] % 1000) / 10 + ", driver " + drv[0] / 1000 + "."
                + (drv[0] % 1000) / 10;
    }

    /** Compute capability as "9.0". */
    public String computeCapability() {
        return ccMajor + "." + ccMinor;
    }

    @Override
    public String toString() {
        return String.format(
                "cuda:%d %s (sm_%d%d, %d SMs, %.1f GiB, L2 %d MiB)",
                index, name, ccMajor, ccMinor, smCount, totalMemBytes / (double) (1L << 30), l2CacheBytes >> 20);
    }

    private static int attr(int attribute, int device) {
        int[] v = new int[1];
        CudaCheck.check(
                cudaDeviceGetAttribute(v, attribute, device),
                "cudaDeviceGetAttribute(" + attribute + ", device " + device + ")");
        return v[0];
    }
}
