// The control plane's gRPC server: JobService on one TCP port of this node, forwarding every call to
// the coordinator singleton (wherever it runs) through the node's ActorSystem.
//
// Guarantees: start() returns only once the port is bound (a busy port fails with the address and
// the config key named); close() stops taking calls, cancels open Watch streams and waits briefly.
package dev.shoal.actors.control;

import dev.shoal.actors.coordinator.Coordinator;
import io.grpc.Server;
import io.grpc.netty.shaded.io.grpc.netty.NettyServerBuilder;
import java.io.IOException;
import java.net.InetSocketAddress;
import java.util.concurrent.TimeUnit;
import org.apache.pekko.actor.typed.ActorRef;
import org.apache.pekko.actor.typed.ActorSystem;

public final class ControlServer implements AutoCloseable {

    private final Server server;
    private final String host;

    private ControlServer(Server server, String host) {
        this.server = server;
        this.host = host;
    }

    /** Binds {@code settings.host():settings.port()} and serves JobService until closed. */
    public static ControlServer start(
            ActorSystem<?> system, ActorRef<Coordinator.Command> coordinator, ControlSettings settings) {
        if (!settings.enabled()) throw new IllegalArgumentException("the control plane is off (shoal.grpc.port -1)");
        Server server = NettyServerBuilder.forAddress(new InetSocketAddress(settings.host(), settings.port()))
                .addService(new JobServiceImpl(system, coordinator, settings))
                // Watch streams last as long as a job: clients ping every 20 s to notice a dead node.
                .permitKeepAliveTime(10, TimeUnit.SECONDS)
                .build();
        try {
            server.start();
        } catch (IOException e) {
            throw new IllegalStateException(
                    "control plane cannot listen on " + settings.host() + ":" + settings.port() + " ("
                            + ControlSettings.PORT_KEY + "): " + rootMessage(e),
                    e);
        }
        return new ControlServer(server, settings.host());
    }

    /** The bound port (the OS's choice when the configured port was 0). */
    public int port() {
        return server.getPort();
    }

    /** host:port that clients use (the bind address; 0.0.0.0 means every interface). */
    public String address() {
        return host + ":" + port();
    }

    @Override
    public void close() {
        server.shutdown();
        try {
            if (!server.awaitTermination(2, TimeUnit.SECONDS)) {
                server.shutdownNow();
                server.awaitTermination(2, TimeUnit.SECONDS);
            }
        } catch (InterruptedException e) {
            server.shutdownNow();
            Thread.currentThread().interrupt();
        }
    }

    private static String rootMessage(Throwable t) {
        while (t.getCause() != null) t = t.getCause();
        return t.getMessage() == null ? t.getClass().getSimpleName() : t.getMessage();
    }
}
