// The node's HTTP endpoint for operations: GET /metrics (Prometheus text format from NodeMetrics) and
// GET /health (200 with a one-line JSON verdict while the node is healthy, 503 otherwise), on
// shoal.metrics.host:shoal.metrics.port. Uses the JDK's built-in HTTP server: no extra dependency.
//
// Guarantees: only GET and HEAD on those two paths are served (405 / 404 otherwise); a failing scrape
// answers 500 without stopping the server; close() frees the port.
package dev.shoal.actors.ops;

import com.sun.net.httpserver.HttpExchange;
import com.sun.net.httpserver.HttpServer;
import java.io.IOException;
import java.io.OutputStream;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.util.concurrent.Executors;
import java.util.function.Supplier;

public final class MetricsServer implements AutoCloseable {

    /** The node's health as the endpoint reports it. */
    public record Health(boolean healthy, String json) {}

    private final HttpServer server;

    private MetricsServer(HttpServer server) {
        this.server = server;
    }

    /** Binds host:port (port 0: any free port) and starts serving on one daemon thread. */
    public static MetricsServer start(String host, int port, NodeMetrics metrics, Supplier<Health> health)
            throws IOException {
        HttpServer s = HttpServer.create(new InetSocketAddress(host, port), 16);
        s.createContext(
                "/metrics",
                ex -> serve(ex, () -> {
                    String body = metrics.scrape();
                    return new Response(200, "text/plain; version=0.0.4; charset=utf-8", body);
                }));
        s.createContext(
                "/health",
                ex -> serve(ex, () -> {
                    Health h = health.get();
                    return new Response(h.healthy() ? 200 : 503, "application/json", h.json() + "\n");
                }));
        s.createContext("/", ex -> serve(ex, () -> new Response(404, "text/plain", "try /metrics or /health\n")));
        s.setExecutor(Executors.newSingleThreadExecutor(r -> {
            Thread t = new Thread(r, "shoal-metrics-http");
            t.setDaemon(true);
            return t;
        }));
        s.start();
        return new MetricsServer(s);
    }

    public int port() {
        return server.getAddress().getPort();
    }

    @Override
    public void close() {
        server.stop(0);
    }

    private record Response(int status, String contentType, String body) {}

    private static void serve(HttpExchange ex, Supplier<Response> handler) throws IOException {
        try (ex) {
            String method = ex.getRequestMethod();
            Response r;
            if (!method.equals("GET") && !method.equals("HEAD")) {
                r = new Response(405, "text/plain", "only GET\n");
                ex.getResponseHeaders().set("Allow", "GET, HEAD");
            } else {
                try {
                    r = handler.get();
                } catch (RuntimeException e) {
                    r = new Response(
                            500, "text/plain", "scrape failed: " + e.getClass().getSimpleName() + "\n");
                }
            }
            byte[] body = r.body().getBytes(StandardCharsets.UTF_8);
            ex.getResponseHeaders().set("Content-Type", r.contentType());
            boolean head = method.equals("HEAD");
            ex.sendResponseHeaders(r.status(), head ? -1 : body.length);
            if (!head) {
                try (OutputStream out = ex.getResponseBody()) {
                    out.write(body);
                }
            }
        }
    }
}
