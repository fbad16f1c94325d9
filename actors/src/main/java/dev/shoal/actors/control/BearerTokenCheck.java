// Server interceptor: every call must carry "authorization: Bearer TOKEN" with the configured token;
// anything else is closed with UNAUTHENTICATED before the service sees it.
// Guarantees: the comparison takes the same time whatever the offered token (no timing oracle); the
// token is never logged or echoed in a status message.
package dev.shoal.actors.control;

import io.grpc.Metadata;
import io.grpc.ServerCall;
import io.grpc.ServerCallHandler;
import io.grpc.ServerInterceptor;
import io.grpc.Status;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;

final class BearerTokenCheck implements ServerInterceptor {

    static final Metadata.Key<String> AUTHORIZATION =
            Metadata.Key.of("authorization", Metadata.ASCII_STRING_MARSHALLER);

    private final byte[] expected;

    BearerTokenCheck(String token) {
        this.expected = digest("Bearer " + token);
    }

    @Override
    public <Q, R> ServerCall.Listener<Q> interceptCall(
            ServerCall<Q, R> call, Metadata headers, ServerCallHandler<Q, R> next) {
        String offered = headers.get(AUTHORIZATION);
        if (offered == null || !MessageDigest.isEqual(expected, digest(offered))) {
            call.close(
                    Status.UNAUTHENTICATED.withDescription(
                            offered == null
                                    ? "this server needs a bearer token (authorization: Bearer ...)"
                                    : "the bearer token was refused"),
                    new Metadata());
            return new ServerCall.Listener<>() {};
        }
        return next.startCall(call, headers);
    }

    /** Fixed-length digests, so isEqual's time does not depend on where the strings differ. */
    private static byte[] digest(String s) {
        try {
            return MessageDigest.getInstance("SHA-256").digest(s.getBytes(StandardCharsets.UTF_8));
        } catch (java.security.NoSuchAlgorithmException e) {
            throw new IllegalStateException("SHA-256 is missing from this JVM", e);
        }
    }
}
