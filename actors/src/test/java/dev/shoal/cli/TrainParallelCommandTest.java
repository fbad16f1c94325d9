// `shoal train --tp/--pp/--dp [--zero1] [--procs N]` end to end in-process: on the synthetic bilingual
// dataset, the thread meshes tp 2 × dp 2 (ZeRO-1) and pp 2 × dp 2 give the single-process run's per-step
// losses, grad norms, LRs and validation losses within 1e-5 relative, with the same outputs (summary,
// metrics, checkpoints); the config's train.parallel block sets the layout and flags override it; bad
// layouts exit 2 with one line naming the value. Slow: the same job as 4 JVMs over TCP (--procs 4), and a
// rank killed with SIGKILL fails the run naming that rank, with no child left behind.
package dev.shoal.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import dev.shoal.runtime.train.MetricsLog;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Iterator;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class TrainParallelCommandTest {
    static final double TOL = 1e-5;

    @TempDir
    static Path dir;

    static List<JsonNode> single;

    static Path conf(String name, String ckpt, String extra) throws IOException {
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
                  seq_len = 32, global_batch = 4, micro_batch = 2, steps = 6, threads = 2
                  lr { kind = linear, peak_lr = 2e-3, warmup_steps = 1 }
                  optimizer { grad_clip = 0.5 }
                  eval_interval = 2, eval_batches = 2
                  checkpoint_interval = 3
                  checkpoint_dir = %s
                  %s
                }
                """
                        .formatted(ckpt, extra));
        return f;
    }

    @BeforeAll
    static void prepareAndTrainOneRank() throws IOException {
        ShoalCliTest.prepareBilingual(dir, 200);
        ShoalCliTest.Run r = ShoalCliTest.run(
                "train", "--config", conf("one.conf", "ckpt-one", "").toString(), "--quiet");
        assertEquals(0, r.code(), r.err());
        single = MetricsLog.read(dir.resolve("ckpt-one/metrics.jsonl"));
        assertEquals(7, single.size());
    }

    /** Per-step loss, grad norm, LR and validation losses within TOL of the single-process run. */
    static void assertMatchesSingle(Path metrics, String what) throws IOException {
        List<JsonNode> got = MetricsLog.read(metrics);
        assertEquals(single.size(), got.size(), what);
        double worst = 0;
        for (int i = 0; i < single.size(); i++) {
            JsonNode a = single.get(i), b = got.get(i);
            assertEquals(a.get("step"), b.get("step"), what);
            for (String f : new String[] {"loss", "grad_norm", "lr"}) {
                if (a.has(f)) worst = Math.max(worst, check(a.get(f), b.get(f), what + " step " + i + " " + f));
            }
            assertEquals(a.has("val_loss"), b.has("val_loss"), what + " step " + i);
            if (a.has("val_loss")) {
                for (Iterator<String> it = a.get("val_loss").fieldNames(); it.hasNext(); ) {
                    String s = it.next();
                    worst = Math.max(
                            worst,
                            check(a.get("val_loss").get(s), b.get("val_loss").get(s), what + " step " + i + " " + s));
                }
            }
        }
        System.out.printf("%s: max rel diff to the single-process run %.2e%n", what, worst);
    }

    static double check(JsonNode want, JsonNode got, String what) {
        double a = want.asDouble(), b = got.asDouble();
        double rel = Math.abs(a - b) / Math.max(1e-12, Math.abs(a));
        assertTrue(rel <= TOL, what + ": " + b + " vs " + a + " (rel " + rel + ")");
        return rel;
    }

    @Test
    void threadMeshesMatchTheSingleProcessRun() throws IOException {
        ShoalCliTest.Run r = ShoalCliTest.run(
                "train", "--config", conf("tp.conf", "ckpt-tp", "").toString(), "--tp", "2", "--dp", "2", "--zero1");
        assertEquals(0, r.code(), r.err());
        assertTrue(r.out().contains("model: preset tiny"), r.out());
        assertTrue(r.out().contains("layout tp 2 × pp 1 × dp 2"), r.out());
        assertTrue(r.out().contains("tp: steps 0..6 of 6"), r.out());
        assertTrue(r.out().contains("val_loss en ") && r.out().contains(" zh "), r.out());
        assertTrue(r.out().contains("checkpoint " + dir.resolve("ckpt-tp/step-000006")), r.out());
        assertTrue(r.err().contains("train [") && r.err().contains("tok/s"), r.err());
        assertMatchesSingle(dir.resolve("ckpt-tp/metrics.jsonl"), "--tp 2 --dp 2 --zero1");

        r = ShoalCliTest.run(
                "train", "--config", conf("pp.conf", "ckpt-pp", "").toString(), "--pp", "2", "--dp", "2", "--quiet");
        assertEquals(0, r.code(), r.err());
        assertEquals("", r.err());
        assertMatchesSingle(dir.resolve("ckpt-pp/metrics.jsonl"), "--pp 2 --dp 2");

        // Resume the pp 2 × dp 2 run at tp 2 (its checkpoints are in the single-process format).
        r = ShoalCliTest.run(
                "train",
                "--config",
                conf("pp.conf", "ckpt-pp", "").toString(),
                "--tp",
                "2",
                "--steps",
                "8",
                "--resume",
                "--quiet");
        assertEquals(0, r.code(), r.err());
        assertTrue(r.out().contains("resumed from " + dir.resolve("ckpt-pp/step-000006") + " at step 6"), r.out());
        assertTrue(r.out().contains("pp: steps 6..8 of 8"), r.out());
    }

    @Test
    void theConfigBlockSetsTheLayoutAndFlagsOverrideIt() throws IOException {
        Path c = conf("block.conf", "ckpt-block", "parallel { pp = 2, dp = 2, zero1 = true }");
        ShoalCliTest.Run r = ShoalCliTest.run("train", "--config", c.toString(), "--pp", "1", "--quiet");
        assertEquals(0, r.code(), r.err());
        assertTrue(r.out().contains("layout tp 1 × pp 1 × dp 2"), r.out());
        assertMatchesSingle(dir.resolve("ckpt-block/metrics.jsonl"), "train.parallel { dp = 2, zero1 } --pp 1");
    }

    @Test
    void badLayoutsExit2NamingTheValue() throws IOException {
        String job = conf("bad.conf", "ckpt-bad", "").toString();
        String dp = ShoalCliTest.userError(ShoalCliTest.run("train", "--config", job, "--dp", "3"));
        assertTrue(
                dp.contains("dp 3 cannot fit global_batch 4 with micro_batch 2")
                        && dp.contains("dp sizes that work: [1, 2]"),
                dp);
        String tp = ShoalCliTest.userError(ShoalCliTest.run("train", "--config", job, "--tp", "4"));
        assertTrue(tp.contains("tp 4 does not divide 2 kv heads of model 'tiny'"), tp);
        String pp = ShoalCliTest.userError(ShoalCliTest.run("train", "--config", job, "--pp", "3"));
        assertTrue(pp.contains("pp 3 must be between 1 and the 2 layers of model 'tiny'"), pp);
        assertEquals(
                "--procs 3 must equal tp 2 × pp 1 × dp 2 = 4 (one JVM per rank)",
                ShoalCliTest.userError(
                        ShoalCliTest.run("train", "--config", job, "--tp", "2", "--dp", "2", "--procs", "3")));
        assertEquals(
                "--dp 0 must be >= 1", ShoalCliTest.userError(ShoalCliTest.run("train", "--config", job, "--dp", "0")));
        assertEquals(
                "train.parallel.tp = 0: must be >= 1",
                ShoalCliTest.userError(ShoalCliTest.run(
                        "train",
                        "--config",
                        conf("t0.conf", "ckpt-t0", "parallel { tp = 0 }").toString())));
        String key = ShoalCliTest.userError(ShoalCliTest.run(
                "train",
                "--config",
                conf("k.conf", "ckpt-k", "parallel { tpp = 2 }").toString()));
        assertTrue(
                key.startsWith("unknown key train.parallel.tpp (allowed under train.parallel.: tp, pp, dp, zero1)"),
                key);
        assertFalse(Files.exists(dir.resolve("ckpt-bad")), "nothing ran");
    }

    @Tag("slow")
    @Test
    void fourJvmsOverTcpMatchTheSingleProcessRun() throws Exception {
        ShoalCliTest.Run r = ShoalCliTest.run(
                "train",
                "--config",
                conf("procs.conf", "ckpt-procs", "").toString(),
                "--tp",
                "2",
                "--dp",
                "2",
                "--procs",
                "4");
        assertEquals(0, r.code(), r.out() + r.err());
        assertTrue(r.out().contains("layout tp 2 × pp 1 × dp 2"), r.out());
        assertTrue(r.out().contains("procs: steps 0..6 of 6"), r.out());
        assertTrue(r.err().contains("train ["), r.err());
        assertMatchesSingle(dir.resolve("ckpt-procs/metrics.jsonl"), "--tp 2 --dp 2 --procs 4");
        try (var s = Files.list(dir.resolve("ckpt-procs"))) {
            assertEquals(
                    0,
                    s.filter(p -> p.getFileName().toString().startsWith(".ranks-"))
                            .count(),
                    "cleaned up");
        }
    }

    @Tag("slow")
    @Test
    void aUserMistakeFoundByTheRankJvmsIsOneLine() throws Exception {
        Path c = conf("nodata.conf", "ckpt-nodata", "data.dir = nodata");
        String line = ShoalCliTest.userError(
                ShoalCliTest.run("train", "--config", c.toString(), "--dp", "2", "--procs", "2"));
        assertEquals(
                "train.data.dir = " + dir.resolve("nodata") + ": no such folder (make one with shoal prepare)", line);
    }

    @Tag("slow")
    @Test
    void aKilledRankFailsTheRunNamingIt() throws Exception {
        // A long run; once it trains, kill -9 rank 2: the run fails naming rank 2, and no child survives.
        Path longConf = conf("kill.conf", "ckpt-kill", "steps = 100000, checkpoint_interval = 0, eval_interval = 0");
        CompletableFuture<ShoalCliTest.Run> run = CompletableFuture.supplyAsync(() -> ShoalCliTest.run(
                "train", "--config", longConf.toString(), "--pp", "2", "--dp", "2", "--procs", "4", "--quiet"));
        Path metrics = dir.resolve("ckpt-kill/metrics.jsonl");
        long deadline = System.currentTimeMillis() + 50_000;
        while (!(Files.exists(metrics) && Files.readAllLines(metrics).size() >= 3)) {
            assertTrue(System.currentTimeMillis() < deadline, "the 4-JVM run never got to step 2");
            assertFalse(run.isDone(), () -> "the run ended early: " + run.join());
            Thread.sleep(100);
        }
        Path ranks;
        try (var s = Files.list(dir.resolve("ckpt-kill"))) {
            ranks = s.filter(p -> p.getFileName().toString().startsWith(".ranks-"))
                    .findFirst()
                    .orElseThrow();
        }
        List<String> pids = new java.util.ArrayList<>();
        for (int r = 0; r < 4; r++)
            pids.add(Files.readString(ranks.resolve("rank-" + r + ".pid")).trim());
        assertEquals(0, new ProcessBuilder("kill", "-9", pids.get(2)).start().waitFor());
        ShoalCliTest.Run killed = run.get(60, TimeUnit.SECONDS);
        assertEquals(1, killed.code(), killed.out() + killed.err());
        assertTrue(
                killed.err().contains("error: rank 2 (tp 0, pp 1, dp 0) exited with code 137 (killed)")
                        && killed.err().contains("rank logs in " + ranks),
                killed.err());
        for (String pid : pids) {
            assertEquals(1, new ProcessBuilder("kill", "-0", pid).start().waitFor(), "rank pid " + pid + " left");
        }
    }

    @Tag("slow")
    @Test
    void ctrlCOnTheLauncherKillsTheRanks() throws Exception {
        // The CLI as its own JVM, 2 rank JVMs under it; SIGINT to the CLI once it trains.
        Path conf = conf("int.conf", "ckpt-int", "steps = 100000, checkpoint_interval = 0, eval_interval = 0");
        String java = Path.of(System.getProperty("java.home"), "bin", "java").toString();
        Process cli = new ProcessBuilder(
                        java,
                        "-cp",
                        System.getProperty("java.class.path"),
                        ShoalCli.class.getName(),
                        "train",
                        "--config",
                        conf.toString(),
                        "--dp",
                        "2",
                        "--procs",
                        "2",
                        "--quiet")
                .redirectErrorStream(true)
                .redirectOutput(dir.resolve("int.log").toFile())
                .start();
        try {
            Path metrics = dir.resolve("ckpt-int/metrics.jsonl");
            long deadline = System.currentTimeMillis() + 50_000;
            while (!(Files.exists(metrics) && Files.readAllLines(metrics).size() >= 2)) {
                assertTrue(
                        System.currentTimeMillis() < deadline,
                        "never trained: " + Files.readString(dir.resolve("int.log")));
                assertTrue(cli.isAlive(), () -> "the CLI ended early: " + read(dir.resolve("int.log")));
                Thread.sleep(100);
            }
            List<String> pids = new java.util.ArrayList<>();
            try (var s = Files.list(dir.resolve("ckpt-int"))) {
                Path ranks = s.filter(p -> p.getFileName().toString().startsWith(".ranks-"))
                        .findFirst()
                        .orElseThrow();
                for (int r = 0; r < 2; r++)
                    pids.add(Files.readString(ranks.resolve("rank-" + r + ".pid"))
                            .trim());
            }
            assertEquals(
                    0,
                    new ProcessBuilder("kill", "-INT", Long.toString(cli.pid()))
                            .start()
                            .waitFor());
            assertTrue(cli.waitFor(30, TimeUnit.SECONDS), "the CLI did not stop on SIGINT");
            for (String pid : pids) {
                long until = System.currentTimeMillis() + 10_000;
                while (running(pid) && System.currentTimeMillis() < until) Thread.sleep(50);
                assertFalse(running(pid), "rank pid " + pid + " survived Ctrl-C");
            }
        } finally {
            cli.destroyForcibly();
        }
    }

    /** Alive and not a zombie (a killed child of a dead parent may wait for a reaper). */
    private static boolean running(String pid) throws IOException {
        Path stat = Path.of("/proc", pid, "stat");
        if (!Files.exists(stat)) return false;
        try {
            String st = Files.readString(stat);
            return st.charAt(st.lastIndexOf(')') + 2) != 'Z';
        } catch (IOException e) {
            return false; // gone between the check and the read
        }
    }

    private static String read(Path p) {
        try {
            return Files.readString(p);
        } catch (IOException e) {
            return e.toString();
        }
    }
}
