// bf16 rounding against exact bit arithmetic (runs without a GPU).
package dev.shoal.cuda;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.junit.jupiter.api.Test;

class Bf16Test {

    @Test
    void exactValuesRoundTrip() {
        for (float f : new float[] {0f, -0f, 1f, -2f, 0.5f, 65280f, Float.POSITIVE_INFINITY}) {
            assertEquals(f, Bf16.round(f));
        }
    }

    @Test
    void roundsToNearestEven() {
        // 1 + 2^-8 lies halfway between bf16 1.0 and 1 + 2^-7: ties go to the even mantissa (1.0).
        assertEquals(1.0f, Bf16.round(1f + 0x1p-8f));
        // 1 + 3·2^-8 is halfway between 1 + 2^-7 (odd) and 1 + 2^-6 (even).
        assertEquals(1f + 0x1p-6f, Bf16.round(1f + 3 * 0x1p-8f));
        // just above halfway rounds up
        assertEquals(1f + 0x1p-7f, Bf16.round(1f + 0x1p-8f + 0x1p-20f));
    }

    @Test
    void relativeErrorIsAtMostHalfUlp() {
        java.util.Random r = new java.util.Random(7);
        for (int i = 0; i < 100_000; i++) {
            float f = (float) (r.nextGaussian() * Math.pow(10, r.nextInt(10) - 5));
            if (f == 0) continue;
            float b = Bf16.round(f);
            assertTrue(Math.abs(b - f) <= Math.abs(f) * 0x1p-8f, f + " -> " + b);
        }
    }

    @Test
    void nanStaysNan() {
        assertTrue(Float.isNaN(Bf16.round(Float.NaN)));
        // a NaN whose payload sits only in the low bits must stay NaN, not become Inf
        assertTrue(Float.isNaN(Bf16.round(Float.intBitsToFloat(0x7f800001))));
    }

    @Test
    void bitsAndSpecialsMatchTheDeviceConversion() {
        assertEquals((short) 0x3f80, Bf16.toBits(1.0f));
        assertEquals((short) 0x3f82, Bf16.toBits(Float.intBitsToFloat(0x3f818000))); // tie, odd -> up
        assertEquals(Float.NEGATIVE_INFINITY, Bf16.round(Float.NEGATIVE_INFINITY));
        // the largest float rounds to infinity in bf16
        assertEquals(Float.POSITIVE_INFINITY, Bf16.round(Float.MAX_VALUE));
        assertEquals(-0.0f, Bf16.round(-0.0f));
    }
}
