// Benchmark of parallel CPU training: tokens/s of one training step (forward, backward, gradient sync,
// AdamW) for (tp, dp, pp) layouts whose ranks are threads over the in-JVM backend (1 compute thread
// each), with the 1F1B bubble fraction of the layout's pipeline. Prints a table; asserts nothing.
// Usage: ParallelBench [--config small] [--layouts 1x1x1,2x1x1,1x2x1,1x1x2] [--global 8] [--micro 1]
//        [--seq 128] [--steps 5] [--zero1]     (a layout is tp x dp x pp)
package dev.shoal.runtime.bench;

import dev.shoal.comm.ParallelDims;
import dev.shoal.runtime.model.LlamaConfig;
import dev.shoal.runtime.model.LlamaModel;
import dev.shoal.runtime.optim.AdamWConfig;
import dev.shoal.runtime.parallel.BatchPlan;
import dev.shoal.runtime.parallel.DataParallelOptimizer;
import dev.shoal.runtime.parallel.ParallelTrainer;
import dev.shoal.runtime.parallel.PipelineSchedule;
import dev.shoal.runtime.parallel.ThreadMesh;
import dev.shoal.runtime.tensor.Compute;
import dev.shoal.runtime.tensor.Tensor;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;

public final class ParallelBench {
    private ParallelBench() {}

    public static void main(String[] args) throws Exception {
        String config = "small";
        List<String> layouts = List.of("1x1x1", "2x1x1", "1x2x1", "1x1x2");
        int global = 8, micro = 1, seq = 128, steps = 5;
        DataParallelOptimizer.Mode mode = DataParallelOptimizer.Mode.REPLICATED;
        for (int i = 0; i < args.length; i++) {
            switch (args[i]) {
                case "--config" -> config = args[++i];
                case "--layouts" -> layouts = List.of(args[++i].split(","));
                case "--global" -> global = Integer.parseInt(args[++i]);
                case "--micro" -> micro = Integer.parseInt(args[++i]);
                case "--seq" -> seq = Integer.parseInt(args[++i]);
                case "--steps" -> steps = Integer.parseInt(args[++i]);
                case "--zero1" -> mode = DataParallelOptimizer.Mode.ZERO1;
                default -> {
                    System.err.println("unknown argument '" + args[i] + "'; usage: ParallelBench [--config small]"
                            + " [--layouts 1x1x1,2x1x1] [--global 8] [--micro 1] [--seq 128] [--steps 5] [--zero1]");
                    System.exit(2);
                }
            }
        }
        LlamaConfig cfg = LlamaConfig.preset(config);
        Map<String, Tensor> init = new LinkedHashMap<>();
        try (Compute cx = Compute.cpu(1)) {
            LlamaModel m = new LlamaModel(cfg, 1, seq, cx, false);
            m.initRandom(1);
            m.params().forEach((k, v) -> init.put(k, v.copy()));
        }
        System.out.printf(
                "model %s, global batch %d × T %d, micro-batch %d, %s, %d cores%n",
                config, global, seq, micro, mode, Runtime.getRuntime().availableProcessors());
        System.out.printf(
                "%-8s %5s %4s %7s %11s %10s %10s%n",
                "tp×dp×pp", "world", "m", "bubble", "median ms", "best ms", "tokens/s");
        for (String layout : layouts) {
            int[] d =
                    Arrays.stream(layout.split("x")).mapToInt(Integer::parseInt).toArray();
            run(cfg, init, ParallelDims.of(d[0], d[2], d[1]), global, micro, seq, steps, mode, layout);
        }
    }

    private static void run(
            LlamaConfig cfg,
            Map<String, Tensor> init,
            ParallelDims dims,
            int global,
            int micro,
            int seq,
            int steps,
            DataParallelOptimizer.Mode mode,
            String label)
            throws Exception {
        BatchPlan plan = BatchPlan.of(global, micro, dims.dp());
        long[][] stepNanos = new long[dims.world()][steps];
        ExecutorService pool = Executors.newFixedThreadPool(dims.world());
        try (ThreadMesh mesh = new ThreadMesh(dims, 1, 600_000)) {
            List<Future<?>> fs = new ArrayList<>();
            for (int r = 0; r < dims.world(); r++) {
                int rank = r;
                fs.add(pool.submit(() -> {
                    try (Compute cx = Compute.cpu(1)) {
                        ParallelTrainer t =
                                new ParallelTrainer(cfg, mesh.comms(rank), plan, seq, mode, AdamWConfig.llama(), cx);
                        t.loadFull(init);
                        for (int s = -1; s < steps; s++) { // step −1 warms up
                            int[][] batch = batch(s + 1, global, seq, cfg.vocab());
                            long t0 = System.nanoTime();
                            t.step(batch, 1e-4, 1.0);
                            if (s >= 0) {
                                stepNanos[rank][s] = System.nanoTime() - t0;
                            }
                        }
                    }
                    return null;
                }));
            }
            for (Future<?> f : fs) {
                f.get();
            }
        } finally {
            pool.shutdownNow();
        }
        // A step lasts as long as its slowest rank.
        double[] ms = new double[steps];
        for (int s = 0; s < steps; s++) {
            long worst = 0;
            for (long[] rank : stepNanos) {
                worst = Math.max(worst, rank[s]);
            }
            ms[s] = worst / 1e6;
        }
        Arrays.sort(ms);
        double median = ms[steps / 2];
        System.out.printf(
                "%-8s %5d %4d %6.1f%% %11.1f %10.1f %10.0f%n",
                label,
                dims.world(),
                plan.gradAccum(),
                100 * PipelineSchedule.bubbleFraction(dims.pp(), plan.gradAccum()),
                median,
                ms[0],
                global * (double) seq / (median / 1e3));
    }

    private static int[][] batch(int step, int global, int seq, int vocab) {
        SplittableRandom r = new SplittableRandom(1000L + step);
        int[][] b = new int[global][seq + 1];
        for (int[] row : b) {
            for (int i = 0; i < row.length; i++) {
                row[i] = r.nextInt(vocab);
            }
        }
        return b;
    }
}
