// The data half of a training job: sources and weights, the additional language and its optional ALMR
// schedule, sequence length, global and micro batch, and the seed. Together with the step number it fully
// determines every sample (see MixtureSampler).
package dev.shoal.runtime.data;

import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Set;

/**
 * @param seed shuffling seed
 * @param seqLen T: tokens per training sequence (each sample carries T + 1 ids: inputs and shifted labels)
 * @param globalBatch B: sequences per optimizer step, fixed for the whole run
 * @param microBatch sequences per forward/backward pass on one DP rank
 * @param sources the sources and their weights (need not sum to 1; they are normalised)
 * @param additionalLang language tag of the additional language; its sources' share is the ALMR
 * @param almrSchedule ALMR over steps, or null for the constant ALMR the weights imply
 */
public record MixtureSpec(
        long seed,
        int seqLen,
        int globalBatch,
        int microBatch,
        List<Source> sources,
        String additionalLang,
        AlmrSchedule almrSchedule) {

    /** A source by its prepared name, its language tag and its weight. */
    public record Source(String name, String lang, double weight) {
        public Source {
            if (!(weight > 0) || Double.isInfinite(weight)) {
                throw new IllegalArgumentException("source " + name + ": weight " + weight + " must be > 0");
            }
        }

        /** Parses {@code "en:en:0.7,zh:zh:0.3"} (name:lang:weight, comma-separated). */
        public static List<Source> parseList(String s) {
            List<Source> out = new ArrayList<>();
            for (String part : s.split(",")) {
                String[] f = part.trim().split(":");
                if (f.length != 3 || f[0].isEmpty() || f[1].isEmpty()) {
                    throw new IllegalArgumentException("mixture source '" + part + "' is not name:lang:weight");
                }
                try {
                    out.add(new Source(f[0], f[1], Double.parseDouble(f[2])));
                } catch (NumberFormatException e) {
                    throw new IllegalArgumentException(
                            "mixture source '" + part + "': weight '" + f[2] + "' is not a number");
                }
            }
            return out;
        }
    }

    public MixtureSpec {
        if (seqLen < 1) throw new IllegalArgumentException("sequence length " + seqLen + " must be ≥ 1");
        if (globalBatch < 1) throw new IllegalArgumentException("global batch " + globalBatch + " must be ≥ 1");
        if (microBatch < 1 || globalBatch % microBatch != 0) {
            throw new IllegalArgumentException(
                    "micro batch " + microBatch + " must be ≥ 1 and divide the global batch " + globalBatch);
        }
        sources = List.copyOf(sources);
        if (sources.isEmpty()) throw new IllegalArgumentException("mixture has no sources");
        Set<String> names = new HashSet<>();
        for (Source s : sources) {
            if (!names.add(s.name())) throw new IllegalArgumentException("source '" + s.name() + "' listed twice");
        }
        boolean hasAdd = sources.stream().anyMatch(s -> s.lang().equals(additionalLang));
        boolean hasOrig = sources.stream().anyMatch(s -> !s.lang().equals(additionalLang));
        AlmrSchedule eff =
                almrSchedule != null ? almrSchedule : AlmrSchedule.constant(staticAlmr(sources, additionalLang));
        for (int k = 0; k < eff.steps().length; k++) {
            if (eff.ppb()[k] > 0 && !hasAdd) {
                throw new IllegalArgumentException("ALMR " + eff.ppb()[k] / 1e9 + " at step " + eff.steps()[k]
                        + " but no source has the additional language '" + additionalLang + "'");
            }
            if (eff.ppb()[k] < AlmrSchedule.Q && !hasOrig) {
                throw new IllegalArgumentException("ALMR " + eff.ppb()[k] / 1e9 + " < 1 at step " + eff.steps()[k]
                        + " but every source has the additional language '" + additionalLang + "'");
            }
        }
    }

    /** The ALMR the weights imply: the additional language's share of the total weight. */
    public static double staticAlmr(List<Source> sources, String additionalLang) {
        double add = 0, all = 0;
        for (Source s : sources) {
            all += s.weight();
            if (s.lang().equals(additionalLang)) add += s.weight();
        }
        return add / all;
    }

    /** The schedule in force: the given one, or the constant implied by the weights. */
    public AlmrSchedule effectiveSchedule() {
        return almrSchedule != null ? almrSchedule : AlmrSchedule.constant(staticAlmr(sources, additionalLang));
    }

    public boolean isAdditional(int source) {
        return sources.get(source).lang().equals(additionalLang);
    }
}
