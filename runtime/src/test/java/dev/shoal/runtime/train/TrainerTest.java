// The single-process trainer on a real prepared mixture: a run interrupted after step 5 (last checkpoint
// at 3) and resumed gives the uninterrupted run's losses, norms, LRs, validation losses and final weights
// and AdamW moments bit for bit (design invariant 5); grad accumulation matches one big micro-batch;
// checkpoints are complete folders; and resume refuses a checkpoint of a different job.
package dev.shoal.runtime.train;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import dev.shoal.runtime.data.DocFormat;
import dev.shoal.runtime.data.Preparer;
import dev.shoal.runtime.data.SourceSpec;
import dev.shoal.runtime.data.SyntheticCorpus;
import dev.shoal.runtime.optim.AdamW;
import dev.shoal.runtime.tensor.Tensor;
import dev.shoal.runtime.tokenizer.Llama3Tokenizer;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class TrainerTest {

    @TempDir
    static Path dir;

    @BeforeAll
    static void data() throws IOException {
        TrainFixture.prepare(dir);
    }

    private static Trainer trainer(Path conf) throws IOException {
        return new Trainer(JobConfigReader.load(conf), null, null);
    }

    @Test
    void resumedRunIsBitIdentical() throws IOException {
        Path full = TrainFixture.config(dir, "full.conf", "ckpt-full", "");
        Path cut = TrainFixture.config(dir, "cut.conf", "ckpt-cut", "");
        float[] fullWeights;
        Map<String, float[]> fullM;
        try (Trainer t = trainer(full)) {
            Trainer.Result r = t.run(false, Long.MAX_VALUE);
            assertEquals(0, r.startStep());
            assertEquals(8, r.endStep());
            fullWeights = t.model().flatParams().toArray();
            fullM = moments(t.optimizer());
        }
        // Interrupted after step 5: the newest checkpoint is step 3; steps 4-5 are lost as in a crash.
        try (Trainer t = trainer(cut)) {
            Trainer.Result r = t.run(false, 5);
            assertEquals(5, r.endStep());
            assertEquals(Checkpoints.stepDir(dir.resolve("ckpt-cut"), 3), r.lastCheckpoint());
        }
        // A half-written save of step 6 and a step folder without state must be ignored.
        Files.createDirectories(dir.resolve("ckpt-cut/.step-000006.tmp-999"));
        Files.createDirectories(dir.resolve("ckpt-cut/step-000009"));
        assertEquals(
                3,
                Checkpoints.stepOf(Checkpoints.latest(dir.resolve("ckpt-cut")).orElseThrow()));
        // Without --resume an existing checkpoint is refused.
        var e = assertThrows(JobConfigException.class, () -> {
            try (Trainer t = trainer(cut)) {
                t.run(false, Long.MAX_VALUE);
            }
        });
        assertTrue(e.getMessage().contains("already holds step-000003; pass --resume"), e.getMessage());
        try (Trainer t = trainer(cut)) {
            Trainer.Result r = t.run(true, Long.MAX_VALUE);
            assertEquals(3, r.startStep());
            assertEquals(8, r.endStep());
            assertTrue(
                    java.util.Arrays.equals(fullWeights, t.model().flatParams().toArray()), "final weights");
            Map<String, float[]> m = moments(t.optimizer());
            for (String k : fullM.keySet()) assertTrue(java.util.Arrays.equals(fullM.get(k), m.get(k)), k);
            assertEquals(8, t.optimizer().stepCount());
        }
        assertFalse(Files.exists(dir.resolve("ckpt-cut/.step-000006.tmp-999")), "temp folder cleaned");
        // Metrics: the resumed file reads as the uninterrupted one, every field bit for bit except timing.
        List<JsonNode> a = MetricsLog.read(dir.resolve("ckpt-full/metrics.jsonl"));
        List<JsonNode> b = MetricsLog.read(dir.resolve("ckpt-cut/metrics.jsonl"));
        assertEquals(9, a.size());
        assertEquals(a.size(), b.size());
        for (int i = 0; i < a.size(); i++) {
            assertEquals(i, a.get(i).get("step").asLong());
            for (String f : new String[] {"step", "loss", "grad_norm", "lr", "tokens", "val_loss"}) {
                assertEquals(a.get(i).get(f), b.get(i).get(f), "step " + i + " " + f);
            }
        }
        assertTrue(
                a.get(0).has("val_loss") && a.get(4).has("val_loss") && a.get(8).has("val_loss"));
        assertFalse(a.get(3).has("val_loss"));
        assertEquals(8L * 8 * 32, a.get(8).get("tokens").asLong());
        // It learns: the last loss is below the first (byte-level text from ~ln 512 = 6.24).
        assertTrue(a.get(8).get("loss").asDouble() < a.get(1).get("loss").asDouble() - 0.5, a.toString());
        // Checkpoint layout: an HF directory plus optimizer and state.
        Path s6 = dir.resolve("ckpt-full/step-000006");
        for (String f :
                new String[] {"model.safetensors", "config.json", "optimizer.safetensors", "trainer_state.json"})
            assertTrue(Files.isRegularFile(s6.resolve(f)), f);
        Checkpoints.State st = Checkpoints.readState(s6);
        assertEquals(6, st.step());
        assertEquals(6, st.adamwSteps());
        assertEquals(6L * 8 * 32, st.labelTokens().get("en") + st.labelTokens().get("zh"));
        assertEquals(6L * 2 * 32, st.labelTokens().get("zh"), "ALMR 0.25 exactly");
        assertTrue(Files.isDirectory(dir.resolve("ckpt-full/step-000008")), "final checkpoint");
    }

    /** checkpoint_keep_last 2 + checkpoint_keep_every 3 over checkpoints 1..8 leaves 3, 6, 7 and 8. */
    @Test
    void retentionKeepsTheLastNPlusEveryMth() throws IOException {
        Path conf = TrainFixture.config(
                dir, "keep.conf", "ckpt-keep", "checkpoint_keep_last = 2\ncheckpoint_keep_every = 3");
        Files.writeString(conf, Files.readString(conf).replace("checkpoint_interval = 3", "checkpoint_interval = 1"));
        Path root = dir.resolve("ckpt-keep");
        Files.createDirectories(root.resolve(".deleting-step-000001")); // left by a crash mid-delete
        try (Trainer t = trainer(conf)) {
            t.run(false, Long.MAX_VALUE);
        }
        List<String> left;
        try (var s = Files.list(root)) {
            left = s.map(p -> p.getFileName().toString())
                    .filter(n -> n.contains("step-"))
                    .sorted()
                    .toList();
        }
        assertEquals(List.of("step-000003", "step-000006", "step-000007", "step-000008"), left);
        // What is left is whole: resume continues from the newest.
        try (Trainer t = trainer(conf)) {
            assertEquals(8, t.run(true, Long.MAX_VALUE).startStep());
        }
    }

    private static Map<String, float[]> moments(AdamW opt) {
        Map<String, float[]> m = new java.util.LinkedHashMap<>();
        for (var e : opt.state().entrySet()) {
            m.put(e.getKey() + ".m", e.getValue().expAvg().toArray());
            m.put(e.getKey() + ".v", e.getValue().expAvgSq().toArray());
        }
        return m;
    }

    @Test
    void gradAccumulationMatchesOneBigMicroBatch() throws IOException {
        Path accum = TrainFixture.config(dir, "acc.conf", "ckpt-acc", "");
        Path whole = TrainFixture.config(dir, "whole.conf", "ckpt-whole", "micro_batch = 8");
        double[] a, b;
        Tensor ga, gb;
        try (Trainer t = trainer(accum)) {
            assertEquals(2, t.layout().gradAccum());
            a = t.step(0, 0.0);
            ga = t.model().flatGrads().copy();
        }
        try (Trainer t = trainer(whole)) {
            assertEquals(1, t.layout().gradAccum());
            b = t.step(0, 0.0);
            gb = t.model().flatGrads().copy();
        }
        assertEquals(b[0], a[0], 1e-5 * b[0], "mean loss");
        assertEquals(b[1], a[1], 1e-4 * b[1], "grad norm");
        double maxDiff = 0, maxAbs = 0;
        for (long i = 0; i < ga.numel(); i++) {
            maxDiff = Math.max(maxDiff, Math.abs(ga.get(i) - gb.get(i)));
            maxAbs = Math.max(maxAbs, Math.abs(gb.get(i)));
        }
        assertTrue(maxDiff < 1e-4 * maxAbs, "max grad diff " + maxDiff + " of " + maxAbs);
    }

    @Test
    void resumeRefusesAnotherJobsCheckpoint() throws IOException {
        Path first = TrainFixture.config(dir, "one.conf", "ckpt-one", "steps = 3\ncheckpoint_interval = 0");
        try (Trainer t = trainer(first)) {
            t.run(false, Long.MAX_VALUE);
        }
        Path other = TrainFixture.config(dir, "two.conf", "ckpt-one", "steps = 6\nseed = 4");
        var e = assertThrows(JobConfigException.class, () -> {
            try (Trainer t = trainer(other)) {
                t.run(true, Long.MAX_VALUE);
            }
        });
        assertTrue(e.getMessage().contains("differs in seed: checkpoint 3, config 4"), e.getMessage());
    }

    @Test
    void modelAndDataMistakesNameTheKey() throws IOException {
        Path big = TrainFixture.config(dir, "big.conf", "ckpt-big", "seq_len = 300");
        var e = assertThrows(JobConfigException.class, () -> trainer(big).close());
        assertEquals("train.seq_len = 300: model 'tiny' allows at most 256 positions", e.getMessage());
        Path noData = TrainFixture.config(dir, "nodata.conf", "ckpt-x", "").resolveSibling("nodata.conf");
        Files.writeString(noData, Files.readString(noData).replace("dir = data", "dir = nowhere"));
        e = assertThrows(JobConfigException.class, () -> trainer(noData).close());
        assertTrue(e.getMessage().startsWith("train.data.dir = " + dir.resolve("nowhere") + ": no such folder"));
        Path badModel = TrainFixture.config(dir, "badmodel.conf", "ckpt-x", "");
        Files.writeString(badModel, Files.readString(badModel).replace("model = tiny", "model = tinyy"));
        e = assertThrows(JobConfigException.class, () -> trainer(badModel).close());
        assertTrue(e.getMessage().contains("neither a preset ([llama3-70b, llama3-8b, small, tiny])"), e.getMessage());
        // A tokenizer with one id more than tiny's vocabulary (257 ranks + 256 specials = 513).
        byte[][] ranks = new byte[257][];
        for (int i = 0; i < 256; i++) ranks[i] = new byte[] {(byte) i};
        ranks[256] = new byte[] {'t', 'h'};
        Path tok = dir.resolve("wide.tiktoken");
        dev.shoal.runtime.tokenizer.TiktokenRanks.of(ranks, "wide").write(tok);
        Path wideData = dir.resolve("wide");
        Files.createDirectories(wideData);
        SyntheticCorpus.writeJsonl(wideData.resolve("en.jsonl"), "en", 1, 20);
        Preparer.run(
                new Preparer.Config(
                        tok,
                        wideData.resolve("data"),
                        List.of(new SourceSpec(
                                "en", "en", DocFormat.JSONL, List.of(wideData.resolve("en.jsonl")), "text", 0.2)),
                        1,
                        1 << 20,
                        true,
                        null),
                Llama3Tokenizer.load(tok));
        Path wide = wideData.resolve("job.conf");
        Files.writeString(
                wide,
                "train { model = tiny, data { dir = data, sources = [ { name = en, language = en, weight = 1 } ] }\n"
                        + "seq_len = 16, global_batch = 2, steps = 1, lr.peak_lr = 1e-3, checkpoint_dir = c }");
        e = assertThrows(JobConfigException.class, () -> trainer(wide).close());
        assertEquals(
                "train.data.dir = " + wideData.resolve("data") + ": its tokenizer has 513 ids, more than the"
                        + " vocabulary 512 of model 'tiny' (tokenize with a smaller tokenizer or use a larger model)",
                e.getMessage());
        Path badSource = TrainFixture.config(dir, "badsrc.conf", "ckpt-x", "");
        Files.writeString(badSource, Files.readString(badSource).replace("name = zh,", "name = zhh,"));
        e = assertThrows(JobConfigException.class, () -> trainer(badSource).close());
        assertTrue(e.getMessage().startsWith("train.data: no source 'zhh' in manifest"), e.getMessage());
    }
}
