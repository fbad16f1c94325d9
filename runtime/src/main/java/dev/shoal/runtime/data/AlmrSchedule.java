// A piecewise-linear Additional Language Mixture Ratio over training steps, quantised to parts per
// billion so that the per-step ratio and its running sum are exact integers. Before the first point the
// first value holds, after the last point the last value holds.
package dev.shoal.runtime.data;

import java.math.BigInteger;
import java.util.ArrayList;
import java.util.List;

/**
 * @param steps strictly increasing step numbers (≥ 0)
 * @param ppb the ALMR at each step, in parts per billion (0 .. 1e9)
 */
public record AlmrSchedule(long[] steps, long[] ppb) {

    /** Parts per billion: the unit of every weight in the sampler. */
    public static final long Q = 1_000_000_000L;

    public AlmrSchedule {
        if (steps.length == 0 || steps.length != ppb.length) {
            throw new IllegalArgumentException("ALMR schedule needs ≥ 1 point and as many values as steps");
        }
        steps = steps.clone();
        ppb = ppb.clone();
        for (int k = 0; k < steps.length; k++) {
            if (steps[k] < 0) throw new IllegalArgumentException("ALMR schedule step " + steps[k] + " is negative");
            if (k > 0 && steps[k] <= steps[k - 1]) {
                throw new IllegalArgumentException(
                        "ALMR schedule steps must increase: " + steps[k - 1] + " then " + steps[k]);
            }
            if (ppb[k] < 0 || ppb[k] > Q) {
                throw new IllegalArgumentException(
                        "ALMR " + ppb[k] / (double) Q + " at step " + steps[k] + " not in [0, 1]");
            }
        }
    }

    /** A constant ALMR. */
    public static AlmrSchedule constant(double almr) {
        return new AlmrSchedule(new long[] {0}, new long[] {toPpb(almr)});
    }

    /** Parses {@code "0:0.1,1000:0.3,5000:0.3"} (step:almr pairs). */
    public static AlmrSchedule parse(String s) {
        List<long[]> pts = new ArrayList<>();
        for (String part : s.split(",")) {
            String[] kv = part.trim().split(":");
            if (kv.length != 2)
                throw new IllegalArgumentException("ALMR schedule point '" + part + "' is not step:almr");
            try {
                pts.add(new long[] {Long.parseLong(kv[0].trim()), toPpb(Double.parseDouble(kv[1].trim()))});
            } catch (NumberFormatException e) {
                throw new IllegalArgumentException("ALMR schedule point '" + part + "' is not step:almr");
            }
        }
        long[] st = new long[pts.size()];
        long[] v = new long[pts.size()];
        for (int i = 0; i < st.length; i++) {
            st[i] = pts.get(i)[0];
            v[i] = pts.get(i)[1];
        }
        return new AlmrSchedule(st, v);
    }

    static long toPpb(double x) {
        if (!(x >= 0 && x <= 1)) throw new IllegalArgumentException("ALMR " + x + " not in [0, 1]");
        return Math.round(x * Q);
    }

    /** The ALMR of step {@code s} in ppb: floor of the linear interpolation. */
    public long at(long s) {
        int n = steps.length;
        if (s <= steps[0]) return ppb[0];
        if (s >= steps[n - 1]) return ppb[n - 1];
        int k = segment(s);
        long len = steps[k + 1] - steps[k];
        long i = s - steps[k];
        // (a_k·(len - i) + a_{k+1}·i) / len, exact
        return BigInteger.valueOf(ppb[k])
                .multiply(BigInteger.valueOf(len - i))
                .add(BigInteger.valueOf(ppb[k + 1]).multiply(BigInteger.valueOf(i)))
                .divide(BigInteger.valueOf(len))
                .longValueExact();
    }

    /** Σ_{t=0}^{s-1} at(t), exact, in O(points · log) time. */
    public BigInteger cumulative(long s) {
        BigInteger sum = BigInteger.ZERO;
        int n = steps.length;
        // before the first point: constant ppb[0] for t in [0, min(s, steps[0]+1))
        long headEnd = Math.min(s, steps[0] + 1);
        if (headEnd > 0) sum = sum.add(BigInteger.valueOf(ppb[0]).multiply(BigInteger.valueOf(headEnd)));
        for (int k = 0; k + 1 < n && steps[k] + 1 < s; k++) {
            // interior of segment k: t in (steps[k], steps[k+1]] clipped to t < s; at t = steps[k+1] the
            // interpolation equals ppb[k+1] exactly, so the segment formula covers it too.
            long from = steps[k] + 1;
            long to = Math.min(s, steps[k + 1] + 1);
            if (to <= from) continue;
            long len = steps[k + 1] - steps[k];
            // value(t) = floor((ppb[k]·len + (ppb[k+1]-ppb[k])·(t - steps[k])) / len), i = t - from
            long a = ppb[k + 1] - ppb[k];
            long b0 = BigInteger.valueOf(ppb[k])
                    .multiply(BigInteger.valueOf(len))
                    .add(BigInteger.valueOf(a))
                    .longValueExact(); // value at i = 0 (t = steps[k] + 1), numerator
            sum = sum.add(ExactMath.floorSum(to - from, len, a, b0));
        }
        long tailFrom = steps[n - 1] + 1;
        if (s > tailFrom) sum = sum.add(BigInteger.valueOf(ppb[n - 1]).multiply(BigInteger.valueOf(s - tailFrom)));
        return sum;
    }

    private int segment(long s) {
        int lo = 0, hi = steps.length - 1; // steps[lo] <= s < steps[hi]
        while (hi - lo > 1) {
            int mid = (lo + hi) >>> 1;
            if (steps[mid] <= s) lo = mid;
            else hi = mid;
        }
        return lo;
    }

    @Override
    public boolean equals(Object o) {
        return o instanceof AlmrSchedule a
                && java.util.Arrays.equals(steps, a.steps)
                && java.util.Arrays.equals(ppb, a.ppb);
    }

    @Override
    public int hashCode() {
        return 31 * java.util.Arrays.hashCode(steps) + java.util.Arrays.hashCode(ppb);
    }

    @Override
    public String toString() {
        StringBuilder b = new StringBuilder("AlmrSchedule[");
        for (int k = 0; k < steps.length; k++) {
            if (k > 0) b.append(", ");
            b.append(steps[k]).append(':').append(ppb[k] / (double) Q);
        }
        return b.append(']').toString();
    }
}
