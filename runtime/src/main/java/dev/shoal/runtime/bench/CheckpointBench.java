// Benchmark of sharded checkpoints on the local disk: sync save, full verification and load in MB/s
// (1 MB = 10^6 bytes) next to what `dd` gets on the same disk (write with conv=fsync, read back), with
// the page cache dropped for the files before each cold read (dd iflag=nocache count=0, which works
// for fsynced files without privileges); then the training-step stall of an async save as a fraction
// of the step time. Prints tables; asserts nothing.
// Usage: CheckpointBench [--dir /tmp/shoal-ckpt-bench] [--layout 1,1,1 (tp,pp,dp)] [--zero1]
//        [--layers 4] [--dim 768] [--vocab 16000] [--seq 64] [--steps 6] [--repeats 3]
package dev.shoal.runtime.bench;

import dev.shoal.comm.ParallelDims;
import dev.shoal.runtime.checkpoint.CheckpointDir;
import dev.shoal.runtime.checkpoint.CheckpointLoader;
import dev.shoal.runtime.checkpoint.Checkpointer;
import dev.shoal.runtime.checkpoint.TrainingState;
import dev.shoal.runtime.model.LlamaConfig;
import dev.shoal.runtime.model.LlamaModel;
import dev.shoal.runtime.optim.AdamWConfig;
import dev.shoal.runtime.parallel.BatchPlan;
import dev.shoal.runtime.parallel.DataParallelOptimizer;
import dev.shoal.runtime.parallel.ParallelTrainer;
import dev.shoal.runtime.parallel.ThreadMesh;
import dev.shoal.runtime.tensor.Compute;
import dev.shoal.runtime.tensor.Tensor;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.SplittableRandom;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Stream;

public final class CheckpointBench {
    private CheckpointBench() {}

    @FunctionalInterface
    interface RankFn<T> {
        T apply(int rank) throws Exception;
    }

    public static void main(String[] args) throws Exception {
        Path dir = Path.of("/tmp/shoal-ckpt-bench");
        int tp = 1, pp = 1, dp = 1, layers = 4, dim = 768, vocab = 16000, seq = 64, steps = 6, repeats = 3;
        boolean zero1 = false;
        for (int i = 0; i < args.length; i++) {
            switch (args[i]) {
                case "--dir" -> dir = Path.of(args[++i]);
                case "--layout" -> {
                    int[] l = Arrays.stream(args[++i].split(","))
                            .mapToInt(Integer::parseInt)
                            .toArray();
                    tp = l[0];
                    pp = l[1];
                    dp = l[2];
                }
                case "--zero1" -> zero1 = true;
                case "--layers" -> layers = Integer.parseInt(args[++i]);
                case "--dim" -> dim = Integer.parseInt(args[++i]);
                case "--vocab" -> vocab = Integer.parseInt(args[++i]);
                case "--seq" -> seq = Integer.parseInt(args[++i]);
                case "--steps" -> steps = Integer.parseInt(args[++i]);
                case "--repeats" -> repeats = Integer.parseInt(args[++i]);
                default -> {
                    System.err.println("unknown argument '" + args[i] + "'; usage: CheckpointBench [--dir D]"
                            + " [--layout tp,pp,dp] [--zero1] [--layers 4] [--dim 768] [--vocab 16000] [--seq 64]"
                            + " [--steps 6] [--repeats 3]");
                    System.exit(2);
                }
            }
        }
        LlamaConfig cfg = new LlamaConfig(
                "bench",
                layers,
                dim,
                dim / 64,
                4,
                dim * 8 / 3 / 64 * 64,
                vocab,
                1e-5,
                500_000.0,
                Optional.empty(),
                Math.max(seq, 128));
        ParallelDims dims = ParallelDims.of(tp, pp, dp);
        deleteTree(dir);
        Files.createDirectories(dir);
        System.out.printf(
                "model %s: %d layers, dim %d, vocab %d, %.1f M parameters (%.0f MB fp32); mesh tp %d × pp %d"
                        + " × dp %d%s; disk %s%n",
                cfg.name(),
                layers,
                dim,
                vocab,
                cfg.paramCount() / 1e6,
                cfg.paramCount() * 4 / 1e6,
                tp,
                pp,
                dp,
                zero1 ? " ZeRO-1" : "",
                dir);

        Map<String, Tensor> init = new LinkedHashMap<>();
        try (Compute cx = Compute.cpu(1)) {
            LlamaModel m = new LlamaModel(cfg, 1, seq, cx, false);
            m.initRandom(1);
            m.params().forEach((k, v) -> init.put(k, v.copy()));
        }
        int world = dims.world();
        ExecutorService pool = Executors.newFixedThreadPool(world);
        BatchPlan plan = BatchPlan.of(dp, 1, dp);
        DataParallelOptimizer.Mode mode =
                zero1 ? DataParallelOptimizer.Mode.ZERO1 : DataParallelOptimizer.Mode.REPLICATED;
        int seqLen = seq;
        try (ThreadMesh mesh = new ThreadMesh(dims, 1, 600_000)) {
            Compute[] cx = new Compute[world];
            ParallelTrainer[] tr = new ParallelTrainer[world];
            Checkpointer[] ck = new Checkpointer[world];
            Path root = dir.resolve("ckpt");
            RankFnRunner run = new RankFnRunner(pool, world);
            run.all(r -> {
                cx[r] = Compute.cpu(1);
                tr[r] = new ParallelTrainer(cfg, mesh.comms(r), plan, seqLen, mode, AdamWConfig.llama(), cx[r]);
                tr[r].loadFull(init);
                ck[r] = new Checkpointer(root, mesh.comms(r), Checkpointer.Options.defaults());
                return null;
            });
            init.values().forEach(Tensor::close);
            long step = 0;
            run.all(r -> tr[r].step(batch(plan.globalBatch(), seqLen, cfg.vocab(), 0), 1e-4, 1.0));
            step++;

            // 1. Sync save, verify, load (cold and warm), against dd.
            double[] save = new double[repeats], verifyCold = new double[repeats], loadCold = new double[repeats];
            double[] loadWarm = new double[repeats], snap = new double[repeats];
            long bytes = 0;
            for (int k = 0; k < repeats; k++) {
                long s = step + k;
                long t0 = System.nanoTime();
                List<Long> st = run.all(r -> {
                    ck[r].saveSync(tr[r], new TrainingState(s, 1, "constant", 1e-4, null, Map.of()));
                    return ck[r].lastStallNanos();
                });
                save[k] = seconds(t0);
                snap[k] = st.stream().mapToLong(Long::longValue).max().orElse(0) / 1e9;
                Path stepDir = CheckpointDir.stepDir(root, s);
                bytes = dirBytes(stepDir);
                dropCache(stepDir);
                t0 = System.nanoTime();
                CheckpointDir.verify(stepDir, true);
                verifyCold[k] = seconds(t0);
                dropCache(stepDir);
                t0 = System.nanoTime();
                run.all(r -> CheckpointLoader.load(stepDir, tr[r], mesh.comms(r)));
                loadCold[k] = seconds(t0);
                t0 = System.nanoTime();
                run.all(r -> CheckpointLoader.load(stepDir, tr[r], mesh.comms(r)));
                loadWarm[k] = seconds(t0);
            }
            double[] ddWrite = new double[repeats], ddReadCold = new double[repeats], ddReadWarm = new double[repeats];
            long mb = Math.max(1, bytes >> 20);
            Path f = dir.resolve("dd.bin");
            for (int k = 0; k < repeats; k++) {
                ddWrite[k] = dd("if=/dev/zero", "of=" + f, "bs=1M", "count=" + mb, "conv=fsync");
                dd("if=" + f, "iflag=nocache", "count=0");
                ddReadCold[k] = dd("if=" + f, "of=/dev/null", "bs=1M");
                ddReadWarm[k] = dd("if=" + f, "of=/dev/null", "bs=1M");
            }
            Files.deleteIfExists(f);
            long ddBytes = mb << 20;
            System.out.printf(
                    "%nsync checkpoint of %.0f MB (%d shard files) vs dd of %.0f MB, best of %d (MB/s)%n",
                    bytes / 1e6, world, ddBytes / 1e6, repeats);
            System.out.printf("%-44s %10s %10s%n", "operation", "MB/s", "seconds");
            double[] write = new double[repeats];
            for (int k = 0; k < repeats; k++) write[k] = save[k] - snap[k];
            System.out.println("shard writes: " + (Checkpointer.lastWriteWasDirect() ? "O_DIRECT" : "buffered"));
            row("checkpoint save (snapshot, write, commit)", bytes, min(save));
            row("  of which host snapshot copy", bytes, min(snap));
            row("  of which write + CRC32C, fsync, commit", bytes, min(write));
            row("dd write bs=1M conv=fsync", ddBytes, min(ddWrite));
            row("checkpoint verify, cold (read + CRC32C)", bytes, min(verifyCold));
            row("checkpoint load, cold (mmap + CRC32C)", bytes, min(loadCold));
            row("dd read, cold", ddBytes, min(ddReadCold));
            row("checkpoint load, warm page cache", bytes, min(loadWarm));
            row("dd read, warm page cache", ddBytes, min(ddReadWarm));

            // 2. Async saves: step time alone, then with a save after every other step.
            int[][] b = batch(plan.globalBatch(), seqLen, cfg.vocab(), 1);
            double[] plain = new double[steps];
            for (int k = 0; k < steps; k++) {
                long t0 = System.nanoTime();
                run.all(r -> tr[r].step(b, 1e-4, 1.0));
                plain[k] = seconds(t0);
            }
            List<Double> stalls = new ArrayList<>(), withSave = new ArrayList<>();
            long base = step + repeats;
            for (int k = 0; k < steps; k++) {
                long s = base + k;
                long t0 = System.nanoTime();
                run.all(r -> tr[r].step(b, 1e-4, 1.0));
                if (k % 2 == 0) {
                    List<Long> st = run.all(r -> {
                        ck[r].save(tr[r], new TrainingState(s, 1, "constant", 1e-4, null, Map.of()));
                        return ck[r].lastStallNanos();
                    });
                    stalls.add(st.stream().mapToLong(Long::longValue).max().orElse(0) / 1e9);
                }
                withSave.add(seconds(t0));
            }
            run.all(r -> ck[r].await());
            double stepTime = Arrays.stream(plain).average().orElse(0);
            double stall =
                    stalls.stream().mapToDouble(Double::doubleValue).average().orElse(0);
            double stepWith =
                    withSave.stream().mapToDouble(Double::doubleValue).average().orElse(0);
            System.out.printf(
                    "%nasync save every other step (%d steps, B %d × T %d)%n", steps, plan.globalBatch(), seqLen);
            System.out.printf("%-44s %10.3f s%n", "step time, no saves (mean)", stepTime);
            System.out.printf("%-44s %10.3f s%n", "step time, saving every other step (mean)", stepWith);
            System.out.printf(
                    "%-44s %10.3f s  (%.1f%% of a step)%n",
                    "stall per save() (snapshot copy, mean)", stall, 100 * stall / stepTime);
            run.all(r -> {
                ck[r].close();
                cx[r].close();
                return null;
            });
        } finally {
            pool.shutdownNow();
            deleteTree(dir);
        }
    }

    /** Runs a function on every rank's thread at once. */
    private record RankFnRunner(ExecutorService pool, int world) {
        <T> List<T> all(RankFn<T> fn) throws Exception {
            List<Future<T>> fs = new ArrayList<>();
            for (int r = 0; r < world; r++) {
                int rank = r;
                fs.add(pool.submit(() -> fn.apply(rank)));
            }
            List<T> out = new ArrayList<>();
            for (Future<T> f : fs) out.add(f.get());
            return out;
        }
    }

    private static int[][] batch(int n, int seq, int vocab, long seed) {
        SplittableRandom r = new SplittableRandom(seed);
        int[][] b = new int[n][seq + 1];
        for (int[] s : b) for (int i = 0; i < s.length; i++) s[i] = r.nextInt(vocab);
        return b;
    }

    private static void row(String what, long bytes, double secs) {
        System.out.printf("%-44s %10.0f %10.3f%n", what, bytes / 1e6 / secs, secs);
    }

    private static double seconds(long t0) {
        return (System.nanoTime() - t0) / 1e9;
    }

    private static double min(double[] a) {
        return Arrays.stream(a).min().orElse(Double.NaN);
    }

    private static long dirBytes(Path d) throws IOException {
        try (Stream<Path> s = Files.list(d)) {
            long n = 0;
            for (Path p : s.toList()) n += Files.size(p);
            return n;
        }
    }

    /** Asks the kernel to drop the (clean, fsynced) cached pages of every file in d. */
    private static void dropCache(Path d) throws Exception {
        try (Stream<Path> s = Files.list(d)) {
            for (Path p : s.toList()) dd("if=" + p, "iflag=nocache", "count=0");
        }
    }

    private static void deleteTree(Path p) throws IOException {
        if (!Files.exists(p)) return;
        try (Stream<Path> s = Files.walk(p)) {
            for (Path x : s.sorted(java.util.Comparator.reverseOrder()).toList()) Files.delete(x);
        }
    }

    private static final Pattern DD_SECONDS = Pattern.compile("copied, ([0-9.e+-]+) s");

    /** Runs dd with these operands; returns the seconds it reports (0 for count=0). */
    private static double dd(String... operands) throws Exception {
        List<String> cmd = new ArrayList<>(List.of("dd"));
        cmd.addAll(List.of(operands));
        Process p = new ProcessBuilder(cmd).redirectErrorStream(true).start();
        String out = new String(p.getInputStream().readAllBytes());
        if (p.waitFor() != 0) throw new IOException(String.join(" ", cmd) + " failed: " + out);
        Matcher m = DD_SECONDS.matcher(out);
        return m.find() ? Double.parseDouble(m.group(1)) : 0;
    }
}
