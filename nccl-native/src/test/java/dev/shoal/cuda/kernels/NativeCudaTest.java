// Without a GPU: the CUDA loader reports one clear reason (never a NoClassDefFoundError cascade),
// and asking for a kernel library fails with CudaUnavailableException. With a GPU: it loads.
package dev.shoal.cuda.kernels;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.junit.jupiter.api.Test;

class NativeCudaTest {
    @Test
    void missingCudaGivesOneClearErrorEveryTime() {
        if (NativeCuda.deviceCount() > 0) {
            assertTrue(NativeCuda.librariesAvailable());
            return; // a GPU machine: nothing to prove here
        }
        if (!NativeCuda.librariesAvailable()) {
            String reason = NativeCuda.unavailableReason();
            assertNotNull(reason);
            assertTrue(reason.contains("libcuda.so.1") && reason.contains("libnvrtc.so.13"), reason);
            CudaUnavailableException first = assertThrows(CudaUnavailableException.class, NativeCuda::require);
            CudaUnavailableException second = assertThrows(CudaUnavailableException.class, NativeCuda::require);
            assertEquals(first.getMessage(), second.getMessage());
        }
        assertEquals(0, NativeCuda.deviceCount());
        assertThrows(CudaUnavailableException.class, () -> KernelLibrary.forDevice(0));
        assertThrows(CudaUnavailableException.class, () -> KernelLibrary.forDevice(0));
    }
}
