// Global gradient-norm clipping when the gradients are spread over ranks: TP ranks hold different
// shards of the sharded weights and identical copies of the replicated (RMSNorm) weights; ZeRO-1 ranks
// hold disjoint pieces of the flat gradient. The squared norm is summed locally (in double), with each
// replicated element counted on TP rank 0 only, then all-reduced over the groups that split it.
// Guarantees: every rank gets the same norm, equal (up to float summation order) to the norm of the
// full single-rank gradient; clipping follows torch's clip_grad_norm_ (scale maxNorm / (norm + 1e-6)
// when below 1; a non-finite norm scales nothing and is returned for the caller to skip the step).
package dev.shoal.runtime.parallel;

import dev.shoal.comm.Communicator;
import dev.shoal.comm.DType;
import dev.shoal.comm.ReduceOp;
import dev.shoal.runtime.tensor.Parallel;
import dev.shoal.runtime.tensor.Tensor;
import java.util.List;

public final class GradNorms {
    private GradNorms() {}

    /** A piece of gradient and whether its parameter is replicated over the TP group. */
    public record Piece(Tensor grad, boolean replicated) {}

    /** Σ g² over t, in double, in fixed chunks (thread-count independent). */
    public static double sumSquares(Tensor t, Parallel par) {
        return par.sumChunks(t.numel(), (s, e) -> {
            double acc = 0;
            for (long i = s; i < e; i++) {
                double x = t.get(i);
                acc += x * x;
            }
            return acc;
        });
    }

    /** The global L2 norm of the pieces, all-reduced over each group in groups (e.g. TP, and DP for ZeRO). */
    public static double globalNorm(List<Piece> pieces, int tpRank, List<Communicator> groups, Parallel par) {
        double ss = 0;
        for (Piece p : pieces) {
            if (!p.replicated() || tpRank == 0) {
                ss += sumSquares(p.grad(), par);
            }
        }
        try (Tensor buf = Tensor.of(new float[] {(float) ss}, 1)) {
            for (Communicator g : groups) {
                if (g.size() > 1) {
                    g.allReduce(buf.pointer(), 1, DType.F32, ReduceOp.SUM);
                }
            }
            return Math.sqrt(buf.get(0));
        }
    }

    /** Scales every piece by maxNorm / (norm + 1e-6) when that is below 1; returns the factor applied. */
    public static double clip(List<Piece> pieces, double norm, double maxNorm, Parallel par) {
        if (!(maxNorm > 0)) {
            throw new IllegalArgumentException("max grad norm must be > 0, got " + maxNorm);
        }
        if (!Double.isFinite(norm)) {
            return 1;
        }
        double coef = maxNorm / (norm + 1e-6);
        if (coef >= 1) {
            return 1;
        }
        float c = (float) coef;
        for (Piece p : pieces) {
            Tensor g = p.grad();
            par.forRange(g.numel(), (s, e) -> {
                for (long i = s; i < e; i++) {
                    g.set(i, g.get(i) * c);
                }
            });
        }
        return coef;
    }
}
