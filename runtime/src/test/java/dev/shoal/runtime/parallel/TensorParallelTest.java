// Tensor parallelism piece by piece: the vocab-parallel cross-entropy against CrossEntropy on the full
// logits (uneven vocabulary split, ignored targets), the gradients of a tp-2 model gathered against the
// single-rank model's, a deliberately broken f or g operator caught by the same check (so it can
// fail), and the exact scatter/gather round trip of the TP plan.
package dev.shoal.runtime.parallel;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.shoal.comm.Communicator;
import dev.shoal.runtime.comm.InJvmWorld;
import dev.shoal.runtime.model.LlamaConfig;
import dev.shoal.runtime.model.LlamaModel;
import dev.shoal.runtime.model.ModelShard;
import dev.shoal.runtime.model.TpHooks;
import dev.shoal.runtime.ops.CrossEntropy;
import dev.shoal.runtime.ops.VocabShardCrossEntropy;
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
import java.util.function.IntFunction;
import org.junit.jupiter.api.Test;

class TensorParallelTest {
    static final LlamaConfig TINY = LlamaConfig.preset("tiny");

    /** Runs body(rank) on n threads and returns the results in rank order. */
    static <R> List<R> onThreads(int n, IntFunction<R> body) throws Exception {
        ExecutorService pool = Executors.newFixedThreadPool(n);
        try {
            List<Future<R>> fs = new ArrayList<>();
            for (int r = 0; r < n; r++) {
                int rank = r;
                fs.add(pool.submit(() -> body.apply(rank)));
            }
            List<R> out = new ArrayList<>();
            for (Future<R> f : fs) {
                out.add(f.get(60, TimeUnit.SECONDS));
            }
            return out;
        } finally {
            pool.shutdownNow();
        }
    }

    @Test
    void vocabParallelCrossEntropyMatchesFullCrossEntropy() throws Exception {
        int n = 6, v = 10, tp = 3; // 10 rows over 3 ranks: [0, 3), [3, 6), [6, 10)
        SplittableRandom rnd = new SplittableRandom(3);
        float[] x = new float[n * v];
        for (int i = 0; i < x.length; i++) {
            x[i] = (float) (3 * rnd.nextGaussian());
        }
        int[] targets = {0, 9, CrossEntropy.IGNORE_INDEX, 4, 6, 2};
        Compute cx = Compute.reference();
        Tensor full = Tensor.of(x, n, v);
        double want = CrossEntropy.forward(cx, full, targets, 0);
        Tensor dfull = Tensor.zeros(n, v);
        CrossEntropy.backward(cx, dfull, full, targets, 0, 0.5f);
        Communicator[] g = InJvmWorld.group(tp, 1, 10_000);
        List<Object[]> res = onThreads(tp, r -> {
            int lo = ModelShard.vocabStart(v, r, tp), hi = ModelShard.vocabStart(v, r + 1, tp);
            Tensor local = Tensor.zeros(n, hi - lo);
            for (int i = 0; i < n; i++) {
                local.write((long) i * (hi - lo), x, i * v + lo, hi - lo);
            }
            TpHooks hooks = new CommTpHooks(g[r]);
            Tensor lse = Tensor.zeros(n), scratch = Tensor.zeros(n);
            double loss = VocabShardCrossEntropy.forward(
                    cx, local, targets, 0, lo, v, lse, scratch, hooks::maxRows, hooks::sumRows);
            VocabShardCrossEntropy.backward(cx, local, local, targets, 0, lo, v, 0.5f, lse);
            return new Object[] {loss, local, lo, hi};
        });
        for (Object[] o : res) {
            assertEquals(want, (double) o[0], 1e-6 * Math.abs(want), "loss");
            Tensor d = (Tensor) o[1];
            int lo = (int) o[2], hi = (int) o[3];
            for (int i = 0; i < n; i++) {
                for (int j = lo; j < hi; j++) {
                    assertEquals(dfull.at(i, j), d.at(i, j - lo), 1e-7, "dlogits[" + i + ", " + j + "]");
                }
            }
        }
    }

    /** A TpHooks that forwards to real hooks but skips one of Megatron's operators (a planted bug). */
    static TpHooks broken(TpHooks real, boolean skipF, boolean skipG) {
        return new TpHooks() {
            @Override
            public int size() {
                return real.size();
            }

            @Override
            public void reduceRowParallelOutput(Tensor partial) {
                if (!skipG) real.reduceRowParallelOutput(partial);
            }

            @Override
            public void reduceColumnParallelInputGrad(Tensor dx) {
                if (!skipF) real.reduceColumnParallelInputGrad(dx);
            }

            @Override
            public void reduceEmbedding(Tensor x) {
                real.reduceEmbedding(x);
            }

            @Override
            public void maxRows(Tensor rows) {
                real.maxRows(rows);
            }

            @Override
            public void sumRows(Tensor rows) {
                real.sumRows(rows);
            }
        };
    }

    record Grads(double loss, Map<String, Tensor> grads) {}

    /** Loss and gradients of one batch, tp ranks as threads; grads gathered to full HF tensors. */
    static Grads tpGrads(
            LlamaConfig cfg,
            Map<String, Tensor> init,
            int tp,
            boolean skipF,
            boolean skipG,
            boolean recompute,
            int[] tok,
            int[] tgt,
            int b,
            int t)
            throws Exception {
        TpPlan plan = new TpPlan(cfg, tp);
        Communicator[] g = InJvmWorld.group(tp, 1, 10_000);
        List<Object[]> res = onThreads(tp, r -> {
            try (Compute cx = Compute.cpu(1)) {
                LlamaModel m = new LlamaModel(
                        cfg, plan.shard(r), broken(CommTpHooks.of(g[r]), skipF, skipG), b, t, cx, recompute);
                plan.scatter(init, r, m.params());
                double loss = m.forward(tok, tgt, b, t);
                m.backward();
                Map<String, Tensor> copy = new LinkedHashMap<>();
                m.grads().forEach((k, v) -> copy.put(k, v.copy()));
                return new Object[] {loss, copy};
            }
        });
        List<Map<String, Tensor>> shards = new ArrayList<>();
        for (Object[] o : res) {
            @SuppressWarnings("unchecked")
            Map<String, Tensor> s = (Map<String, Tensor>) o[1];
            shards.add(s);
        }
        Map<String, Tensor> full = new LinkedHashMap<>();
        init.forEach((k, v) -> full.put(k, Tensor.zeros(v.shape())));
        plan.gather(shards, full);
        return new Grads((double) res.get(0)[0], full);
    }

    static double worstRelError(Map<String, Tensor> got, Map<String, Tensor> want) {
        double worst = 0;
        for (String k : want.keySet()) {
            Tensor a = got.get(k), w = want.get(k);
            double dd = 0, ww = 0;
            for (long i = 0; i < w.numel(); i++) {
                double d = a.get(i) - w.get(i);
                dd += d * d;
                ww += (double) w.get(i) * w.get(i);
            }
            worst = Math.max(worst, Math.sqrt(dd / ww));
        }
        return worst;
    }

    @Test
    void tp2GradientsMatchSingleRankAndBrokenOperatorsAreCaught() throws Exception {
        int b = 2, t = 8;
        SplittableRandom rnd = new SplittableRandom(5);
        int[] tok = new int[b * t], tgt = new int[b * t];
        for (int i = 0; i < tok.length; i++) {
            tok[i] = rnd.nextInt(TINY.vocab());
            tgt[i] = i % 5 == 4 ? CrossEntropy.IGNORE_INDEX : rnd.nextInt(TINY.vocab());
        }
        Map<String, Tensor> init = new LinkedHashMap<>();
        Grads ref;
        try (Compute cx = Compute.cpu(1)) {
            LlamaModel m = new LlamaModel(TINY, b, t, cx, false);
            m.initRandom(9);
            m.params().forEach((k, v) -> init.put(k, v.copy()));
            double loss = m.forward(tok, tgt, b, t);
            m.backward();
            Map<String, Tensor> gr = new LinkedHashMap<>();
            m.grads().forEach((k, v) -> gr.put(k, v.copy()));
            ref = new Grads(loss, gr);
        }
        Grads good = tpGrads(TINY, init, 2, false, false, false, tok, tgt, b, t);
        // Activation recompute re-runs each block (and its g all-reduce) in backward: same gradients.
        Grads goodRecompute = tpGrads(TINY, init, 2, false, false, true, tok, tgt, b, t);
        double errRecompute = worstRelError(goodRecompute.grads(), ref.grads());
        assertTrue(errRecompute <= 1e-5, "tp 2 with recompute: gradient relative error " + errRecompute);
        double err = worstRelError(good.grads(), ref.grads());
        System.out.printf(
                "tp 2 gradients: loss rel err %.2e, worst per-tensor grad rel err %.2e%n",
                Math.abs(good.loss() - ref.loss()) / ref.loss(), err);
        assertEquals(ref.loss(), good.loss(), 1e-6 * ref.loss());
        assertTrue(err <= 1e-5, "tp 2 gradient relative error " + err);
        // Without f (the input-gradient all-reduce of column-parallel layers) the gradients go wrong.
        double errF = worstRelError(
                tpGrads(TINY, init, 2, true, false, false, tok, tgt, b, t).grads(), ref.grads());
        assertTrue(errF > 1e-2, "skipping f must be caught, error " + errF);
        // Without g (the output all-reduce of row-parallel layers) the loss itself goes wrong.
        Grads noG = tpGrads(TINY, init, 2, false, true, false, tok, tgt, b, t);
        assertTrue(
                Math.abs(noG.loss() - ref.loss()) > 1e-6 * ref.loss() || worstRelError(noG.grads(), ref.grads()) > 1e-2,
                "skipping g must be caught");
    }

    @Test
    void scatterThenGatherIsExact() {
        Map<String, Tensor> full = new LinkedHashMap<>();
        try (Compute cx = Compute.cpu(1)) {
            LlamaModel m = new LlamaModel(TINY, 1, 4, cx, false);
            m.initRandom(1);
            m.params().forEach((k, v) -> full.put(k, v.copy()));
            TpPlan plan = new TpPlan(TINY, 2);
            List<Map<String, Tensor>> shards = new ArrayList<>();
            for (int r = 0; r < 2; r++) {
                LlamaModel s = new LlamaModel(
                        TINY, plan.shard(r), new CommTpHooks(InJvmWorld.group(2, 1, 1000)[r]), 1, 4, cx, false);
                plan.scatter(full, r, s.params());
                shards.add(s.params());
                // Half of every sharded weight, all of the (2·layers + 1) replicated norm weights.
                long replicated = (2L * TINY.layers() + 1) * TINY.dim();
                assertEquals(
                        (TINY.paramCount() - replicated) / 2 + replicated,
                        s.flatParams().numel(),
                        "rank " + r);
            }
            Map<String, Tensor> back = new LinkedHashMap<>();
            full.forEach((k, v) -> back.put(k, Tensor.zeros(v.shape())));
            plan.gather(shards, back);
            for (String k : full.keySet()) {
                assertEquals(0.0, ParallelEquivalenceTest.maxAbsDiff(full.get(k), back.get(k)), k);
            }
        }
    }
}
