// Settings of the control plane's gRPC server (shoal.grpc.* in reference.conf).
// Guarantees: the port is -1 (no server), 0 (the OS picks one) or 1..65535; the host is not empty; the
// ask timeout is positive. A bad value throws IllegalArgumentException naming the key.
package dev.shoal.actors.control;

import com.typesafe.config.Config;
import com.typesafe.config.ConfigException;
import java.time.Duration;

/**
 * @param host address the server binds to
 * @param port TCP port; 0: any free port; -1: no server on this node
 * @param askTimeout how long one call waits for the coordinator singleton
 * @param watchResubscribe how often a Watch stream renews its subscription and checks the job's phase
 * @param security TLS, bearer token and message size limit
 */
public record ControlSettings(
        String host, int port, Duration askTimeout, Duration watchResubscribe, ControlSecurity security) {

    /** Plaintext settings without a token (tests, one machine). */
    public ControlSettings(String host, int port, Duration askTimeout, Duration watchResubscribe) {
        this(host, port, askTimeout, watchResubscribe, ControlSecurity.NONE);
    }

    public static final String PORT_KEY = "shoal.grpc.port";

    public ControlSettings {
        if (host == null || host.isBlank()) throw new IllegalArgumentException("shoal.grpc.host is empty");
        if (port < -1 || port > 65535) {
            throw new IllegalArgumentException(PORT_KEY + " " + port + " is outside -1..65535 (-1: no server, 0: any)");
        }
        if (askTimeout.isNegative() || askTimeout.isZero()) {
            throw new IllegalArgumentException("shoal.grpc.ask-timeout must be > 0, got " + askTimeout);
        }
        if (watchResubscribe.isNegative() || watchResubscribe.isZero()) {
            throw new IllegalArgumentException("shoal.grpc.watch-resubscribe must be > 0, got " + watchResubscribe);
        }
    }

    public boolean enabled() {
        return port >= 0;
    }

    public static ControlSettings from(Config c) {
        try {
            return new ControlSettings(
                    c.getString("shoal.grpc.host"),
                    c.getInt(PORT_KEY),
                    c.getDuration("shoal.grpc.ask-timeout"),
                    c.getDuration("shoal.grpc.watch-resubscribe"),
                    ControlSecurity.from(c));
        } catch (ConfigException e) {
            throw new IllegalArgumentException(e.getMessage(), e);
        }
    }
}
