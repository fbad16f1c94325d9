// Softmax cross-entropy when the logits' vocabulary is split over the ranks of a TP group (Megatron's
// vocab-parallel cross-entropy): the full [N, V] logits are never gathered. Per row: the local max is
// reduced with MAX, the local sum of exp(x − max) with SUM, and the target logit (0 on ranks that do not
// hold the target) with SUM; the backward pass is local.
// Guarantees: the loss equals CrossEntropy's on the gathered logits (mean over targets that are not
// IGNORE_INDEX; 0 with none); dlogits may alias logits; the reductions are the caller's (TpHooks).
package dev.shoal.runtime.ops;

import dev.shoal.runtime.tensor.Compute;
import dev.shoal.runtime.tensor.FastMath;
import dev.shoal.runtime.tensor.Scratch;
import dev.shoal.runtime.tensor.Tensor;
import java.util.function.Consumer;

public final class VocabShardCrossEntropy {
    private VocabShardCrossEntropy() {}

    /**
     * Mean loss over counted rows. logits [N, Vl] hold columns [vocabStart, vocabStart + Vl) of the full
     * vocabulary V; lse [N] receives each row's global log-sum-exp; rowTarget [N] is scratch.
     * maxRows/sumRows reduce an [N] tensor in place over the TP group.
     */
    public static double forward(
            Compute cx,
            Tensor logits,
            int[] targets,
            int offset,
            int vocabStart,
            int vocab,
            Tensor lse,
            Tensor rowTarget,
            Consumer<Tensor> maxRows,
            Consumer<Tensor> sumRows) {
        int vl = logits.dim(-1);
        int n = (int) (logits.numel() / vl);
        int count = CrossEntropy.countTargets(targets, offset, n, vocab);
        // Local row maxima (into lse), then the global maxima.
        cx.par().forRange(n, 1, (s, e) -> {
            float[] xr = Scratch.row(0, vl);
            for (long i = s; i < e; i++) {
                logits.read(i * vl, xr, 0, vl);
                float max = Float.NEGATIVE_INFINITY;
                for (int j = 0; j < vl; j++) {
                    max = Math.max(max, xr[j]);
                }
                lse.set(i, max);
            }
        });
        maxRows.accept(lse);
        // Local sums of exp(x − global max) (into rowTarget for now), then the global sums.
        cx.par().forRange(n, 1, (s, e) -> {
            float[] xr = Scratch.row(0, vl);
            for (long i = s; i < e; i++) {
                logits.read(i * vl, xr, 0, vl);
                float max = lse.get(i);
                // exp(x − max) in float (bulk, vectorised), summed in double: as CrossEntropy.
                for (int j = 0; j < vl; j++) {
                    xr[j] -= max;
                }
                FastMath.expInPlace(xr, 0, vl);
                double sum = 0;
                for (int j = 0; j < vl; j++) {
                    sum += xr[j];
                }
                rowTarget.set(i, (float) sum);
            }
        });
        sumRows.accept(rowTarget);
        // lse = max + log(sum); then the target logit, held by exactly one rank, summed over the group.
        for (int i = 0; i < n; i++) {
            lse.set(i, (float) (lse.get(i) + Math.log(rowTarget.get(i))));
            int local = targets[offset + i] - vocabStart;
            rowTarget.set(i, local >= 0 && local < vl ? logits.get((long) i * vl + local) : 0f);
        }
        sumRows.accept(rowTarget);
        if (count == 0) {
            return 0;
        }
        double total = 0;
        for (int i = 0; i < n; i++) {
            if (targets[offset + i] != CrossEntropy.IGNORE_INDEX) {
                total += (double) lse.get(i) - rowTarget.get(i);
            }
        }
        return total / count;
    }

    /**
     * dlogits [N, Vl] (assigned) = dloss · (softmax − onehot(target)) / count over this rank's columns,
     * from the global lse [N] saved by forward; 0 for ignored rows. Needs no communication.
     */
    public static void backward(
            Compute cx,
            Tensor dlogits,
            Tensor logits,
            int[] targets,
            int offset,
            int vocabStart,
            int vocab,
            float dloss,
            Tensor lse) {
        int vl = logits.dim(-1);
        int n = (int) (logits.numel() / vl);
        int count = CrossEntropy.countTargets(targets, offset, n, vocab);
        float sc = count == 0 ? 0f : (float) (dloss / (double) count);
        cx.par().forRange(n, 1, (s, e) -> {
            float[] xr = Scratch.row(0, vl);
            for (long i = s; i < e; i++) {
                long row = i * vl;
                int y = targets[offset + (int) i];
                if (y == CrossEntropy.IGNORE_INDEX || count == 0) {
                    java.util.Arrays.fill(xr, 0, vl, 0f);
                    dlogits.write(row, xr, 0, vl);
                    continue;
                }
                float rowLse = lse.get(i);
                logits.read(row, xr, 0, vl);
                // Softmax term for this rank's columns, minus the one-hot term when the target is here.
                for (int j = 0; j < vl; j++) {
                    xr[j] -= rowLse;
                }
                FastMath.expInPlace(xr, 0, vl);
                for (int j = 0; j < vl; j++) {
                    xr[j] = sc * xr[j];
                }
                int local = y - vocabStart;
                if (local >= 0 && local < vl) {
                    xr[local] -= sc;
                }
                dlogits.write(row, xr, 0, vl);
            }
        });
    }
}
