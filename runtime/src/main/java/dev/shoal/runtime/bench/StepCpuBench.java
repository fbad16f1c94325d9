// Benchmark for a loaded machine: this thread's CPU time per training step (zero grads, forward,
// backward, clip 1.0, AdamW — EngineBench's step) of the tiny and small presets on ONE thread, after a
// long warm-up, so that neither the other processes' load nor the JIT's compiler threads enter the
// number. Compare with bench_torch.py's "cpu ms" column at 1 thread (its process runs one thread).
// Prints the engine's 1-thread SGEMM 1024³ rate (GFLOP per CPU second) and one line per config;
// asserts nothing. Usage: StepCpuBench [tiny,small]
package dev.shoal.runtime.bench;

import dev.shoal.runtime.model.LlamaConfig;
import dev.shoal.runtime.model.LlamaModel;
import dev.shoal.runtime.optim.AdamW;
import dev.shoal.runtime.optim.AdamWConfig;
import dev.shoal.runtime.optim.GradClip;
import dev.shoal.runtime.tensor.Compute;
import java.lang.management.ManagementFactory;
import java.lang.management.ThreadMXBean;
import java.util.Arrays;
import java.util.Random;

public final class StepCpuBench {
    private StepCpuBench() {}

    public static void main(String[] args) {
        ThreadMXBean mx = ManagementFactory.getThreadMXBean();
        String configs = args.length > 0 ? args[0] : "tiny,small";
        try (Compute cx = Compute.cpu(1)) {
            System.out.printf(
                    "SGEMM 1024x1024x1024 through the engine's Gemm, 1 thread: %.1f GFLOP/s of this thread's CPU time;"
                            + " load average %.2f%n",
                    sgemmCpuGflops(cx),
                    ManagementFactory.getOperatingSystemMXBean().getSystemLoadAverage());
        }
        for (String name : configs.split(",")) {
            LlamaConfig cfg = LlamaConfig.preset(name);
            int[] bt = EngineBench.batchFor(name);
            int b = bt[0], t = bt[1];
            // Warm-up and timed steps: about 4 s and 3 s of work on an idle core for either preset.
            int warm = name.equals("tiny") ? 60 : 12, steps = name.equals("tiny") ? 40 : 8;
            try (Compute cx = Compute.cpu(1)) {
                LlamaModel m = new LlamaModel(cfg, b, t, cx, false);
                m.initRandom(1);
                AdamW opt = new AdamW(m.params(), m.grads(), AdamWConfig.llama(), cx.par());
                Random r = new Random(2);
                int[] x = new int[b * t], y = new int[b * t];
                for (int i = 0; i < x.length; i++) {
                    x[i] = r.nextInt(cfg.vocab());
                    y[i] = r.nextInt(cfg.vocab());
                }
                double[] ms = new double[steps];
                for (int s = 0; s < warm + steps; s++) {
                    long c0 = mx.getCurrentThreadCpuTime();
                    m.zeroGrad();
                    m.forward(x, y, b, t);
                    m.backward();
                    GradClip.clipGlobalNorm(m.grads().values(), 1.0, cx.par());
                    opt.step(1e-4);
                    if (s >= warm) {
                        ms[s - warm] = (mx.getCurrentThreadCpuTime() - c0) / 1e6;
                    }
                }
                Arrays.sort(ms);
                System.out.printf(
                        "%-6s %dx%d, 1 thread: this thread's CPU ms per step: median %.1f, best %.1f (%d steps after %d)%n",
                        name, b, t, ms[steps / 2], ms[0], steps, warm);
            }
        }
    }

    /** Best of 3 rounds of 10 products of 1024² matrices, in GFLOP per second of this thread's CPU time. */
    private static double sgemmCpuGflops(Compute cx) {
        ThreadMXBean mx = ManagementFactory.getThreadMXBean();
        int n = 1024;
        dev.shoal.runtime.tensor.Tensor a = dev.shoal.runtime.tensor.Tensor.zeros(n, n);
        dev.shoal.runtime.tensor.Tensor bm = dev.shoal.runtime.tensor.Tensor.zeros(n, n);
        dev.shoal.runtime.tensor.Tensor c = dev.shoal.runtime.tensor.Tensor.zeros(n, n);
        Random r = new Random(3);
        for (long i = 0; i < a.numel(); i++) {
            a.set(i, r.nextFloat());
            bm.set(i, r.nextFloat());
        }
        cx.gemm().matmul(false, false, 1f, a, bm, 0f, c);
        double best = 0;
        for (int round = 0; round < 3; round++) {
            long t0 = mx.getCurrentThreadCpuTime();
            for (int k = 0; k < 10; k++) {
                cx.gemm().matmul(false, false, 1f, a, bm, 0f, c);
            }
            double s = (mx.getCurrentThreadCpuTime() - t0) / 1e9;
            best = Math.max(best, 2.0 * n * n * n * 10 / s / 1e9);
        }
        return best;
    }
}
