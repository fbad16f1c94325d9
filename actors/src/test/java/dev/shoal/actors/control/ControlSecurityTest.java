// The control plane with mutual TLS and a bearer token, over a real socket: certificates from
// deploy/tls/gen-certs.sh. Strangers (plaintext, no client certificate, no or a wrong token) are
// refused; an over-large and a malformed request get a clear status and the server keeps serving;
// the CLI maps a refused token to exit 7 and works with the right credentials.
package dev.shoal.actors.control;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import dev.shoal.cli.ShoalCliTestAccess;
import dev.shoal.proto.v1.GetRequest;
import dev.shoal.proto.v1.JobServiceGrpc;
import dev.shoal.proto.v1.JobSpec;
import dev.shoal.proto.v1.SubmitRequest;
import io.grpc.CallOptions;
import io.grpc.ChannelCredentials;
import io.grpc.ManagedChannel;
import io.grpc.Metadata;
import io.grpc.MethodDescriptor;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import io.grpc.TlsChannelCredentials;
import io.grpc.netty.shaded.io.grpc.netty.NettyChannelBuilder;
import io.grpc.stub.ClientCalls;
import io.grpc.stub.MetadataUtils;
import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class ControlSecurityTest {

    static final String TOKEN = "tok-5d1e-secret";
    static final Path GEN_CERTS =
            Path.of("..", "deploy", "tls", "gen-certs.sh").toAbsolutePath().normalize();

    @TempDir
    static Path dir;

    static Path tls;
    static ControlTestNode node;
    static final List<ManagedChannel> channels = new ArrayList<>();

    @BeforeAll
    static void start() throws Exception {
        assumeTrue(onPath("openssl") && onPath("keytool"), "openssl and keytool are needed to make certificates");
        tls = dir.resolve("tls");
        Process p = new ProcessBuilder(
                        "bash", GEN_CERTS.toString(), tls.toString(), "--node", "127.0.0.1", "--client", "alice")
                .redirectErrorStream(true)
                .start();
        String log = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        assertTrue(p.waitFor(60, TimeUnit.SECONDS) && p.exitValue() == 0, "gen-certs.sh failed:\n" + log);
        node = ControlTestNode.start(
                dir.resolve("journal"),
                1,
                10,
                "shoal.grpc.token = \"" + TOKEN + "\"\n"
                        + "shoal.grpc.max-message-bytes = 64KiB\n"
                        + "shoal.grpc.tls { enabled = on\n"
                        + "  cert-chain = \"" + tls.resolve("nodes/127.0.0.1.crt") + "\"\n"
                        + "  private-key = \"" + tls.resolve("nodes/127.0.0.1.key") + "\"\n"
                        + "  client-ca = \"" + tls.resolve("ca.crt") + "\" }\n");
    }

    @AfterAll
    static void stop() {
        channels.forEach(ManagedChannel::shutdownNow);
        if (node != null) node.close();
    }

    static ManagedChannel channel(boolean tlsOn, boolean clientCert) {
        NettyChannelBuilder b;
        if (!tlsOn) {
            b = NettyChannelBuilder.forTarget(node.server).usePlaintext();
        } else {
            TlsChannelCredentials.Builder c = TlsChannelCredentials.newBuilder();
            try {
                c.trustManager(tls.resolve("ca.crt").toFile());
                if (clientCert) {
                    c.keyManager(
                            tls.resolve("clients/alice.crt").toFile(),
                            tls.resolve("clients/alice.key").toFile());
                }
            } catch (IOException e) {
                throw new java.io.UncheckedIOException(e);
            }
            ChannelCredentials creds = c.build();
            b = NettyChannelBuilder.forTarget(node.server, creds);
        }
        ManagedChannel ch = b.build();
        channels.add(ch);
        return ch;
    }

    static JobServiceGrpc.JobServiceBlockingStub stub(ManagedChannel ch, String token) {
        var s = JobServiceGrpc.newBlockingStub(ch).withDeadlineAfter(20, TimeUnit.SECONDS);
        if (token == null) return s;
        Metadata h = new Metadata();
        h.put(BearerTokenCheck.AUTHORIZATION, "Bearer " + token);
        return s.withInterceptors(MetadataUtils.newAttachHeadersInterceptor(h));
    }

    static Status.Code code(Runnable call) {
        return assertThrows(StatusRuntimeException.class, call::run).getStatus().getCode();
    }

    @Test
    void strangersAreRefused() throws Exception {
        assertEquals(Status.Code.UNAVAILABLE, code(() -> stub(channel(false, false), TOKEN)
                .get(GetRequest.getDefaultInstance())));
        assertEquals(
                Status.Code.UNAVAILABLE,
                code(() -> stub(channel(true, false), TOKEN).get(GetRequest.getDefaultInstance())),
                "a client without a certificate fails the TLS handshake");
        ManagedChannel ok = channel(true, true);
        assertEquals(Status.Code.UNAUTHENTICATED, code(() -> stub(ok, null).get(GetRequest.getDefaultInstance())));
        StatusRuntimeException wrong = assertThrows(
                StatusRuntimeException.class, () -> stub(ok, "guess").get(GetRequest.getDefaultInstance()));
        assertEquals(Status.Code.UNAUTHENTICATED, wrong.getStatus().getCode());
        assertFalse(wrong.getStatus().getDescription().contains(TOKEN), "the token is never echoed");
        assertFalse(wrong.getStatus().getDescription().contains("guess"), "nor the offered one");
        // Authenticated: the call reaches the service (no job was submitted yet).
        assertEquals(Status.Code.NOT_FOUND, code(() -> stub(ok, TOKEN).get(GetRequest.getDefaultInstance())));
    }

    @Test
    void overLargeAndMalformedRequestsGetAClearStatusAndTheServerGoesOn() throws Exception {
        ManagedChannel ok = channel(true, true);
        JobSpec huge = JobSpec.newBuilder().setName("x".repeat(100_000)).build();
        StatusRuntimeException big = assertThrows(StatusRuntimeException.class, () -> stub(ok, TOKEN)
                .submit(SubmitRequest.newBuilder().setSpec(huge).build()));
        assertEquals(Status.Code.RESOURCE_EXHAUSTED, big.getStatus().getCode(), big.getStatus()::toString);

        // Bytes that are not a SubmitRequest, sent on Submit's method.
        MethodDescriptor<byte[], byte[]> raw = MethodDescriptor.<byte[], byte[]>newBuilder()
                .setType(MethodDescriptor.MethodType.UNARY)
                .setFullMethodName(JobServiceGrpc.getSubmitMethod().getFullMethodName())
                .setRequestMarshaller(new Bytes())
                .setResponseMarshaller(new Bytes())
                .build();
        Metadata h = new Metadata();
        h.put(BearerTokenCheck.AUTHORIZATION, "Bearer " + TOKEN);
        var channel = io.grpc.ClientInterceptors.intercept(ok, MetadataUtils.newAttachHeadersInterceptor(h));
        StatusRuntimeException bad = assertThrows(
                StatusRuntimeException.class,
                () -> ClientCalls.blockingUnaryCall(
                        channel, raw, CallOptions.DEFAULT.withDeadlineAfter(20, TimeUnit.SECONDS), new byte[] {
                            (byte) 0xff, (byte) 0xff, (byte) 0xff, 0x0f, 0x01
                        }));
        assertEquals(Status.Code.INVALID_ARGUMENT, bad.getStatus().getCode(), bad.getStatus()::toString);
        assertEquals(
                "the request to Submit is not a valid protobuf message of its type",
                bad.getStatus().getDescription());

        // Still serving.
        assertEquals(Status.Code.NOT_FOUND, code(() -> stub(ok, TOKEN).get(GetRequest.getDefaultInstance())));
    }

    @Test
    void theCliNeedsTheTokenAndSaysSo() throws Exception {
        String[] base = {
            "status",
            "--server",
            node.server,
            "--tls-ca",
            tls.resolve("ca.crt").toString(),
            "--tls-cert",
            tls.resolve("clients/alice.crt").toString(),
            "--tls-key",
            tls.resolve("clients/alice.key").toString()
        };
        var refused = ShoalCliTestAccess.run(base);
        assertEquals(7, refused.code(), refused.err());
        assertTrue(refused.err().contains("refused the credentials"), refused.err());

        Path tokenFile = dir.resolve("token");
        Files.writeString(tokenFile, TOKEN + "\n");
        String[] withToken = java.util.Arrays.copyOf(base, base.length + 2);
        withToken[base.length] = "--token-file";
        withToken[base.length + 1] = tokenFile.toString();
        var ok = ShoalCliTestAccess.run(withToken);
        assertEquals(5, ok.code(), ok.err() + ok.out()); // authenticated; no job yet
        assertFalse(ok.err().contains(TOKEN) || ok.out().contains(TOKEN), "the CLI never prints the token");
    }

    /** A marshaller of raw bytes. */
    static final class Bytes implements MethodDescriptor.Marshaller<byte[]> {
        @Override
        public InputStream stream(byte[] value) {
            return new ByteArrayInputStream(value);
        }

        @Override
        public byte[] parse(InputStream stream) {
            try {
                return stream.readAllBytes();
            } catch (IOException e) {
                throw new IllegalStateException(e);
            }
        }
    }

    private static boolean onPath(String tool) {
        for (String d : System.getenv().getOrDefault("PATH", "").split(":")) {
            if (Files.isExecutable(Path.of(d, tool))) return true;
        }
        return false;
    }
}
