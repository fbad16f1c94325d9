// The sweep end to end on a 2 × 2 grid of the tiny model over a small synthetic bilingual dataset, a few
// steps per point: every point records its metrics and done.json; a rerun skips finished points; a point
// whose final checkpoint and done marker are gone resumes from its step-2 checkpoint and ends bit for bit
// where it ended before; a folder made by another job is refused; the report files exist and parse. An
// executor with concurrency() 2 gets two points at once, and every point still gets its done.json.
package dev.shoal.runtime.sweep;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.shoal.runtime.data.DocFormat;
import dev.shoal.runtime.data.Preparer;
import dev.shoal.runtime.data.SourceSpec;
import dev.shoal.runtime.data.SyntheticCorpus;
import dev.shoal.runtime.sweep.fit.Report;
import dev.shoal.runtime.sweep.fit.SweepAnalysis;
import dev.shoal.runtime.tokenizer.Llama3Tokenizer;
import dev.shoal.runtime.train.ByteLevelTokenizer;
import dev.shoal.runtime.train.Checkpoints;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import javax.xml.parsers.DocumentBuilderFactory;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class SweepRunnerTest {

    @TempDir
    Path dir;

    /** dir/data: en and zh, 200 synthetic documents each, 10% held out, byte-level ids. */
    static void prepare(Path dir) throws IOException {
        Path tok = ByteLevelTokenizer.write(dir.resolve("bytes.tiktoken"));
        SyntheticCorpus.writeJsonl(dir.resolve("en.jsonl"), "en", 1, 200);
        SyntheticCorpus.writeJsonl(dir.resolve("zh.jsonl"), "zh", 2, 200);
        Preparer.run(
                new Preparer.Config(
                        tok,
                        dir.resolve("data"),
                        List.of(
                                new SourceSpec(
                                        "en", "en", DocFormat.JSONL, List.of(dir.resolve("en.jsonl")), "text", 0.1),
                                new SourceSpec(
                                        "zh", "zh", DocFormat.JSONL, List.of(dir.resolve("zh.jsonl")), "text", 0.1)),
                        2,
                        1 << 20,
                        true,
                        null),
                Llama3Tokenizer.load(tok));
    }

    static final String JOB =
            """
            train {
              model = tiny
              data {
                dir = data
                sources = [ { name = en, language = en, weight = 0.5 }, { name = zh, language = zh, weight = 0.5 } ]
                additional_language = zh
              }
              seq_len = 16, global_batch = 4, micro_batch = 2, steps = 4, seed = %d, threads = 1
              lr { kind = cosine, peak_lr = 2e-3, warmup_steps = 1 }
              eval_interval = 2, eval_batches = 1
              checkpoint_interval = 2
            }
            """;

    private SweepConfig config(long seed) throws IOException {
        Path f = dir.resolve("sweep.conf");
        Files.writeString(f, "sweep { name = t, almr = [0.5, 0.2], peak_lr = [1e-3, 3e-3] }\n" + JOB.formatted(seed));
        return SweepConfig.load(f);
    }

    @Test
    void runsResumesSkipsAndReports() throws Exception {
        prepare(dir);
        SweepConfig c = config(3);
        assertEquals(4, c.points().size());
        assertEquals("almr0.2_lr0.001_s4", c.points().get(0).id(), "steps, then LR, then ALMR, ascending");
        Path out = dir.resolve("out");
        ByteArrayOutputStream bar = new ByteArrayOutputStream();
        SweepRunner.Summary s1 = new SweepRunner(c, out, new LocalPointExecutor())
                .run(null, new PrintStream(bar, true, StandardCharsets.UTF_8), false);
        assertEquals(4, s1.ran());
        assertTrue(bar.toString(StandardCharsets.UTF_8).contains("sweep [####################] 100%"), bar.toString());
        ObjectMapper json = new ObjectMapper();
        for (SweepPoint p : c.points()) {
            Path pd = SweepRunner.pointDir(out, p);
            JsonNode done = json.readTree(pd.resolve("done.json").toFile());
            assertEquals(p.almr(), done.get("almr").asDouble());
            assertTrue(done.get("val_loss").has("en") && done.get("val_loss").has("zh"));
            assertEquals(5, Files.readAllLines(pd.resolve("metrics.jsonl")).size(), "steps 0..4");
        }
        // A rerun skips every finished point.
        SweepRunner.Summary s2 = new SweepRunner(c, out, new LocalPointExecutor()).run(null, null, false);
        assertEquals(0, s2.ran());
        assertEquals(4, s2.skipped());
        // A half-run point: without its done marker and final checkpoint it resumes from step 2, bit for bit.
        SweepPoint p = c.points().get(3);
        Path pd = SweepRunner.pointDir(out, p);
        JsonNode before = json.readTree(pd.resolve("done.json").toFile());
        Files.delete(pd.resolve("done.json"));
        SweepRunner.deleteTree(Checkpoints.stepDir(pd.resolve("ckpt"), 4));
        SweepRunner.Summary s3 = new SweepRunner(c, out, new LocalPointExecutor()).run(null, null, false);
        assertEquals(1, s3.ran());
        JsonNode after = json.readTree(pd.resolve("done.json").toFile());
        assertEquals(2, after.get("resumed_from_step").asLong());
        assertEquals(before.get("val_loss"), after.get("val_loss"), "resumed run ends where the first did");
        // Another job in the same folder is refused, naming what differs.
        SweepConfigException e =
                assertThrows(SweepConfigException.class, () -> new SweepRunner(config(4), out, new LocalPointExecutor())
                        .run(null, null, false));
        assertTrue(e.getMessage().contains("seed: folder 3, config 4"), e.getMessage());
        // Fit and report: every file exists; SVGs are well-formed XML; the HTML fetches nothing.
        SweepResults res = SweepResults.read(out);
        assertEquals(4, res.points().size());
        assertEquals(3, res.points().get(0).curves().get("zh").length, "validation at steps 0, 2, 4");
        SweepAnalysis.Analysis a = SweepAnalysis.analyse(res, SweepAnalysis.Options.defaults(0.05));
        // 2 ALMRs per LR cannot carry a 3-parameter law: the report must say so.
        assertFalse(a.budgets().get(0).slices().get(0).origFit().usable());
        List<Path> files = Report.write(a, dir.resolve("report"));
        DocumentBuilderFactory xml = DocumentBuilderFactory.newInstance();
        int svgs = 0;
        for (Path f : files) {
            assertTrue(Files.size(f) > 100, f + " is empty");
            if (f.toString().endsWith(".svg")) {
                xml.newDocumentBuilder().parse(f.toFile());
                svgs++;
            }
        }
        assertTrue(svgs >= 7, "heatmaps, fits, trade-off, optimum, curves: " + svgs);
        xml.newDocumentBuilder().parse(dir.resolve("report/report.html").toFile()); // well-formed as XML too
        String html = Files.readString(dir.resolve("report/report.html"));
        assertTrue(html.contains("<svg"), "pictures inline");
        assertFalse(html.replace("http://www.w3.org/2000/svg", "").contains("http"), "no external resource");
        String md = Files.readString(dir.resolve("report/report.md"));
        assertTrue(md.contains("refused: 2 points"), md);
        json.readTree(dir.resolve("report/fit.json").toFile());
    }

    /** An executor that runs two points at once: each run waits until the other has started. */
    @Test
    void runsPointsConcurrentlyWhenTheExecutorAllows() throws Exception {
        prepare(dir); // the config's checks read the prepared folder; this executor trains nothing
        SweepConfig c = config(3);
        java.util.concurrent.CountDownLatch both = new java.util.concurrent.CountDownLatch(2);
        java.util.concurrent.atomic.AtomicInteger inFlight = new java.util.concurrent.atomic.AtomicInteger();
        java.util.concurrent.atomic.AtomicInteger most = new java.util.concurrent.atomic.AtomicInteger();
        PointExecutor two = new PointExecutor() {
            @Override
            public long run(dev.shoal.runtime.train.JobConfig job, Path pointDir, java.util.function.LongConsumer done)
                    throws IOException {
                most.accumulateAndGet(inFlight.incrementAndGet(), Math::max);
                both.countDown();
                try {
                    assertTrue(both.await(10, java.util.concurrent.TimeUnit.SECONDS), "the other point never started");
                } catch (InterruptedException e) {
                    throw new IOException(e);
                }
                // The lines a trainer writes: validation at step 0 and at the last step.
                Files.createDirectories(job.metricsFile().getParent());
                Files.writeString(
                        job.metricsFile(),
                        "{\"step\":0,\"val_loss\":{\"en\":3.0,\"zh\":4.0}}\n{\"step\":" + job.steps()
                                + ",\"loss\":1.0,\"val_loss\":{\"en\":2.0,\"zh\":"
                                + job.data().almrSchedule().ppb()[0]
                                + "}}\n");
                done.accept(job.steps());
                inFlight.decrementAndGet();
                return 0;
            }

            @Override
            public int concurrency() {
                return 2;
            }
        };
        Path out = dir.resolve("concurrent");
        ByteArrayOutputStream notes = new ByteArrayOutputStream();
        SweepRunner.Summary s =
                new SweepRunner(c, out, two).run(new PrintStream(notes, true, StandardCharsets.UTF_8), null, false);
        assertEquals(4, s.ran());
        assertEquals(2, most.get(), "two points in flight at once, never more");
        ObjectMapper json = new ObjectMapper();
        for (SweepPoint p : c.points()) {
            JsonNode done = json.readTree(
                    SweepRunner.pointDir(out, p).resolve("done.json").toFile());
            assertEquals(
                    Math.round(p.almr() * dev.shoal.runtime.data.AlmrSchedule.Q),
                    done.get("val_loss").get("zh").asLong());
            assertEquals(3.0, done.get("start_val_loss").get("en").asDouble());
        }
        assertEquals(
                4,
                notes.toString(StandardCharsets.UTF_8)
                        .lines()
                        .filter(l -> l.startsWith("done "))
                        .count());
    }

    @Test
    void badGridValuesNameTheKey() throws IOException {
        String job = JOB.formatted(1);
        assertKey("sweep { almr = [0.1, 1.5], peak_lr = [1e-3] }\n" + job, "sweep.almr[1] = 1.5: must be in [0, 1]");
        assertKey("sweep { almr = [0.1, 0.1], peak_lr = [1e-3] }\n" + job, "sweep.almr[1] = 0.1: repeats");
        assertKey(
                "sweep { almr = [0.1], peak_lr = [1e-3, -2] }\n" + job,
                "sweep.peak_lr[1] = -2.0: must be finite and > 0");
        assertKey("sweep { almr = [0.1], peak_lr = [1e-3], steps = [10, 2.5] }\n" + job, "sweep.steps[1] = 2.5");
        assertKey(
                "sweep { almr = [0.1], peak_lr = [\"fast\"] }\n" + job,
                "sweep.peak_lr[0] = \"fast\": must be a number");
        assertKey("sweep { almr = [], peak_lr = [1e-3] }\n" + job, "sweep.almr = []: needs at least one value");
        assertKey("sweep { almr = [0.1], peak_lr = [1e-3], lrs = [1] }\n" + job, "unknown key sweep.lrs");
        assertKey("sweep { almr = [0.1] }\n" + job, "sweep.peak_lr is required");
        assertKey("sweep { almr = [0.1], peak_lr = [1e-3] }\n", "sweep.job is required");
        assertKey("sweep { almr = [0.1], peak_lr = [1e-3], job = nope.conf }\n", "sweep.job = nope.conf: no such file");
        assertKey(
                "sweep { almr = [0.1], peak_lr = [1e-3] }\n" + job.replace("additional_language = zh", ""),
                "train.data.additional_language is required");
        assertKey(
                "sweep { almr = [0.1], peak_lr = [1e-3] }\n" + job.replace("seq_len = 16", "seq_len = 0"),
                "sweep.job: train.seq_len = 0");
        // A grid value the job refuses: named with its point.
        assertKey(
                "sweep { almr = [0.1], peak_lr = [1e-3], steps = [1] }\n"
                        + job.replace("warmup_steps = 1", "warmup_steps = 3"),
                "sweep point almr0.1_lr0.001_s1: train.lr.warmup_steps = 3");
    }

    private void assertKey(String hocon, String expected) {
        SweepConfigException e = assertThrows(SweepConfigException.class, () -> SweepConfig.parse(hocon, dir, "t"));
        assertTrue(e.getMessage().contains(expected), "expected '" + expected + "' in: " + e.getMessage());
        assertFalse(e.getMessage().contains("\n"), "one line");
    }
}
