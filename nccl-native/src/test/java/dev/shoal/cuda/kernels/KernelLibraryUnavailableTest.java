// Without a GPU (or without NVRTC): asking for the kernel library fails with one clear
// GpuUnavailableException naming what is missing, every time, never a NoClassDefFoundError cascade.
package dev.shoal.cuda.kernels;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeFalse;

import dev.shoal.cuda.GpuUnavailableException;
import dev.shoal.cuda.NativeLibs;
import org.junit.jupiter.api.Test;

class KernelLibraryUnavailableTest {
    @Test
    void missingCudaGivesOneClearErrorEveryTime() {
        assumeFalse(NativeLibs.available(NativeLibs.Lib.NVRTC), "a usable GPU is present: nothing to prove here");
        GpuUnavailableException first = assertThrows(GpuUnavailableException.class, () -> KernelLibrary.forDevice(0));
        GpuUnavailableException second = assertThrows(GpuUnavailableException.class, () -> KernelLibrary.forDevice(0));
        assertEquals(first.getMessage(), second.getMessage());
        assertTrue(first.getMessage().contains("GPU layer unavailable"), first.getMessage());
    }
}
