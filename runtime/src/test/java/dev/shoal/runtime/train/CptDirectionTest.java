// Continual pre-training moves the per-language losses in the expected direction. The tiny model is
// pretrained on English only, then trained on from that checkpoint at two ALMRs (0.1 and 0.5) with the
// same LR and steps. Expected: the Chinese validation loss ends lower at the higher ALMR (more new-language
// tokens), and the English validation loss ends higher there (fewer replay tokens: more forgetting).
// Data: Debian's fortunes / fortunes-zh when installed (else the synthetic corpus, which the log says),
// byte-level tokenizer (vocab 512 = tiny's). The numbers are printed as a table for docs/data-pipeline.md.
package dev.shoal.runtime.train;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import dev.shoal.runtime.data.DemoCorpus;
import dev.shoal.runtime.data.FortuneFiles;
import dev.shoal.runtime.data.Preparer;
import dev.shoal.runtime.data.SourceSpec;
import dev.shoal.runtime.tokenizer.Llama3Tokenizer;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Locale;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

@Tag("slow")
class CptDirectionTest {

    static final int PRETRAIN_STEPS = Integer.getInteger("cpt.pretrainSteps", 300);
    static final int CPT_STEPS = Integer.getInteger("cpt.steps", 150);
    // -Dcpt.fortunes=/nowhere forces the synthetic-corpus fallback.

    @TempDir
    Path dir;

    private static final String COMMON =
            """
              seq_len = 64, global_batch = 16, micro_batch = 16, seed = 11, threads = 2
              eval_batches = 4
              checkpoint_dir = %s
            """;

    private Path write(String name, String body) throws IOException {
        Path f = dir.resolve(name);
        Files.writeString(f, "train {\n" + body + "\n}\n");
        return f;
    }

    private List<JsonNode> train(Path conf) throws IOException {
        JobConfig job = JobConfigReader.load(conf);
        try (Trainer t = new Trainer(job, System.out, null)) {
            Trainer.Result r = t.run(false, Long.MAX_VALUE);
            System.out.printf(Locale.ROOT, "%s: %d steps in %.1fs%n", job.name(), r.endStep(), r.seconds());
        }
        return MetricsLog.read(job.metricsFile());
    }

    @Test
    void higherAlmrLearnsChineseFasterAndForgetsMoreEnglish() throws IOException {
        // 1. Data: English and Chinese, byte-level ids, 2% held out.
        Path tok = ByteLevelTokenizer.write(dir.resolve("bytes.tiktoken"));
        List<SourceSpec> sources = DemoCorpus.sources(
                FortuneFiles.find(Path.of(System.getProperty("cpt.fortunes", FortuneFiles.DEFAULT_DIR.toString()))),
                dir.resolve("synthetic"),
                0.02,
                System.out);
        Preparer.run(
                new Preparer.Config(tok, dir.resolve("data"), sources, 2, 16 << 20, true, null),
                Llama3Tokenizer.load(tok));
        // 2. Pretrain on English only.
        train(write(
                "pretrain.conf",
                """
                  model = tiny
                  data { dir = data, sources = [ { name = en, language = en, weight = 1 } ], additional_language = zh }
                  steps = %d
                  lr { kind = cosine, peak_lr = 4e-3, min_lr = 4e-4, warmup_steps = 20 }
                """
                                .formatted(PRETRAIN_STEPS)
                        + COMMON.formatted("pre")));
        Path base = Checkpoints.stepDir(dir.resolve("pre"), PRETRAIN_STEPS);
        // 3. CPT from that checkpoint at two ALMRs, same LR and steps.
        double[][] end = new double[2][];
        double[] start = null;
        double[] almrs = {0.1, 0.5};
        StringBuilder table = new StringBuilder();
        for (int k = 0; k < 2; k++) {
            List<JsonNode> m = train(write(
                    "cpt" + k + ".conf",
                    """
                      model = %s
                      data {
                        dir = data
                        sources = [ { name = en, language = en, weight = %s }, { name = zh, language = zh, weight = %s } ]
                        additional_language = zh
                      }
                      steps = %d
                      lr { kind = cosine, peak_lr = 2e-3, min_lr = 2e-4, warmup_steps = 10 }
                      eval_interval = %d
                    """
                                    .formatted(base, 1 - almrs[k], almrs[k], CPT_STEPS, CPT_STEPS / 3)
                            + COMMON.formatted("cpt" + k)));
            JsonNode v0 = m.get(0).get("val_loss");
            double[] s0 = {v0.get("en").asDouble(), v0.get("zh").asDouble()};
            if (start == null) start = s0;
            assertEquals(start[0], s0[0], 0.0, "both runs start from the same weights");
            assertEquals(start[1], s0[1], 0.0);
            table.append(String.format(Locale.ROOT, "| %.1f |", almrs[k]));
            for (JsonNode line : m) {
                if (!line.has("val_loss")) continue;
                JsonNode v = line.get("val_loss");
                table.append(String.format(
                        Locale.ROOT,
                        " %d: %.3f / %.3f |",
                        line.get("step").asLong(),
                        v.get("en").asDouble(),
                        v.get("zh").asDouble()));
            }
            table.append('\n');
            JsonNode vEnd = m.get(m.size() - 1).get("val_loss");
            end[k] = new double[] {vEnd.get("en").asDouble(), vEnd.get("zh").asDouble()};
        }
        System.out.println("CPT direction (val loss en / zh, nats per byte), steps " + CPT_STEPS + " after "
                + PRETRAIN_STEPS + " English-only steps:\n" + table);
        System.out.printf(
                Locale.ROOT,
                "zh drop: ALMR 0.1 %.3f, ALMR 0.5 %.3f; en change: ALMR 0.1 %+.3f, ALMR 0.5 %+.3f%n",
                start[1] - end[0][1],
                start[1] - end[1][1],
                end[0][0] - start[0],
                end[1][0] - start[0]);
        // 4. The direction: more Chinese learned and more English forgotten at the higher ALMR.
        assertTrue(end[1][1] < end[0][1], "zh val loss lower at ALMR 0.5: " + end[1][1] + " vs " + end[0][1]);
        assertTrue(end[1][0] > end[0][0], "en val loss higher at ALMR 0.5: " + end[1][0] + " vs " + end[0][0]);
        assertTrue(start[1] - end[0][1] > 0, "even ALMR 0.1 lowers the zh loss");
    }
}
