package dev.shoal.runtime.comm;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.junit.jupiter.api.Test;

class HalfFloatsTest {

    @Test
    void bf16RoundsToNearestEven() {
        // 1 + 2^-8 is exactly halfway between bf16 1.0 and 1.0078125: ties go to even (1.0).
        assertEquals((short) 0x3f80, HalfFloats.floatToBf16(1f + 0x1p-8f));
        // 1 + 3·2^-8 is halfway between 1.0078125 (odd) and 1.015625 (even): rounds up.
        assertEquals((short) 0x3f82, HalfFloats.floatToBf16(1f + 3 * 0x1p-8f));
        // Just above halfway rounds up.
        assertEquals((short) 0x3f81, HalfFloats.floatToBf16(Math.nextUp(1f + 0x1p-8f)));
        assertTrue(Float.isNaN(HalfFloats.bf16ToFloat(HalfFloats.floatToBf16(Float.NaN))));
        assertEquals(Float.POSITIVE_INFINITY, HalfFloats.bf16ToFloat(HalfFloats.floatToBf16(Float.MAX_VALUE)));
        assertEquals(-2.5f, HalfFloats.bf16ToFloat(HalfFloats.floatToBf16(-2.5f)));
    }

    @Test
    void f16RoundTripsEveryHalfValue() {
        for (int h = 0; h < 0x10000; h++) {
            float f = HalfFloats.f16ToFloat((short) h);
            if (Float.isNaN(f)) continue;
            assertEquals((short) h, HalfFloats.floatToF16(f), "half bits 0x" + Integer.toHexString(h));
        }
    }

    @Test
    void f16RoundsToNearestEvenIncludingSubnormals() {
        assertEquals((short) 0x3c00, HalfFloats.floatToF16(1f + 0x1p-11f)); // tie → even
        assertEquals((short) 0x3c02, HalfFloats.floatToF16(1f + 3 * 0x1p-11f)); // tie → even (up)
        assertEquals((short) 0x0000, HalfFloats.floatToF16(0x1p-25f)); // half of smallest subnormal → 0
        assertEquals((short) 0x0002, HalfFloats.floatToF16(3 * 0x1p-25f)); // 1.5 ulp → 2 (even)
        assertEquals((short) 0x7c00, HalfFloats.floatToF16(65520f)); // overflow → inf
        assertEquals((short) 0x7bff, HalfFloats.floatToF16(65519f));
    }
}
