// Checks the 16-bit conversions bit for bit: against PyTorch's own rounding of tricky values
// (fixture hf/rounding.json, made by gen_golden.py) and exhaustively over all 65536 bit patterns.
package dev.shoal.runtime.tensor;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.InputStream;
import org.junit.jupiter.api.Test;

class FloatFormatsTest {

    private static JsonNode fixture() throws Exception {
        try (InputStream in = FloatFormatsTest.class.getResourceAsStream("/hf/rounding.json")) {
            return new ObjectMapper().readTree(in).get("values");
        }
    }

    private static float f32(String hex) {
        return Float.intBitsToFloat(Integer.parseUnsignedInt(hex, 16));
    }

    @Test
    void bf16RoundingMatchesTorchBitForBit() throws Exception {
        int n = 0;
        for (JsonNode v : fixture()) {
            float f = f32(v.get("f32").asText());
            int want = Integer.parseInt(v.get("bf16").asText(), 16);
            int got = FloatFormats.f32ToBf16(f) & 0xFFFF;
            if (Float.isNaN(f)) {
                // torch's vectorised path writes 0xFFFF and its scalar path 0x7FC0: only NaN-ness is defined.
                assertTrue(Float.isNaN(FloatFormats.bf16ToF32((short) got)), v.toString());
                assertTrue(Float.isNaN(FloatFormats.bf16ToF32((short) want)), v.toString());
            } else {
                assertEquals(want, got, () -> "bf16 of " + v + " got " + Integer.toHexString(got));
            }
            n++;
        }
        assertTrue(n >= 50, "fixture has " + n + " values");
    }

    @Test
    void f16RoundingMatchesTorchBitForBit() throws Exception {
        for (JsonNode v : fixture()) {
            float f = f32(v.get("f32").asText());
            int want = Integer.parseInt(v.get("f16").asText(), 16);
            int got = FloatFormats.f32ToF16(f) & 0xFFFF;
            assertEquals(want, got, () -> "f16 of " + v + " got " + Integer.toHexString(got));
        }
    }

    @Test
    void every16BitPatternSurvivesARoundTrip() {
        for (int b = 0; b < 65536; b++) {
            short s = (short) b;
            float bf = FloatFormats.bf16ToF32(s);
            float h = FloatFormats.f16ToF32(s);
            assertEquals(Float.floatToRawIntBits(FloatFormats.decodeF16(s)), Float.floatToRawIntBits(h), "table entry");
            if (Float.isNaN(bf)) {
                assertTrue(Float.isNaN(FloatFormats.bf16ToF32(FloatFormats.f32ToBf16(bf))));
            } else {
                assertEquals(b, FloatFormats.f32ToBf16(bf) & 0xFFFF, "bf16 " + Integer.toHexString(b));
            }
            if (Float.isNaN(h)) {
                assertTrue(Float.isNaN(FloatFormats.f16ToF32(FloatFormats.f32ToF16(h))));
            } else {
                assertEquals(b, FloatFormats.f32ToF16(h) & 0xFFFF, "f16 " + Integer.toHexString(b));
            }
        }
    }

    @Test
    void f16DecodesSubnormalsInfinitiesAndNaN() {
        assertEquals(0x1p-24f, FloatFormats.f16ToF32((short) 0x0001));
        assertEquals(1023 * 0x1p-24f, FloatFormats.f16ToF32((short) 0x03FF));
        assertEquals(0x1p-14f, FloatFormats.f16ToF32((short) 0x0400));
        assertEquals(65504f, FloatFormats.f16ToF32((short) 0x7BFF));
        assertEquals(-2f, FloatFormats.f16ToF32((short) 0xC000));
        assertEquals(Float.POSITIVE_INFINITY, FloatFormats.f16ToF32((short) 0x7C00));
        assertEquals(Float.NEGATIVE_INFINITY, FloatFormats.f16ToF32((short) 0xFC00));
        assertTrue(Float.isNaN(FloatFormats.f16ToF32((short) 0x7E00)));
        assertEquals(0x80000000, Float.floatToRawIntBits(FloatFormats.f16ToF32((short) 0x8000)));
    }
}
