// The source assignment: exact arithmetic helpers against brute force, the ≤ 1 window bound for the
// ALMR split (constant and scheduled) over many window lengths and weights, the measured bound inside
// multi-source groups, closed-form counts = assignments at huge steps, and an exhaustive-search proof
// that no sequence meets the ≤ 1 bound for every source once three unequal sources exist.
package dev.shoal.runtime.data;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import java.math.BigInteger;
import java.util.List;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;

class MixtureAssignerTest {

    static final long Q = AlmrSchedule.Q;

    @Test
    void floorSumMatchesBruteForce() {
        SplittableRandom r = new SplittableRandom(1);
        for (int t = 0; t < 3000; t++) {
            long n = r.nextInt(60);
            long m = 1 + r.nextInt(50);
            long a = r.nextInt(200) - 100;
            long b = r.nextInt(2000) - 1000;
            long brute = 0;
            for (long i = 0; i < n; i++) brute += Math.floorDiv(a * i + b, m);
            assertEquals(BigInteger.valueOf(brute), ExactMath.floorSum(n, m, a, b), n + " " + m + " " + a + " " + b);
        }
        // large values do not overflow
        assertEquals(
                BigInteger.valueOf(1_000_000_000L)
                        .multiply(BigInteger.valueOf(999_999_999L))
                        .shiftRight(1),
                ExactMath.floorSum(1_000_000_000L, 1, 1, 0));
    }

    @Test
    void scheduleCumulativeMatchesSumOfSteps() {
        SplittableRandom r = new SplittableRandom(2);
        for (int t = 0; t < 200; t++) {
            int pts = 1 + r.nextInt(4);
            long[] st = new long[pts];
            long[] v = new long[pts];
            long s = r.nextInt(5);
            for (int k = 0; k < pts; k++) {
                st[k] = s;
                s += 1 + r.nextInt(30);
                v[k] = r.nextLong(Q + 1);
            }
            AlmrSchedule sch = new AlmrSchedule(st, v);
            BigInteger sum = BigInteger.ZERO;
            for (long x = 0; x < s + 20; x++) {
                assertEquals(sum, sch.cumulative(x), sch + " at " + x);
                long a = sch.at(x);
                assertTrue(a >= 0 && a <= Q);
                sum = sum.add(BigInteger.valueOf(a));
            }
        }
        AlmrSchedule lin = AlmrSchedule.parse("0:0.1,100:0.3");
        assertEquals(100_000_000L, lin.at(0));
        assertEquals(200_000_000L, lin.at(50));
        assertEquals(300_000_000L, lin.at(100));
        assertEquals(300_000_000L, lin.at(10_000));
    }

    static MixtureSpec twoSources(double almr, int batch, AlmrSchedule schedule) {
        return new MixtureSpec(
                7,
                16,
                batch,
                1,
                List.of(new MixtureSpec.Source("en", "en", 1 - almr), new MixtureSpec.Source("zh", "zh", almr)),
                "zh",
                schedule);
    }

    /** counts(n) for n in [0, N], one row per n. */
    static long[][] prefix(MixtureAssigner a, int sources, int n) {
        long[][] c = new long[n + 1][];
        for (int i = 0; i <= n; i++) c[i] = a.counts(i, sources);
        return c;
    }

    @Test
    void twoSourceWindowsAreWithinOneOfTarget() {
        double[] almrs = {0.5, 0.3, 1.0 / 3, 0.05, 0.25, 0.618033988, 0.9, 0.01, 0.999, 0.12345};
        int[] batches = {1, 7, 64, 100};
        int n = 1200;
        int kMax = 300;
        for (double almr : almrs) {
            for (int batch : batches) {
                MixtureSpec spec = twoSources(almr, batch, null);
                MixtureAssigner a = new MixtureAssigner(spec);
                long wZh = a.weightInGroupPpb(1); // == Q: one source per group
                assertEquals(Q, wZh);
                long almrPpb = spec.effectiveSchedule().ppb()[0];
                long[][] c = prefix(a, 2, n);
                for (int k = 1; k <= kMax; k++) {
                    for (int s = 0; s + k <= n; s++) {
                        long zh = c[s + k][1] - c[s][1];
                        long en = c[s + k][0] - c[s][0];
                        if (zh + en != k) fail("counts do not add up");
                        // |zh − K·almr| ≤ 1 and |en − K·(1−almr)| ≤ 1, in exact ppb arithmetic
                        if (Math.abs(zh * Q - k * almrPpb) > Q || Math.abs(en * Q - k * (Q - almrPpb)) > Q) {
                            fail("almr " + almr + " batch " + batch + " K " + k + " at " + s + ": zh " + zh + " en "
                                    + en);
                        }
                    }
                }
            }
        }
    }

    @Test
    void scheduledAlmrWindowsAreWithinOneOfTheirTarget() {
        AlmrSchedule sch = AlmrSchedule.parse("3:0.05,20:0.5,40:0.5,60:0.2");
        for (int batch : new int[] {1, 8, 33}) {
            MixtureAssigner a = new MixtureAssigner(twoSources(0.3, batch, sch));
            int n = 80 * batch;
            long[][] c = prefix(a, 2, n);
            long[] target = new long[n + 1]; // Σ_{g<n} r(step(g)) in ppb
            for (int g = 0; g < n; g++) target[g + 1] = target[g] + sch.at(g / batch);
            for (int k = 1; k <= Math.min(n, 300); k++) {
                for (int s = 0; s + k <= n; s++) {
                    long zh = c[s + k][1] - c[s][1];
                    if (Math.abs(zh * Q - (target[s + k] - target[s])) > Q)
                        fail("batch " + batch + " K " + k + " at " + s);
                }
            }
        }
    }

    @Test
    void multiSourceGroupsStayWithinTwo() {
        SplittableRandom r = new SplittableRandom(3);
        double worst = 0;
        for (int t = 0; t < 40; t++) {
            List<MixtureSpec.Source> src = List.of(
                    new MixtureSpec.Source("a", "en", 1 + r.nextInt(20)),
                    new MixtureSpec.Source("b", "en", 1 + r.nextInt(20)),
                    new MixtureSpec.Source("c", "en", 1 + r.nextInt(20)));
            MixtureSpec spec = new MixtureSpec(1, 8, 16, 1, src, "zh", null);
            MixtureAssigner a = new MixtureAssigner(spec);
            int n = 1500;
            long[][] c = prefix(a, 3, n);
            for (int i = 0; i < 3; i++) {
                long w = a.weightInGroupPpb(i);
                for (int k = 1; k <= 200; k++) {
                    for (int s = 0; s + k <= n; s++) {
                        double err = Math.abs((c[s + k][i] - c[s][i]) - k * (double) w / Q);
                        worst = Math.max(worst, err);
                    }
                }
            }
        }
        assertTrue(worst < 2, "worst window error " + worst);

        // Two replay sources and one additional-language source: the additional language alone in its group
        // keeps the exact ≤ 1 bound whatever the replay side does.
        MixtureSpec mixed = new MixtureSpec(
                1,
                8,
                12,
                1,
                List.of(
                        new MixtureSpec.Source("web", "en", 0.45),
                        new MixtureSpec.Source("code", "en", 0.3),
                        new MixtureSpec.Source("zh", "zh", 0.25)),
                "zh",
                null);
        MixtureAssigner a = new MixtureAssigner(mixed);
        long almr = mixed.effectiveSchedule().ppb()[0];
        long[][] c = prefix(a, 3, 1500);
        for (int k = 1; k <= 200; k++) {
            for (int s = 0; s + k <= 1500; s++) {
                long zh = c[s + k][2] - c[s][2];
                if (Math.abs(zh * Q - k * almr) > Q) fail("zh window K " + k + " at " + s);
            }
        }
    }

    @Test
    void assignmentsAgreeWithClosedFormCountsEvenAtHugeSteps() {
        MixtureSpec spec = new MixtureSpec(
                9,
                32,
                48,
                4,
                List.of(
                        new MixtureSpec.Source("en", "en", 0.5),
                        new MixtureSpec.Source("code", "en", 0.2),
                        new MixtureSpec.Source("zh", "zh", 0.3)),
                "zh",
                AlmrSchedule.parse("0:0.1,1000:0.3"));
        MixtureAssigner a = new MixtureAssigner(spec);
        for (long step : new long[] {0, 1, 999, 1000, 123_456_789L, 4_000_000_000L}) {
            int[] src = new int[48];
            long[] seq = new long[48];
            a.assign(step, 0, 48, src, seq);
            long[] c = a.counts(step * 48, 3);
            for (int row = 0; row < 48; row++) {
                assertEquals(c[src[row]], seq[row], "step " + step + " row " + row);
                long[] next = a.counts(step * 48 + row + 1, 3);
                for (int i = 0; i < 3; i++) assertEquals(c[i] + (i == src[row] ? 1 : 0), next[i]);
                c = next;
            }
        }
        long[] far = a.counts(4_000_000_000L * 48, 3);
        assertEquals(4_000_000_000L * 48, far[0] + far[1] + far[2]);
        // after the ramp the ALMR is 0.3: zh share of 192e9 sequences is 0.3 up to the ramp's shortfall
        double zhShare = far[2] / (4_000_000_000.0 * 48);
        assertTrue(Math.abs(zhShare - 0.3) < 1e-4, "zh share " + zhShare);
    }

    @Test
    void sourceListsParse() {
        assertEquals(
                List.of(new MixtureSpec.Source("en", "en", 0.7), new MixtureSpec.Source("zh-web", "zh", 0.3)),
                MixtureSpec.Source.parseList("en:en:0.7, zh-web:zh:0.3"));
        var e = org.junit.jupiter.api.Assertions.assertThrows(
                IllegalArgumentException.class, () -> MixtureSpec.Source.parseList("en:0.7"));
        assertTrue(e.getMessage().contains("'en:0.7'"), e.getMessage());
        e = org.junit.jupiter.api.Assertions.assertThrows(
                IllegalArgumentException.class, () -> MixtureSpec.Source.parseList("en:en:-1"));
        assertTrue(e.getMessage().contains("weight -1.0 must be > 0"), e.getMessage());
        e = org.junit.jupiter.api.Assertions.assertThrows(
                IllegalArgumentException.class,
                () -> new MixtureSpec(
                        1, 8, 8, 1, MixtureSpec.Source.parseList("en:en:1"), "zh", AlmrSchedule.parse("0:0.2")));
        assertTrue(e.getMessage().contains("no source has the additional language 'zh'"), e.getMessage());
    }

    @Test
    void weightsBecomeExactPpb() {
        assertArrayEquals(
                new long[] {333_333_334L, 333_333_333L, 333_333_333L}, MixtureAssigner.toPpb(new double[] {1, 1, 1}));
        long[] w = MixtureAssigner.toPpb(new double[] {0.7, 0.2, 0.1});
        assertEquals(Q, w[0] + w[1] + w[2]);
    }

    /**
     * Why the ≤ 1 bound is promised per language group and not per source: for weights 19/31, 3/31, 9/31
     * no sequence of length 67 has every window within 1 of K·w for all three sources (exhaustive DFS).
     */
    @Test
    void noSequenceMeetsTheBoundForThreeUnequalSources() {
        int[] w = {19, 3, 9};
        assertFalse(existsBalanced(w, 31, 67));
        // and the search does find sequences when one exists (weights 1/2, 1/4, 1/4)
        assertTrue(existsBalanced(new int[] {2, 1, 1}, 4, 40));
    }

    static boolean existsBalanced(int[] w, int total, int length) {
        int[] seq = new int[length];
        return dfs(seq, 0, w, total);
    }

    private static boolean dfs(int[] seq, int n, int[] w, int total) {
        if (n == seq.length) return true;
        for (int s = 0; s < w.length; s++) {
            seq[n] = s;
            if (windowsEndingAtOk(seq, n + 1, w, total) && dfs(seq, n + 1, w, total)) return true;
        }
        return false;
    }

    /** Every window ending at n has |count_i·total − K·w_i| ≤ total. */
    private static boolean windowsEndingAtOk(int[] seq, int n, int[] w, int total) {
        int[] cnt = new int[w.length];
        for (int a = n - 1; a >= 0; a--) {
            cnt[seq[a]]++;
            int k = n - a;
            for (int i = 0; i < w.length; i++) if (Math.abs(cnt[i] * total - k * w[i]) > total) return false;
        }
        return true;
    }
}
