// A node from the unpacked tarball, run the way the systemd unit runs it: conf/shoal.conf with mutual
// TLS (stores from the tarball's tls/gen-certs.sh, password from the environment), JSON logs, the
// metrics endpoint. Checks: the node joins, /health and /metrics answer, every log line is a JSON
// object, the store password appears in no output, and SIGTERM stops it (exit 143, a clean stop for the unit).
package dev.shoal.deploy;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.shoal.actors.node.FreePorts;
import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class SecureNodeIT {

    static final String PASSWORD = "s3cret-store-pw-7f41";

    @TempDir
    Path tmp;

    @Test
    void aTlsNodeWithJsonLogsServesHealthAndMetricsAndNeverLogsItsSecrets() throws Exception {
        Path home = Dist.unpack(tmp);
        Path tls = tmp.resolve("tls");
        Process gen = new ProcessBuilder(
                        "bash", home.resolve("tls/gen-certs.sh").toString(), tls.toString(), "--node", "127.0.0.1")
                .redirectErrorStream(true)
                .start();
        gen.getOutputStream().close();
        String genOut = new String(gen.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        assertEquals(0, gen.waitFor(), genOut);

        int port = FreePorts.pick(), metricsPort = FreePorts.pick();
        Path conf = home.resolve("conf/shoal.conf");
        Files.writeString(
                conf,
                Files.readString(conf)
                        + "\nshoal.node.port = " + port + "\n"
                        + "shoal.journal.h2.dir = \"" + tmp.resolve("journal") + "\"\n"
                        + "shoal.metrics { host = \"127.0.0.1\", port = " + metricsPort + " }\n"
                        + "shoal.tls { enabled = on\n"
                        + "  key-store = \"" + tls.resolve("nodes/127.0.0.1.p12") + "\"\n"
                        + "  trust-store = \"" + tls.resolve("truststore.p12") + "\" }\n");

        ProcessBuilder pb = new ProcessBuilder(home.resolve("bin/shoal").toString(), "node", "--cpu-ranks", "1");
        pb.environment().put("SHOAL_TLS_STORE_PASSWORD", Files.readString(tls.resolve("store-password")));
        pb.environment().put("SHOAL_LOG_FORMAT", "json");
        pb.environment().put("SHOAL_HEAP", "512m");
        pb.directory(tmp.toFile());
        Path errFile = tmp.resolve("node.err");
        pb.redirectError(errFile.toFile());
        Process node = pb.start();
        try {
            BufferedReader out =
                    new BufferedReader(new InputStreamReader(node.getInputStream(), StandardCharsets.UTF_8));
            String joined = out.readLine();
            assertTrue(joined != null && joined.startsWith("joined cluster shoal"), "no joined line: " + joined);

            HttpClient http = HttpClient.newHttpClient();
            String base = "http://127.0.0.1:" + metricsPort;
            HttpResponse<String> health = get(http, base + "/health");
            assertEquals(200, health.statusCode(), health.body());
            assertTrue(health.body().contains("\"status\":\"UP\""), health.body());
            HttpResponse<String> metrics = get(http, base + "/metrics");
            assertEquals(200, metrics.statusCode());
            assertTrue(metrics.body().contains("shoal_phase{"), "no shoal_phase series");
            assertTrue(metrics.body().contains("jvm_memory_used_bytes{"), "no JVM memory series");
        } finally {
            node.destroy(); // SIGTERM, as systemd stops it
        }
        assertTrue(node.waitFor(60, TimeUnit.SECONDS), "node did not stop on SIGTERM");
        // The JVM ends with 128 + SIGTERM after its shutdown hooks ran (the unit lists 143 as success).
        assertTrue(node.exitValue() == 143 || node.exitValue() == 0, "exit " + node.exitValue());
        String log = Files.readString(errFile);
        String secret = Files.readString(tls.resolve("store-password"));
        assertFalse(log.contains(secret), "the store password appears in the log");
        long jsonLines =
                log.lines().filter(l -> l.startsWith("{") && l.endsWith("}")).count();
        assertTrue(jsonLines > 0, "no JSON log lines in:\n" + log);
        for (String line : log.lines().toList()) {
            if (line.isBlank() || line.matches("(OK|WARN|FAIL) +.*")) continue; // start-up check table
            assertTrue(line.startsWith("{") && line.endsWith("}"), "not a JSON log line: " + line);
            assertTrue(line.contains("\"level\":"), line);
        }
    }

    private static HttpResponse<String> get(HttpClient http, String url) throws Exception {
        return http.send(HttpRequest.newBuilder(URI.create(url)).build(), HttpResponse.BodyHandlers.ofString());
    }
}
