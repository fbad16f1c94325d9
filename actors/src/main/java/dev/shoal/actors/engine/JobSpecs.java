// Reads a cluster JobSpec (proto) as the engine's JobConfig, so that a cluster job and `shoal train`
// train the same thing from the same values: the data folder, mixture, batch shape, LR schedule,
// AdamW settings, eval and checkpoint intervals, checkpoint retention.
//
// Guarantees: a value the engine cannot use is refused with an IllegalArgumentException that names
// the JobSpec field (e.g. "sources[1].path"); unset optional messages take `shoal train`'s defaults
// (LR kind cosine; AdamW β 0.9/0.95, eps 1e-8, weight decay 0.1, grad clip 1.0).
package dev.shoal.actors.engine;

import dev.shoal.proto.v1.AlmrPoint;
import dev.shoal.proto.v1.DataSource;
import dev.shoal.proto.v1.JobSpec;
import dev.shoal.runtime.data.AlmrSchedule;
import dev.shoal.runtime.data.MixtureSpec;
import dev.shoal.runtime.train.JobConfig;
import dev.shoal.runtime.train.JobConfigException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

public final class JobSpecs {
    private JobSpecs() {}

    /** Held-out micro-batches scored per source at an eval step when the spec leaves eval_batches 0. */
    public static final int EVAL_BATCHES = 4;

    /** The one prepared folder every source is read from. */
    public static Path dataDir(JobSpec spec) {
        if (spec.getSourcesCount() == 0) throw new IllegalArgumentException("sources: the job names no data");
        String dir = spec.getSources(0).getPath();
        for (int i = 0; i < spec.getSourcesCount(); i++) {
            String p = spec.getSources(i).getPath();
            if (p.isBlank()) throw new IllegalArgumentException("sources[" + i + "].path is empty");
            if (!Path.of(p).normalize().equals(Path.of(dir).normalize())) {
                throw new IllegalArgumentException("sources[" + i + "].path = " + p + ": every source must come from"
                        + " the same prepared folder (sources[0].path = " + dir + ")");
            }
        }
        return Path.of(dir);
    }

    /** The job as the engine's config, with {@code threads} compute threads per rank. */
    public static JobConfig toJobConfig(JobSpec spec, int threads) {
        try {
            return convert(spec, threads);
        } catch (JobConfigException e) {
            throw new IllegalArgumentException(e.getMessage().replace("train.", ""), e);
        }
    }

    private static JobConfig convert(JobSpec spec, int threads) {
        Path dir = dataDir(spec);
        List<MixtureSpec.Source> sources = new ArrayList<>();
        String additional = null;
        for (int i = 0; i < spec.getSourcesCount(); i++) {
            DataSource s = spec.getSources(i);
            if (!(s.getWeight() > 0)) {
                throw new IllegalArgumentException("sources[" + i + "].weight = " + s.getWeight() + ": must be > 0");
            }
            sources.add(new MixtureSpec.Source(s.getName(), s.getLanguage(), s.getWeight()));
            if (s.getAdditional()) {
                if (additional != null && !additional.equals(s.getLanguage())) {
                    throw new IllegalArgumentException("sources[" + i + "].additional: a second additional language '"
                            + s.getLanguage() + "' (already '" + additional + "')");
                }
                additional = s.getLanguage();
            }
        }
        AlmrSchedule almr = null;
        if (spec.getAlmrScheduleCount() > 0) {
            long[] st = new long[spec.getAlmrScheduleCount()];
            long[] ppb = new long[st.length];
            for (int i = 0; i < st.length; i++) {
                AlmrPoint p = spec.getAlmrSchedule(i);
                if (!(p.getAlmr() >= 0 && p.getAlmr() <= 1)) {
                    throw new IllegalArgumentException(
                            "almr_schedule[" + i + "].almr = " + p.getAlmr() + ": not in [0, 1]");
                }
                st[i] = p.getStep();
                ppb[i] = Math.round(p.getAlmr() * AlmrSchedule.Q);
            }
            almr = new AlmrSchedule(st, ppb);
        }
        JobConfig.LrKind kind =
                switch (spec.getLr().getKind()) {
                    case LINEAR -> JobConfig.LrKind.LINEAR;
                    case WSD -> JobConfig.LrKind.WSD;
                    default -> JobConfig.LrKind.COSINE;
                };
        var lr = spec.getLr();
        JobConfig.Lr jobLr =
                new JobConfig.Lr(kind, lr.getPeakLr(), lr.getMinLr(), lr.getWarmupSteps(), lr.getDecaySteps());
        var o = spec.getOptimizer();
        JobConfig.Optimizer opt = spec.hasOptimizer()
                ? new JobConfig.Optimizer(o.getBeta1(), o.getBeta2(), o.getEps(), o.getWeightDecay(), o.getGradClip())
                : new JobConfig.Optimizer(0.9, 0.95, 1e-8, 0.1, 1.0);
        Path out = Path.of(spec.getCheckpointDir().isBlank() ? "." : spec.getCheckpointDir());
        return new JobConfig(
                spec.getName(),
                spec.getModel(),
                new JobConfig.Data(dir, sources, additional, almr),
                spec.getSeqLen(),
                spec.getGlobalBatch(),
                spec.getMicroBatch(),
                spec.getSteps(),
                spec.getSeed(),
                threads,
                jobLr,
                opt,
                spec.getEvalInterval(),
                spec.getEvalBatches() > 0 ? spec.getEvalBatches() : EVAL_BATCHES,
                spec.getCheckpointInterval(),
                out,
                out.resolve("metrics.jsonl"),
                spec.getCheckpointKeepLast(),
                spec.getCheckpointKeepEvery());
    }
}
