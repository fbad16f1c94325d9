// Unique-id serialisation and communicator argument checks that need no GPU.
package dev.shoal.nccl;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.shoal.comm.DType;
import dev.shoal.comm.ReduceOp;
import dev.shoal.cuda.NativeLibs;
import java.time.Duration;
import org.junit.jupiter.api.Test;

class NcclUniqueIdTest {

    @Test
    void bytesRoundTripAndDefensiveCopies() {
        byte[] b = new byte[NcclUniqueId.BYTES];
        for (int i = 0; i < b.length; i++) b[i] = (byte) (i * 7);
        NcclUniqueId id = NcclUniqueId.fromBytes(b);
        b[0] = 99;
        byte[] back = id.toBytes();
        assertEquals(0, back[0], "fromBytes copies its input");
        back[1] = 42;
        assertEquals(7, id.toBytes()[1], "toBytes returns a copy");
        assertEquals(id, NcclUniqueId.fromBytes(id.toBytes()));
        assertEquals(id.hashCode(), NcclUniqueId.fromBytes(id.toBytes()).hashCode());
        byte[] other = id.toBytes();
        other[127] ^= 1;
        assertNotEquals(id, NcclUniqueId.fromBytes(other));
        assertTrue(id.toString().startsWith("NcclUniqueId[00070e15"), id.toString());
    }

    @Test
    void wrongLengthIsRefusedWithTheLength() {
        IllegalArgumentException e =
                assertThrows(IllegalArgumentException.class, () -> NcclUniqueId.fromBytes(new byte[64]));
        assertTrue(e.getMessage().contains("128") && e.getMessage().contains("64"), e.getMessage());
        assertThrows(IllegalArgumentException.class, () -> NcclUniqueId.fromBytes(null));
    }

    @Test
    void dtypeAndOpMapToNcclEnums() {
        assertEquals(7, NcclCommunicator.ncclType(DType.F32));
        assertEquals(9, NcclCommunicator.ncclType(DType.BF16));
        assertEquals(6, NcclCommunicator.ncclType(DType.F16));
        assertEquals(0, NcclCommunicator.ncclOp(ReduceOp.SUM));
        assertEquals(4, NcclCommunicator.ncclOp(ReduceOp.AVG));
        assertEquals(2, NcclCommunicator.ncclOp(ReduceOp.MAX));
    }

    @Test
    void optionsRejectNonPositiveTimeouts() {
        assertThrows(
                IllegalArgumentException.class,
                () -> new NcclCommunicator.Options(Duration.ZERO, Duration.ofSeconds(1), Duration.ofMillis(10)));
        assertThrows(
                IllegalArgumentException.class,
                () -> new NcclCommunicator.Options(
                        Duration.ofSeconds(1), Duration.ofSeconds(-1), Duration.ofMillis(10)));
    }

    @Test
    void withoutGpuEveryEntryPointSaysWhy() {
        if (NativeLibs.available(NativeLibs.Lib.NCCL)) return; // covered by the GPU tests
        byte[] zeros = new byte[NcclUniqueId.BYTES];
        var e = assertThrows(
                dev.shoal.cuda.GpuUnavailableException.class,
                () -> NcclCommunicator.create(
                        NcclUniqueId.fromBytes(zeros), 0, 1, 0, 0, NcclCommunicator.Options.defaults()));
        assertTrue(
                e.getMessage().contains("libnccl.so.2") || e.getMessage().contains("no CUDA device"), e.getMessage());
        assertThrows(dev.shoal.cuda.GpuUnavailableException.class, NcclUniqueId::generate);
        assertThrows(dev.shoal.cuda.GpuUnavailableException.class, dev.shoal.cuda.CudaStream::create);
        assertThrows(dev.shoal.cuda.GpuUnavailableException.class, () -> new dev.shoal.cuda.DeviceMemoryPool(0));
        assertThrows(dev.shoal.cuda.GpuUnavailableException.class, dev.shoal.cuda.CudaDevice::count);
    }
}
