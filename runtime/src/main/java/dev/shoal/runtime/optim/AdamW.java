// AdamW with decoupled weight decay, step for step as torch.optim.AdamW (amsgrad off, maximize off).
// Guarantees: per step t (1-based) and element: p ← p·(1 − lr·wd); m ← m + (1 − β1)(g − m);
// v ← β2·v + (1 − β2)·g²; p ← p − (lr / (1 − β1^t)) · m / (sqrt(v) / sqrt(1 − β2^t) + eps).
// Weight decay is skipped for 1-D tensors (the RMSNorm weights). State (m, v, t) is exposed by
// parameter name so a checkpoint can save and restore it exactly.
package dev.shoal.runtime.optim;

import dev.shoal.runtime.tensor.Parallel;
import dev.shoal.runtime.tensor.Scratch;
import dev.shoal.runtime.tensor.Tensor;
import java.util.ArrayList;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

public final class AdamW {
    /** The optimizer state of one parameter tensor. */
    public record State(
            Tensor expAvg, // same shape as the parameter: first moment m
            Tensor expAvgSq) {} // same shape: second moment v

    /** Elements per scratch chunk of the update loop. */
    private static final int CHUNK = 4096;

    private record Slot(String name, Tensor param, Tensor grad, State state, boolean decay) {}

    private final AdamWConfig cfg;
    private final Parallel par;
    private final List<Slot> slots = new ArrayList<>();
    private final Map<String, State> states;
    private long step; // optimizer steps taken so far

    /** Parameters and gradients with the same names and shapes (e.g. LlamaModel.params()/grads()). */
    public AdamW(Map<String, Tensor> params, Map<String, Tensor> grads, AdamWConfig cfg, Parallel par) {
        this.cfg = cfg;
        this.par = par;
        Map<String, State> st = new LinkedHashMap<>();
        for (Map.Entry<String, Tensor> e : params.entrySet()) {
            Tensor p = e.getValue();
            Tensor g = grads.get(e.getKey());
            if (g == null || !g.sameShape(p)) {
                throw new IllegalArgumentException("parameter '" + e.getKey() + "' " + p + " has gradient "
                        + (g == null ? "missing" : g.toString()));
            }
            State s = new State(Tensor.zeros(p.shape()), Tensor.zeros(p.shape()));
            st.put(e.getKey(), s);
            slots.add(new Slot(e.getKey(), p, g, s, p.rank() >= 2));
        }
        states = Collections.unmodifiableMap(st);
    }

    public AdamWConfig config() {
        return cfg;
    }

    /** Steps taken so far (torch's state['step']). */
    public long stepCount() {
        return step;
    }

    /** Sets the step count, e.g. after restoring m and v from a checkpoint. */
    public void setStepCount(long steps) {
        if (steps < 0) {
            throw new IllegalArgumentException("step count must be >= 0, got " + steps);
        }
        step = steps;
    }

    /** m and v by parameter name. */
    public Map<String, State> state() {
        return states;
    }

    /** Whether weight decay applies to this parameter (false for 1-D tensors). */
    public boolean decays(String name) {
        return slots.stream().filter(s -> s.name().equals(name)).anyMatch(Slot::decay);
    }

    /** One update of every parameter with learning rate lr, from the gradients as they are now. */
    public void step(double lr) {
        if (!(lr >= 0) || Double.isInfinite(lr)) {
            throw new IllegalArgumentException("learning rate must be finite and >= 0, got " + lr);
        }
        step++;
        for (Slot s : slots) {
            update(
                    par,
                    s.param(),
                    s.grad(),
                    s.state().expAvg(),
                    s.state().expAvgSq(),
                    lr,
                    cfg.beta1(),
                    cfg.beta2(),
                    cfg.eps(),
                    s.decay() ? cfg.weightDecay() : 0,
                    step,
                    1f);
        }
    }

    /**
     * The update of one tensor: step (1-based) of AdamW with learning rate lr on p, m, v from the gradient
     * g · gradScale (gradScale 1: g as it is; a global-norm clip factor otherwise, which is the same as
     * clipping g first). All four tensors have the same element count. weightDecay 0 turns decay off.
     */
    public static void update(
            Parallel par,
            Tensor p,
            Tensor g,
            Tensor m,
            Tensor v,
            double lr,
            double beta1,
            double beta2,
            double eps,
            double weightDecay,
            long step,
            float gradScale) {
        // Scalars of this step, as torch computes them.
        double bc1 = 1 - Math.pow(beta1, step);
        double bc2 = 1 - Math.pow(beta2, step);
        float stepSize = (float) (lr / bc1);
        float bc2Sqrt = (float) Math.sqrt(bc2);
        float b2 = (float) beta2, epsF = (float) eps;
        float oneMinusB1 = (float) (1 - beta1), oneMinusB2 = (float) (1 - beta2);
        float decayFactor = weightDecay != 0 ? (float) (1 - lr * weightDecay) : 1f;
        long total = p.numel();
        if (g.numel() != total || m.numel() != total || v.numel() != total) {
            throw new IllegalArgumentException(
                    "adamw: p " + p + ", g " + g + ", m " + m + ", v " + v + " differ in element count");
        }
        par.forRange((total + CHUNK - 1) / CHUNK, 1, (cs, ce) -> {
            float[] pr = Scratch.row(0, CHUNK), gr = Scratch.row(1, CHUNK);
            float[] mr = Scratch.row(2, CHUNK), vr = Scratch.row(3, CHUNK);
            for (long ch = cs; ch < ce; ch++) {
                long off = ch * CHUNK;
                int len = (int) Math.min(CHUNK, total - off);
                p.read(off, pr, 0, len);
                g.read(off, gr, 0, len);
                m.read(off, mr, 0, len);
                v.read(off, vr, 0, len);
                for (int i = 0; i < len; i++) {
                    float gi = gr[i] * gradScale;
                    // First and second moments.
                    float mi = mr[i] + oneMinusB1 * (gi - mr[i]);
                    float vi = vr[i] * b2 + oneMinusB2 * gi * gi;
                    mr[i] = mi;
                    vr[i] = vi;
                    // Decoupled weight decay, then the bias-corrected update.
                    float denom = (float) Math.sqrt(vi) / bc2Sqrt + epsF;
                    pr[i] = pr[i] * decayFactor - stepSize * (mi / denom);
                }
                p.write(off, pr, 0, len);
                m.write(off, mr, 0, len);
                v.write(off, vr, 0, len);
            }
        });
    }
}
