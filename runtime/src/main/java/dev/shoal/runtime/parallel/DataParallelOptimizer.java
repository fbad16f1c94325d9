// One optimizer step of a data-parallel replica. Two modes over the same AdamW math:
// - REPLICATED: the flat gradient is all-reduced (AVG) over the DP group in fixed-size buckets, then
//   every replica clips and runs AdamW on all of its parameters.
// - ZERO1: the flat gradient is reduce-scattered (AVG), each replica clips and runs AdamW on its 1/dp
//   shard of the parameters (it keeps moments for that shard only), then the parameters are
//   all-gathered.
// With tensor and pipeline parallelism each rank does this on its own shard of its stage; the clipping
// norm is global over TP and PP (and DP for ZeRO-1) via GradNorms.
// Guarantees: after step() every DP replica holds identical parameters; both modes give the same
// update up to float summation order; ZeRO-1 pads the flat buffer to dp·S with zeros that never reach a
// parameter; weight decay skips the 1-D (norm) parameters in both modes.
package dev.shoal.runtime.parallel;

import dev.shoal.comm.Communicator;
import dev.shoal.comm.DType;
import dev.shoal.comm.ReduceOp;
import dev.shoal.runtime.model.LlamaModel;
import dev.shoal.runtime.optim.AdamW;
import dev.shoal.runtime.optim.AdamWConfig;
import dev.shoal.runtime.tensor.Parallel;
import dev.shoal.runtime.tensor.Tensor;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

public final class DataParallelOptimizer {
    public enum Mode {
        REPLICATED,
        ZERO1
    }

    /** Megatron/PyTorch DDP's default bucket: 25 MB of fp32 gradient per all-reduce. */
    public static final long DEFAULT_BUCKET_BYTES = 25L * 1000 * 1000;

    /** What one step saw: the global gradient norm before clipping. */
    public record StepStats(double gradNorm) {}

    private final Mode mode;
    private final Communicator tp, dp, pp; // pp: the norm also spans the pipeline's stages
    private final Parallel par;
    private final int bucketElems;
    private final Tensor flatParams, flatGrads; // [P] the model's buffers
    private final AdamW adamw; // over all params (REPLICATED) or over this replica's shard (ZERO1)
    private final List<GradNorms.Piece> pieces = new ArrayList<>(); // gradient the norm and clip see
    // ZeRO-1 only:
    private final int shardElems; // S = ceil(P / dp)
    private final Tensor gradStage; // [dp·S] flat gradient, zero-padded
    private final Tensor gradShard; // [S] this replica's reduced gradient
    private final Tensor paramShard; // [S] this replica's updated parameters, zero-padded
    private final Tensor paramGather; // [dp·S] every replica's parameters

    public DataParallelOptimizer(
            LlamaModel model,
            Communicator tp,
            Communicator dp,
            Communicator pp,
            Mode mode,
            AdamWConfig cfg,
            long bucketBytes,
            Parallel par) {
        if (bucketBytes < 4) {
            throw new IllegalArgumentException(
                    "gradient bucket must hold at least one float, got " + bucketBytes + " bytes");
        }
        this.mode = mode;
        this.tp = tp;
        this.dp = dp;
        this.pp = pp;
        this.par = par;
        this.bucketElems = (int) Math.min(Integer.MAX_VALUE, bucketBytes / 4);
        this.flatParams = model.flatParams();
        this.flatGrads = model.flatGrads();
        long p = flatParams.numel();
        if (mode == Mode.REPLICATED) {
            shardElems = 0;
            gradStage = gradShard = paramShard = paramGather = null;
            adamw = new AdamW(model.params(), model.grads(), cfg, par);
            for (Map.Entry<String, Tensor> e : model.grads().entrySet()) {
                pieces.add(new GradNorms.Piece(e.getValue(), TpPlan.split(e.getKey()) == TpPlan.Split.REPLICATED));
            }
            return;
        }
        int n = dp.size(), r = dp.rank();
        shardElems = Math.toIntExact((p + n - 1) / n);
        gradStage = Tensor.zeros(Math.toIntExact((long) shardElems * n));
        gradShard = Tensor.zeros(shardElems);
        paramShard = Tensor.zeros(shardElems);
        paramGather = Tensor.zeros(Math.toIntExact((long) shardElems * n));
        // The named parameters cut to [r·S, (r+1)·S): views into the model's flat params and our grad shard.
        long lo = (long) r * shardElems, hi = Math.min(p, lo + shardElems);
        Map<String, Tensor> ps = new LinkedHashMap<>(), gs = new LinkedHashMap<>();
        long offset = 0;
        for (Map.Entry<String, Tensor> e : model.params().entrySet()) {
            long start = offset, end = offset + e.getValue().numel();
            offset = end;
            long a = Math.max(start, lo), b = Math.min(end, hi);
            if (a >= b) {
                continue;
            }
            int len = (int) (b - a);
            String name = e.getKey() + "[" + (a - start) + ":" + (b - start) + "]";
            Tensor pv = flatParams.flatRange(a, len), gv = gradShard.flatRange(a - lo, len);
            boolean decays = e.getValue().rank() >= 2;
            // AdamW decays tensors of rank >= 2; a piece of a matrix keeps that by being viewed [1, len].
            ps.put(name, decays ? pv.view(1, len) : pv);
            gs.put(name, decays ? gv.view(1, len) : gv);
            pieces.add(new GradNorms.Piece(gv, TpPlan.split(e.getKey()) == TpPlan.Split.REPLICATED));
        }
        adamw = new AdamW(ps, gs, cfg, par);
    }

    public Mode mode() {
        return mode;
    }

    /** The AdamW state this replica keeps (all parameters, or its ZeRO-1 shard). */
    public AdamW adamw() {
        return adamw;
    }

    /** Averages the gradients over DP, clips to maxNorm (global norm) and updates the parameters with lr. */
    public StepStats step(double lr, double maxNorm) {
        double norm;
        if (mode == Mode.REPLICATED) {
            // Bucketed all-reduce of the flat gradient.
            long p = flatGrads.numel();
            if (dp.size() > 1) {
                for (long off = 0; off < p; off += bucketElems) {
                    int len = (int) Math.min(bucketElems, p - off);
                    dp.allReduce(flatGrads.flatRange(off, len).pointer(), len, DType.F32, ReduceOp.AVG);
                }
            }
            // Every replica holds the same gradient now: the norm only spans the TP group.
            norm = GradNorms.globalNorm(pieces, tp.rank(), List.of(tp, pp), par);
            GradNorms.clip(pieces, norm, maxNorm, par);
            if (Double.isFinite(norm)) {
                adamw.step(lr);
            }
            return new StepStats(norm);
        }
        // ZeRO-1: reduce-scatter the (zero-padded) flat gradient; our shard lands in gradShard.
        gradStage.flatRange(0, (int) flatGrads.numel()).copyFrom(flatGrads);
        dp.reduceScatter(gradStage.pointer(), gradShard.pointer(), shardElems, DType.F32, ReduceOp.AVG);
        // The norm spans the TP group and the DP shards.
        norm = GradNorms.globalNorm(pieces, tp.rank(), List.of(tp, dp, pp), par);
        GradNorms.clip(pieces, norm, maxNorm, par);
        if (Double.isFinite(norm)) {
            adamw.step(lr);
        }
        // All-gather the parameters: our shard out, every shard back into the flat buffer.
        long p = flatParams.numel(), lo = (long) dp.rank() * shardElems;
        int mine = (int) Math.max(0, Math.min(shardElems, p - lo));
        if (mine > 0) {
            paramShard.flatRange(0, mine).copyFrom(flatParams.flatRange(lo, mine));
        }
        dp.allGather(paramShard.pointer(), paramGather.pointer(), shardElems, DType.F32);
        flatParams.copyFrom(paramGather.flatRange(0, (int) p));
        return new StepStats(norm);
    }
}
