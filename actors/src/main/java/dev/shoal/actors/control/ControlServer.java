// The control plane's gRPC server: JobService on one TCP port of this node, forwarding every call to
// the coordinator singleton (wherever it runs) through the node's ActorSystem.
//
// Security (ControlSecurity, shoal.grpc.*): TLS with the node's certificate, client certificates
// required when a client CA is set (mutual TLS), a bearer token checked before any call reaches the
// service (UNAUTHENTICATED otherwise), and a request size limit (RESOURCE_EXHAUSTED beyond it).
// Guarantees: start() returns only once the port is bound (a busy port fails with the address and
// the config key named); close() stops taking calls, cancels open Watch streams and waits briefly.
package dev.shoal.actors.control;

import dev.shoal.actors.coordinator.Coordinator;
import io.grpc.Server;
import io.grpc.ServerCredentials;
import io.grpc.ServerInterceptors;
import io.grpc.ServerServiceDefinition;
import io.grpc.TlsServerCredentials;
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
        return start(system, java.util.List.of(coordinator), settings);
    }

    /** As above, routing jobs over several job slots' coordinators (JobSlots; slot 0 first). */
    public static ControlServer start(
            ActorSystem<?> system, java.util.List<ActorRef<Coordinator.Command>> slots, ControlSettings settings) {
        if (!settings.enabled()) throw new IllegalArgumentException("the control plane is off (shoal.grpc.port -1)");
        ControlSecurity sec = settings.security();
        InetSocketAddress address = new InetSocketAddress(settings.host(), settings.port());
        NettyServerBuilder builder = sec.tls()
                ? NettyServerBuilder.forAddress(address, credentials(sec))
                : NettyServerBuilder.forAddress(address);
        ServerServiceDefinition service =
                StrictRequests.wrap(new JobServiceImpl(system, slots, settings).bindService());
        if (sec.needsToken()) service = ServerInterceptors.intercept(service, new BearerTokenCheck(sec.token()));
        Server server = builder.addService(service)
                // Larger requests are refused with RESOURCE_EXHAUSTED; the server goes on serving.
                .maxInboundMessageSize(sec.maxMessageBytes())
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

    private static ServerCredentials credentials(ControlSecurity sec) {
        try {
            TlsServerCredentials.Builder b = TlsServerCredentials.newBuilder()
                    .keyManager(sec.certChain().toFile(), sec.privateKey().toFile());
            if (sec.mutualTls()) {
                b.trustManager(sec.clientCa().toFile()).clientAuth(TlsServerCredentials.ClientAuth.REQUIRE);
            }
            return b.build();
        } catch (IOException | IllegalArgumentException e) {
            throw new IllegalStateException(
                    "control plane TLS: cannot read shoal.grpc.tls.cert-chain/private-key/client-ca: " + rootMessage(e),
                    e);
        }
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
