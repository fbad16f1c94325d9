// The proof, end to end from the tarball: unpack it in a temporary directory, make the TLS
// material with the shipped tls/gen-certs.sh, prepare a small bilingual corpus with `bin/shoal prepare`,
// start a 2-node cluster on 127.0.0.1 with everything on (Artery mutual TLS, gRPC over TLS with a
// bearer token), then, as a user would, with bin/shoal only:
//   - a client without the token (or with a wrong one) is refused: exit 7, UNAUTHENTICATED;
//   - `shoal submit` with the token submits a tiny-model job over both nodes (dp 2), `shoal watch`
//     follows it to COMPLETED (exit 0);
//   - `shoal status` shows the cluster table: both nodes up with their devices and health, the ranks;
//   - /metrics on both nodes shows the job's real values: steps, tokens/s, MFU, per-source validation
//     loss, the completed phase, checkpoint save times of that node's rank, its worker steps, and no
//     GPU memory series (CPU nodes).
// Runs in about a minute on 2 cores (two node JVMs plus a handful of CLI JVMs).
package dev.shoal.deploy;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.shoal.actors.node.FreePorts;
import dev.shoal.runtime.data.SyntheticCorpus;
import dev.shoal.runtime.train.ByteLevelTokenizer;
import java.io.IOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.OptionalDouble;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class SecureClusterIT {

    static final String TOKEN = "proof-token-5c1d0a7e93b24f68";
    static final int STEPS = 40;

    @TempDir
    Path tmp;

    private Path home;
    private final List<Process> nodes = new ArrayList<>();

    /** One CLI run: exit code and output. */
    record Run(int code, String out, String err) {
        @Override
        public String toString() {
            return "exit " + code + "\n--- stdout\n" + out + "\n--- stderr\n" + err;
        }
    }

    @Test
    void aTlsClusterFromTheTarballTrainsATokenProtectedJobAndExportsItsMetrics() throws Exception {
        home = Dist.unpack(tmp);
        Path tls = tmp.resolve("tls");
        Run gen = run(
                Map.of(), "bash", home.resolve("tls/gen-certs.sh").toString(), tls.toString(), "--node", "127.0.0.1");
        assertEquals(0, gen.code(), gen::toString);
        String storePassword = Files.readString(tls.resolve("store-password")).strip();

        // The data: a generated en/zh corpus and a byte-level tokenizer, tokenized by the tarball's CLI.
        Path tok = ByteLevelTokenizer.write(tmp.resolve("bytes.tiktoken"));
        SyntheticCorpus.writeJsonl(tmp.resolve("en.jsonl"), "en", 1, 200);
        SyntheticCorpus.writeJsonl(tmp.resolve("zh.jsonl"), "zh", 2, 200);
        Path data = tmp.resolve("data");
        Run prep = shoal(
                Map.of(),
                "prepare",
                "--tokenizer",
                tok.toString(),
                "--out",
                data.toString(),
                "--source",
                "name=en,lang=en,path=" + tmp.resolve("en.jsonl") + ",valid=0.1",
                "--source",
                "name=zh,lang=zh,path=" + tmp.resolve("zh.jsonl") + ",valid=0.1",
                "--quiet");
        assertEquals(0, prep.code(), prep::toString);

        // Site configuration as docs/deploy.md writes it: mutual TLS, gRPC TLS; secrets from the environment.
        Path conf = home.resolve("conf/shoal.conf");
        Files.writeString(
                conf,
                Files.readString(conf)
                        + "\nshoal.node.gpus = 0\n"
                        + "shoal.metrics.host = \"127.0.0.1\"\n"
                        + "shoal.tls { enabled = on\n"
                        + "  key-store = \"" + tls.resolve("nodes/127.0.0.1.p12") + "\"\n"
                        + "  trust-store = \"" + tls.resolve("truststore.p12") + "\" }\n"
                        + "shoal.grpc.tls { enabled = on\n"
                        + "  cert-chain = \"" + tls.resolve("nodes/127.0.0.1.crt") + "\"\n"
                        + "  private-key = \"" + tls.resolve("nodes/127.0.0.1.key") + "\" }\n");

        int[] port = {FreePorts.pick(), FreePorts.pick()},
                grpc = {FreePorts.pick(), FreePorts.pick()},
                metrics = {FreePorts.pick(), FreePorts.pick()};
        try {
            // One after the other: the seed first, so the second joins at its first try.
            for (int i = 0; i < 2; i++) {
                nodes.add(startNode(i, port[i], port[0], grpc[i], metrics[i], storePassword));
                awaitJoined(i);
            }

            Map<String, String> client = Map.of(
                    "SHOAL_SERVER",
                    "127.0.0.1:" + grpc[1], // any node serves the control plane
                    "SHOAL_TLS_CA",
                    tls.resolve("ca.crt").toString());
            Map<String, String> withToken = with(client, "SHOAL_TOKEN", TOKEN);

            // `shoal status` before any job: the table shows both nodes with their rank.
            awaitNodes(withToken, 2);

            // No token, or a wrong one: refused before anything reaches the cluster.
            Path job = jobFile(data);
            Run noToken = shoal(client, "submit", job.toString());
            assertEquals(7, noToken.code(), noToken::toString);
            assertTrue(noToken.err().contains("refused the credentials"), noToken::toString);
            assertTrue(
                    noToken.err().contains("UNAUTHENTICATED") || noToken.err().contains("token"), noToken::toString);
            Run wrong = shoal(with(client, "SHOAL_TOKEN", "not-the-token"), "status");
            assertEquals(7, wrong.code(), wrong::toString);
            assertTrue(wrong.err().contains("the bearer token was refused"), wrong::toString);

            // Submit with the token, then follow it to the end.
            Run submit = shoal(withToken, "submit", job.toString());
            for (int t = 0; t < 20 && submit.code() == 2 && submit.err().contains("registered"); t++) {
                Thread.sleep(500); // the second rank's registration can trail its node's join
                submit = shoal(withToken, "submit", job.toString());
            }
            assertEquals(0, submit.code(), submit::toString);
            Matcher id = Pattern.compile("submitted (job-[0-9a-f-]+)").matcher(submit.out());
            assertTrue(id.find(), submit::toString);
            Run watch = shoal(withToken, "watch", id.group(1), "--plain");
            assertEquals(0, watch.code(), watch::toString);
            assertTrue(watch.out().strip().endsWith("trained all " + STEPS + " steps"), watch::toString);
            assertFalse(watch.out().contains(TOKEN) || watch.err().contains(TOKEN), "the token was printed");

            // The cluster table.
            Run status = shoal(withToken, "status");
            assertEquals(0, status.code(), status::toString);
            String s = status.out();
            assertTrue(s.contains("phase       COMPLETED"), status::toString);
            for (int i = 0; i < 2; i++) {
                String node = "127.0.0.1:" + port[i];
                assertTrue(
                        s.lines()
                                .anyMatch(l -> l.startsWith(node + "  up  ")
                                        && l.contains("cpu 1/1")
                                        && l.contains("FLOP/s (measured)")
                                        && (l.contains("  ok  ") || l.contains("  warn: "))),
                        "no healthy row for " + node + " in\n" + s);
            }
            assertTrue(s.lines().anyMatch(l -> l.startsWith("127.0.0.1:" + port[0]) && l.contains("coordinator")), s);
            // Two ranks, (tp 0, pp 0, dp 0) and (0, 0, 1), one on each node (the coordinator orders by address).
            String rank0 = "0     0   0   0   pekko://shoal@127.0.0.1:",
                    rank1 = "1     0   0   1   pekko://shoal@127.0.0.1:";
            assertTrue(s.contains(rank0) && s.contains(rank1), s);
            for (int i = 0; i < 2; i++) {
                assertTrue(
                        s.contains("   pekko://shoal@127.0.0.1:" + port[i] + "/cpu0"),
                        "no rank on node " + i + "\n" + s);
            }

            // /metrics on both nodes: the job's values, fed from the coordinator and the node's own work.
            HttpClient http = HttpClient.newHttpClient();
            for (int i = 0; i < 2; i++) {
                String m = get(http, "http://127.0.0.1:" + metrics[i] + "/metrics");
                String where = "node " + i + " /metrics:\n" + shoalLines(m);
                assertEquals(STEPS, value(m, "shoal_step{").orElseThrow(), 0, where);
                assertTrue(value(m, "shoal_tokens_per_second{").orElseThrow() > 0, where);
                double mfu = value(m, "shoal_mfu{").orElseThrow();
                assertTrue(mfu > 0 && mfu < 1, "MFU " + mfu + "; " + where);
                for (String src : List.of("en", "zh")) {
                    double loss = value(m, "shoal_validation_loss{", "source=\"" + src + "\"")
                            .orElseThrow(() -> new AssertionError("no validation loss of " + src + "; " + where));
                    assertTrue(loss > 0 && loss < 20, src + " loss " + loss);
                }
                assertEquals(1, value(m, "shoal_phase{", "phase=\"completed\"").orElseThrow(), 0, where);
                assertEquals(0, value(m, "shoal_phase{", "phase=\"training\"").orElseThrow(), 0, where);
                assertEquals(STEPS, value(m, "shoal_checkpoint_step{").orElseThrow(), 0, where);
                // This node's rank wrote a shard at every checkpoint (steps 20 and 40) and ran every step.
                assertEquals(
                        2,
                        value(m, "shoal_checkpoint_save_duration_seconds_count{")
                                .orElseThrow(),
                        0,
                        where);
                assertTrue(
                        value(m, "shoal_checkpoint_save_duration_seconds_sum{").orElseThrow() > 0, where);
                assertTrue(value(m, "shoal_worker_step_duration_seconds_count{").orElseThrow() >= STEPS, where);
                assertFalse(m.contains("shoal_gpu_memory"), "GPU memory series on a CPU node; " + where);
                assertTrue(m.contains("jvm_memory_used_bytes{"), where);
            }
        } finally {
            for (Process p : nodes) p.destroy();
            for (Process p : nodes) {
                if (!p.waitFor(30, TimeUnit.SECONDS)) p.destroyForcibly();
            }
        }
        for (int i = 0; i < nodes.size(); i++) {
            String log = Files.readString(tmp.resolve("node-" + i + ".err"));
            assertFalse(log.contains(TOKEN), "node " + i + " logged the token");
        }
    }

    private Process startNode(int i, int port, int seedPort, int grpcPort, int metricsPort, String storePassword)
            throws IOException {
        ProcessBuilder pb = new ProcessBuilder(
                home.resolve("bin/shoal").toString(),
                "node",
                "--port",
                Integer.toString(port),
                "--seeds",
                "127.0.0.1:" + seedPort,
                "--cpu-ranks",
                "1",
                "--journal-dir",
                tmp.resolve("journal-" + i).toString(),
                "--grpc-port",
                Integer.toString(grpcPort));
        pb.environment().put("SHOAL_TLS_STORE_PASSWORD", storePassword);
        pb.environment().put("SHOAL_GRPC_TOKEN", TOKEN);
        pb.environment().put("SHOAL_HEAP", "768m");
        pb.environment()
                .put(
                        "SHOAL_JAVA_OPTS",
                        "-XX:TieredStopAtLevel=1 -Dshoal.metrics.port=" + metricsPort
                                + " -Dpekko.cluster.seed-node-timeout=2s -Dpekko.cluster.retry-unsuccessful-join-after=2s");
        pb.directory(tmp.toFile());
        pb.redirectOutput(tmp.resolve("node-" + i + ".out").toFile());
        pb.redirectError(tmp.resolve("node-" + i + ".err").toFile());
        return pb.start();
    }

    private void awaitJoined(int i) throws Exception {
        Path out = tmp.resolve("node-" + i + ".out");
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(180); // generous: CI boxes are shared
        while (System.nanoTime() < deadline) {
            if (Files.exists(out) && Files.readString(out).contains("joined cluster shoal")) return;
            if (!nodes.get(i).isAlive()) break;
            Thread.sleep(200);
        }
        throw new AssertionError("node " + i + " did not join:\n" + Files.readString(out) + "\n"
                + tail(tmp.resolve("node-" + i + ".err")));
    }

    /** Polls `shoal status` until the table shows {@code nodes} nodes, each with its CPU rank running. */
    private void awaitNodes(Map<String, String> env, int nodes) throws Exception {
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(60);
        Run last = null;
        while (System.nanoTime() < deadline) {
            last = shoal(env, "status"); // before any job: the table, then "no job" (exit 5)
            if (last.code() == 5
                    && last.out().lines().filter(l -> l.contains("cpu 1/1")).count() == nodes) return;
            Thread.sleep(500);
        }
        throw new AssertionError("the cluster table never showed " + nodes + " nodes: " + last);
    }

    private Path jobFile(Path data) throws IOException {
        Path f = tmp.resolve("proof.conf");
        Files.writeString(
                f,
                """
                train {
                  name = proof
                  model = tiny
                  data {
                    dir = "%s"
                    sources = [ { name = en, language = en, weight = 3 }, { name = zh, language = zh, weight = 1 } ]
                    additional_language = zh
                  }
                  seq_len = 32
                  global_batch = 8
                  micro_batch = 2
                  steps = %d
                  lr { peak_lr = 1e-3, warmup_steps = 0 }
                  eval_interval = 20
                  checkpoint_interval = 20
                  checkpoint_dir = "%s"
                  parallelism { dp = 2 }
                }
                """
                        .formatted(data, STEPS, tmp.resolve("ckpt")));
        return f;
    }

    private Run shoal(Map<String, String> env, String... args) throws Exception {
        List<String> cmd = new ArrayList<>();
        cmd.add(home.resolve("bin/shoal").toString());
        cmd.addAll(List.of(args));
        // C1 only: a short-lived CLI JVM starts faster and leaves the cores to the nodes.
        Map<String, String> e = with(env, "SHOAL_HEAP", "256m");
        e.put("SHOAL_JAVA_OPTS", "-XX:TieredStopAtLevel=1");
        return run(e, cmd.toArray(String[]::new));
    }

    private Run run(Map<String, String> env, String... cmd) throws Exception {
        ProcessBuilder pb = new ProcessBuilder(cmd).directory(tmp.toFile());
        pb.environment().remove("SHOAL_TOKEN");
        pb.environment().remove("SHOAL_SERVER");
        pb.environment().putAll(env);
        Path out = Files.createTempFile(tmp, "cli", ".out"), err = Files.createTempFile(tmp, "cli", ".err");
        pb.redirectOutput(out.toFile()).redirectError(err.toFile());
        Process p = pb.start();
        p.getOutputStream().close();
        if (!p.waitFor(120, TimeUnit.SECONDS)) {
            p.destroyForcibly();
            throw new AssertionError(String.join(" ", cmd) + " did not finish:\n" + Files.readString(out));
        }
        return new Run(p.exitValue(), Files.readString(out), Files.readString(err));
    }

    private static Map<String, String> with(Map<String, String> env, String key, String value) {
        Map<String, String> m = new java.util.HashMap<>(env);
        m.put(key, value);
        return m;
    }

    /** The value of the first sample line starting with {@code prefix} and containing every {@code tag}. */
    static OptionalDouble value(String scrape, String prefix, String... tags) {
        for (String l : scrape.lines().toList()) {
            if (!l.startsWith(prefix)) continue;
            boolean all = true;
            for (String t : tags) all &= l.contains(t);
            if (all) return OptionalDouble.of(Double.parseDouble(l.substring(l.lastIndexOf(' ') + 1)));
        }
        return OptionalDouble.empty();
    }

    private static String shoalLines(String scrape) {
        return String.join(
                "\n", scrape.lines().filter(l -> l.startsWith("shoal_")).toList());
    }

    private static String get(HttpClient http, String url) throws Exception {
        HttpResponse<String> r = http.send(
                HttpRequest.newBuilder(URI.create(url)).build(),
                HttpResponse.BodyHandlers.ofString(StandardCharsets.UTF_8));
        assertEquals(200, r.statusCode(), url);
        return r.body();
    }

    private static String tail(Path log) throws IOException {
        if (!Files.exists(log)) return "(no " + log + ")";
        List<String> lines = Files.readAllLines(log);
        return String.join("\n", lines.subList(Math.max(0, lines.size() - 40), lines.size()));
    }
}
