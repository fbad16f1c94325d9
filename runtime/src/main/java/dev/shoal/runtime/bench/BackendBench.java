// Benchmark: the backend model on the CPU backend (BackendLlama + CpuBackend) against the CPU engine's
// own model (LlamaModel), one training step each (zero grads, forward, backward, clip 1.0, AdamW), on
// the tiny and small presets at EngineBench's batch shapes. Two columns per model:
// - 1 thread: tokens per second of this thread's CPU time (the pool runs inline on one thread), which
//   the other processes' load barely moves;
// - N threads: tokens per second of wall time with a pool of N threads (default 2), which a loaded box
//   does move; the two models alternate round by round so both see the same load.
// Warm-up: 150 steps of each model on tiny, 25 on small (the JIT needs about 150 calls of an attention
// kernel before it runs at full speed). Prints one table line per (config, model) and the backend/LlamaModel ratio;
// asserts nothing.
// Usage: BackendBench [tiny,small] [threads]
package dev.shoal.runtime.bench;

import dev.shoal.runtime.backend.BackendLlama;
import dev.shoal.runtime.backend.CpuBackend;
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

public final class BackendBench {
    private BackendBench() {}

    private static final ThreadMXBean MX = ManagementFactory.getThreadMXBean();

    /** One training step of one model. */
    private interface Step {
        void run();
    }

    public static void main(String[] args) {
        String configs = args.length > 0 ? args[0] : "tiny,small";
        int threads = args.length > 1 ? Integer.parseInt(args[1]) : 2;
        System.out.printf(
                "BackendBench: load average %.2f on %d cores%n",
                ManagementFactory.getOperatingSystemMXBean().getSystemLoadAverage(),
                Runtime.getRuntime().availableProcessors());
        System.out.printf(
                "%-6s %-9s %-24s %18s %18s%n",
                "config", "B x T", "model", "tok/s 1t (CPU)", "tok/s " + threads + "t (wall)");
        for (String name : configs.split(",")) {
            LlamaConfig cfg = LlamaConfig.preset(name);
            int[] bt = EngineBench.batchFor(name);
            int b = bt[0], t = bt[1];
            int warm = name.equals("tiny") ? 150 : 25, rounds = 5, perRound = name.equals("tiny") ? 8 : 2;
            double[] one = measure(cfg, b, t, 1, warm, rounds, perRound, true);
            double[] many = measure(cfg, b, t, threads, warm, rounds, perRound, false);
            String shape = b + "x" + t;
            System.out.printf("%-6s %-9s %-24s %18.0f %18.0f%n", name, shape, "LlamaModel", one[0], many[0]);
            System.out.printf(
                    "%-6s %-9s %-24s %18.0f %18.0f%n", name, shape, "BackendLlama+CpuBackend", one[1], many[1]);
            System.out.printf(
                    "%-6s %-9s %-24s %17.2fx %17.2fx%n",
                    name, shape, "backend / LlamaModel", one[1] / one[0], many[1] / many[0]);
        }
    }

    /**
     * Median tokens/s of {LlamaModel, backend model}: rounds alternate the two, perRound steps each, after
     * warm steps of both. cpuTime: this thread's CPU time (1 thread only), else wall time.
     */
    private static double[] measure(
            LlamaConfig cfg, int b, int t, int threads, int warm, int rounds, int perRound, boolean cpuTime) {
        Random r = new Random(2);
        int[] x = new int[b * t], y = new int[b * t];
        for (int i = 0; i < x.length; i++) {
            x[i] = r.nextInt(cfg.vocab());
            y[i] = r.nextInt(cfg.vocab());
        }
        try (Compute cx = Compute.cpu(threads);
                CpuBackend ops = new CpuBackend(cx);
                BackendLlama backend = new BackendLlama(cfg, b, t, AdamWConfig.llama(), 1.0, ops)) {
            LlamaModel ref = new LlamaModel(cfg, b, t, cx, false);
            ref.initRandom(1);
            backend.uploadParams(ref);
            AdamW opt = new AdamW(ref.params(), ref.grads(), AdamWConfig.llama(), cx.par());
            Step engine = () -> {
                ref.zeroGrad();
                ref.forward(x, y, b, t);
                ref.backward();
                GradClip.clipGlobalNorm(ref.grads().values(), 1.0, cx.par());
                opt.step(1e-4);
            };
            Step model = () -> backend.trainStep(x, y, b, t, 1e-4);
            for (int i = 0; i < warm; i++) {
                engine.run();
                model.run();
            }
            double[][] rate = new double[2][rounds];
            for (int round = 0; round < rounds; round++) {
                for (int k = 0; k < 2; k++) {
                    Step s = k == 0 ? engine : model;
                    long c0 = MX.getCurrentThreadCpuTime(), w0 = System.nanoTime();
                    for (int i = 0; i < perRound; i++) s.run();
                    long ns = cpuTime ? MX.getCurrentThreadCpuTime() - c0 : System.nanoTime() - w0;
                    rate[k][round] = (double) b * t * perRound / (ns / 1e9);
                }
            }
            Arrays.sort(rate[0]);
            Arrays.sort(rate[1]);
            return new double[] {rate[0][rounds / 2], rate[1][rounds / 2]};
        }
    }
}
