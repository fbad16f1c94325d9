// Benchmark of the CPU engine: training tokens/s (forward + backward + AdamW) of the tiny and small
// presets on 1 and 2 threads, with a per-phase split, plus 1024² SGEMM GFLOP/s through OpenBLAS.
// Prints a table; asserts nothing. Usage: EngineBench [--threads 1,2] [--steps N] [--configs tiny,small].
package dev.shoal.runtime.bench;

import dev.shoal.runtime.model.LlamaConfig;
import dev.shoal.runtime.model.LlamaModel;
import dev.shoal.runtime.optim.AdamW;
import dev.shoal.runtime.optim.AdamWConfig;
import dev.shoal.runtime.optim.GradClip;
import dev.shoal.runtime.tensor.Compute;
import dev.shoal.runtime.tensor.OpenBlasGemm;
import dev.shoal.runtime.tensor.Parallel;
import dev.shoal.runtime.tensor.Tensor;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;

public final class EngineBench {
    private EngineBench() {}

    /** Batch shape used for each preset (also used by runtime/src/test/python/bench_torch.py). */
    static int[] batchFor(String config) {
        return switch (config) {
            case "tiny" -> new int[] {8, 128};
            case "small" -> new int[] {4, 256};
            default -> new int[] {1, 128};
        };
    }

    public static void main(String[] args) {
        List<Integer> threads = List.of(1, 2);
        List<String> configs = List.of("tiny", "small");
        int steps = 10;
        boolean recompute = false;
        for (int i = 0; i < args.length; i++) {
            switch (args[i]) {
                case "--threads" -> threads = parseInts(args[++i]);
                case "--configs" -> configs = List.of(args[++i].split(","));
                case "--steps" -> steps = Integer.parseInt(args[++i]);
                case "--recompute" -> recompute = true;
                default -> {
                    System.err.println("unknown argument '" + args[i]
                            + "'; usage: EngineBench [--threads 1,2] [--configs tiny,small] [--steps N] [--recompute]");
                    System.exit(2);
                }
            }
        }
        System.out.printf(
                "shoal engine, Java %s, %d CPUs, load average %.2f at start%n",
                System.getProperty("java.version"),
                Runtime.getRuntime().availableProcessors(),
                java.lang.management.ManagementFactory.getOperatingSystemMXBean()
                        .getSystemLoadAverage());
        System.out.printf(
                "%-8s %-9s %7s %10s %10s %10s %10s %9s %9s %9s%n",
                "config",
                "B x T",
                "threads",
                "median ms",
                "best ms",
                "cpu ms",
                "tokens/s",
                "fwd ms",
                "bwd ms",
                "opt ms");
        for (String name : configs) {
            for (int th : threads) {
                runModel(LlamaConfig.preset(name), th, steps, recompute);
            }
        }
        System.out.printf(
                "load average %.2f at end%n",
                java.lang.management.ManagementFactory.getOperatingSystemMXBean()
                        .getSystemLoadAverage());
        System.out.println();
        System.out.printf("%-40s %7s %10s%n", "SGEMM 1024x1024x1024 (off-heap)", "threads", "GFLOP/s");
        for (int th : threads) {
            try (Parallel par = new Parallel(th)) {
                System.out.printf(
                        "%-40s %7d %10.1f%n",
                        th == 1 ? "engine: one OpenBLAS call" : "engine: Java split, 1-thread OpenBLAS",
                        th,
                        sgemmGflops(new OpenBlasGemm(par)));
            }
            System.out.printf(
                    "%-40s %7d %10.1f%n", "OpenBLAS own threads", th, sgemmGflops(OpenBlasGemm.blasThreaded(th)));
        }
    }

    private static List<Integer> parseInts(String s) {
        List<Integer> out = new ArrayList<>();
        for (String p : s.split(",")) {
            out.add(Integer.parseInt(p.trim()));
        }
        return out;
    }

    private static void runModel(LlamaConfig cfg, int threads, int steps, boolean recompute) {
        int[] bt = batchFor(cfg.name());
        int b = bt[0], t = bt[1];
        try (Compute cx = Compute.cpu(threads)) {
            LlamaModel m = new LlamaModel(cfg, b, t, cx, recompute);
            m.initRandom(1);
            AdamW opt = new AdamW(m.params(), m.grads(), AdamWConfig.llama(), cx.par());
            Random r = new Random(2);
            int[] x = new int[b * t], y = new int[b * t];
            for (int i = 0; i < x.length; i++) {
                x[i] = r.nextInt(cfg.vocab());
                y[i] = r.nextInt(cfg.vocab());
            }
            long fwd = 0, bwd = 0, upd = 0;
            long[] stepNs = new long[steps];
            var os = (com.sun.management.OperatingSystemMXBean)
                    java.lang.management.ManagementFactory.getOperatingSystemMXBean();
            // Warm-up: at least 3 steps and 3 seconds, so the JIT has compiled the hot loops.
            long warmStart = System.nanoTime();
            int warmup = 0;
            while (warmup < 3 || System.nanoTime() - warmStart < 3_000_000_000L) {
                m.zeroGrad();
                m.forward(x, y, b, t);
                m.backward();
                GradClip.clipGlobalNorm(m.grads().values(), 1.0, cx.par());
                opt.step(1e-4);
                warmup++;
            }
            // Process CPU time over all measured steps (its clock ticks are coarse, so no per-step value).
            long cpuStart = os.getProcessCpuTime();
            for (int s = warmup; s < warmup + steps; s++) {
                long t0 = System.nanoTime();
                m.zeroGrad();
                m.forward(x, y, b, t);
                long t1 = System.nanoTime();
                m.backward();
                long t2 = System.nanoTime();
                GradClip.clipGlobalNorm(m.grads().values(), 1.0, cx.par());
                opt.step(1e-4);
                long t3 = System.nanoTime();
                if (s >= warmup) {
                    fwd += t1 - t0;
                    bwd += t2 - t1;
                    upd += t3 - t2;
                    stepNs[s - warmup] = t3 - t0;
                }
            }
            // Median and best step: robust to other work on a shared machine; phases are means.
            java.util.Arrays.sort(stepNs);
            double cpu = (os.getProcessCpuTime() - cpuStart) / 1e6 / steps;
            double median = stepNs[steps / 2] / 1e6, best = stepNs[0] / 1e6;
            System.out.printf(
                    "%-8s %-9s %7d %10.1f %10.1f %10.1f %10.0f %9.1f %9.1f %9.1f%n",
                    cfg.name() + (recompute ? "+rc" : ""),
                    b + "x" + t,
                    threads,
                    median,
                    best,
                    cpu,
                    b * t / (median / 1e3),
                    fwd / 1e6 / steps,
                    bwd / 1e6 / steps,
                    upd / 1e6 / steps);
        }
    }

    /** Best of 3 rounds of 10 multiplies of 1024² matrices. */
    static double sgemmGflops(OpenBlasGemm gemm) {
        int n = 1024;
        Tensor a = Tensor.zeros(n, n), bm = Tensor.zeros(n, n), c = Tensor.zeros(n, n);
        Random r = new Random(3);
        for (long i = 0; i < a.numel(); i++) {
            a.set(i, r.nextFloat());
            bm.set(i, r.nextFloat());
        }
        gemm.matmul(false, false, 1f, a, bm, 0f, c);
        double best = 0;
        for (int round = 0; round < 3; round++) {
            long t0 = System.nanoTime();
            for (int k = 0; k < 10; k++) {
                gemm.matmul(false, false, 1f, a, bm, 0f, c);
            }
            double s = (System.nanoTime() - t0) / 1e9;
            best = Math.max(best, 2.0 * n * n * n * 10 / s / 1e9);
        }
        return best;
    }
}
