// Hyper-parameters of AdamW (the learning rate comes from an LrSchedule, step by step).
// Guarantees: betas in [0, 1), eps > 0, weight decay >= 0; the error lists every value.
package dev.shoal.runtime.optim;

public record AdamWConfig(double beta1, double beta2, double eps, double weightDecay) {
    public AdamWConfig {
        if (!(beta1 >= 0 && beta1 < 1) || !(beta2 >= 0 && beta2 < 1) || !(eps > 0) || !(weightDecay >= 0)) {
            throw new IllegalArgumentException("AdamW needs 0 <= beta1, beta2 < 1, eps > 0 and weight_decay >= 0; got"
                    + " beta1 " + beta1 + ", beta2 " + beta2 + ", eps " + eps + ", weight_decay " + weightDecay);
        }
    }

    /** The design's values for Llama-3 CPT: betas 0.9 / 0.95, eps 1e-8, weight decay 0.1. */
    public static AdamWConfig llama() {
        return new AdamWConfig(0.9, 0.95, 1e-8, 0.1);
    }
}
