// Test harness: a (tp, pp, dp) mesh of thread ranks, each with its ParallelTrainer on the tiny model,
// that runs a function on every rank at once; plus an independent gather of the whole training state
// (TpPlan.gather of the parameters and of the AdamW moments, ZeRO-1 pieces reassembled by their
// name[a:b] keys) for comparing layouts exactly.
package dev.shoal.runtime.checkpoint;

import dev.shoal.comm.ParallelDims;
import dev.shoal.runtime.hf.HfConfig;
import dev.shoal.runtime.model.LlamaConfig;
import dev.shoal.runtime.model.LlamaModel;
import dev.shoal.runtime.optim.AdamW;
import dev.shoal.runtime.optim.AdamWConfig;
import dev.shoal.runtime.optim.LrSchedule;
import dev.shoal.runtime.parallel.BatchPlan;
import dev.shoal.runtime.parallel.DataParallelOptimizer;
import dev.shoal.runtime.parallel.ParallelTrainer;
import dev.shoal.runtime.parallel.RankComms;
import dev.shoal.runtime.parallel.StagePlan;
import dev.shoal.runtime.parallel.ThreadMesh;
import dev.shoal.runtime.parallel.TpPlan;
import dev.shoal.runtime.tensor.Compute;
import dev.shoal.runtime.tensor.Tensor;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

final class MeshRun implements AutoCloseable {
    static final LlamaConfig TINY = LlamaConfig.preset("tiny");
    static final int GLOBAL_BATCH = 4, SEQ = 16;
    static final long SEED = 11;
    static final double MAX_NORM = 0.5;
    static final LrSchedule LR = new LrSchedule.WarmupCosine(2e-3, 2e-4, 2, 10);

    /** A layout: sizes and the DP optimizer mode. */
    record Layout(int tp, int pp, int dp, DataParallelOptimizer.Mode mode) {
        static Layout of(int tp, int pp, int dp, boolean zero1) {
            return new Layout(
                    tp, pp, dp, zero1 ? DataParallelOptimizer.Mode.ZERO1 : DataParallelOptimizer.Mode.REPLICATED);
        }

        @Override
        public String toString() {
            return "(tp " + tp + ", pp " + pp + ", dp " + dp
                    + (mode == DataParallelOptimizer.Mode.ZERO1 ? ", zero1)" : ")");
        }
    }

    @FunctionalInterface
    interface RankFn<T> {
        T apply(int rank, ParallelTrainer t, RankComms comms) throws Exception;
    }

    final Layout layout;
    final ParallelDims dims;
    private final ThreadMesh mesh;
    private final ExecutorService pool;
    private final Compute[] cx;
    final ParallelTrainer[] trainers;

    /** A mesh with zero weights (init == null) or the given full weights. */
    MeshRun(Layout l, Map<String, Tensor> init) throws Exception {
        this.layout = l;
        this.dims = ParallelDims.of(l.tp(), l.pp(), l.dp());
        this.mesh = new ThreadMesh(dims, 1, 60_000);
        this.pool = Executors.newFixedThreadPool(dims.world());
        this.cx = new Compute[dims.world()];
        this.trainers = new ParallelTrainer[dims.world()];
        BatchPlan plan = BatchPlan.of(GLOBAL_BATCH, 1, l.dp());
        StagePlan stages = StagePlan.balanced(TINY, l.pp());
        onAll((r, t, c) -> {
            cx[r] = Compute.cpu(1);
            trainers[r] = new ParallelTrainer(
                    TINY,
                    c,
                    plan,
                    SEQ,
                    l.mode(),
                    AdamWConfig.llama(),
                    DataParallelOptimizer.DEFAULT_BUCKET_BYTES,
                    stages,
                    cx[r]);
            if (init != null) trainers[r].loadFull(init);
            return null;
        });
    }

    /** Runs fn on every rank at once; results by global rank. */
    <T> List<T> onAll(RankFn<T> fn) throws Exception {
        List<Future<T>> fs = new ArrayList<>();
        for (int r = 0; r < dims.world(); r++) {
            int rank = r;
            fs.add(pool.submit(() -> fn.apply(rank, trainers[rank], mesh.comms(rank))));
        }
        List<T> out = new ArrayList<>();
        for (Future<T> f : fs) out.add(f.get(120, TimeUnit.SECONDS));
        return out;
    }

    /** Trains steps [from, to) and returns their losses (the same on every rank). */
    double[] train(long from, long to) throws Exception {
        List<double[]> all = onAll((r, t, c) -> {
            double[] l = new double[(int) (to - from)];
            for (long s = from; s < to; s++)
                l[(int) (s - from)] = t.step(batch(s), LR.lr(s), MAX_NORM).loss();
            return l;
        });
        return all.get(0);
    }

    /** The global batch of a step: a pure function of (seed, step). */
    static int[][] batch(long step) {
        SplittableRandom r = new SplittableRandom(SEED * 1_000_003L + step);
        int[][] b = new int[GLOBAL_BATCH][SEQ + 1];
        for (int[] seq : b) for (int i = 0; i < seq.length; i++) seq[i] = r.nextInt(TINY.vocab());
        return b;
    }

    static Map<String, Tensor> initialWeights() {
        try (Compute c = Compute.cpu(1)) {
            LlamaModel m = new LlamaModel(TINY, 1, SEQ, c, false);
            m.initRandom(7);
            Map<String, Tensor> out = new LinkedHashMap<>();
            m.params().forEach((k, v) -> out.put(k, v.copy()));
            return out;
        }
    }

    static TrainingState state(long step) {
        return new TrainingState(step, SEED, LR.toString(), LR.lr(step), new byte[0], Map.of("job", "ckpt-test"));
    }

    /** The whole state, gathered independently of the checkpoint code: "param|name", "m|name", "v|name". */
    Map<String, float[]> global() {
        Map<String, float[]> out = new LinkedHashMap<>();
        Map<String, long[]> shapes = HfConfig.expectedShapes(TINY);
        TpPlan plan = new TpPlan(TINY, layout.tp());
        for (String kind : new String[] {"param", "m", "v"}) {
            Map<String, Tensor> full = new LinkedHashMap<>();
            shapes.forEach((k, s) -> full.put(
                    k,
                    Tensor.zeros(
                            java.util.Arrays.stream(s).mapToInt(x -> (int) x).toArray())));
            for (int p = 0; p < layout.pp(); p++) {
                List<Map<String, Tensor>> byTp = new ArrayList<>();
                for (int t = 0; t < layout.tp(); t++) byTp.add(local(kind, t, p));
                plan.gather(byTp, full);
            }
            full.forEach((k, v) -> out.put(kind + "|" + k, v.toArray()));
        }
        return out;
    }

    private static final Pattern PIECE = Pattern.compile("(.+)\\[(\\d+):(\\d+)]");

    /** One (tp, stage) rank's local tensors of a kind; moments reassembled over DP under ZeRO-1. */
    private Map<String, Tensor> local(String kind, int tp, int pp) {
        ParallelTrainer t0 = trainers[dims.rank(tp, pp, 0)];
        if (kind.equals("param")) return t0.model().params();
        Map<String, Tensor> out = new LinkedHashMap<>();
        if (layout.mode() == DataParallelOptimizer.Mode.REPLICATED) {
            t0.optimizer().adamw().state().forEach((k, s) -> out.put(k, kind.equals("m") ? s.expAvg() : s.expAvgSq()));
            return out;
        }
        t0.model().params().forEach((k, v) -> out.put(k, Tensor.zeros(v.shape())));
        for (int d = 0; d < layout.dp(); d++) {
            for (Map.Entry<String, AdamW.State> e :
                    trainers[dims.rank(tp, pp, d)].optimizer().adamw().state().entrySet()) {
                Matcher m = PIECE.matcher(e.getKey());
                if (!m.matches()) throw new AssertionError("ZeRO-1 key " + e.getKey());
                long a = Long.parseLong(m.group(2)), b = Long.parseLong(m.group(3));
                Tensor src =
                        kind.equals("m") ? e.getValue().expAvg() : e.getValue().expAvgSq();
                out.get(m.group(1)).flatRange(a, (int) (b - a)).copyFrom(src);
            }
        }
        return out;
    }

    @Override
    public void close() {
        pool.shutdownNow();
        mesh.close();
        for (Compute c : cx) if (c != null) c.close();
    }
}
