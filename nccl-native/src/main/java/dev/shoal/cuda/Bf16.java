// bfloat16 <-> float conversion on the host, for staging bf16 tensors and checking GPU results.
// Guarantees: toBits rounds to nearest, ties to even (as CUDA's __float2bfloat16_rn); NaN stays NaN;
// fromBits is exact.
package dev.shoal.cuda;

import org.bytedeco.javacpp.FloatPointer;
import org.bytedeco.javacpp.ShortPointer;

public final class Bf16 {
    private Bf16() {}

    /** The bf16 bit pattern nearest to {@code f} (round to nearest even). */
    public static short toBits(float f) {
        int x = Float.floatToRawIntBits(f);
        if ((x & 0x7fffffff) > 0x7f800000) return (short) ((x >>> 16) | 0x0040); // quiet NaN
        int lsb = (x >>> 16) & 1;
        x += 0x7fff + lsb;
        return (short) (x >>> 16);
    }

    /** The float value of a bf16 bit pattern. */
    public static float fromBits(short bits) {
        return Float.intBitsToFloat((bits & 0xffff) << 16);
    }

    /** {@code f} rounded to bf16 and back. */
    public static float round(float f) {
        return fromBits(toBits(f));
    }

    /** dst[i] = bf16(src[i]) for i < elems. */
    public static void convert(FloatPointer src, ShortPointer dst, long elems) {
        for (long i = 0; i < elems; i++) dst.put(i, toBits(src.get(i)));
    }

    /** dst[i] = float(src[i]) for i < elems. */
    public static void convert(ShortPointer src, FloatPointer dst, long elems) {
        for (long i = 0; i < elems; i++) dst.put(i, fromBits(src.get(i)));
    }
}
