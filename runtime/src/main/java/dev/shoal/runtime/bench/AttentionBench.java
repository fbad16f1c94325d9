// Benchmark: attention forward + backward on one thread, the T×T path (Attention.forwardFull /
// backwardFull) against TiledAttention at several query-block sizes, for the tiny and small benchmark
// models' shapes. Ways alternate round by round; each cell is the best of the rounds, in milliseconds
// of this thread's CPU time (less disturbed by a loaded machine than wall time). Prints a table;
// asserts nothing. Usage: AttentionBench [--rounds N].
package dev.shoal.runtime.bench;

import dev.shoal.runtime.ops.Attention;
import dev.shoal.runtime.ops.TiledAttention;
import dev.shoal.runtime.tensor.Compute;
import dev.shoal.runtime.tensor.Tensor;
import java.lang.management.ManagementFactory;
import java.lang.management.ThreadMXBean;
import java.util.Random;

public final class AttentionBench {
    private AttentionBench() {}

    public static void main(String[] args) {
        int rounds = 5;
        for (int i = 0; i < args.length; i++) {
            if (args[i].equals("--rounds")) {
                rounds = Integer.parseInt(args[++i]);
            } else {
                System.err.println("unknown argument '" + args[i] + "'; usage: AttentionBench [--rounds N]");
                System.exit(2);
            }
        }
        Attention.Dims[] dims = {
            new Attention.Dims(8, 128, 4, 2, 16),
            new Attention.Dims(4, 256, 8, 4, 32),
            new Attention.Dims(2, 512, 8, 4, 32),
            new Attention.Dims(1, 1024, 8, 4, 32),
            new Attention.Dims(1, 1024, 4, 2, 64)
        };
        int[] blocks = {16, 32, 64, 128};
        System.out.printf(
                "attention fwd+bwd, 1 thread, CPU ms (best of %d), load average %.2f at start (shared box)%n",
                rounds, ManagementFactory.getOperatingSystemMXBean().getSystemLoadAverage());
        System.out.printf("%-28s %10s", "dims", "T×T");
        for (int b : blocks) {
            System.out.printf(" %10s", "tile " + b);
        }
        System.out.println();
        ThreadMXBean mx = ManagementFactory.getThreadMXBean();
        try (Compute cx = Compute.cpu(1)) {
            for (Attention.Dims d : dims) {
                Random r = new Random(1);
                int c = d.nh() * d.hd(), kv = d.nkv() * d.hd();
                Tensor q = rand(r, d.b() * d.t() * c), k = rand(r, d.b() * d.t() * kv), v = rand(r, d.b() * d.t() * kv);
                Tensor dout = rand(r, d.b() * d.t() * c), out = Tensor.zeros(d.b() * d.t() * c);
                Tensor dq = Tensor.zeros(d.b() * d.t() * c), dk = Tensor.zeros(d.b() * d.t() * kv);
                Tensor dv = Tensor.zeros(d.b() * d.t() * kv);
                Tensor att = Tensor.zeros(d.b(), d.nh(), d.t(), d.t()),
                        datt = Tensor.zeros(d.b(), d.nh(), d.t(), d.t());
                Runnable[] ways = new Runnable[blocks.length + 1];
                ways[0] = () -> {
                    Attention.forwardFull(cx, out, att, q, k, v, d);
                    Attention.backwardFull(cx, dq, dk, dv, datt, dout, q, k, v, att, d);
                };
                for (int w = 0; w < blocks.length; w++) {
                    int blk = blocks[w];
                    Tensor lse = Tensor.zeros(Math.toIntExact(TiledAttention.lseElems(d)));
                    Tensor fs = Tensor.zeros(Math.toIntExact(TiledAttention.forwardScratchElems(d, blk)));
                    Tensor bs = Tensor.zeros(Math.toIntExact(TiledAttention.backwardScratchElems(d, blk)));
                    ways[w + 1] = () -> {
                        TiledAttention.forward(cx, out, lse, fs, q, k, v, d, blk);
                        TiledAttention.backward(cx, dq, dk, dv, bs, dout, q, k, v, lse, d, blk);
                    };
                }
                double[] best = new double[ways.length];
                java.util.Arrays.fill(best, Double.MAX_VALUE);
                for (int round = -2; round < rounds; round++) { // two warm-up rounds
                    for (int w = 0; w < ways.length; w++) {
                        long t0 = mx.getCurrentThreadCpuTime();
                        for (int rep = 0; rep < 3; rep++) {
                            ways[w].run();
                        }
                        double ms = (mx.getCurrentThreadCpuTime() - t0) / 3e6;
                        if (round >= 0) {
                            best[w] = Math.min(best[w], ms);
                        }
                    }
                }
                System.out.printf(
                        "%-28s", "B" + d.b() + " T" + d.t() + " NH" + d.nh() + "/" + d.nkv() + " hd" + d.hd());
                for (double b : best) {
                    System.out.printf(" %10.2f", b);
                }
                System.out.println();
            }
        }
        System.out.printf(
                "load average %.2f at end%n",
                ManagementFactory.getOperatingSystemMXBean().getSystemLoadAverage());
    }

    private static Tensor rand(Random r, int n) {
        Tensor t = Tensor.zeros(n);
        for (long i = 0; i < n; i++) {
            t.set(i, (float) r.nextGaussian());
        }
        return t;
    }
}
