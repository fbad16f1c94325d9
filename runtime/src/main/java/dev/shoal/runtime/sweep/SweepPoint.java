// One point of an ALMR × LR (× token budget) grid and the training job it becomes: the base job with a
// constant ALMR (an almr_schedule of one point), the peak LR (min_lr scaled by the same factor, so the
// schedule keeps its shape), the step count, and checkpoints/metrics inside the point's own folder.
// Guarantees: the id is a pure function of (almr, peak_lr, steps) and safe as a folder name; the job is
// validated by JobConfig, and a value it refuses is reported with the point's id.
package dev.shoal.runtime.sweep;

import dev.shoal.runtime.data.AlmrSchedule;
import dev.shoal.runtime.train.JobConfig;
import dev.shoal.runtime.train.JobConfigException;
import java.math.BigDecimal;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * @param almr r, the additional language's share of sequences, in [0, 1]
 * @param peakLr the schedule's peak learning rate
 * @param steps optimizer steps (the token budget is steps × B × seq_len)
 */
public record SweepPoint(double almr, double peakLr, long steps) {

    public SweepPoint {
        if (!(almr >= 0 && almr <= 1)) throw new SweepConfigException("ALMR " + almr + " not in [0, 1]");
        if (!(peakLr > 0 && Double.isFinite(peakLr))) throw new SweepConfigException("peak LR " + peakLr + " not > 0");
        if (steps < 1) throw new SweepConfigException("steps " + steps + " not >= 1");
    }

    /** e.g. {@code almr0.1_lr0.002_s300}. */
    public String id() {
        return "almr" + plain(almr) + "_lr" + plain(peakLr) + "_s" + steps;
    }

    static String plain(double x) {
        return BigDecimal.valueOf(x).stripTrailingZeros().toPlainString();
    }

    /** The base job turned into this point's job, writing into {@code pointDir}. */
    public JobConfig job(JobConfig base, Path pointDir) {
        JobConfig.Data d = base.data();
        JobConfig.Lr lr = base.lr();
        double scale = peakLr / lr.peakLr();
        try {
            return new JobConfig(
                    base.name() + "/" + id(),
                    base.model(),
                    new JobConfig.Data(d.dir(), d.sources(), d.additionalLanguage(), AlmrSchedule.constant(almr)),
                    base.seqLen(),
                    base.globalBatch(),
                    base.microBatch(),
                    steps,
                    base.seed(),
                    base.threads(),
                    new JobConfig.Lr(
                            lr.kind(), peakLr, Math.min(peakLr, lr.minLr() * scale), lr.warmupSteps(), lr.decaySteps()),
                    base.optimizer(),
                    base.evalInterval(),
                    base.evalBatches(),
                    base.checkpointInterval(),
                    pointDir.resolve("ckpt"),
                    pointDir.resolve("metrics.jsonl"),
                    base.checkpointKeepLast(),
                    base.checkpointKeepEvery());
        } catch (JobConfigException e) {
            throw new SweepConfigException("sweep point " + id() + ": " + e.getMessage());
        }
    }

    /**
     * What must match for a point's folder to be resumed or reused: everything that changes its numbers
     * (threads and paths excluded).
     */
    public static Map<String, String> fingerprint(JobConfig job) {
        Map<String, String> f = new LinkedHashMap<>();
        f.put("model", job.model());
        f.put("data.dir", job.data().dir().toAbsolutePath().normalize().toString());
        f.put("data.sources", job.data().sources().toString());
        f.put("data.additional_language", String.valueOf(job.data().additionalLanguage()));
        f.put("almr", Double.toString(job.data().almrSchedule().ppb()[0] / (double) AlmrSchedule.Q));
        f.put("seq_len", Integer.toString(job.seqLen()));
        f.put("global_batch", Integer.toString(job.globalBatch()));
        f.put("micro_batch", Integer.toString(job.microBatch()));
        f.put("steps", Long.toString(job.steps()));
        f.put("seed", Long.toString(job.seed()));
        f.put("lr", job.lr().toString());
        f.put("optimizer", job.optimizer().toString());
        f.put("eval_interval", Long.toString(job.evalInterval()));
        f.put("eval_batches", Integer.toString(job.evalBatches()));
        return f;
    }
}
