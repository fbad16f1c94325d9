// Bit-exact conversions between float32 and the 16-bit formats of safetensors files.
// Guarantees: bf16→f32 and f16→f32 are exact (f16 subnormals, ±inf and NaN included);
// f32→bf16 and f32→f16 round to nearest, ties to even, overflow to ±inf, and keep NaN a NaN
// (the canonical quiet NaN with the input's sign: 0x7FC0/0xFFC0 for bf16, 0x7E00/0xFE00 for f16,
// as PyTorch's scalar conversions do).
package dev.shoal.runtime.tensor;

public final class FloatFormats {
    private FloatFormats() {}

    /** bf16 bits (low 16 bits of the argument) to float32: bf16 is the top half of a float32. */
    public static float bf16ToF32(short bf16) {
        return Float.intBitsToFloat((bf16 & 0xFFFF) << 16);
    }

    /** float32 to bf16 bits, round to nearest even. */
    public static short f32ToBf16(float f) {
        int bits = Float.floatToRawIntBits(f);
        if ((bits & 0x7F800000) == 0x7F800000 && (bits & 0x007FFFFF) != 0) {
            // NaN: canonical quiet NaN, sign kept (rounding could otherwise carry a NaN into inf).
            return (short) (((bits >>> 16) & 0x8000) | 0x7FC0);
        }
        // Add 0x7FFF plus the lowest kept bit: below half truncates, above half carries, and an
        // exact half carries only when the kept part is odd. A carry out of the mantissa moves the
        // exponent up, and out of the largest finite value gives inf, as RNE requires.
        int lsb = (bits >>> 16) & 1;
        return (short) ((bits + 0x7FFF + lsb) >>> 16);
    }

    /** f16 bits → float32 for all 65536 patterns: a lookup table, built from decodeF16. */
    private static final float[] F16_TABLE = new float[65536];

    static {
        for (int b = 0; b < 65536; b++) F16_TABLE[b] = decodeF16((short) b);
    }

    /** f16 bits (low 16 bits of the argument) to float32, exactly (table lookup). */
    public static float f16ToF32(short f16) {
        return F16_TABLE[f16 & 0xFFFF];
    }

    /** f16 bits to float32 by bit manipulation; the definition behind f16ToF32's table. */
    static float decodeF16(short f16) {
        int h = f16 & 0xFFFF;
        int sign = (h & 0x8000) << 16;
        int exp = (h >>> 10) & 0x1F;
        int mant = h & 0x3FF;
        if (exp == 0) {
            // zero or subnormal: mant · 2^-24, exact in float32
            float mag = mant * 0x1p-24f;
            return Float.intBitsToFloat(sign | Float.floatToRawIntBits(mag));
        }
        if (exp == 0x1F) {
            // inf (mant 0) or NaN (payload kept in the top mantissa bits)
            return Float.intBitsToFloat(sign | 0x7F800000 | (mant << 13));
        }
        // normal: rebias the exponent from 15 to 127
        return Float.intBitsToFloat(sign | ((exp + 112) << 23) | (mant << 13));
    }

    /** float32 to f16 bits, round to nearest even, with f16 subnormals. */
    public static short f32ToF16(float f) {
        int bits = Float.floatToRawIntBits(f);
        int sign = (bits >>> 16) & 0x8000;
        int exp = (bits >>> 23) & 0xFF;
        int mant = bits & 0x7FFFFF;
        if (exp == 0xFF) {
            return (short) (mant == 0 ? sign | 0x7C00 : sign | 0x7E00);
        }
        int e = exp - 127 + 15; // f16 biased exponent
        if (e >= 0x1F) return (short) (sign | 0x7C00); // too large: inf
        if (e >= 1) {
            // normal: keep 10 of 23 mantissa bits; a carry may raise the exponent (up to inf)
            int q = (e << 10) | (mant >>> 13);
            int rem = mant & 0x1FFF;
            if (rem > 0x1000 || (rem == 0x1000 && (q & 1) != 0)) q++;
            return (short) (sign | q);
        }
        // f16 subnormal or zero: value = m · 2^(exp-150) (m with the implicit bit), and the f16
        // subnormal unit is 2^-24, so the f16 mantissa is m / 2^(126-exp), rounded.
        int m = exp == 0 ? mant : (mant | 0x800000);
        int shift = exp == 0 ? 125 : 126 - exp;
        if (shift > 25) return (short) sign; // below half the smallest subnormal: ±0
        int q = m >>> shift;
        int rem = m & ((1 << shift) - 1);
        int half = 1 << (shift - 1);
        if (rem > half || (rem == half && (q & 1) != 0)) q++; // may become the smallest normal, 0x400
        return (short) (sign | q);
    }
}
