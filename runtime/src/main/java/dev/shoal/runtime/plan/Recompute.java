// Activation recomputation policies the planner models (Korthikanti et al. 2022, section 5):
// NONE keeps every activation; SELECTIVE recomputes the attention core (QKᵀ, softmax, ·V) in backward, so
// the s²-sized softmax output is never stored (what FlashAttention does anyway); FULL keeps only each
// layer's input and reruns the layer's forward during backward.
package dev.shoal.runtime.plan;

import java.util.Arrays;
import java.util.Locale;

public enum Recompute {
    NONE,
    SELECTIVE,
    FULL;

    public String label() {
        return name().toLowerCase(Locale.ROOT);
    }

    /** Parses none / selective / full; an unknown value is an error naming it and the valid ones. */
    public static Recompute parse(String s) {
        for (Recompute r : values()) {
            if (r.label().equalsIgnoreCase(s.strip())) return r;
        }
        throw new IllegalArgumentException("unknown recompute '" + s + "'; valid: "
                + Arrays.stream(values()).map(Recompute::label).toList());
    }
}
