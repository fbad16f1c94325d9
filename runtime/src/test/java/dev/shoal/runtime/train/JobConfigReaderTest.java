// The HOCON job config: a full file parses into the expected records, defaults fill the rest, and every
// kind of mistake fails with one message naming the full key (and the allowed values or keys).
package dev.shoal.runtime.train;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.shoal.runtime.data.MixtureSpec;
import dev.shoal.runtime.optim.LrSchedule;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class JobConfigReaderTest {

    @TempDir
    Path dir;

    static final String FULL =
            """
            train {
              name = cpt
              model = tiny
              data {
                dir = data
                sources = [
                  { name = en, language = en, weight = 0.9 }
                  { name = zh, language = zh, weight = 0.1 }
                ]
                additional_language = zh
                almr_schedule = [ { step = 0, almr = 0.1 }, { step = 100, almr = 0.5 } ]
              }
              seq_len = 64
              global_batch = 16
              micro_batch = 4
              steps = 200
              seed = 7
              threads = 2
              lr { kind = wsd, peak_lr = 1e-3, min_lr = 1e-5, warmup_steps = 10, decay_steps = 40 }
              optimizer { beta1 = 0.8, beta2 = 0.99, eps = 1e-6, weight_decay = 0.05, grad_clip = 0.5 }
              eval_interval = 20
              eval_batches = 3
              checkpoint_interval = 50
              checkpoint_dir = ckpt
              checkpoint_keep_last = 3
              checkpoint_keep_every = 100
            }
            """;

    @Test
    void fullConfigParses() throws IOException {
        Path f = dir.resolve("job.conf");
        Files.writeString(f, FULL);
        JobConfig c = JobConfigReader.load(f);
        assertEquals("cpt", c.name());
        assertEquals("tiny", c.model());
        assertEquals(dir.resolve("data"), c.data().dir());
        assertEquals(
                List.of(new MixtureSpec.Source("en", "en", 0.9), new MixtureSpec.Source("zh", "zh", 0.1)),
                c.data().sources());
        assertEquals("zh", c.data().additionalLanguage());
        assertEquals(100_000_000L, c.data().almrSchedule().at(0));
        assertEquals(500_000_000L, c.data().almrSchedule().at(100));
        assertEquals(64, c.seqLen());
        assertEquals(16, c.globalBatch());
        assertEquals(4, c.microBatch());
        assertEquals(200, c.steps());
        assertEquals(7, c.seed());
        assertEquals(2, c.threads());
        assertEquals(new JobConfig.Lr(JobConfig.LrKind.WSD, 1e-3, 1e-5, 10, 40), c.lr());
        assertEquals(new LrSchedule.WarmupStableDecay(1e-3, 1e-5, 10, 200, 40), c.lrSchedule());
        assertEquals(new JobConfig.Optimizer(0.8, 0.99, 1e-6, 0.05, 0.5), c.optimizer());
        assertEquals(20, c.evalInterval());
        assertEquals(3, c.evalBatches());
        assertEquals(50, c.checkpointInterval());
        assertEquals(dir.resolve("ckpt"), c.checkpointDir());
        assertEquals(dir.resolve("ckpt/metrics.jsonl"), c.metricsFile());
        assertEquals(new dev.shoal.runtime.checkpoint.Retention(3, 100), c.retention());
        assertEquals(4, c.mixtureSpec().globalBatch() / c.mixtureSpec().microBatch());
    }

    @Test
    void defaultsFillTheRest() {
        JobConfig c = JobConfigReader.parse(
                """
                train {
                  model = /models/x
                  data { dir = /d, sources = [ { name = en, language = en, weight = 1 } ] }
                  seq_len = 32, global_batch = 8, steps = 10, checkpoint_dir = /c
                  lr { peak_lr = 0.01 }
                }
                """,
                dir,
                "myjob");
        assertEquals("myjob", c.name());
        assertEquals("/models/x", c.model());
        assertNull(c.data().additionalLanguage());
        assertNull(c.data().almrSchedule());
        assertEquals(8, c.microBatch());
        assertEquals(1, c.seed());
        assertEquals(new JobConfig.Lr(JobConfig.LrKind.COSINE, 0.01, 0.001, 0, 0), c.lr());
        assertEquals(new LrSchedule.WarmupCosine(0.01, 0.001, 0, 10), c.lrSchedule());
        assertEquals(new JobConfig.Optimizer(0.9, 0.95, 1e-8, 0.1, 1.0), c.optimizer());
        assertEquals(0, c.evalInterval());
        assertEquals(4, c.evalBatches());
        assertEquals(0, c.checkpointInterval());
        assertEquals(dev.shoal.runtime.checkpoint.Retention.ALL, c.retention(), "keeps every checkpoint");
    }

    private String error(String from, String to) {
        assertTrue(FULL.contains(from), from);
        return assertThrows(JobConfigException.class, () -> JobConfigReader.parse(FULL.replace(from, to), dir, "x"))
                .getMessage();
    }

    private static void starts(String actual, String prefix) {
        assertTrue(actual.startsWith(prefix), actual);
    }

    @Test
    void mistakesNameTheKey() {
        assertEquals("train.lr.kind = \"cosin\": allowed cosine, linear, wsd", error("kind = wsd", "kind = \"cosin\""));
        assertEquals(
                "unknown key train.lr.peak (allowed under train.lr.: kind, peak_lr, min_lr, warmup_steps, decay_steps)",
                error("peak_lr = 1e-3", "peak = 1e-3"));
        starts(error("seq_len = 64", "seq_len = abc"), "train.seq_len = \"abc\": must be a number");
        assertEquals("train.seq_len is required", error("seq_len = 64", ""));
        starts(
                error("micro_batch = 4", "micro_batch = 5"),
                "train.micro_batch = 5: must be >= 1 and divide train.global_batch 16");
        starts(error("steps = 200", "steps = 2.5"), "train.steps = 2.5: must be a whole number");
        starts(error("weight = 0.9", "weight = -1"), "train.data.sources[0].weight = -1.0");
        starts(
                error("{ step = 100, almr = 0.5 }", "{ step = 100, almr = 1.5 }"),
                "train.data.almr_schedule[1].almr = 1.5: must be in [0, 1]");
        starts(error("beta2 = 0.99", "beta2 = 1.0"), "train.optimizer.beta2 = 1.0: must be in [0, 1)");
        starts(error("decay_steps = 40", "decay_steps = 400"), "train.lr.decay_steps = 400");
        starts(
                error("name = zh, language = zh", "name = zh, language = en"),
                "train.data: ALMR 0.1 at step 0 but no source has the additional language 'zh'");
        starts(error("name = zh, language = zh", "name = zh, lang = zh"), "unknown key train.data.sources[1].lang");
        assertTrue(error("checkpoint_dir = ckpt", "").equals("train.checkpoint_dir is required"));
        assertEquals(
                "train.checkpoint_keep_last = -1: must be >= 0 (0: keep every checkpoint)",
                error("checkpoint_keep_last = 3", "checkpoint_keep_last = -1"));
        assertEquals(
                "train.checkpoint_keep_every = 100: needs train.checkpoint_keep_last >= 1"
                        + " (train.checkpoint_keep_last 0 keeps every checkpoint)",
                error("checkpoint_keep_last = 3", "checkpoint_keep_last = 0"));
        starts(
                error("checkpoint_keep_every = 100", "checkpoint_keep_every = -2"),
                "train.checkpoint_keep_every = -2: must be >= 0");
        starts(
                error("checkpoint_keep_last = 3", "checkpoint_keep_last = two"),
                "train.checkpoint_keep_last = \"two\": must be a number");
        starts(error("train {", "trian {"), "config has no `train { ... }` section");
        var parse = assertThrows(JobConfigException.class, () -> JobConfigReader.parse("train { x = [ }", dir, "x"));
        assertTrue(!parse.getMessage().isBlank());
        var missing = assertThrows(JobConfigException.class, () -> JobConfigReader.load(dir.resolve("nope.conf")));
        assertTrue(missing.getMessage().contains("nope.conf"), missing.getMessage());
    }
}
