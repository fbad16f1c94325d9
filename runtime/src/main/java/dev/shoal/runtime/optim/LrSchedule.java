// Learning-rate schedules: linear warmup, then cosine or linear decay to a minimum, or
// warmup-stable-decay. Step s is the 0-based index of the optimizer step about to be taken.
// Guarantees: warmup gives maxLr·(s+1)/W for s < W; decay progress is p = (s − start)/(end − start)
// clamped to [0, 1] (so minLr is reached at s = end and held after); invalid settings are refused
// with every value named.
package dev.shoal.runtime.optim;

public sealed interface LrSchedule {
    /** The learning rate for 0-based step s. */
    double lr(long step);

    /** A fixed learning rate. */
    record Constant(double value) implements LrSchedule {
        public Constant {
            check(value, value, 0, 1, "constant");
        }

        @Override
        public double lr(long step) {
            return value;
        }
    }

    /** Warmup over warmupSteps, then half a cosine from maxLr down to minLr at totalSteps. */
    record WarmupCosine(double maxLr, double minLr, long warmupSteps, long totalSteps) implements LrSchedule {
        public WarmupCosine {
            check(maxLr, minLr, warmupSteps, totalSteps, "cosine");
        }

        @Override
        public double lr(long step) {
            if (step < warmupSteps) {
                return maxLr * (step + 1) / warmupSteps;
            }
            double p = progress(step, warmupSteps, totalSteps);
            return minLr + (maxLr - minLr) * 0.5 * (1 + Math.cos(Math.PI * p));
        }
    }

    /** Warmup over warmupSteps, then a straight line from maxLr down to minLr at totalSteps. */
    record WarmupLinear(double maxLr, double minLr, long warmupSteps, long totalSteps) implements LrSchedule {
        public WarmupLinear {
            check(maxLr, minLr, warmupSteps, totalSteps, "linear");
        }

        @Override
        public double lr(long step) {
            if (step < warmupSteps) {
                return maxLr * (step + 1) / warmupSteps;
            }
            return maxLr - (maxLr - minLr) * progress(step, warmupSteps, totalSteps);
        }
    }

    /**
     * Warmup-stable-decay: warmup over warmupSteps, hold maxLr, then decay linearly to minLr over the
     * last decaySteps before totalSteps.
     */
    record WarmupStableDecay(double maxLr, double minLr, long warmupSteps, long totalSteps, long decaySteps)
            implements LrSchedule {
        public WarmupStableDecay {
            check(maxLr, minLr, warmupSteps, totalSteps, "wsd");
            if (decaySteps < 1 || warmupSteps + decaySteps > totalSteps) {
                throw new IllegalArgumentException("wsd schedule: decay steps " + decaySteps + " must be >= 1 and fit"
                        + " after warmup " + warmupSteps + " within total " + totalSteps);
            }
        }

        @Override
        public double lr(long step) {
            if (step < warmupSteps) {
                return maxLr * (step + 1) / warmupSteps;
            }
            long decayStart = totalSteps - decaySteps;
            if (step < decayStart) {
                return maxLr;
            }
            return maxLr - (maxLr - minLr) * progress(step, decayStart, totalSteps);
        }
    }

    private static double progress(long step, long start, long end) {
        if (end <= start) {
            return 1;
        }
        return Math.min(1, Math.max(0, (double) (step - start) / (end - start)));
    }

    private static void check(double maxLr, double minLr, long warmup, long total, String kind) {
        if (!(maxLr >= 0)
                || !(minLr >= 0)
                || minLr > maxLr
                || warmup < 0
                || total < 1
                || warmup > total
                || Double.isInfinite(maxLr)) {
            throw new IllegalArgumentException(kind + " schedule needs 0 <= min_lr <= max_lr (finite) and 0 <= warmup"
                    + " <= total, total >= 1; got max_lr " + maxLr + ", min_lr " + minLr + ", warmup " + warmup
                    + ", total " + total);
        }
    }
}
