// Size-class arithmetic of the caching allocator (pure Java, runs without a GPU).
package dev.shoal.cuda;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.junit.jupiter.api.Test;

class DeviceMemoryPoolSizeClassTest {

    @Test
    void smallRequestsRoundTo512Bytes() {
        assertEquals(512, DeviceMemoryPool.sizeClass(1));
        assertEquals(512, DeviceMemoryPool.sizeClass(512));
        assertEquals(1024, DeviceMemoryPool.sizeClass(513));
        assertEquals(1L << 20, DeviceMemoryPool.sizeClass(1L << 20));
    }

    @Test
    void largeRequestsUseQuarterStepsOnTwoMiBPages() {
        long mib = 1L << 20;
        assertEquals(2 * mib, DeviceMemoryPool.sizeClass(mib + 1)); // 1.25 MiB rounds to a 2 MiB page
        assertEquals(64 * mib, DeviceMemoryPool.sizeClass(64 * mib));
        assertEquals(80 * mib, DeviceMemoryPool.sizeClass(64 * mib + 1));
        assertEquals(96 * mib, DeviceMemoryPool.sizeClass(81 * mib));
        assertEquals(128 * mib, DeviceMemoryPool.sizeClass(113 * mib));
    }

    @Test
    void classIsNeverSmallerAndSlackIsBounded() {
        for (long b = 1; b < (1L << 34); b = b * 3 + 7) {
            long c = DeviceMemoryPool.sizeClass(b);
            assertTrue(c >= b, "class " + c + " < request " + b);
            long slackLimit = Math.max(512, Math.max(2L << 20, b / 4 + 1));
            assertTrue(c - b <= slackLimit, "slack " + (c - b) + " for " + b);
            assertEquals(c, DeviceMemoryPool.sizeClass(c), "a class size is its own class");
        }
    }

    @Test
    void nonPositiveRequestsAreRefused() {
        assertThrows(IllegalArgumentException.class, () -> DeviceMemoryPool.sizeClass(0));
    }
}
