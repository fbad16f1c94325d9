// The data side of a training job, shared by the single-process Trainer and every RankTrainer: the
// prepared folder's manifest, the MixtureSampler over its train splits, the per-source held-out
// sequences, the model config the job names (checked against the data and seq_len), and the job identity
// a checkpoint records. The batch of step s is read only through the sampler and BatchLayout: rank d of
// dp reads micro-batch m of step s as MixtureSampler.microBatch(s, d, dp, m), so every layout (dp 1 in
// the Trainer included) trains on the same global batch, a pure function of (seed, s, data spec).
// Guarantees: every user mistake (missing folder, a source the folder lacks, a vocabulary too small for
// the tokenizer, seq_len beyond the model) is a JobConfigException naming the key and value; nothing here
// draws random numbers; the sampler is thread-safe, so thread ranks may share one TrainData.
package dev.shoal.runtime.train;

import dev.shoal.runtime.data.BatchLayout;
import dev.shoal.runtime.data.Manifest;
import dev.shoal.runtime.data.MixtureSampler;
import dev.shoal.runtime.data.MixtureSpec;
import dev.shoal.runtime.data.PreparedSource;
import dev.shoal.runtime.data.ValidationSet;
import dev.shoal.runtime.hf.HfConfig;
import dev.shoal.runtime.hf.HfFormatException;
import dev.shoal.runtime.model.LlamaConfig;
import java.io.IOException;
import java.nio.IntBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.function.Consumer;

/** Immutable after construction; safe to share between thread ranks. */
public final class TrainData {
    private final JobConfig job;
    private final Manifest manifest;
    private final MixtureSampler sampler;
    private final Map<String, List<int[]>> valSets = new LinkedHashMap<>(); // source -> [n][T+1] ids

    /** Opens job.data().dir(): manifest, train splits, held-out sequences. note gets one-line notes. */
    public TrainData(JobConfig job, Consumer<String> note) throws IOException {
        this.job = job;
        MixtureSpec spec = job.mixtureSpec();
        Path dataDir = job.data().dir();
        if (!Files.isDirectory(dataDir)) {
            throw new JobConfigException(
                    "train.data.dir = " + dataDir + ": no such folder (make one with shoal prepare)");
        }
        try {
            manifest = Manifest.read(dataDir);
            sampler = MixtureSampler.fromPrepared(dataDir, spec, true);
        } catch (IllegalArgumentException e) {
            throw new JobConfigException("train.data: " + e.getMessage());
        } catch (IOException e) {
            throw new JobConfigException("train.data.dir = " + dataDir + ": " + e.getMessage());
        }
        // Held-out sequences per source, fixed for the whole run.
        int maxSeqs = job.evalBatches() * job.microBatch();
        for (MixtureSpec.Source s : spec.sources()) {
            PreparedSource valid;
            try {
                valid = PreparedSource.open(dataDir, s.name(), PreparedSource.Split.VALID, true);
            } catch (IOException e) {
                throw new JobConfigException("train.data.dir = " + dataDir + ": " + e.getMessage());
            }
            List<int[]> seqs = ValidationSet.sequences(
                    valid,
                    job.seqLen(),
                    maxSeqs,
                    manifest.tokenizer().bosId(),
                    manifest.tokenizer().eosId());
            if (seqs.isEmpty()) {
                if (note != null) {
                    note.accept("note: source " + s.name() + " has no held-out sequence of " + (job.seqLen() + 1)
                            + " ids; it gets no validation loss");
                }
            } else {
                valSets.put(s.name(), List.copyOf(seqs));
            }
        }
    }

    public JobConfig job() {
        return job;
    }

    public Manifest manifest() {
        return manifest;
    }

    public MixtureSampler sampler() {
        return sampler;
    }

    /** Source name -> its held-out sequences [n][T + 1] (sources without any are absent). */
    public Map<String, List<int[]>> validation() {
        return Collections.unmodifiableMap(valSets);
    }

    /** The layout for dp replicas (BatchLayout's clear message when dp does not divide the batch). */
    public BatchLayout layout(int dp) {
        return sampler.layout(dp);
    }

    /**
     * Micro-batch m of DP rank d (of dp) of step s into inputs [micro·T] = ids[:, 0:T] and targets
     * [micro·T] = ids[:, 1:T+1].
     */
    public void microBatch(long s, int d, int dp, int m, int[] inputs, int[] targets) {
        MixtureSampler.Batch b = sampler.microBatch(s, d, dp, m, false);
        int t = job.seqLen();
        IntBuffer ids = b.tokens();
        for (int r = 0; r < b.rows(); r++) {
            int base = r * (t + 1);
            for (int p = 0; p < t; p++) {
                inputs[r * t + p] = ids.get(base + p);
                targets[r * t + p] = ids.get(base + p + 1);
            }
        }
    }

    /**
     * Step s's global batch as ParallelTrainer takes it ([B][T + 1]), holding only DP rank d's rows (read
     * micro-batch by micro-batch through the layout); the other replicas' rows stay null.
     */
    public int[][] replicaRows(long s, int d, int dp) {
        BatchLayout l = layout(dp);
        int[][] out = new int[job.globalBatch()][];
        for (int m = 0; m < l.gradAccum(); m++) {
            MixtureSampler.Batch b = sampler.microBatch(s, d, dp, m, false);
            int first = l.firstRow(d, m);
            for (int r = 0; r < b.rows(); r++) {
                out[first + r] = b.row(r);
            }
        }
        return out;
    }

    /** The config of the job's model (a preset, or an HF directory's config.json), checked against T. */
    public static LlamaConfig modelConfig(JobConfig job) throws IOException {
        String m = job.model();
        LlamaConfig c;
        if (LlamaConfig.PRESETS.containsKey(m.toLowerCase(Locale.ROOT))) {
            c = LlamaConfig.preset(m);
        } else {
            Path dir = Path.of(m);
            if (!Files.isDirectory(dir)) {
                throw new JobConfigException("train.model = " + m + ": neither a preset (" + LlamaConfig.presetNames()
                        + ") nor a Hugging Face directory");
            }
            try {
                c = HfConfig.read(dir);
            } catch (HfFormatException e) {
                throw new JobConfigException("train.model = " + m + ": " + e.getMessage());
            }
        }
        if (job.seqLen() > c.maxSeqLen()) {
            throw new JobConfigException("train.seq_len = " + job.seqLen() + ": model '" + c.name()
                    + "' allows at most " + c.maxSeqLen() + " positions");
        }
        return c;
    }

    /** True when the job's model is a preset (random init from the seed), not an HF directory. */
    public static boolean isPreset(JobConfig job) {
        return LlamaConfig.PRESETS.containsKey(job.model().toLowerCase(Locale.ROOT));
    }

    /** Refuses a model whose vocabulary cannot hold every id of the data's tokenizer. */
    public void checkVocab(LlamaConfig mc) {
        if (manifest.tokenizer().vocabSize() > mc.vocab()) {
            throw new JobConfigException("train.data.dir = " + job.data().dir() + ": its tokenizer has "
                    + manifest.tokenizer().vocabSize() + " ids, more than the vocabulary " + mc.vocab() + " of model '"
                    + mc.name() + "' (tokenize with a smaller tokenizer or use a larger model)");
        }
    }

    /** What a checkpoint must agree on with the job to be resumed: the data stream and the model's shape. */
    public Map<String, String> identity(LlamaConfig model) {
        MixtureSpec s = job.mixtureSpec();
        Map<String, String> id = new LinkedHashMap<>();
        id.put("seed", Long.toString(s.seed()));
        id.put("seq_len", Integer.toString(s.seqLen()));
        id.put("global_batch", Integer.toString(s.globalBatch()));
        id.put("data.sources", s.sources().toString());
        id.put("data.additional_language", String.valueOf(s.additionalLang()));
        id.put(
                "data.almr_schedule",
                Arrays.toString(s.effectiveSchedule().steps()) + " "
                        + Arrays.toString(s.effectiveSchedule().ppb()));
        id.put("tokenizer_sha256", manifest.tokenizer().sha256());
        id.put("model", model.withName("-").toString());
        return id;
    }

    /** The trainer_state.json of a checkpoint after `done` steps. */
    public Checkpoints.State state(long done, long adamwSteps, LlamaConfig model) {
        Map<String, Long> consumed = new LinkedHashMap<>();
        long[] c = sampler.labelTokensConsumed(done);
        for (int i = 0; i < c.length; i++) {
            consumed.put(job.mixtureSpec().sources().get(i).name(), c[i]);
        }
        var schedule = job.lrSchedule();
        return new Checkpoints.State(
                done,
                adamwSteps,
                schedule.toString(),
                done < job.steps() ? schedule.lr(done) : Double.NaN,
                consumed,
                identity(model),
                "none drawn while training; data and initial weights come from seed " + job.seed());
    }

    /**
     * Checks a checkpoint's state against the job; throws naming every difference. Returns a note when
     * only the LR schedule changed (allowed), else null.
     */
    public String checkResumable(Path dir, Checkpoints.State st, LlamaConfig model) {
        StringBuilder diff = new StringBuilder();
        for (Map.Entry<String, String> e : identity(model).entrySet()) {
            String was = st.identity().get(e.getKey());
            if (!e.getValue().equals(was)) {
                diff.append(diff.length() == 0 ? "" : "; ")
                        .append(e.getKey())
                        .append(": checkpoint ")
                        .append(was)
                        .append(", config ")
                        .append(e.getValue());
            }
        }
        if (diff.length() > 0) {
            throw new JobConfigException("cannot resume from " + dir + ": the job differs in " + diff);
        }
        String schedule = job.lrSchedule().toString();
        return schedule.equals(st.lrSchedule())
                ? null
                : "note: the LR schedule changed since the checkpoint (was " + st.lrSchedule() + ", now " + schedule
                        + ")";
    }
}
