// `shoal sweep` and `shoal fit` end to end in-process on a 2 × 2 grid of the tiny model (3 steps a point):
// the sweep runs and reruns (skipping finished points), fit writes the report, and user mistakes exit 2
// with one line naming the key or folder.
package dev.shoal.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.shoal.runtime.data.SyntheticCorpus;
import dev.shoal.runtime.train.ByteLevelTokenizer;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class SweepCommandTest {

    @TempDir
    Path dir;

    private static String oneLine(ShoalCliTest.Run r) {
        assertEquals(2, r.code(), r.out() + r.err());
        assertEquals(1, r.err().strip().lines().count(), r.err());
        assertTrue(r.err().startsWith("error: "), r.err());
        return r.err().strip().substring("error: ".length());
    }

    @Test
    void sweepsFitsAndRefusesMistakes() throws IOException {
        Path tok = ByteLevelTokenizer.write(dir.resolve("bytes.tiktoken"));
        SyntheticCorpus.writeJsonl(dir.resolve("en.jsonl"), "en", 1, 150);
        SyntheticCorpus.writeJsonl(dir.resolve("zh.jsonl"), "zh", 2, 150);
        ShoalCliTest.Run prep = ShoalCliTest.run(
                "prepare",
                "--tokenizer",
                tok.toString(),
                "--out",
                dir.resolve("data").toString(),
                "--source",
                "name=en,lang=en,path=" + dir.resolve("en.jsonl") + ",valid=0.1",
                "--source",
                "name=zh,lang=zh,path=" + dir.resolve("zh.jsonl") + ",valid=0.1",
                "--quiet");
        assertEquals(0, prep.code(), prep.err());
        Files.writeString(
                dir.resolve("job.conf"),
                """
                train {
                  model = tiny
                  data {
                    dir = data
                    sources = [ { name = en, language = en, weight = 0.5 }, { name = zh, language = zh, weight = 0.5 } ]
                    additional_language = zh
                  }
                  seq_len = 16, global_batch = 2, micro_batch = 2, steps = 3, threads = 1
                  lr { peak_lr = 2e-3 }
                  eval_batches = 1
                  checkpoint_dir = ckpt
                }
                """);
        Path conf = dir.resolve("grid.conf");
        Files.writeString(conf, "sweep { job = job.conf, almr = [0.2, 0.6], peak_lr = [1e-3, 4e-3] }\n");

        ShoalCliTest.Run r = ShoalCliTest.run("sweep", "--config", conf.toString());
        assertEquals(0, r.code(), r.err());
        assertTrue(r.out().contains("sweep grid: 4 points into " + dir.resolve("grid")), r.out());
        assertTrue(r.out().contains("done almr0.6_lr0.004_s3"), r.out());
        assertTrue(r.out().contains("ran 4, skipped 0"), r.out());
        assertTrue(r.err().contains("sweep [") && r.err().contains("ETA"), r.err());
        r = ShoalCliTest.run("sweep", "--config", conf.toString(), "--quiet");
        assertTrue(r.out().contains("ran 0, skipped 4"), r.out());
        r = ShoalCliTest.run("sweep", "--config", conf.toString(), "--dry-run");
        assertTrue(r.out().contains("almr0.2_lr0.001_s3") && r.out().contains("done"), r.out());

        r = ShoalCliTest.run("fit", "--sweep", dir.resolve("grid").toString(), "--bootstrap", "50");
        assertEquals(0, r.code(), r.err());
        assertTrue(r.out().contains("report: " + dir.resolve("grid/report/report.html")), r.out());
        assertTrue(Files.exists(dir.resolve("grid/report/report.md")));
        assertTrue(Files.exists(dir.resolve("grid/report/heatmap-zh.svg")));

        Files.writeString(conf, "sweep { job = job.conf, almr = [0.2, 1.6], peak_lr = [1e-3] }\n");
        assertEquals(
                "sweep.almr[1] = 1.6: must be in [0, 1]",
                oneLine(ShoalCliTest.run("sweep", "--config", conf.toString())));
        assertTrue(oneLine(ShoalCliTest.run("fit", "--sweep", dir.toString())).contains("no sweep.json"));
        assertTrue(
                oneLine(ShoalCliTest.run("fit", "--sweep", dir.resolve("grid").toString(), "--epsilon", "-1"))
                        .contains("--epsilon -1.0"));
        assertTrue(
                oneLine(ShoalCliTest.run("fit", "--sweep", dir.resolve("grid").toString(), "--baseline", "x"))
                        .contains("allowed lowest-almr, start"));
    }
}
