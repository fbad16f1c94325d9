// Who may talk to the control plane: TLS (server certificate, and client certificates when client-ca
// is set), a bearer token, and the largest request accepted. From shoal.grpc.tls.*, shoal.grpc.token
// and shoal.grpc.max-message-bytes.
//
// Guarantees: files named for TLS exist and are readable when TLS is on, else construction throws
// naming the key; the token is never part of toString() or of any message; plaintext with no token
// (the default) is only for a trusted network or one machine.
package dev.shoal.actors.control;

import com.typesafe.config.Config;
import com.typesafe.config.ConfigException;
import java.nio.file.Files;
import java.nio.file.Path;

/**
 * @param tls whether the server speaks TLS
 * @param certChain PEM certificate chain of this node (gen-certs.sh: nodes/HOST.crt)
 * @param privateKey PEM PKCS#8 private key of this node (nodes/HOST.key)
 * @param clientCa PEM CA certificate; when set, every client must present a certificate it signed
 * @param token bearer token every call must carry ("authorization: Bearer TOKEN"); empty: none
 * @param maxMessageBytes largest request message; larger ones get RESOURCE_EXHAUSTED
 */
public record ControlSecurity(
        boolean tls, Path certChain, Path privateKey, Path clientCa, String token, int maxMessageBytes) {

    /** Plaintext, no token, gRPC's default 4 MiB limit. */
    public static final ControlSecurity NONE = new ControlSecurity(false, null, null, null, "", 4 << 20);

    public ControlSecurity {
        if (token == null) token = "";
        if (maxMessageBytes < 1024) {
            throw new IllegalArgumentException(
                    "shoal.grpc.max-message-bytes must be at least 1 KiB, got " + maxMessageBytes);
        }
        if (tls) {
            readable(certChain, "shoal.grpc.tls.cert-chain");
            readable(privateKey, "shoal.grpc.tls.private-key");
            if (clientCa != null) readable(clientCa, "shoal.grpc.tls.client-ca");
        } else if (clientCa != null) {
            throw new IllegalArgumentException("shoal.grpc.tls.client-ca is set but shoal.grpc.tls.enabled is off");
        }
    }

    public boolean mutualTls() {
        return tls && clientCa != null;
    }

    public boolean needsToken() {
        return !token.isEmpty();
    }

    public static ControlSecurity from(Config c) {
        try {
            boolean tls = c.getBoolean("shoal.grpc.tls.enabled");
            long max = c.getBytes("shoal.grpc.max-message-bytes");
            if (max > Integer.MAX_VALUE) {
                throw new IllegalArgumentException("shoal.grpc.max-message-bytes " + max + " is over 2 GiB");
            }
            return new ControlSecurity(
                    tls,
                    path(c, "shoal.grpc.tls.cert-chain"),
                    path(c, "shoal.grpc.tls.private-key"),
                    path(c, "shoal.grpc.tls.client-ca"),
                    c.getString("shoal.grpc.token").strip(),
                    (int) max);
        } catch (ConfigException e) {
            throw new IllegalArgumentException(e.getMessage(), e);
        }
    }

    private static Path path(Config c, String key) {
        String s = c.getString(key).strip();
        return s.isEmpty() ? null : Path.of(s).toAbsolutePath().normalize();
    }

    private static void readable(Path p, String key) {
        if (p == null) throw new IllegalArgumentException(key + " is empty but shoal.grpc.tls.enabled is on");
        if (!Files.isRegularFile(p) || !Files.isReadable(p)) {
            throw new IllegalArgumentException(key + " " + p + " is not a readable file");
        }
    }

    @Override
    public String toString() {
        return "ControlSecurity[tls=" + tls + ", mutualTls=" + mutualTls() + ", token="
                + (needsToken() ? "set" : "none") + ", maxMessageBytes=" + maxMessageBytes + "]";
    }
}
