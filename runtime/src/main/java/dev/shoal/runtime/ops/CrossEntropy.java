// Softmax cross-entropy over the vocabulary, averaged over the targets that are not IGNORE_INDEX (-100),
// as torch.nn.functional.cross_entropy does by default.
// Guarantees: log-sum-exp per row summed in double over float exps (FastMath, relative error < 3e-7
// each); a target outside [0, V) that is not -100 is refused with its position; dlogits may alias
// logits (the backward pass reads each row before writing it). With no valid target at all, the loss
// is 0 and the gradient 0 (torch would give NaN).
package dev.shoal.runtime.ops;

import dev.shoal.runtime.tensor.Compute;
import dev.shoal.runtime.tensor.FastMath;
import dev.shoal.runtime.tensor.Scratch;
import dev.shoal.runtime.tensor.Tensor;

public final class CrossEntropy {
    private CrossEntropy() {}

    public static final int IGNORE_INDEX = -100;

    /** Targets in [offset, offset + n) that count (not IGNORE_INDEX); throws on an out-of-range target. */
    public static int countTargets(int[] targets, int offset, int n, int v) {
        if (offset < 0 || offset + n > targets.length) {
            throw new IllegalArgumentException(
                    "need " + n + " targets from offset " + offset + ", have " + targets.length);
        }
        int count = 0;
        for (int i = 0; i < n; i++) {
            int y = targets[offset + i];
            if (y == IGNORE_INDEX) {
                continue;
            }
            if (y < 0 || y >= v) {
                throw new IllegalArgumentException("target " + y + " at position " + i
                        + " is outside the vocabulary [0, " + v + ") and is not the ignore index " + IGNORE_INDEX);
            }
            count++;
        }
        return count;
    }

    /** Mean over counted rows of −log softmax(logits [N, V])[target]. */
    public static double forward(Compute cx, Tensor logits, int[] targets, int offset) {
        return forward(cx, logits, targets, offset, null);
    }

    /**
     * As {@link #forward(Compute, Tensor, int[], int)}, also saving each row's log-sum-exp into lse [N]
     * (when not null) so the backward pass need not recompute it.
     */
    public static double forward(Compute cx, Tensor logits, int[] targets, int offset, Tensor lse) {
        int v = logits.dim(-1);
        int n = (int) (logits.numel() / v);
        int count = countTargets(targets, offset, n, v);
        if (count == 0) {
            return 0;
        }
        // Per-row loss lse(row) − row[target], rows in parallel (each row is heavy: V exps).
        double[] rowLoss = new double[n];
        cx.par().forRange(n, 1, (s, e) -> {
            for (long i = s; i < e; i++) {
                int y = targets[offset + (int) i];
                if (y == IGNORE_INDEX && lse == null) {
                    continue;
                }
                long row = i * v;
                double l = logSumExp(logits, row, v);
                if (lse != null) {
                    lse.set(i, (float) l);
                }
                if (y != IGNORE_INDEX) {
                    rowLoss[(int) i] = l - logits.get(row + y);
                }
            }
        });
        // Summed in row order: the same bits on any thread count.
        double total = 0;
        for (double l : rowLoss) {
            total += l;
        }
        return total / count;
    }

    /**
     * dlogits [N, V] (assigned) = dloss · (softmax(logits) − onehot(target)) / count for counted rows, 0
     * for ignored rows. dlogits may be the logits tensor itself.
     */
    public static void backward(Compute cx, Tensor dlogits, Tensor logits, int[] targets, int offset, float dloss) {
        backward(cx, dlogits, logits, targets, offset, dloss, null);
    }

    /** As above, reading each row's log-sum-exp from lse [N] (saved by forward) when not null. */
    public static void backward(
            Compute cx, Tensor dlogits, Tensor logits, int[] targets, int offset, float dloss, Tensor lse) {
        int v = logits.dim(-1);
        int n = (int) (logits.numel() / v);
        int count = countTargets(targets, offset, n, v);
        backwardScaled(cx, dlogits, logits, targets, offset, count == 0 ? 0 : dloss / (double) count, lse);
    }

    /**
     * dlogits [N, V] (assigned) = rowScale · (softmax(logits) − onehot(target)) for counted rows, 0 for
     * ignored rows: the backward pass with the 1/count already folded into rowScale (a caller that scales
     * micro-batches itself). lse [N] as saved by forward, or null.
     */
    public static void backwardScaled(
            Compute cx, Tensor dlogits, Tensor logits, int[] targets, int offset, double rowScale, Tensor lse) {
        int v = logits.dim(-1);
        int n = (int) (logits.numel() / v);
        int count = countTargets(targets, offset, n, v);
        double scale = rowScale;
        cx.par().forRange(n, 1, (s, e) -> {
            for (long i = s; i < e; i++) {
                long row = i * v;
                int y = targets[offset + (int) i];
                if (y == IGNORE_INDEX || count == 0) {
                    for (int j = 0; j < v; j++) {
                        dlogits.set(row + j, 0f);
                    }
                    continue;
                }
                float rowLse = lse != null ? lse.get(i) : (float) logSumExp(logits, row, v);
                float[] xr = Scratch.row(0, v);
                logits.read(row, xr, 0, v);
                // Softmax term for every class, minus the one-hot term at the target.
                float sc = (float) scale;
                for (int j = 0; j < v; j++) {
                    xr[j] -= rowLse;
                }
                FastMath.expInPlace(xr, 0, v);
                for (int j = 0; j < v; j++) {
                    xr[j] = sc * xr[j];
                }
                xr[y] -= sc;
                dlogits.write(row, xr, 0, v);
            }
        });
    }

    private static double logSumExp(Tensor x, long row, int v) {
        float[] xr = Scratch.row(0, v);
        x.read(row, xr, 0, v);
        float max = Float.NEGATIVE_INFINITY;
        for (int j = 0; j < v; j++) {
            max = Math.max(max, xr[j]);
        }
        // exp(x − max) in float (bulk, vectorised; relative error < 3e-7 each), summed in double.
        for (int j = 0; j < v; j++) {
            xr[j] -= max;
        }
        FastMath.expInPlace(xr, 0, v);
        double sum = 0;
        for (int j = 0; j < v; j++) {
            sum += xr[j];
        }
        return max + Math.log(sum);
    }
}
