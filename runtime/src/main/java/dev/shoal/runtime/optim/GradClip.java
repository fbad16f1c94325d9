// Global gradient-norm clipping, as torch.nn.utils.clip_grad_norm_ (L2 norm, eps 1e-6).
// Guarantees: returns the norm before clipping; scales every gradient by maxNorm / (norm + 1e-6) only
// when that factor is below 1; the sum of squares is taken in double in fixed chunks, so the result
// does not depend on the thread count. A non-finite norm is returned and nothing is scaled, so the
// caller can skip the step.
package dev.shoal.runtime.optim;

import dev.shoal.runtime.tensor.Parallel;
import dev.shoal.runtime.tensor.Scratch;
import dev.shoal.runtime.tensor.Tensor;
import java.util.Collection;

public final class GradClip {
    private GradClip() {}

    private static final int CHUNK = 4096;

    /** sqrt(Σ g²) over all tensors. */
    public static double globalNorm(Collection<Tensor> grads, Parallel par) {
        double ss = 0;
        for (Tensor g : grads) {
            ss += par.sumChunks(g.numel(), (s, e) -> {
                int len = (int) (e - s);
                float[] row = Scratch.row(0, len);
                g.read(s, row, 0, len);
                double acc = 0;
                for (int i = 0; i < len; i++) {
                    acc += (double) row[i] * row[i];
                }
                return acc;
            });
        }
        return Math.sqrt(ss);
    }

    /** Clips in place to maxNorm; returns the pre-clip global norm. */
    public static double clipGlobalNorm(Collection<Tensor> grads, double maxNorm, Parallel par) {
        if (!(maxNorm > 0)) {
            throw new IllegalArgumentException("max grad norm must be > 0, got " + maxNorm);
        }
        double norm = globalNorm(grads, par);
        if (!Double.isFinite(norm)) {
            return norm;
        }
        double coef = maxNorm / (norm + 1e-6);
        if (coef < 1) {
            float c = (float) coef;
            for (Tensor g : grads) {
                long total = g.numel();
                par.forRange((total + CHUNK - 1) / CHUNK, 1, (cs, ce) -> {
                    float[] row = Scratch.row(0, CHUNK);
                    for (long ch = cs; ch < ce; ch++) {
                        long off = ch * CHUNK;
                        int len = (int) Math.min(CHUNK, total - off);
                        g.read(off, row, 0, len);
                        for (int i = 0; i < len; i++) {
                            row[i] *= c;
                        }
                        g.write(off, row, 0, len);
                    }
                });
            }
        }
        return norm;
    }
}
