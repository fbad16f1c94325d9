// `shoal train` end to end in-process: prepare a small bilingual dataset (byte-level tokenizer, the
// project's synthetic corpus), train the tiny model a few steps, resume, and check that each user mistake
// exits 2 with one line naming the key or value.
package dev.shoal.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.shoal.runtime.train.MetricsLog;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class TrainCommandTest {

    @TempDir
    Path dir;

    private Path conf(String name, String extra) throws IOException {
        Path f = dir.resolve(name);
        Files.writeString(
                f,
                """
                train {
                  model = tiny
                  data {
                    dir = data
                    sources = [ { name = en, language = en, weight = 0.5 }, { name = zh, language = zh, weight = 0.5 } ]
                    additional_language = zh
                  }
                  seq_len = 32, global_batch = 4, micro_batch = 2, steps = 10, threads = 2
                  lr { kind = linear, peak_lr = 2e-3, warmup_steps = 1 }
                  eval_interval = 2, eval_batches = 1
                  checkpoint_interval = 2
                  checkpoint_dir = ckpt
                  %s
                }
                """
                        .formatted(extra));
        return f;
    }

    @Test
    void trainsResumesAndRefusesMistakes() throws IOException {
        ShoalCliTest.prepareBilingual(dir, 200);
        Path job = conf("job.conf", "");

        ShoalCliTest.Run r = ShoalCliTest.run("train", "--config", job.toString(), "--steps", "4");
        assertEquals(0, r.code(), r.err());
        assertTrue(r.out().contains("model: preset tiny"), r.out());
        assertTrue(r.out().contains("job: steps 0..4 of 4"), r.out());
        assertTrue(r.out().contains("val_loss en ") && r.out().contains(" zh "), r.out());
        assertTrue(r.out().contains("checkpoint " + dir.resolve("ckpt/step-000004")), r.out());
        assertTrue(
                r.err().contains("train [")
                        && r.err().contains("tok/s")
                        && r.err().contains("ETA"),
                r.err());
        assertEquals(5, MetricsLog.read(dir.resolve("ckpt/metrics.jsonl")).size());

        // Checkpoints present: refused without --resume, continued with it.
        String again = ShoalCliTest.userError(ShoalCliTest.run("train", "--config", job.toString(), "--steps", "4"));
        assertTrue(again.contains("already holds step-000004; pass --resume"), again);
        r = ShoalCliTest.run("train", "--config", job.toString(), "--steps", "6", "--resume", "--quiet");
        assertEquals(0, r.code(), r.err());
        assertTrue(r.out().contains("resumed from " + dir.resolve("ckpt/step-000004") + " at step 4"), r.out());
        assertTrue(r.out().contains("job: steps 4..6 of 6"), r.out());
        assertEquals("", r.err());
        assertEquals(7, MetricsLog.read(dir.resolve("ckpt/metrics.jsonl")).size());

        // User mistakes: one line each, exit 2.
        assertEquals(
                "train.lr.kind = \"cosin\": allowed cosine, linear, wsd",
                ShoalCliTest.userError(ShoalCliTest.run(
                        "train",
                        "--config",
                        conf("k.conf", "lr.kind = \"cosin\"").toString())));
        assertEquals(
                "config file " + dir.resolve("none.conf") + " does not exist",
                ShoalCliTest.userError(ShoalCliTest.run(
                        "train", "--config", dir.resolve("none.conf").toString())));
        assertEquals(
                "--steps 0 must be >= 1",
                ShoalCliTest.userError(ShoalCliTest.run("train", "--config", job.toString(), "--steps", "0")));
        String seed = ShoalCliTest.userError(
                ShoalCliTest.run("train", "--config", conf("s.conf", "seed = 9").toString(), "--resume"));
        assertTrue(seed.contains("differs in seed: checkpoint 1, config 9"), seed);
        assertEquals(
                "train.seq_len = 300: model 'tiny' allows at most 256 positions",
                ShoalCliTest.userError(ShoalCliTest.run(
                        "train", "--config", conf("t.conf", "seq_len = 300").toString())));
        String unknown = ShoalCliTest.userError(ShoalCliTest.run(
                "train", "--config", conf("u.conf", "stepz = 3").toString()));
        assertTrue(unknown.startsWith("unknown key train.stepz (allowed under train.: name, model,"), unknown);
    }
}
