// Exact integer helpers for the sampler: floor sums of linear functions (for closed-form cumulative
// ALMR targets) and overflow-safe floor(a*b/c). Exactness matters: sample placement must be a pure,
// platform-independent function of the step, so no floating point is used there.
package dev.shoal.runtime.data;

import java.math.BigInteger;

final class ExactMath {

    private ExactMath() {}

    /**
     * Σ_{i=0}^{n-1} floor((a·i + b) / m) for any integers a, b and m > 0, n ≥ 0, in O(log m) steps (the
     * Euclid-like reduction: strip the integer parts of a/m and b/m, then swap the roles of the axes).
     */
    static BigInteger floorSum(long n, long m, long a, long b) {
        if (m <= 0) throw new IllegalArgumentException("m " + m + " must be > 0");
        if (n < 0) throw new IllegalArgumentException("n " + n + " must be ≥ 0");
        BigInteger N = BigInteger.valueOf(n);
        BigInteger M = BigInteger.valueOf(m);
        BigInteger A = BigInteger.valueOf(a);
        BigInteger B = BigInteger.valueOf(b);
        BigInteger ans = BigInteger.ZERO;
        BigInteger pairs = N.multiply(N.subtract(BigInteger.ONE)).shiftRight(1); // n(n-1)/2
        // Make 0 <= a < m and 0 <= b < m, accounting for the removed integer parts.
        BigInteger[] qa = floorDivMod(A, M);
        ans = ans.add(pairs.multiply(qa[0]));
        A = qa[1];
        BigInteger[] qb = floorDivMod(B, M);
        ans = ans.add(N.multiply(qb[0]));
        B = qb[1];
        return ans.add(floorSumUnsigned(N, M, A, B));
    }

    /** Same sum for 0 ≤ a, b (no upper bound), iterative. */
    private static BigInteger floorSumUnsigned(BigInteger n, BigInteger m, BigInteger a, BigInteger b) {
        BigInteger ans = BigInteger.ZERO;
        while (true) {
            if (a.compareTo(m) >= 0) {
                BigInteger[] q = a.divideAndRemainder(m);
                ans = ans.add(
                        n.multiply(n.subtract(BigInteger.ONE)).shiftRight(1).multiply(q[0]));
                a = q[1];
            }
            if (b.compareTo(m) >= 0) {
                BigInteger[] q = b.divideAndRemainder(m);
                ans = ans.add(n.multiply(q[0]));
                b = q[1];
            }
            BigInteger yMax = a.multiply(n).add(b);
            if (yMax.compareTo(m) < 0) return ans;
            BigInteger[] q = yMax.divideAndRemainder(m);
            n = q[0];
            b = q[1];
            BigInteger t = m;
            m = a;
            a = t;
        }
    }

    private static BigInteger[] floorDivMod(BigInteger x, BigInteger m) {
        BigInteger[] qr = x.divideAndRemainder(m);
        if (qr[1].signum() < 0) {
            qr[0] = qr[0].subtract(BigInteger.ONE);
            qr[1] = qr[1].add(m);
        }
        return qr;
    }

    /** floor(a·b / c) for a, b ≥ 0, c > 0, exact even when a·b overflows a long. */
    static long mulDivFloor(long a, long b, long c) {
        long hi = Math.multiplyHigh(a, b);
        if (hi == 0 && a * b >= 0) return (a * b) / c;
        return BigInteger.valueOf(a)
                .multiply(BigInteger.valueOf(b))
                .divide(BigInteger.valueOf(c))
                .longValueExact();
    }
}
