// NodeMetrics turns the coordinator's events into Prometheus series, and MetricsServer serves them
// (and the health verdict) over a real socket.
package dev.shoal.actors.ops;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.shoal.proto.v1.CheckpointInfo;
import dev.shoal.proto.v1.JobEvent;
import dev.shoal.proto.v1.Phase;
import dev.shoal.proto.v1.PhaseChange;
import dev.shoal.proto.v1.SourceLoss;
import dev.shoal.proto.v1.StepMetrics;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.util.concurrent.atomic.AtomicBoolean;
import org.junit.jupiter.api.Test;

class NodeMetricsTest {

    static JobEvent step(long s, double loss, double zh) {
        return JobEvent.newBuilder()
                .setStep(StepMetrics.newBuilder()
                        .setStep(s)
                        .setLoss(loss)
                        .setTokens(4096)
                        .setStepSeconds(0.5)
                        .setTokensPerSecond(8192)
                        .setMfu(0.42)
                        .addValidation(SourceLoss.newBuilder().setSource("zh").setLoss(zh)))
                .build();
    }

    static JobEvent phase(Phase from, Phase to, long epoch, double seconds) {
        return JobEvent.newBuilder()
                .setPhase(PhaseChange.newBuilder()
                        .setFrom(from)
                        .setTo(to)
                        .setMeshEpoch(epoch)
                        .setSeconds(seconds))
                .build();
    }

    @Test
    void eventsBecomeSeries() {
        try (NodeMetrics m = new NodeMetrics("n1")) {
            m.onEvent(phase(Phase.FORMING, Phase.TRAINING, 3, 1.0));
            m.onEvent(step(7, 2.5, 3.25));
            m.onEvent(step(8, 2.25, 3.0));
            m.onEvent(phase(Phase.TRAINING, Phase.RESCALING, 1, 5));
            m.onEvent(phase(Phase.RESCALING, Phase.TRAINING, 2, 1.5));
            m.onEvent(phase(Phase.TRAINING, Phase.RECOVERING, 3, 10));
            m.onEvent(phase(Phase.RECOVERING, Phase.TRAINING, 4, 2.5));
            m.onEvent(JobEvent.newBuilder()
                    .setCheckpoint(CheckpointInfo.newBuilder().setStep(8).setBytes(1 << 20))
                    .build());
            m.commError("timeout");
            m.workerStep(0.25);
            GpuMemory.register(m, 2, d -> {
                if (d == 1) throw new IllegalStateException("device lost");
                return new long[] {123456789L, 80L << 30};
            });
            String s = m.scrape();
            assertLine(s, "shoal_step{node=\"n1\"} 8.0");
            assertLine(s, "shoal_loss{node=\"n1\"} 2.25");
            assertLine(s, "shoal_mfu{node=\"n1\"} 0.42");
            assertLine(s, "shoal_validation_loss{node=\"n1\",source=\"zh\"} 3.0");
            assertLine(s, "shoal_phase{node=\"n1\",phase=\"training\"} 1.0");
            assertLine(s, "shoal_phase{node=\"n1\",phase=\"recovering\"} 0.0");
            assertLine(s, "shoal_mesh_epoch{node=\"n1\"} 4.0");
            assertLine(s, "shoal_recoveries_total{node=\"n1\"} 1.0");
            assertLine(s, "shoal_recovery_duration_seconds_sum{node=\"n1\"} 2.5");
            assertLine(s, "shoal_rescales_total{node=\"n1\"} 1.0");
            assertLine(s, "shoal_rescale_duration_seconds_sum{node=\"n1\"} 1.5");
            assertLine(s, "shoal_tokens_total{node=\"n1\"} 8192.0");
            assertLine(s, "shoal_checkpoint_step{node=\"n1\"} 8.0");
            assertLine(s, "shoal_comm_errors_total{kind=\"timeout\",node=\"n1\"} 1.0");
            assertLine(s, "shoal_gpu_memory_used_bytes{device=\"0\",node=\"n1\"} 1.23456789E8");
            assertLine(s, "shoal_gpu_memory_total_bytes{device=\"0\",node=\"n1\"} 8.589934592E10");
            assertLine(s, "shoal_gpu_memory_used_bytes{device=\"1\",node=\"n1\"} NaN"); // a failed read
            assertTrue(s.contains("jvm_memory_used_bytes{"), "JVM memory is exported");
        }
    }

    @Test
    void aNodeWithoutGpusHasNoGpuMemorySeries() {
        try (NodeMetrics m = new NodeMetrics("cpu-node")) {
            GpuMemory.register(m, 0, d -> {
                throw new AssertionError("no device to read");
            });
            assertTrue(!m.scrape().contains("shoal_gpu_memory"), "GPU memory series on a CPU node");
        }
    }

    @Test
    void theEndpointServesMetricsAndHealthOverHttp() throws Exception {
        AtomicBoolean healthy = new AtomicBoolean(true);
        try (NodeMetrics m = new NodeMetrics("n2");
                MetricsServer server = MetricsServer.start(
                        "127.0.0.1",
                        0,
                        m,
                        () -> new MetricsServer.Health(
                                healthy.get(), "{\"status\":\"" + (healthy.get() ? "UP" : "DOWN") + "\"}"))) {
            m.onEvent(step(1, 3.5, 4.0));
            HttpClient http = HttpClient.newHttpClient();
            String base = "http://127.0.0.1:" + server.port();
            HttpResponse<String> metrics = get(http, base + "/metrics");
            assertEquals(200, metrics.statusCode());
            assertTrue(metrics.headers().firstValue("Content-Type").orElse("").startsWith("text/plain"));
            assertLine(metrics.body(), "shoal_loss{node=\"n2\"} 3.5");

            HttpResponse<String> up = get(http, base + "/health");
            assertEquals(200, up.statusCode());
            assertEquals("{\"status\":\"UP\"}\n", up.body());
            healthy.set(false);
            assertEquals(503, get(http, base + "/health").statusCode());

            HttpResponse<String> post = http.send(
                    HttpRequest.newBuilder(URI.create(base + "/metrics"))
                            .POST(HttpRequest.BodyPublishers.noBody())
                            .build(),
                    HttpResponse.BodyHandlers.ofString());
            assertEquals(405, post.statusCode());
            assertEquals(404, get(http, base + "/admin").statusCode());
        }
    }

    static HttpResponse<String> get(HttpClient http, String url) throws Exception {
        return http.send(HttpRequest.newBuilder(URI.create(url)).build(), HttpResponse.BodyHandlers.ofString());
    }

    static void assertLine(String scrape, String line) {
        assertTrue(scrape.lines().anyMatch(l -> l.equals(line)), "no line '" + line + "' in:\n" + grep(scrape));
    }

    static String grep(String scrape) {
        StringBuilder sb = new StringBuilder();
        scrape.lines().filter(l -> l.startsWith("shoal_")).forEach(l -> sb.append(l)
                .append('\n'));
        return sb.toString();
    }

    @Test
    void aStepFailureCountsTheCommunicatorErrorInItsCauseChain() {
        var lost = new dev.shoal.comm.CommException(dev.shoal.comm.CommException.Kind.PEER_LOST, "rank 2 closed");
        assertEquals("peer_lost", NodeOps.commErrorKind(new RuntimeException("step 7 failed", lost)));
        assertEquals("peer_lost", NodeOps.commErrorKind(lost));
        assertEquals(null, NodeOps.commErrorKind(new IllegalStateException("not a collective")));
    }
}
