// Test fixture: a small bilingual prepared dataset (byte-level tokenizer, the project's synthetic corpus)
// and a job config for the tiny model over it, written to a temp folder in well under a second.
package dev.shoal.runtime.train;

import dev.shoal.runtime.checkpoint.TrainingState;
import dev.shoal.runtime.data.DocFormat;
import dev.shoal.runtime.data.Preparer;
import dev.shoal.runtime.data.SourceSpec;
import dev.shoal.runtime.data.SyntheticCorpus;
import dev.shoal.runtime.tokenizer.Llama3Tokenizer;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;

final class TrainFixture {
    private TrainFixture() {}

    /** The training state a checkpoint at {@code step} of {@code job} records (no data cursor, no extras). */
    static TrainingState state(JobConfig job, long step) {
        return new TrainingState(
                step, job.seed(), job.lrSchedule().toString(), job.lrSchedule().lr(step), null, java.util.Map.of());
    }

    /** dir/data: sources en and zh, 300 synthetic documents each, 10% held out. */
    static Path prepare(Path dir) throws IOException {
        Path tok = ByteLevelTokenizer.write(dir.resolve("bytes.tiktoken"));
        Path en = dir.resolve("en.jsonl");
        Path zh = dir.resolve("zh.jsonl");
        SyntheticCorpus.writeJsonl(en, "en", 1, 300);
        SyntheticCorpus.writeJsonl(zh, "zh", 2, 300);
        Path out = dir.resolve("data");
        Preparer.run(
                new Preparer.Config(
                        tok,
                        out,
                        List.of(
                                new SourceSpec("en", "en", DocFormat.JSONL, List.of(en), "text", 0.1),
                                new SourceSpec("zh", "zh", DocFormat.JSONL, List.of(zh), "text", 0.1)),
                        2,
                        1 << 20,
                        true,
                        null),
                Llama3Tokenizer.load(tok));
        return out;
    }

    /** A job over dir/data with checkpoints in dir/ckptName; extra lines go inside train { }. */
    static Path config(Path dir, String file, String ckptName, String extra) throws IOException {
        Path f = dir.resolve(file);
        Files.writeString(
                f,
                """
                train {
                  model = tiny
                  data {
                    dir = data
                    sources = [ { name = en, language = en, weight = 0.75 }, { name = zh, language = zh, weight = 0.25 } ]
                    additional_language = zh
                  }
                  seq_len = 32
                  global_batch = 8
                  micro_batch = 4
                  steps = 8
                  seed = 3
                  threads = 2
                  lr { kind = cosine, peak_lr = 3e-3, min_lr = 3e-4, warmup_steps = 2 }
                  eval_interval = 4
                  eval_batches = 2
                  checkpoint_interval = 3
                  checkpoint_dir = %s
                  %s
                }
                """
                        .formatted(ckptName, extra));
        return f;
    }
}
