// GPU checks of the CUDA basics: device query, caching pool reuse and stats, host<->device copies.
// Tagged "gpu"; skips with the NativeLibs reason where no GPU or CUDA library is present.
package dev.shoal.cuda;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.shoal.comm.DType;
import org.bytedeco.javacpp.FloatPointer;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

@Tag("gpu")
class CudaBasicsGpuTest {

    @BeforeAll
    static void needGpu() {
        Assumptions.assumeTrue(NativeLibs.available(), NativeLibs.unavailableReason());
        CudaDevice.setCurrent(0);
    }

    @Test
    void deviceQueryReportsARealDevice() {
        assertTrue(CudaDevice.count() >= 1);
        CudaDevice d = CudaDevice.get(0);
        System.out.println("device: " + d + "; " + CudaDevice.versions());
        assertTrue(!d.name().isBlank(), "device name");
        assertTrue(d.ccMajor() >= 7, "compute capability " + d.computeCapability());
        assertTrue(d.smCount() > 0, "SM count");
        assertTrue(d.totalMemBytes() > (1L << 30), "total memory " + d.totalMemBytes());
        assertTrue(d.l2CacheBytes() > 0, "L2 size");
        CudaDevice.MemInfo m = CudaDevice.memInfo();
        assertTrue(m.freeBytes() > 0 && m.freeBytes() <= m.totalBytes(), m.toString());
        assertThrows(IllegalArgumentException.class, () -> CudaDevice.get(CudaDevice.count()));
    }

    @Test
    void poolReusesFreedBlocksAndCountsBytes() {
        try (DeviceMemoryPool pool = new DeviceMemoryPool(0)) {
            DevicePtr a = pool.allocate(1000);
            DevicePtr b = pool.allocate(3L << 20);
            DeviceMemoryPool.Stats s = pool.stats();
            long expected = DeviceMemoryPool.sizeClass(1000) + DeviceMemoryPool.sizeClass(3L << 20);
            assertEquals(expected, s.inUseBytes());
            assertEquals(expected, s.reservedBytes());
            assertEquals(2, s.cudaMallocs());
            long addrA = a.address();
            pool.free(addrA);
            DevicePtr a2 = pool.allocate(900); // same 1024-byte class: must come from the cache
            assertEquals(addrA, a2.address(), "freed block is reused");
            assertEquals(1, pool.stats().cacheHits());
            assertEquals(2, pool.stats().cudaMallocs(), "no new cudaMalloc for a cached class");
            pool.free(a2.address());
            pool.free(b.address());
            s = pool.stats();
            assertEquals(0, s.inUseBytes());
            assertEquals(expected, s.reservedBytes(), "freed blocks stay reserved in the cache");
            assertEquals(expected, s.peakInUseBytes());
            assertThrows(IllegalArgumentException.class, () -> pool.free(addrA), "double free is refused");
            assertEquals(expected, pool.emptyCache());
            assertEquals(0, pool.stats().reservedBytes());
        }
    }

    @Test
    void hostDeviceRoundTripSyncAndAsync() {
        int n = 1_000_003;
        try (DeviceMemoryPool pool = new DeviceMemoryPool(0);
                CudaStream stream = CudaStream.create();
                FloatPointer src = new FloatPointer(n);
                FloatPointer dst = new FloatPointer(n);
                PinnedHostBuffer pinned = PinnedHostBuffer.allocate(4L * n);
                DeviceBuffer d1 = DeviceBuffer.allocate(pool, n, DType.F32);
                DeviceBuffer d2 = DeviceBuffer.allocate(pool, n, DType.F32)) {
            for (int i = 0; i < n; i++) src.put(i, i * 0.5f - 7f);
            d1.copyFromHost(src);
            d2.copyFrom(d1, stream); // device to device
            stream.synchronize();
            d2.copyToHost(dst);
            for (int i = 0; i < n; i += 997) assertEquals(src.get(i), dst.get(i), "sync round trip at " + i);
            assertEquals(src.get(n - 1), dst.get(n - 1));

            FloatPointer p = pinned.asFloats();
            d1.zero(stream);
            d1.copyToHostAsync(p, stream);
            stream.synchronize();
            for (int i = 0; i < n; i += 991) assertEquals(0f, p.get(i), "zeroed at " + i);
            d2.copyToHostAsync(p, stream);
            stream.synchronize();
            for (int i = 0; i < n; i += 991) assertEquals(src.get(i), p.get(i), "async round trip at " + i);

            try (CudaEvent start = CudaEvent.create(true);
                    CudaEvent end = CudaEvent.create(true)) {
                start.record(stream);
                d1.copyFromHostAsync(p, stream);
                end.record(stream);
                float ms = CudaEvent.elapsedMs(start, end);
                assertTrue(ms >= 0 && ms < 10_000, "elapsed " + ms + " ms");
                assertTrue(end.isDone());
            }
            try (FloatPointer small = new FloatPointer(10)) {
                IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> d1.copyToHost(small));
                assertTrue(e.getMessage().contains("40 bytes"), e.getMessage());
            }
        }
    }
}
