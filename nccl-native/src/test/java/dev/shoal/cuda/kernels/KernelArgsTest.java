// CPU check of the cuLaunchKernel argument packing: each slot points at its own 8-byte value,
// ints and floats sit in the low bytes (little-endian), and the buffer is reused per thread.
package dev.shoal.cuda.kernels;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;

import org.junit.jupiter.api.Test;

class KernelArgsTest {
    @Test
    void slotsPointAtTheirValues() {
        KernelArgs a = KernelArgs.begin()
                .ptr(0x1234_5678_9abcL)
                .i32(-7)
                .f32(1.5f)
                .i64(1L << 40)
                .ptr(0);
        assertEquals(5, a.count());
        for (int i = 0; i < 5; i++) {
            assertEquals(a.valueAddress(i), a.slotAddress(i), "slot " + i);
        }
        assertEquals(0x1234_5678_9abcL, a.rawSlot(0));
        assertEquals(-7, (int) a.rawSlot(1)); // low 4 bytes
        assertEquals(0, a.rawSlot(1) >>> 32); // high bytes cleared
        assertEquals(1.5f, Float.intBitsToFloat((int) a.rawSlot(2)));
        assertEquals(1L << 40, a.rawSlot(3));
        assertEquals(0L, a.rawSlot(4));
    }

    @Test
    void beginReusesTheThreadBufferAndRestarts() {
        KernelArgs a = KernelArgs.begin().i32(1).i32(2);
        KernelArgs b = KernelArgs.begin();
        assertSame(a, b);
        assertEquals(0, b.count());
    }

    @Test
    void tooManyArgumentsFail() {
        KernelArgs a = KernelArgs.begin();
        for (int i = 0; i < KernelArgs.MAX_ARGS; i++) {
            a.i32(i);
        }
        assertThrows(IllegalStateException.class, () -> a.i32(0));
    }
}
