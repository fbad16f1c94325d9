// A single-process training job as the user writes it in HOCON (`shoal train --config job.conf`): model,
// data mixture, batch shape, LR schedule, AdamW, steps, evaluation and checkpoints. Key names follow
// proto/shoal/v1/job_service.proto's JobSpec where the two overlap (model, seq_len, global_batch,
// micro_batch, steps, seed, lr.{kind, peak_lr, min_lr, warmup_steps, decay_steps}, optimizer.{beta1,
// beta2, eps, weight_decay, grad_clip}, eval_interval, checkpoint_interval, checkpoint_dir,
// checkpoint_keep_last, checkpoint_keep_every, and the sources' name/language/weight and almr_schedule's
// step/almr).
// Guarantees: every record validates in its compact constructor; a wrong value fails with a
// JobConfigException naming the full key and, for enumerations, the allowed values.
package dev.shoal.runtime.train;

import dev.shoal.runtime.checkpoint.Retention;
import dev.shoal.runtime.data.AlmrSchedule;
import dev.shoal.runtime.data.MixtureSpec;
import dev.shoal.runtime.optim.AdamWConfig;
import dev.shoal.runtime.optim.LrSchedule;
import java.nio.file.Path;
import java.util.List;
import java.util.Locale;

/**
 * @param name job name (default: the config file's base name)
 * @param model a preset name (tiny, small, llama3-8b, llama3-70b) or a Hugging Face directory
 * @param seqLen T: tokens per training sequence
 * @param globalBatch B: sequences per optimizer step
 * @param microBatch sequences per forward/backward pass (grad_accum = B / micro at dp 1)
 * @param steps optimizer steps of the whole job
 * @param seed data shuffling seed, and the init seed of a preset model
 * @param threads CPU threads of the engine
 * @param evalInterval steps between per-source validation losses (0: only at the start and the end)
 * @param evalBatches micro-batches of held-out sequences scored per source
 * @param checkpointInterval steps between checkpoints (0: only at the end)
 * @param checkpointDir where step-NNNNNN/ folders go
 * @param metricsFile the JSONL metrics log (default checkpoint_dir/metrics.jsonl)
 * @param checkpointKeepLast retention: keep the newest this many checkpoints (0: keep every checkpoint)
 * @param checkpointKeepEvery retention: also keep every checkpoint whose step is a multiple of this (0:
 *     none); needs checkpointKeepLast >= 1
 */
public record JobConfig(
        String name,
        String model,
        Data data,
        int seqLen,
        int globalBatch,
        int microBatch,
        long steps,
        long seed,
        int threads,
        Lr lr,
        Optimizer optimizer,
        long evalInterval,
        int evalBatches,
        long checkpointInterval,
        Path checkpointDir,
        Path metricsFile,
        int checkpointKeepLast,
        long checkpointKeepEvery) {

    public JobConfig {
        require(name != null && !name.isBlank(), "train.name", name, "must not be empty");
        require(model != null && !model.isBlank(), "train.model", model, "must name a preset or an HF directory");
        require(data != null, "train.data", null, "is required");
        require(seqLen >= 1, "train.seq_len", seqLen, "must be >= 1");
        require(globalBatch >= 1, "train.global_batch", globalBatch, "must be >= 1");
        require(
                microBatch >= 1 && globalBatch % microBatch == 0,
                "train.micro_batch",
                microBatch,
                "must be >= 1 and divide train.global_batch " + globalBatch);
        require(steps >= 1, "train.steps", steps, "must be >= 1");
        require(threads >= 1, "train.threads", threads, "must be >= 1");
        require(evalInterval >= 0, "train.eval_interval", evalInterval, "must be >= 0 (0: start and end only)");
        require(evalBatches >= 1, "train.eval_batches", evalBatches, "must be >= 1");
        require(
                checkpointInterval >= 0,
                "train.checkpoint_interval",
                checkpointInterval,
                "must be >= 0 (0: only at the end)");
        require(checkpointDir != null, "train.checkpoint_dir", null, "is required");
        require(metricsFile != null, "train.metrics_file", null, "is required");
        require(
                checkpointKeepLast >= 0,
                "train.checkpoint_keep_last",
                checkpointKeepLast,
                "must be >= 0 (0: keep every checkpoint)");
        require(
                checkpointKeepEvery >= 0,
                "train.checkpoint_keep_every",
                checkpointKeepEvery,
                "must be >= 0 (0: keep only the newest train.checkpoint_keep_last)");
        require(
                checkpointKeepEvery == 0 || checkpointKeepLast >= 1,
                "train.checkpoint_keep_every",
                checkpointKeepEvery,
                "needs train.checkpoint_keep_last >= 1 (train.checkpoint_keep_last 0 keeps every checkpoint)");
        require(lr != null && optimizer != null, "train.lr / train.optimizer", null, "are required");
        if (lr.kind() == LrKind.WSD && lr.decaySteps() + lr.warmupSteps() > steps) {
            throw new JobConfigException("train.lr.decay_steps = " + lr.decaySteps() + ": warmup_steps "
                    + lr.warmupSteps() + " + decay_steps must fit in train.steps " + steps);
        }
        try {
            new MixtureSpec(
                    seed,
                    seqLen,
                    globalBatch,
                    microBatch,
                    data.sources(),
                    data.additionalLanguage(),
                    data.almrSchedule());
        } catch (IllegalArgumentException e) {
            throw new JobConfigException("train.data: " + e.getMessage());
        }
        if (lr.kind() != LrKind.WSD && lr.warmupSteps() > steps) {
            throw new JobConfigException(
                    "train.lr.warmup_steps = " + lr.warmupSteps() + ": must not exceed train.steps " + steps);
        }
    }

    /** A job that keeps every checkpoint (no retention keys). */
    public JobConfig(
            String name,
            String model,
            Data data,
            int seqLen,
            int globalBatch,
            int microBatch,
            long steps,
            long seed,
            int threads,
            Lr lr,
            Optimizer optimizer,
            long evalInterval,
            int evalBatches,
            long checkpointInterval,
            Path checkpointDir,
            Path metricsFile) {
        this(
                name,
                model,
                data,
                seqLen,
                globalBatch,
                microBatch,
                steps,
                seed,
                threads,
                lr,
                optimizer,
                evalInterval,
                evalBatches,
                checkpointInterval,
                checkpointDir,
                metricsFile,
                0,
                0);
    }

    /** Which committed checkpoints to keep: the newest keep_last plus every keep_every-th (keep_last 0: all). */
    public Retention retention() {
        return checkpointKeepLast == 0 ? Retention.ALL : new Retention(checkpointKeepLast, checkpointKeepEvery);
    }

    /** The data half as the sampler takes it. */
    public MixtureSpec mixtureSpec() {
        return new MixtureSpec(
                seed, seqLen, globalBatch, microBatch, data.sources(), data.additionalLanguage(), data.almrSchedule());
    }

    /** The LR schedule over this job's steps. */
    public LrSchedule lrSchedule() {
        return lr.schedule(steps);
    }

    /** The same job with another step count (the CLI's --steps). */
    public JobConfig withSteps(long newSteps) {
        return new JobConfig(
                name,
                model,
                data,
                seqLen,
                globalBatch,
                microBatch,
                newSteps,
                seed,
                threads,
                lr,
                optimizer,
                evalInterval,
                evalBatches,
                checkpointInterval,
                checkpointDir,
                metricsFile,
                checkpointKeepLast,
                checkpointKeepEvery);
    }

    /**
     * @param dir a {@code shoal prepare} output folder
     * @param sources name, language and weight of each source used
     * @param additionalLanguage the additional language's tag (null: none, pure pretraining)
     * @param almrSchedule ALMR over steps, or null for the share the weights imply
     */
    public record Data(
            Path dir, List<MixtureSpec.Source> sources, String additionalLanguage, AlmrSchedule almrSchedule) {
        public Data {
            require(dir != null, "train.data.dir", null, "is required (a shoal prepare output folder)");
            require(sources != null && !sources.isEmpty(), "train.data.sources", sources, "needs at least one source");
            sources = List.copyOf(sources);
        }
    }

    /** The LR schedule kinds, as in the proto's LrSchedule.Kind. */
    public enum LrKind {
        COSINE,
        LINEAR,
        WSD;

        public String key() {
            return name().toLowerCase(Locale.ROOT);
        }

        /** Parses a kind; anything else names the key and the allowed values. */
        public static LrKind parse(String key, String value) {
            for (LrKind k : values()) if (k.key().equals(value)) return k;
            throw new JobConfigException(key + " = \"" + value + "\": allowed cosine, linear, wsd");
        }
    }

    /**
     * Warmup then decay. cosine/linear: decay over decay_steps after warmup (0: until train.steps); wsd:
     * hold peak_lr, then decay linearly over the last decay_steps (required).
     */
    public record Lr(LrKind kind, double peakLr, double minLr, long warmupSteps, long decaySteps) {
        public Lr {
            require(kind != null, "train.lr.kind", null, "allowed cosine, linear, wsd");
            require(peakLr > 0 && Double.isFinite(peakLr), "train.lr.peak_lr", peakLr, "must be finite and > 0");
            require(minLr >= 0 && minLr <= peakLr, "train.lr.min_lr", minLr, "must be in [0, peak_lr " + peakLr + "]");
            require(warmupSteps >= 0, "train.lr.warmup_steps", warmupSteps, "must be >= 0");
            require(decaySteps >= 0, "train.lr.decay_steps", decaySteps, "must be >= 0");
            require(kind != LrKind.WSD || decaySteps >= 1, "train.lr.decay_steps", decaySteps, "wsd needs >= 1");
        }

        public LrSchedule schedule(long steps) {
            long decayEnd = decaySteps > 0 ? warmupSteps + decaySteps : steps;
            return switch (kind) {
                case COSINE -> new LrSchedule.WarmupCosine(peakLr, minLr, warmupSteps, Math.max(1, decayEnd));
                case LINEAR -> new LrSchedule.WarmupLinear(peakLr, minLr, warmupSteps, Math.max(1, decayEnd));
                case WSD -> new LrSchedule.WarmupStableDecay(peakLr, minLr, warmupSteps, steps, decaySteps);
            };
        }
    }

    /** AdamW and global grad-norm clipping (grad_clip 0: no clipping). */
    public record Optimizer(double beta1, double beta2, double eps, double weightDecay, double gradClip) {
        public Optimizer {
            require(beta1 >= 0 && beta1 < 1, "train.optimizer.beta1", beta1, "must be in [0, 1)");
            require(beta2 >= 0 && beta2 < 1, "train.optimizer.beta2", beta2, "must be in [0, 1)");
            require(eps > 0, "train.optimizer.eps", eps, "must be > 0");
            require(weightDecay >= 0, "train.optimizer.weight_decay", weightDecay, "must be >= 0");
            require(
                    gradClip >= 0 && Double.isFinite(gradClip),
                    "train.optimizer.grad_clip",
                    gradClip,
                    "must be >= 0 (0: no clipping)");
        }

        public AdamWConfig adamW() {
            return new AdamWConfig(beta1, beta2, eps, weightDecay);
        }
    }

    static void require(boolean ok, String key, Object value, String rule) {
        if (!ok) throw new JobConfigException(key + " = " + value + ": " + rule);
    }
}
