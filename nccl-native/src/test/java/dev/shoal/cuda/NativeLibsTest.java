// Checks that the native-library probe reports what is missing instead of crashing, on any machine.
package dev.shoal.cuda;

import static org.junit.jupiter.api.Assertions.assertDoesNotThrow;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.shoal.cuda.NativeLibs.Lib;
import dev.shoal.cuda.NativeLibs.LibStatus;
import dev.shoal.cuda.NativeLibs.Report;
import java.util.EnumMap;
import java.util.Map;
import org.junit.jupiter.api.Test;

class NativeLibsTest {

    @Test
    void probeNeverThrowsAndIsCached() {
        Report r = assertDoesNotThrow(NativeLibs::report);
        assertSame(r, NativeLibs.report(), "the probe runs once per JVM");
        assertEquals(Lib.values().length, r.libs().size(), "every library gets a status");
        String text = r.describe();
        for (Lib l : Lib.values()) assertTrue(text.contains(l.title()), "describe() lists " + l.title());
        assertTrue(text.contains("search path"), text);
    }

    @Test
    void requireNamesMissingLibrariesOrPasses() {
        Report r = NativeLibs.report();
        if (r.whyUnavailable(Lib.values()) == null) {
            assertDoesNotThrow(() -> NativeLibs.require(Lib.values()));
            return;
        }
        GpuUnavailableException e = assertThrows(GpuUnavailableException.class, () -> NativeLibs.require(Lib.values()));
        for (Lib l : Lib.values()) {
            if (!r.loaded(l)) {
                for (String so : l.sonames()) assertTrue(e.getMessage().contains(so), e.getMessage());
            }
        }
        assertTrue(e.getMessage().contains("LD_LIBRARY_PATH"), e.getMessage());
        // A second call gives the same clear exception, not a NoClassDefFoundError.
        assertThrows(GpuUnavailableException.class, () -> NativeLibs.require(Lib.CUBLAS));
        assertTrue(!NativeLibs.unavailableReason(Lib.NCCL).isEmpty());
    }

    @Test
    void reportWithMissingNcclNamesOnlyNccl() {
        Map<Lib, LibStatus> libs = new EnumMap<>(Lib.class);
        for (Lib l : Lib.values()) libs.put(l, new LibStatus(l, l != Lib.NCCL, l == Lib.NCCL ? "no libnccl.so.2" : ""));
        Report r = new Report(libs, 1, null, "/a:/b");
        assertNull(r.whyUnavailable(Lib.CUBLAS), "cuBLAS present, NCCL not needed");
        String why = r.whyUnavailable(Lib.NCCL);
        assertTrue(why.contains("NCCL (libnccl.so.2)"), why);
        assertTrue(!why.contains("cuBLAS ("), why);
        assertTrue(why.contains("/a:/b"), why);
    }

    @Test
    void librariesWithoutDeviceAreReportedAsNoDevice() {
        Map<Lib, LibStatus> libs = new EnumMap<>(Lib.class);
        for (Lib l : Lib.values()) libs.put(l, new LibStatus(l, true, ""));
        Report r = new Report(libs, 0, "cudaGetDeviceCount: cudaErrorNoDevice (100)", "/x");
        String why = r.whyUnavailable();
        assertTrue(why.contains("no CUDA device") && why.contains("cudaErrorNoDevice"), why);
        assertTrue(!r.gpuPresent());
    }
}
