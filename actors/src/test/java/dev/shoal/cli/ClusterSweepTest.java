// `shoal sweep --cluster` on a real cluster: two `shoal node` JVMs on 127.0.0.1 with one CPU rank each
// and shoal.coordinator.job-slots = 2 train a 2 × 2 grid of the tiny model as four one-rank cluster
// jobs. The points must run concurrently (two jobs' recorded start..end intervals overlap), every
// point's per-source validation curve must equal the local sequential sweep's (`shoal sweep` without
// --cluster, same config) within fp tolerance, `shoal fit` must run on the cluster sweep's folder, a
// rerun must skip every point, and a point cut off before done.json must collect its recorded job
// instead of training it again. Tagged slow: it starts JVMs.
package dev.shoal.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.shoal.actors.node.LocalCluster;
import dev.shoal.runtime.train.MetricsLog;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

@Tag("slow")
class ClusterSweepTest {

    static final double TOL = 1e-5;

    @TempDir
    Path dir;

    private LocalCluster cluster;

    @AfterEach
    void stop() {
        if (cluster != null) cluster.close();
    }

    @Test
    void gridRunsAsConcurrentClusterJobsWithTheLocalNumbers() throws Exception {
        long t0 = System.nanoTime();
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
                  seq_len = 16, global_batch = 2, micro_batch = 2, steps = 30, seed = 5, threads = 1
                  lr { peak_lr = 2e-3, warmup_steps = 1 }
                  eval_interval = 10, eval_batches = 1
                  checkpoint_interval = 10
                  checkpoint_dir = ckpt
                }
                """);
        Path conf = dir.resolve("grid.conf");
        Files.writeString(conf, "sweep { job = job.conf, almr = [0.2, 0.6], peak_lr = [1e-3, 4e-3] }\n");

        // The cluster boots (two node JVMs) while this JVM runs the reference: the local sequential sweep.
        long c0 = System.nanoTime();
        java.util.concurrent.CompletableFuture<LocalCluster> booting =
                java.util.concurrent.CompletableFuture.supplyAsync(() -> {
                    try {
                        return LocalCluster.start(
                                dir.resolve("cluster"),
                                new int[] {1, 1},
                                List.of(
                                        "-Dshoal.node.engine=dev.shoal.actors.engine.EngineStepRunner$Factory",
                                        "-Dshoal.coordinator.job-slots=2"),
                                Duration.ofSeconds(90));
                    } catch (java.io.IOException e) {
                        throw new java.io.UncheckedIOException(e);
                    }
                });
        ShoalCliTest.Run local = ShoalCliTest.run(
                "sweep",
                "--config",
                conf.toString(),
                "--out",
                dir.resolve("local").toString(),
                "--quiet");
        double localSeconds = (System.nanoTime() - t0) / 1e9;
        cluster = booting.get(120, java.util.concurrent.TimeUnit.SECONDS);
        assertEquals(0, local.code(), local.err());
        cluster.awaitStatus(s -> s.workers().size() == 2, "2 registered ranks", Duration.ofSeconds(30));
        double upSeconds = (System.nanoTime() - c0) / 1e9;

        long s0 = System.nanoTime();
        Path out = dir.resolve("cluster-sweep");
        String server = "127.0.0.1:" + cluster.grpcPort(1);
        ShoalCliTest.Run r = ShoalCliTest.run(
                "sweep", "--config", conf.toString(), "--out", out.toString(), "--cluster=" + server, "--quiet");
        double sweepSeconds = (System.nanoTime() - s0) / 1e9;
        assertEquals(0, r.code(), () -> r.out() + r.err() + cluster.logTails());
        assertTrue(r.out().contains("ran 4, skipped 0"), r.out());

        ObjectMapper json = new ObjectMapper();
        List<long[]> spans = new ArrayList<>();
        double worst = 0;
        List<String> ids = new ArrayList<>();
        json.readTree(out.resolve("sweep.json").toFile()).get("points").forEach(n -> ids.add(n.asText()));
        assertEquals(4, ids.size());
        for (String id : ids) {
            Path pc = out.resolve("points").resolve(id);
            Path pl = dir.resolve("local/points").resolve(id);
            // Same layout as the local sweep: point.json, metrics.jsonl, done.json, train.log, ckpt/.
            for (String f : List.of("point.json", "metrics.jsonl", "done.json", "train.log")) {
                assertTrue(Files.isRegularFile(pc.resolve(f)), pc.resolve(f) + " missing");
            }
            assertEquals(
                    json.readTree(pl.resolve("point.json").toFile()),
                    json.readTree(pc.resolve("point.json").toFile()),
                    "the same point and job fingerprint");
            List<JsonNode> lm = MetricsLog.read(pl.resolve("metrics.jsonl"));
            List<JsonNode> cm = MetricsLog.read(pc.resolve("metrics.jsonl"));
            assertEquals(lm.size(), cm.size(), id + ": metrics lines");
            for (int i = 0; i < lm.size(); i++) {
                assertEquals(
                        lm.get(i).get("step").asLong(), cm.get(i).get("step").asLong());
                assertEquals(lm.get(i).has("val_loss"), cm.get(i).has("val_loss"), id + " line " + i);
                if (i > 0) {
                    assertEquals(
                            lm.get(i).get("loss").asDouble(),
                            cm.get(i).get("loss").asDouble(),
                            TOL,
                            id);
                }
                if (!lm.get(i).has("val_loss")) continue;
                Iterator<Map.Entry<String, JsonNode>> it =
                        lm.get(i).get("val_loss").fields();
                while (it.hasNext()) {
                    Map.Entry<String, JsonNode> e = it.next();
                    double want = e.getValue().asDouble();
                    double got = cm.get(i).get("val_loss").get(e.getKey()).asDouble();
                    worst = Math.max(worst, Math.abs(want - got));
                    assertEquals(want, got, TOL, id + " val_loss " + e.getKey() + " at line " + i);
                }
            }
            JsonNode job =
                    json.readTree(pc.resolve(ClusterPointExecutor.JOB_FILE).toFile());
            assertEquals("COMPLETED", job.get("phase").asText(), job.toString());
            // The job's time in the cluster: from the coordinator accepting it into a slot to its end. (When
            // a poll first saw it train depends on the poll interval against these sub-second jobs.)
            spans.add(new long[] {
                job.get("submitted_ms").asLong(), job.get("ended_ms").asLong()
            });
        }
        // Concurrency: some two points' jobs held slots of the cluster at the same time.
        int overlaps = 0;
        for (int i = 0; i < spans.size(); i++) {
            for (int j = i + 1; j < spans.size(); j++) {
                if (spans.get(i)[0] < spans.get(j)[1] && spans.get(j)[0] < spans.get(i)[1]) overlaps++;
            }
        }
        assertTrue(overlaps >= 1, () -> "no two points ran at once: " + spansText(spans));

        // `shoal fit` reads the cluster sweep as it reads a local one; a rerun skips every point.
        ShoalCliTest.Run fit = ShoalCliTest.run("fit", "--sweep", out.toString(), "--bootstrap", "20");
        assertEquals(0, fit.code(), fit.err());
        assertTrue(Files.exists(out.resolve("report/report.html")));
        ShoalCliTest.Run again = ShoalCliTest.run(
                "sweep", "--config", conf.toString(), "--out", out.toString(), "--cluster=" + server, "--quiet");
        assertEquals(0, again.code(), again.err());
        assertTrue(again.out().contains("ran 0, skipped 4"), again.out());
        // A point whose run was cut off before done.json follows (here: collects) its recorded job, which
        // the cluster still holds, instead of training it again. Each slot keeps only its newest job, so
        // the point is the one submitted last (sweep.json's order is not the submission order).
        int newest = 0;
        for (int i = 1; i < spans.size(); i++) {
            if (spans.get(i)[0] > spans.get(newest)[0]) newest = i;
        }
        Path last = out.resolve("points").resolve(ids.get(newest));
        JsonNode before = json.readTree(last.resolve("done.json").toFile());
        String jobId = json.readTree(last.resolve(ClusterPointExecutor.JOB_FILE).toFile())
                .get("job_id")
                .asText();
        Files.delete(last.resolve("done.json"));
        ShoalCliTest.Run resumed = ShoalCliTest.run(
                "sweep", "--config", conf.toString(), "--out", out.toString(), "--cluster=" + server, "--quiet");
        assertEquals(0, resumed.code(), resumed.err());
        assertTrue(resumed.out().contains("ran 1, skipped 3"), resumed.out());
        assertTrue(Files.readString(last.resolve("train.log")).contains("following cluster job " + jobId));
        assertEquals(
                jobId,
                json.readTree(last.resolve(ClusterPointExecutor.JOB_FILE).toFile())
                        .get("job_id")
                        .asText());
        assertEquals(
                before.get("val_loss"),
                json.readTree(last.resolve("done.json").toFile()).get("val_loss"));
        System.out.printf(
                "cluster sweep: 2 x 2 grid, 30 steps a point, 2 node JVMs x 1 CPU rank, 2 job slots: %d overlapping"
                        + " pairs, worst |val_loss - local| %.2e; local sweep %.1f s, cluster up %.1f s, cluster"
                        + " sweep %.1f s%n",
                overlaps, worst, localSeconds, upSeconds, sweepSeconds);
    }

    private static String spansText(List<long[]> spans) {
        StringBuilder b = new StringBuilder();
        for (long[] s : spans)
            b.append('[').append(s[0]).append(", ").append(s[1]).append("] ");
        return b.toString();
    }
}
