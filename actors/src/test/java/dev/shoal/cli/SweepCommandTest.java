// `shoal sweep` and `shoal fit` end to end in-process on a 2 × 2 grid of the tiny model (3 steps a point):
// the sweep runs and reruns (skipping finished points), fit writes the report, and user mistakes exit 2
// with one line naming the key or folder.
package dev.shoal.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class SweepCommandTest {

    @TempDir
    Path dir;

    @Test
    void sweepsFitsAndRefusesMistakes() throws IOException {
        ShoalCliTest.prepareBilingual(dir, 150);
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
                ShoalCliTest.userError(ShoalCliTest.run("sweep", "--config", conf.toString())));
        assertTrue(ShoalCliTest.userError(ShoalCliTest.run("fit", "--sweep", dir.toString()))
                .contains("no sweep.json"));
        assertTrue(ShoalCliTest.userError(
                        ShoalCliTest.run("fit", "--sweep", dir.resolve("grid").toString(), "--epsilon", "-1"))
                .contains("--epsilon -1.0"));
        assertTrue(ShoalCliTest.userError(
                        ShoalCliTest.run("fit", "--sweep", dir.resolve("grid").toString(), "--baseline", "x"))
                .contains("allowed lowest-almr, start"));
    }
}
