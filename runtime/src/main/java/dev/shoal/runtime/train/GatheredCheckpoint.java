// Checkpoints of a parallel run in the single-process format (Checkpoints): every rank's TP shard of its
// stage's parameters and AdamW moments (ZeRO-1 slices first all-gathered over DP) is assembled into full
// HF-named tensors on global rank 0, which writes checkpoint_dir/step-NNNNNN atomically; loading reads
// each rank's own part of the full tensors back (any layout: the tensors are full).
// Guarantees: the gather is exact (copies only; TP parts by TpPlan, stages by send/recv), so a checkpoint
// of a parallel run equals the one the single-process Trainer would write from the same weights and
// moments, and resuming at the same layout continues bit for bit. All ranks must call save/load together;
// the collectives run in one fixed order (DP moments, then per tensor in HF order: TP gather, stage send).
// Cost: rank 0 holds the full model and moments while writing (fine for CPU-sized models; the sharded
// format replaces this for large ones).
package dev.shoal.runtime.train;

import dev.shoal.comm.Communicator;
import dev.shoal.comm.DType;
import dev.shoal.runtime.hf.HfConfig;
import dev.shoal.runtime.hf.HfFormatException;
import dev.shoal.runtime.hf.SafetensorsReader;
import dev.shoal.runtime.model.LlamaConfig;
import dev.shoal.runtime.optim.AdamW;
import dev.shoal.runtime.parallel.DataParallelOptimizer;
import dev.shoal.runtime.parallel.RankComms;
import dev.shoal.runtime.parallel.ShardLoader;
import dev.shoal.runtime.parallel.StagePlan;
import dev.shoal.runtime.parallel.TpPlan;
import dev.shoal.runtime.tensor.Tensor;
import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/** Stateless. */
final class GatheredCheckpoint {
    private GatheredCheckpoint() {}

    static Path save(RankTrainer rt, long done) throws IOException {
        RankComms c = rt.comms();
        LlamaConfig cfg = rt.config();
        Map<String, Tensor> params = rt.model().params();
        // 1. This rank's moments in its shard's shapes (ZeRO-1: all-gathered over DP first; collective).
        Map<String, AdamW.State> moments = localMoments(rt);
        // 2. Per tensor in HF order: TP gather on the owning stage, then the stage sends it to stage 0.
        StagePlan stages = rt.trainer().stages();
        TpPlan tpPlan = rt.trainer().tpPlan();
        int myStage = c.coord().pp(), tpRank = c.coord().tp();
        boolean writer = myStage == 0 && tpRank == 0;
        Map<String, Tensor> fullP = new LinkedHashMap<>();
        Map<String, AdamW.State> fullM = new LinkedHashMap<>();
        List<Tensor> owned = new ArrayList<>();
        try {
            if (c.coord().dp() != 0) {
                return null; // the moments' DP gather was this replica's part
            }
            for (Map.Entry<String, long[]> e : HfConfig.expectedShapes(cfg).entrySet()) {
                String name = e.getKey();
                int owner = stageOf(name, stages, cfg);
                int[] shape = toInt(e.getValue());
                Tensor[] got = new Tensor[3];
                if (myStage == owner) {
                    Tensor[] local = {
                        params.get(name),
                        moments.get(name).expAvg(),
                        moments.get(name).expAvgSq()
                    };
                    for (int i = 0; i < 3; i++) {
                        got[i] = tpGather(name, local[i], shape, tpPlan, c.tp(), owned);
                        if (owner != 0 && tpRank == 0) {
                            c.pp().send(got[i].pointer(), got[i].numel(), DType.F32, 0);
                        }
                    }
                } else if (writer) {
                    for (int i = 0; i < 3; i++) {
                        got[i] = Tensor.zeros(shape);
                        owned.add(got[i]);
                        c.pp().recv(got[i].pointer(), got[i].numel(), DType.F32, owner);
                    }
                }
                if (writer) {
                    fullP.put(name, got[0]);
                    fullM.put(name, new AdamW.State(got[1], got[2]));
                }
            }
            if (!writer) {
                return null;
            }
            long adamwSteps = rt.optimizer().adamw().stepCount();
            return Checkpoints.save(
                    rt.job().checkpointDir(),
                    cfg,
                    fullP,
                    fullM,
                    adamwSteps,
                    rt.data().state(done, adamwSteps, cfg));
        } finally {
            owned.forEach(Tensor::close);
            if (rt.optimizer().mode() == DataParallelOptimizer.Mode.ZERO1) {
                moments.values().forEach(s -> {
                    s.expAvg().close();
                    s.expAvgSq().close();
                });
            }
        }
    }

    /** The pipeline stage holding an HF parameter. */
    static int stageOf(String name, StagePlan stages, LlamaConfig cfg) {
        if (name.equals("model.embed_tokens.weight")) return 0;
        if (name.equals("model.norm.weight") || name.equals("lm_head.weight")) return stages.stages() - 1;
        int layer = Integer.parseInt(name.substring("model.layers.".length(), name.indexOf('.', 13)));
        for (int s = 0; s < stages.stages(); s++) {
            if (layer >= stages.layerStart(s) && layer < stages.layerEnd(s)) return s;
        }
        throw new IllegalArgumentException("layer " + layer + " of '" + name + "' is on no stage of " + stages);
    }

    /** The full tensor on TP rank 0 (null elsewhere); the local one itself when nothing is split. */
    private static Tensor tpGather(
            String name, Tensor local, int[] fullShape, TpPlan plan, Communicator tp, List<Tensor> owned) {
        if (tp.size() == 1 || TpPlan.split(name) == TpPlan.Split.REPLICATED) {
            return tp.rank() == 0 ? local : null;
        }
        int[][] partShapes = new int[tp.size()][];
        int max = 0;
        for (int r = 0; r < tp.size(); r++) {
            int[] rg = plan.range(name, r), s = fullShape.clone();
            s[TpPlan.split(name) == TpPlan.Split.ROWS ? 0 : 1] = rg[1] - rg[0];
            partShapes[r] = s;
            max = (int) Math.max(max, Tensor.numel(s));
        }
        try (Tensor send = Tensor.zeros(max);
                Tensor recv = Tensor.zeros(max * tp.size())) {
            send.flatRange(0, (int) local.numel()).copyFrom(local.view((int) local.numel()));
            tp.allGather(send.pointer(), recv.pointer(), max, DType.F32);
            if (tp.rank() != 0) return null;
            Tensor full = Tensor.zeros(fullShape);
            owned.add(full);
            List<Map<String, Tensor>> parts = new ArrayList<>();
            for (int r = 0; r < tp.size(); r++) {
                int n = (int) Tensor.numel(partShapes[r]);
                parts.add(Map.of(name, recv.flatRange((long) r * max, n).view(partShapes[r])));
            }
            plan.gather(parts, Map.of(name, full));
            return full;
        }
    }

    /** AdamW moments of every local parameter, by its name and in its shape. */
    private static Map<String, AdamW.State> localMoments(RankTrainer rt) {
        DataParallelOptimizer opt = rt.optimizer();
        Map<String, Tensor> params = rt.model().params();
        if (opt.mode() == DataParallelOptimizer.Mode.REPLICATED) {
            return opt.adamw().state();
        }
        // ZeRO-1: the replica's slices in flat order make [lo, hi) of the flat moments; all-gather them.
        Communicator dp = rt.comms().dp();
        long p = rt.model().flatParams().numel();
        int shard = Math.toIntExact((p + dp.size() - 1) / dp.size());
        Tensor[] flat = new Tensor[2];
        for (int which = 0; which < 2; which++) {
            try (Tensor mine = Tensor.zeros(shard)) {
                long at = 0;
                for (AdamW.State s : opt.adamw().state().values()) {
                    Tensor t = which == 0 ? s.expAvg() : s.expAvgSq();
                    mine.flatRange(at, (int) t.numel()).copyFrom(t.view((int) t.numel()));
                    at += t.numel();
                }
                flat[which] = Tensor.zeros(shard * dp.size());
                dp.allGather(mine.pointer(), flat[which].pointer(), shard, DType.F32);
            }
        }
        Map<String, AdamW.State> out = new LinkedHashMap<>();
        long off = 0;
        for (Map.Entry<String, Tensor> e : params.entrySet()) {
            int n = (int) e.getValue().numel();
            int[] shape = e.getValue().shape();
            out.put(
                    e.getKey(),
                    new AdamW.State(
                            flat[0].flatRange(off, n).view(shape).copy(),
                            flat[1].flatRange(off, n).view(shape).copy()));
            off += n;
        }
        flat[0].close();
        flat[1].close();
        return out;
    }

    /** Loads this rank's part of a checkpoint folder; returns its step. Every rank reads for itself. */
    static long load(RankTrainer rt, Path dir) throws IOException {
        Checkpoints.State st = Checkpoints.readState(dir);
        LlamaConfig cfg = rt.config();
        String changed = rt.data().checkResumable(dir, st, cfg);
        RankComms c = rt.comms();
        TpPlan plan = rt.trainer().tpPlan();
        int tpRank = c.coord().tp();
        Map<String, Tensor> params = rt.model().params();
        Map<String, long[]> full = HfConfig.expectedShapes(cfg);
        try {
            ShardLoader.load(dir, cfg, plan, tpRank, params);
            // Moments: each local parameter's part of the full exp_avg / exp_avg_sq.
            Map<String, Tensor[]> local = new LinkedHashMap<>();
            DataParallelOptimizer opt = rt.optimizer();
            boolean zero1 = opt.mode() == DataParallelOptimizer.Mode.ZERO1;
            try (SafetensorsReader r = SafetensorsReader.open(dir.resolve(Checkpoints.OPTIMIZER_FILE))) {
                for (Map.Entry<String, Tensor> e : params.entrySet()) {
                    String name = e.getKey();
                    Tensor[] pair = new Tensor[2];
                    for (int which = 0; which < 2; which++) {
                        String key = (which == 0 ? "exp_avg." : "exp_avg_sq.") + name;
                        try (Tensor f = Tensor.zeros(toInt(full.get(name)))) {
                            long[] shape = r.entry(key).shape();
                            if (!java.util.Arrays.equals(shape, full.get(name))) {
                                throw new HfFormatException(r.file() + ": '" + key + "' has shape "
                                        + java.util.Arrays.toString(shape) + ", expected "
                                        + java.util.Arrays.toString(full.get(name)));
                            }
                            r.read(key, f.pointer());
                            AdamW.State s = zero1 ? null : opt.adamw().state().get(name);
                            Tensor dst = zero1
                                    ? Tensor.zeros(e.getValue().shape())
                                    : (which == 0 ? s.expAvg() : s.expAvgSq());
                            plan.scatter(Map.of(name, f), tpRank, Map.of(name, dst));
                            pair[which] = dst;
                        }
                    }
                    local.put(name, pair);
                }
            }
            if (zero1) {
                // The replica's slice [lo, hi) of the flat moments, piece by piece in flat order.
                long p = rt.model().flatParams().numel();
                int n = c.dp().size();
                long lo = (long) c.coord().dp() * ((p + n - 1) / n);
                try (Tensor fm = Tensor.zeros(Math.toIntExact(p));
                        Tensor fv = Tensor.zeros(Math.toIntExact(p))) {
                    long off = 0;
                    for (Tensor[] pair : local.values()) {
                        int len = (int) pair[0].numel();
                        fm.flatRange(off, len).copyFrom(pair[0].view(len));
                        fv.flatRange(off, len).copyFrom(pair[1].view(len));
                        off += len;
                        pair[0].close();
                        pair[1].close();
                    }
                    long at = lo;
                    for (AdamW.State s : opt.adamw().state().values()) {
                        int k = (int) s.expAvg().numel();
                        s.expAvg().view(k).copyFrom(fm.flatRange(at, k));
                        s.expAvgSq().view(k).copyFrom(fv.flatRange(at, k));
                        at += k;
                    }
                }
            }
            opt.adamw().setStepCount(st.adamwSteps());
        } catch (HfFormatException e) {
            throw new JobConfigException("cannot resume from " + dir + ": " + e.getMessage());
        }
        if (c.globalRank() == 0) {
            if (changed != null) rt.note(changed);
            rt.note("resumed from " + dir + " at step " + st.step());
        }
        return st.step();
    }

    private static int[] toInt(long[] s) {
        int[] out = new int[s.length];
        for (int i = 0; i < s.length; i++) out[i] = Math.toIntExact(s[i]);
        return out;
    }
}
