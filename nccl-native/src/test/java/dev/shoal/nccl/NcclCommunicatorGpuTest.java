// One-rank NCCL communicator on a real GPU: init from unique-id bytes, every collective (identities
// for one rank), send/recv to self inside a group, barrier, abort failing fast, init timeout, and the
// watchdog aborting an operation that outlives its timeout.
// Tagged "gpu"; skips with the NativeLibs reason where no GPU or NCCL is present.
package dev.shoal.nccl;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.shoal.comm.CommException;
import dev.shoal.comm.DType;
import dev.shoal.comm.ReduceOp;
import dev.shoal.cuda.Bf16;
import dev.shoal.cuda.CublasGemm;
import dev.shoal.cuda.CudaDevice;
import dev.shoal.cuda.DeviceBuffer;
import dev.shoal.cuda.DeviceMemoryPool;
import dev.shoal.cuda.NativeLibs;
import java.time.Duration;
import org.bytedeco.javacpp.FloatPointer;
import org.bytedeco.javacpp.ShortPointer;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.MethodOrderer;
import org.junit.jupiter.api.Order;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestMethodOrder;
import org.junit.jupiter.api.Timeout;

@Tag("gpu")
@Order(Integer.MAX_VALUE) // with ClassOrderer.OrderAnnotation (run-gpu-check.sh): after the other GPU classes
@TestMethodOrder(MethodOrderer.OrderAnnotation.class) // the abort/timeout tests run last
@Timeout(value = 30, threadMode = Timeout.ThreadMode.SEPARATE_THREAD)
class NcclCommunicatorGpuTest {
    private static final int N = 4099;
    private static DeviceMemoryPool pool;
    private static NcclCommunicator comm;

    @BeforeAll
    static void setUp() {
        Assumptions.assumeTrue(
                NativeLibs.available(NativeLibs.Lib.NCCL), NativeLibs.unavailableReason(NativeLibs.Lib.NCCL));
        System.out.println("NCCL library version " + NcclCommunicator.libraryVersion());
        pool = new DeviceMemoryPool(0);
        // The id travels as bytes, as it would inside a protobuf message.
        byte[] wire = NcclUniqueId.generate().toBytes();
        comm = NcclCommunicator.create(NcclUniqueId.fromBytes(wire), 0, 1, 7, 0, NcclCommunicator.Options.defaults());
        assertEquals(0, comm.rank());
        assertEquals(1, comm.size());
        assertEquals(7, comm.epoch());
    }

    @AfterAll
    static void tearDown() {
        if (comm != null) comm.close();
        if (pool != null) pool.close();
    }

    @Test
    void allReduceIsIdentityForOneRank() {
        for (ReduceOp op : ReduceOp.values()) {
            try (DeviceBuffer buf = upload(ramp(N, 0.25f))) {
                comm.allReduce(buf.ptr(), N, DType.F32, op);
                comm.synchronize();
                assertRamp(buf, 0.25f, "allReduce " + op);
            }
        }
        // bf16 goes through the same path with ncclBfloat16
        try (DeviceBuffer buf = DeviceBuffer.allocate(pool, N, DType.BF16);
                ShortPointer h = new ShortPointer(N)) {
            for (int i = 0; i < N; i++) h.put(i, Bf16.toBits(i % 100 - 50));
            buf.copyFromHost(h);
            comm.allReduce(buf.ptr(), N, DType.BF16, ReduceOp.SUM);
            comm.synchronize();
            h.zero();
            buf.copyToHost(h);
            for (int i = 0; i < N; i++) assertEquals(i % 100 - 50, Bf16.fromBits(h.get(i)), "bf16 at " + i);
        }
    }

    @Test
    void allGatherAndReduceScatterCopyForOneRank() {
        try (DeviceBuffer send = upload(ramp(N, 1f));
                DeviceBuffer recv = DeviceBuffer.allocate(pool, N, DType.F32)) {
            recv.zero(comm.stream());
            comm.allGather(send.ptr(), recv.ptr(), N, DType.F32);
            comm.synchronize();
            assertRamp(recv, 1f, "allGather");
            recv.zero(comm.stream());
            comm.reduceScatter(send.ptr(), recv.ptr(), N, DType.F32, ReduceOp.SUM);
            comm.synchronize();
            assertRamp(recv, 1f, "reduceScatter");
        }
    }

    @Test
    void broadcastFromRootZeroKeepsTheBuffer() {
        try (DeviceBuffer buf = upload(ramp(N, -2f))) {
            comm.broadcast(buf.ptr(), N, DType.F32, 0);
            comm.synchronize();
            assertRamp(buf, -2f, "broadcast");
            CommException e = assertThrows(CommException.class, () -> comm.broadcast(buf.ptr(), N, DType.F32, 1));
            assertEquals(CommException.Kind.INVALID_ARGUMENT, e.kind());
        }
    }

    @Test
    void sendRecvToSelfInsideAGroup() {
        try (DeviceBuffer src = upload(ramp(N, 3f));
                DeviceBuffer dst = DeviceBuffer.allocate(pool, N, DType.F32)) {
            dst.zero(comm.stream());
            comm.group(() -> {
                comm.send(src.ptr(), N, DType.F32, 0);
                comm.recv(dst.ptr(), N, DType.F32, 0);
            });
            comm.synchronize();
            assertRamp(dst, 3f, "send/recv to self");
        }
    }

    @Test
    void barrierReturns() {
        comm.barrier();
        comm.barrier();
    }

    @Test
    void tooSmallBufferIsRefusedWithSizes() {
        try (DeviceBuffer buf = DeviceBuffer.allocate(pool, 10, DType.F32)) {
            CommException e =
                    assertThrows(CommException.class, () -> comm.allReduce(buf.ptr(), 11, DType.F32, ReduceOp.SUM));
            assertTrue(
                    e.getMessage().contains("covers 40 bytes") && e.getMessage().contains("44"), e.getMessage());
        }
    }

    @Test
    @Order(2_000_000_001)
    @Timeout(value = 30, threadMode = Timeout.ThreadMode.SEPARATE_THREAD)
    void abortMakesTheNextCallFailFast() {
        NcclCommunicator c =
                NcclCommunicator.create(NcclUniqueId.generate(), 0, 1, 8, 0, NcclCommunicator.Options.defaults());
        try (DeviceBuffer buf = upload(ramp(16, 1f))) {
            c.allReduce(buf.ptr(), 16, DType.F32, ReduceOp.SUM);
            c.synchronize();
            c.abort("mesh epoch 8 is gone");
            long t0 = System.nanoTime();
            CommException e =
                    assertThrows(CommException.class, () -> c.allReduce(buf.ptr(), 16, DType.F32, ReduceOp.SUM));
            assertTrue(System.nanoTime() - t0 < 1_000_000_000L, "fails fast");
            assertEquals(CommException.Kind.ABORTED, e.kind());
            String m = e.getMessage();
            assertTrue(m.contains("rank 0 of 1") && m.contains("allReduce") && m.contains("mesh epoch 8 is gone"), m);
            assertThrows(CommException.class, c::synchronize);
            assertThrows(CommException.class, c::barrier);
            c.abort("again"); // idempotent
        } finally {
            c.close();
        }
    }

    @Test
    @Order(2_000_000_003) // last: it leaves an NCCL bootstrap root behind that never completes
    @Timeout(value = 20, threadMode = Timeout.ThreadMode.SEPARATE_THREAD)
    void initTimesOutWhenPeersNeverJoin() {
        NcclCommunicator.Options quick =
                new NcclCommunicator.Options(Duration.ofSeconds(3), Duration.ofSeconds(10), Duration.ofMillis(50));
        long t0 = System.nanoTime();
        CommException e = assertThrows(
                CommException.class, () -> NcclCommunicator.create(NcclUniqueId.generate(), 0, 2, 9, 0, quick));
        double s = (System.nanoTime() - t0) / 1e9;
        assertEquals(CommException.Kind.TIMEOUT, e.kind(), e.getMessage());
        assertTrue(e.getMessage().contains("rank 0 of 2"), e.getMessage());
        assertTrue(s < 20, "init gave up after " + s + " s");
    }

    @Test
    @Order(2_000_000_002)
    @Timeout(value = 30, threadMode = Timeout.ThreadMode.SEPARATE_THREAD)
    void watchdogAbortsAnOperationThatOutlivesItsTimeout() {
        // Keep the communicator's stream busy with ~100+ ms of fp32 GEMMs, then enqueue an
        // all-reduce behind them with a 30 ms timeout: the watchdog must abort with TIMEOUT.
        NcclCommunicator.Options strict =
                new NcclCommunicator.Options(Duration.ofSeconds(60), Duration.ofMillis(30), Duration.ofMillis(5));
        NcclCommunicator c = NcclCommunicator.create(NcclUniqueId.generate(), 0, 1, 10, 0, strict);
        int d = 8192;
        try (CublasGemm blas = CublasGemm.create(c.stream(), pool);
                DeviceBuffer a = DeviceBuffer.allocate(pool, (long) d * d, DType.F32);
                DeviceBuffer cc = DeviceBuffer.allocate(pool, (long) d * d, DType.F32)) {
            try {
                a.zero(c.stream());
                for (int i = 0; i < 16; i++) blas.gemmF32(false, false, d, d, d, 1f, a.ptr(), a.ptr(), 0f, cc.ptr());
                c.allReduce(cc.ptr(0, 1024), 1024, DType.F32, ReduceOp.SUM);
                long deadline = System.nanoTime() + 10_000_000_000L;
                while (!c.isAborted() && System.nanoTime() < deadline) Thread.onSpinWait();
                assertTrue(c.isAborted(), "watchdog aborted the communicator");
                CommException e = assertThrows(CommException.class, c::synchronize);
                assertEquals(CommException.Kind.TIMEOUT, e.kind(), e.getMessage());
                assertTrue(e.getMessage().contains("allReduce(1024 F32 SUM)"), e.getMessage());
            } finally {
                CudaDevice.synchronizeCurrent(); // the GEMMs finish before their buffers go back to the pool
            }
        } finally {
            c.close();
        }
    }

    private static float[] ramp(int n, float scale) {
        float[] v = new float[n];
        for (int i = 0; i < n; i++) v[i] = (i - n / 2) * scale;
        return v;
    }

    private static DeviceBuffer upload(float[] v) {
        DeviceBuffer d = DeviceBuffer.allocate(pool, v.length, DType.F32);
        try (FloatPointer h = new FloatPointer(v)) {
            d.copyFromHost(h);
        }
        return d;
    }

    private static void assertRamp(DeviceBuffer d, float scale, String what) {
        int n = (int) d.elems();
        try (FloatPointer h = new FloatPointer(n)) {
            d.copyToHost(h);
            for (int i = 0; i < n; i++) assertEquals((i - n / 2) * scale, h.get(i), what + " at " + i);
        }
    }
}
