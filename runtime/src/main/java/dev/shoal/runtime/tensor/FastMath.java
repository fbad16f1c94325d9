// A float exp for the softmax and SiLU loops: branch-light arithmetic the JIT can inline and unroll,
// instead of the double-precision Math.exp call; and a bulk form over an array that the JIT vectorises.
// Guarantees: relative error below 3e-7 (about 2.5 float ulps) against Math.exp for x in
// [-87, 88] (checked by FastMathTest over a dense sweep); expf is exactly 0 below -87.33 (float
// underflow region), +Infinity above 88.72, NaN for NaN. expInPlace computes the same reduction and
// polynomial, so in the normal range it gives expf's bits (but for the rare exact ties of x·log2(e)
// halfway between integers, rounded to even instead of away from zero); below -87.33 it gives the
// gradual-underflow value (exactly 0 from -104.5 on), +Infinity above 88.72, NaN for NaN.
package dev.shoal.runtime.tensor;

import java.lang.reflect.Field;

public final class FastMath {
    private FastMath() {}

    private static final float LOG2E = 1.44269504088896341f;
    // ln 2 split in two (Cody–Waite) so x − n·ln2 is exact for |n| < 2^8.
    private static final float LN2_HI = 0.693359375f;
    private static final float LN2_LO = -2.12194440e-4f;

    /** e^x in float. */
    public static float expf(float x) {
        if (x < -87.33654f) {
            return 0f;
        }
        if (x > 88.72283f) {
            return Float.POSITIVE_INFINITY;
        }
        // x = n·ln2 + r with |r| <= ln2/2.
        // Round x·log2(e) to the nearest integer (cast truncates toward zero, so shift by ±0.5 first).
        float t = x * LOG2E;
        int ni = (int) (t + (t < 0 ? -0.5f : 0.5f));
        float n = ni;
        float r = x - n * LN2_HI - n * LN2_LO;
        // e^r by its Taylor polynomial to degree 7 (the next term is below 2e-9 relative on |r| <= 0.347).
        float p = 1.9841270e-4f;
        p = p * r + 1.3888889e-3f;
        p = p * r + 8.3333333e-3f;
        p = p * r + 4.1666667e-2f;
        p = p * r + 1.6666667e-1f;
        p = p * r + 0.5f;
        p = p * r + 1f;
        p = p * r + 1f;
        // Scale by 2^n through the exponent bits (n in [-126, 128]; split so 2^n never overflows alone).
        if (ni < -126) {
            return p * Float.intBitsToFloat((ni + 126 + 127) << 23) * 1.17549435e-38f;
        }
        if (ni > 127) {
            return p * Float.intBitsToFloat((ni - 1 + 127) << 23) * 2f;
        }
        return p * Float.intBitsToFloat((ni + 127) << 23);
    }

    // ---- Bulk form. C2 (JDK 17) vectorises float and int arithmetic loops but not float <-> int
    // conversions or bit moves, so expInPlace splits the work into passes that each vectorise:
    // (1) float: clamp, n = round(x·log2 e) by the 1.5·2^23 trick, r, the polynomial; (2) a raw memory
    // copy of the rounded floats into an int[] (their low bits are n); (3) int: the exponent bits of
    // 2^(n>>1) and 2^(n-(n>>1)) (two factors, so n in [-151, 128] never leaves the normal range);
    // (4) a raw copy back to float[] and the product p·2^a·2^b (exact unless the result is subnormal).

    /** Elements per pass: the scratch arrays of one block stay in L1. */
    private static final int BLOCK = 1024;

    private static final float ROUND = 12582912f; // 1.5·2^23: adding it rounds |t| < 2^22 to an integer
    private static final int ROUND_BITS = 0x4B400000; // the bits of ROUND; ROUND + n has bits ROUND_BITS + n
    private static final float CLAMP_LO = -104.5f; // e^x < 2^-150: the product rounds to exactly 0
    private static final float CLAMP_HI = 88.72284f; // just above ln(Float.MAX_VALUE): the product is +Inf

    private static final sun.misc.Unsafe U = unsafe();
    private static final long FLOAT_BASE = U.arrayBaseOffset(float[].class);
    private static final long INT_BASE = U.arrayBaseOffset(int[].class);

    private static final class Blocks {
        final float[] x = new float[BLOCK];
        final float[] k = new float[BLOCK];
        final int[] bits = new int[BLOCK];
        final int[] bits2 = new int[BLOCK];
        final float[] s1 = new float[BLOCK];
        final float[] s2 = new float[BLOCK];
    }

    private static final ThreadLocal<Blocks> BLOCKS = ThreadLocal.withInitial(Blocks::new);

    /** x[from..to) = e^x[from..to), element-wise (see the header for the accuracy contract). */
    public static void expInPlace(float[] x, int from, int to) {
        java.util.Objects.checkFromToIndex(from, to, x.length);
        Blocks b = BLOCKS.get();
        for (int s = from; s < to; s += BLOCK) {
            expBlock(x, s, Math.min(BLOCK, to - s), b);
        }
    }

    private static void expBlock(float[] xs, int off, int len, Blocks b) {
        // Every loop indexes its arrays with the same i: with two indices into arrays that may alias,
        // C2 cannot prove the iterations independent and does not vectorise.
        float[] x = b.x, k = b.k, s1 = b.s1, s2 = b.s2;
        int[] bits = b.bits, bits2 = b.bits2;
        System.arraycopy(xs, off, x, 0, len);
        // (1) Range reduction and polynomial; x[i] becomes p(r), k[i] holds ROUND + n.
        for (int i = 0; i < len; i++) {
            float xi = Math.min(Math.max(x[i], CLAMP_LO), CLAMP_HI);
            float ki = xi * LOG2E + ROUND;
            float n = ki - ROUND;
            float r = xi - n * LN2_HI - n * LN2_LO;
            float p = 1.9841270e-4f;
            p = p * r + 1.3888889e-3f;
            p = p * r + 8.3333333e-3f;
            p = p * r + 4.1666667e-2f;
            p = p * r + 1.6666667e-1f;
            p = p * r + 0.5f;
            p = p * r + 1f;
            p = p * r + 1f;
            k[i] = ki;
            x[i] = p;
        }
        // (2) The bits of ROUND + n, reinterpreted as ints.
        U.copyMemory(k, FLOAT_BASE, bits, INT_BASE, (long) len * Float.BYTES);
        // (3) Exponent fields of 2^h and 2^(n-h), h = n >> 1.
        for (int i = 0; i < len; i++) {
            int n = bits[i] - ROUND_BITS;
            int h = n >> 1;
            bits[i] = (h + 127) << 23;
            bits2[i] = (n - h + 127) << 23;
        }
        // (4) Back to floats, and the scaling.
        U.copyMemory(bits, INT_BASE, s1, FLOAT_BASE, (long) len * Float.BYTES);
        U.copyMemory(bits2, INT_BASE, s2, FLOAT_BASE, (long) len * Float.BYTES);
        for (int i = 0; i < len; i++) {
            x[i] = x[i] * s1[i] * s2[i];
        }
        System.arraycopy(x, 0, xs, off, len);
    }

    private static sun.misc.Unsafe unsafe() {
        try {
            Field f = sun.misc.Unsafe.class.getDeclaredField("theUnsafe");
            f.setAccessible(true);
            return (sun.misc.Unsafe) f.get(null);
        } catch (ReflectiveOperationException e) {
            throw new IllegalStateException("sun.misc.Unsafe is needed for the bulk exp", e);
        }
    }
}
