// Benchmark: does the engine's GEMM split (C cut into blocks, each a single-threaded OpenBLAS call) cost
// time on one thread against one OpenBLAS call for the whole product? Runs the linear layers' three
// products (forward x·Wᵀ, backward dy·W and dyᵀ·x) for every weight shape of the tiny and small
// benchmark models at N = B·T = 1024 rows, alternating the two ways, best of 5 rounds each, timed in this thread's
// CPU time (both ways run entirely on the calling thread at 1 thread), which a loaded machine disturbs less.
// Prints a table; asserts nothing. Usage: GemmSplitBench [--rounds N].
package dev.shoal.runtime.bench;

import dev.shoal.runtime.tensor.Gemm;
import dev.shoal.runtime.tensor.OpenBlasGemm;
import dev.shoal.runtime.tensor.Parallel;
import dev.shoal.runtime.tensor.Tensor;
import java.util.Random;

public final class GemmSplitBench {
    private GemmSplitBench() {}

    /** One product of the model: C [m, n] = op(A) [m, k] · op(B) [k, n]. */
    private record Shape(String name, boolean transA, boolean transB, int m, int n, int k) {
        double flops() {
            return 2.0 * m * n * k;
        }
    }

    public static void main(String[] args) {
        int rounds = 5;
        for (int i = 0; i < args.length; i++) {
            if (args[i].equals("--rounds")) {
                rounds = Integer.parseInt(args[++i]);
            } else {
                System.err.println("unknown argument '" + args[i] + "'; usage: GemmSplitBench [--rounds N]");
                System.exit(2);
            }
        }
        int n = 1024;
        // [config, in, out] weight shapes: q/o, k/v, gate/up, down, lm head.
        int[][] weights = {
            {64, 64}, {64, 32}, {64, 176}, {176, 64}, {64, 512}, // tiny
            {256, 256}, {256, 128}, {256, 688}, {688, 256}, {256, 4096} // small
        };
        System.out.printf(
                "GEMM split vs one call, 1 thread, Java %s, load average %.2f at start (shared box)%n",
                System.getProperty("java.version"),
                java.lang.management.ManagementFactory.getOperatingSystemMXBean()
                        .getSystemLoadAverage());
        System.out.printf(
                "%-30s %6s %6s %6s %12s %12s %12s %8s %8s%n",
                "product", "m", "n", "k", "split GF/s", "halves GF/s", "one GF/s", "halves/s", "one/split");
        try (Parallel par = new Parallel(1)) {
            OpenBlasGemm split = new OpenBlasGemm(par);
            OpenBlasGemm one = OpenBlasGemm.blasThreaded(1);
            for (int[] w : weights) {
                int in = w[0], out = w[1];
                Shape[] shapes = {
                    new Shape("fwd x·Wᵀ " + in + "→" + out, false, true, n, out, in),
                    new Shape("bwd dy·W " + in + "→" + out, false, false, n, in, out),
                    new Shape("bwd dyᵀ·x " + in + "→" + out, true, false, out, in, n),
                };
                for (Shape s : shapes) {
                    double gSplit = 0, gHalves = 0, gOne = 0;
                    Operands o = Operands.random(s);
                    Gemm halves = halves(one);
                    for (int r = 0; r < rounds; r++) {
                        gSplit = Math.max(gSplit, gflops(split, s, o));
                        gHalves = Math.max(gHalves, gflops(halves, s, o));
                        gOne = Math.max(gOne, gflops(one, s, o));
                    }
                    System.out.printf(
                            "%-30s %6d %6d %6d %12.1f %12.1f %12.1f %8.2f %8.2f%n",
                            s.name(), s.m(), s.n(), s.k(), gSplit, gHalves, gOne, gHalves / gSplit, gOne / gSplit);
                }
            }
        }
        System.out.printf(
                "load average %.2f at end%n",
                java.lang.management.ManagementFactory.getOperatingSystemMXBean()
                        .getSystemLoadAverage());
    }

    /** C cut into two halves of rows (or of columns when n > m), each one call of g. */
    private static Gemm halves(Gemm g) {
        return (ta, tb, m, n, k, alpha, a, aOff, lda, b, bOff, ldb, beta, c, cOff, ldc) -> {
            if (m >= n) {
                int h = (m / 2 + 15) / 16 * 16;
                g.sgemm(ta, tb, h, n, k, alpha, a, aOff, lda, b, bOff, ldb, beta, c, cOff, ldc);
                long a2 = aOff + (ta ? h : (long) h * lda);
                g.sgemm(ta, tb, m - h, n, k, alpha, a, a2, lda, b, bOff, ldb, beta, c, cOff + (long) h * ldc, ldc);
            } else {
                int h = (n / 2 + 15) / 16 * 16;
                g.sgemm(ta, tb, m, h, k, alpha, a, aOff, lda, b, bOff, ldb, beta, c, cOff, ldc);
                long b2 = bOff + (tb ? (long) h * ldb : h);
                g.sgemm(ta, tb, m, n - h, k, alpha, a, aOff, lda, b, b2, ldb, beta, c, cOff + h, ldc);
            }
        };
    }

    private record Operands(Tensor a, Tensor b, Tensor c) {
        static Operands random(Shape s) {
            Random r = new Random(5);
            Tensor a = Tensor.zeros(s.m() * s.k()), b = Tensor.zeros(s.k() * s.n()), c = Tensor.zeros(s.m() * s.n());
            for (long i = 0; i < a.numel(); i++) {
                a.set(i, r.nextFloat() - 0.5f);
            }
            for (long i = 0; i < b.numel(); i++) {
                b.set(i, r.nextFloat() - 0.5f);
            }
            return new Operands(a, b, c);
        }
    }

    private static final java.lang.management.ThreadMXBean CPU =
            java.lang.management.ManagementFactory.getThreadMXBean();

    /** GFLOP/s (per second of this thread's CPU time) of enough repetitions of one product to take about 50 ms (after one warm-up call). */
    private static double gflops(Gemm g, Shape s, Operands o) {
        int lda = s.transA() ? s.m() : s.k(), ldb = s.transB() ? s.k() : s.n();
        Runnable call = () -> g.sgemm(
                s.transA(), s.transB(), s.m(), s.n(), s.k(), 1f, o.a(), 0, lda, o.b(), 0, ldb, 0f, o.c(), 0, s.n());
        call.run();
        int reps = (int) Math.max(1, Math.min(1000, 50e6 * 1.0 / Math.max(1, s.flops() / 20)));
        long t0 = CPU.getCurrentThreadCpuTime();
        for (int i = 0; i < reps; i++) {
            call.run();
        }
        double sec = (CPU.getCurrentThreadCpuTime() - t0) / 1e9;
        return s.flops() * reps / sec / 1e9;
    }
}
