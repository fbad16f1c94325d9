// What one rank of a (tp, pp, dp) mesh saves and loads, as regions of the global (HF-named) tensors.
// Save: the rank's local flat parameter buffer (its TP slice of its stage's tensors, P elements) is cut
// like ZeRO-1, DP replica d taking elements [d·S, (d+1)·S) with S = ceil(P / dp); the rank saves the
// parameters and both AdamW moments of that range, so the replicas share the writing and each element
// is saved once. Norm weights, which every TP rank holds whole, are saved by TP rank 0 only. Under
// ZeRO-1 the range is exactly the moments the optimizer keeps; under plain DP it is a view of them.
// Load: every local parameter whole, and the moments the optimizer keeps (whole tensors, or the
// ZeRO-1 pieces "name[a:b]" of the local tensors).
// Guarantees: the pieces of every rank of a mesh partition each global tensor exactly (checked on
// commit and on verify); each piece's data is a contiguous view of the rank's own memory.
package dev.shoal.runtime.checkpoint;

import dev.shoal.proto.v1.checkpoint.TensorKind;
import dev.shoal.proto.v1.checkpoint.TensorShard;
import dev.shoal.runtime.backend.ParamLayout;
import dev.shoal.runtime.hf.HfConfig;
import dev.shoal.runtime.optim.AdamW;
import dev.shoal.runtime.parallel.DataParallelOptimizer;
import dev.shoal.runtime.parallel.ParallelTrainer;
import dev.shoal.runtime.parallel.RankComms;
import dev.shoal.runtime.parallel.TpPlan;
import dev.shoal.runtime.tensor.Tensor;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

final class RankState {
    private RankState() {}

    /** A piece of one global tensor held by this rank: data is [region.elems()] contiguous floats. */
    record Piece(String name, TensorKind kind, long[] globalShape, Region region, Tensor data) {}

    private static final Pattern ZERO_PIECE = Pattern.compile("(.+)\\[(\\d+):(\\d+)]");

    /** The pieces this rank writes (see the header), parameters first, in flat-buffer order. */
    static List<Piece> toSave(ParallelTrainer t, RankComms comms) {
        Map<String, Tensor> params = t.model().params();
        long p = t.model().flatParams().numel();
        int dp = comms.dp().size(), d = comms.dp().rank();
        long shard = (p + dp - 1) / dp, lo = d * shard, hi = Math.min(p, lo + shard);
        Map<String, long[]> shapes = HfConfig.expectedShapes(t.model().config());
        List<Piece> out = new ArrayList<>(), moments = new ArrayList<>();
        long start = 0;
        for (Map.Entry<String, Tensor> e : params.entrySet()) {
            String name = e.getKey();
            Tensor local = e.getValue();
            long end = start + local.numel(), a = Math.max(start, lo), b = Math.min(end, hi);
            long offset = start;
            start = end;
            if (a >= b
                    || (TpPlan.split(name) == TpPlan.Split.REPLICATED
                            && comms.tp().rank() != 0)) continue;
            long[] shape = shapes.get(name);
            Region box = box(t.tpPlan(), name, shape, comms.tp().rank());
            Region r =
                    new Region(box.rows(), box.cols(), box.r0(), box.r1(), box.c0(), box.c1(), a - offset, b - offset);
            int len = Math.toIntExact(b - a);
            out.add(new Piece(name, TensorKind.PARAM, shape, r, local.flatRange(a - offset, len)));
            Tensor[] mv = moments(t, name, a - offset, len);
            moments.add(new Piece(name, TensorKind.EXP_AVG, shape, r, mv[0]));
            moments.add(new Piece(name, TensorKind.EXP_AVG_SQ, shape, r, mv[1]));
        }
        out.addAll(moments);
        return out;
    }

    /** The pieces this rank reads: every local parameter whole, then the moments its optimizer keeps. */
    static List<Piece> toLoad(ParallelTrainer t, RankComms comms) {
        Map<String, long[]> shapes = HfConfig.expectedShapes(t.model().config());
        List<Piece> out = new ArrayList<>();
        int tpRank = comms.tp().rank();
        for (Map.Entry<String, Tensor> e : t.model().params().entrySet()) {
            String name = e.getKey();
            Tensor local = e.getValue();
            out.add(new Piece(
                    name,
                    TensorKind.PARAM,
                    shapes.get(name),
                    box(t.tpPlan(), name, shapes.get(name), tpRank),
                    local.flatRange(0, (int) local.numel())));
        }
        for (Map.Entry<String, AdamW.State> e : t.optimizer().adamw().state().entrySet()) {
            String key = e.getKey(), name = key;
            long a = 0, b = e.getValue().expAvg().numel();
            Matcher m = ZERO_PIECE.matcher(key);
            if (t.optimizer().mode() == DataParallelOptimizer.Mode.ZERO1) {
                if (!m.matches()) {
                    throw new IllegalStateException("ZeRO-1 moment '" + key + "' is not named name[start:end]");
                }
                name = m.group(1);
                a = Long.parseLong(m.group(2));
                b = Long.parseLong(m.group(3));
            }
            long[] shape = shapes.get(name);
            Region box = box(t.tpPlan(), name, shape, tpRank);
            Region r = new Region(box.rows(), box.cols(), box.r0(), box.r1(), box.c0(), box.c1(), a, b);
            int len = Math.toIntExact(b - a);
            out.add(new Piece(
                    name, TensorKind.EXP_AVG, shape, r, flat(e.getValue().expAvg(), len)));
            out.add(new Piece(
                    name, TensorKind.EXP_AVG_SQ, shape, r, flat(e.getValue().expAvgSq(), len)));
        }
        return out;
    }

    /**
     * The pieces of a flat rank (FlatRank: tp 1 × pp 1), for saving and for loading alike: of each parameter,
     * the part inside the rank's element range, as PARAM pieces then (after all parameters) EXP_AVG and
     * EXP_AVG_SQ pieces. A save range gives the pieces a CPU rank of that mesh writes; a load may read
     * any range, so a large model loads in bounded host memory, a chunk at a time.
     */
    static List<Piece> flat(FlatRank f) {
        Map<String, long[]> shapes = HfConfig.expectedShapes(f.config());
        long lo = f.firstElem(), hi = lo + f.params().numel();
        List<Piece> out = new ArrayList<>(), moments = new ArrayList<>();
        for (ParamLayout.Entry e : new ParamLayout(f.config()).entries()) {
            long start = e.offset(), end = start + e.numel(), a = Math.max(start, lo), b = Math.min(end, hi);
            if (a >= b) continue;
            long[] shape = shapes.get(e.name());
            long[] m = Region.matrix(shape);
            Region r = new Region(m[0], m[1], 0, m[0], 0, m[1], a - start, b - start);
            int len = Math.toIntExact(b - a);
            out.add(new Piece(e.name(), TensorKind.PARAM, shape, r, f.params().flatRange(a - lo, len)));
            moments.add(
                    new Piece(e.name(), TensorKind.EXP_AVG, shape, r, f.expAvg().flatRange(a - lo, len)));
            moments.add(new Piece(
                    e.name(), TensorKind.EXP_AVG_SQ, shape, r, f.expAvgSq().flatRange(a - lo, len)));
        }
        out.addAll(moments);
        return out;
    }

    /** The index entry of a piece whose bytes sit at byteOffset of the shard file {@code file} (no CRCs yet). */
    static TensorShard.Builder describe(Piece p, String file, long byteOffset) {
        Region r = p.region();
        TensorShard.Builder b = TensorShard.newBuilder()
                .setName(p.name())
                .setKind(p.kind())
                .setRowStart(r.r0())
                .setRowEnd(r.r1())
                .setColStart(r.c0())
                .setColEnd(r.c1())
                .setFlatStart(r.f0())
                .setFlatEnd(r.f1())
                .setFile(file)
                .setByteOffset(byteOffset);
        for (long d : p.globalShape()) b.addGlobalShape(d);
        return b;
    }

    /** The box of the global tensor that TP rank tpRank holds of name. */
    static Region box(TpPlan plan, String name, long[] globalShape, int tpRank) {
        long[] m = Region.matrix(globalShape);
        return switch (TpPlan.split(name)) {
            case REPLICATED -> Region.box(m[0], m[1], 0, m[0], 0, m[1]);
            case ROWS -> {
                int[] r = plan.range(name, tpRank);
                yield Region.box(m[0], m[1], r[0], r[1], 0, m[1]);
            }
            case COLUMNS -> {
                int[] c = plan.range(name, tpRank);
                yield Region.box(m[0], m[1], 0, m[0], c[0], c[1]);
            }
        };
    }

    /** m and v of local elements [a, a + len) of parameter name, as views of the optimizer's state. */
    private static Tensor[] moments(ParallelTrainer t, String name, long a, int len) {
        Map<String, AdamW.State> st = t.optimizer().adamw().state();
        AdamW.State whole = st.get(name);
        if (whole != null) {
            return new Tensor[] {
                whole.expAvg().flatRange(a, len), whole.expAvgSq().flatRange(a, len)
            };
        }
        // ZeRO-1: the optimizer keeps exactly this replica's range, named name[a:b].
        AdamW.State piece = st.get(name + "[" + a + ":" + (a + len) + "]");
        if (piece == null) {
            throw new IllegalStateException("the optimizer keeps no moments for '" + name + "' elements [" + a + ", "
                    + (a + len) + "); its state holds " + st.keySet());
        }
        return new Tensor[] {flat(piece.expAvg(), len), flat(piece.expAvgSq(), len)};
    }

    private static Tensor flat(Tensor t, int len) {
        if (t.numel() != len) throw new IllegalStateException("moment " + t + " is not " + len + " elements");
        return t.flatRange(0, len);
    }
}
