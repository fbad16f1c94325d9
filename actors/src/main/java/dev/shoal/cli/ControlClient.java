// The CLI's side of the control plane: the --server option every job command shares (and the optional
// JOB argument of those that act on one job), the gRPC channel to a node's JobService, and exchange():
// connect, run the command's calls, and map a gRPC failure to one line on stderr and an exit code.
//
// Exit codes of submit, status, watch and stop (docs/cluster.md):
//   0 ok · 1 other failure · 2 usage error or invalid job (file key or spec field named) ·
//   3 server unreachable or not answering · 4 the job failed · 5 no such job · 6 refused in the job's
//   current state (a job is already running; the job is not running) · 7 credentials refused (bearer
//   token or client certificate).
// Guarantees: no stack trace for any of these; the server address comes from --server, else
// $SHOAL_SERVER, else shoal.grpc.client-server (127.0.0.1:50051 by default). TLS when --tls-ca (or
// $SHOAL_TLS_CA) names the CA to trust, a client certificate with --tls-cert/--tls-key, and the bearer
// token from $SHOAL_TOKEN or --token-file; the token is never printed.
package dev.shoal.cli;

import com.typesafe.config.Config;
import com.typesafe.config.ConfigFactory;
import dev.shoal.proto.v1.JobServiceGrpc;
import io.grpc.CallOptions;
import io.grpc.Channel;
import io.grpc.ChannelCredentials;
import io.grpc.ClientCall;
import io.grpc.ClientInterceptor;
import io.grpc.ForwardingClientCall;
import io.grpc.ManagedChannel;
import io.grpc.Metadata;
import io.grpc.MethodDescriptor;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import io.grpc.TlsChannelCredentials;
import io.grpc.netty.shaded.io.grpc.netty.NettyChannelBuilder;
import java.io.PrintWriter;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import picocli.CommandLine;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

final class ControlClient implements AutoCloseable {

    static final int EXIT_OK = 0;
    static final int EXIT_FAILURE = 1;
    static final int EXIT_USAGE = 2;
    static final int EXIT_UNREACHABLE = 3;
    static final int EXIT_JOB_FAILED = 4;
    static final int EXIT_NOT_FOUND = 5;
    static final int EXIT_REFUSED = 6;
    static final int EXIT_UNAUTHENTICATED = 7;

    /** For each job command's --help. */
    static final String[] EXIT_CODES = {
        "0:ok",
        "1:other failure",
        "2:usage error, or an invalid job file or spec (the key or field is named)",
        "3:server unreachable, or the coordinator is not answering",
        "4:the job failed",
        "5:no such job",
        "6:refused in the job's current state (a job is already running; the job is not running)",
        "7:credentials refused (bearer token or client certificate)"
    };

    static final String TOKEN_ENV = "SHOAL_TOKEN";
    static final String CA_ENV = "SHOAL_TLS_CA";

    static final String SERVER_ENV = "SHOAL_SERVER";

    /** The --server option (a picocli mixin). */
    static final class ServerOption {
        @Option(
                names = "--server",
                paramLabel = "HOST:PORT",
                description = "A node's control-plane address. Default: $SHOAL_SERVER, else shoal.grpc.client-server"
                        + " (127.0.0.1:50051).")
        String server;

        @Option(
                names = "--timeout",
                paramLabel = "SECONDS",
                defaultValue = "20",
                description = "How long one call may take (not a watch stream). Default: ${DEFAULT-VALUE}.")
        long timeoutSeconds;

        @Option(
                names = "--tls-ca",
                paramLabel = "FILE",
                description = "PEM CA certificate to trust: connect with TLS. Default: $SHOAL_TLS_CA; none: plaintext.")
        java.nio.file.Path tlsCa;

        @Option(
                names = "--tls-cert",
                paramLabel = "FILE",
                description = "PEM client certificate, for servers that require one (with --tls-key).")
        java.nio.file.Path tlsCert;

        @Option(names = "--tls-key", paramLabel = "FILE", description = "PEM PKCS#8 key of --tls-cert.")
        java.nio.file.Path tlsKey;

        @Option(
                names = "--token-file",
                paramLabel = "FILE",
                description = "File holding the bearer token. Default: $SHOAL_TOKEN; none: no token.")
        java.nio.file.Path tokenFile;
    }

    /** The optional JOB argument of the commands that act on one job (a picocli mixin). */
    static final class JobArgument {
        @Parameters(
                index = "0",
                arity = "0..1",
                paramLabel = "JOB",
                description = "Job id; default: the cluster's job.")
        String job;

        /** The id to send; "" asks for the cluster's job. */
        String id() {
            return job == null ? "" : job;
        }
    }

    /** What a job command does over its connection; a failed call is thrown as StatusRuntimeException. */
    @FunctionalInterface
    interface Exchange {
        int run(ControlClient c);
    }

    /**
     * Connects as {@code opt} says, runs {@code body} and returns its exit code; a failed call becomes one
     * line on {@code cl}'s stderr and the exit code of {@link #fail}. The channel is closed either way.
     */
    static int exchange(ServerOption opt, CommandLine cl, Exchange body) {
        try (ControlClient c = connect(opt)) {
            try {
                return body.run(c);
            } catch (StatusRuntimeException e) {
                return c.fail(e, cl.getErr());
            }
        }
    }

    final String server;
    final ManagedChannel channel;
    private final long timeoutSeconds;

    private ControlClient(String server, long timeoutSeconds, ChannelCredentials creds, String token) {
        this.server = server;
        this.timeoutSeconds = timeoutSeconds;
        // Pings every 20 s (the server permits 10 s) so that a watch notices a node that died.
        NettyChannelBuilder b = creds == null
                ? NettyChannelBuilder.forTarget(server).usePlaintext()
                : NettyChannelBuilder.forTarget(server, creds);
        if (!token.isEmpty()) b.intercept(bearer(token));
        this.channel = b.keepAliveTime(20, TimeUnit.SECONDS)
                .keepAliveTimeout(10, TimeUnit.SECONDS)
                .build();
    }

    static ControlClient connect(ServerOption opt) {
        if (opt.timeoutSeconds < 1) throw new ShoalCli.UserError("--timeout " + opt.timeoutSeconds + " must be >= 1");
        Config config;
        try {
            config = ConfigFactory.load();
        } catch (com.typesafe.config.ConfigException e) {
            throw new ShoalCli.UserError("config: " + e.getMessage());
        }
        Map<String, String> env = System.getenv();
        return new ControlClient(
                serverAddress(opt.server, env, config), opt.timeoutSeconds, credentials(opt, env), token(opt, env));
    }

    /** TLS credentials from --tls-ca/--tls-cert/--tls-key (or $SHOAL_TLS_CA); null for plaintext. */
    static ChannelCredentials credentials(ServerOption opt, Map<String, String> env) {
        java.nio.file.Path ca = opt.tlsCa;
        if (ca == null && env.get(CA_ENV) != null && !env.get(CA_ENV).isBlank())
            ca = java.nio.file.Path.of(env.get(CA_ENV));
        if ((opt.tlsCert == null) != (opt.tlsKey == null)) {
            throw new ShoalCli.UserError("--tls-cert and --tls-key go together");
        }
        if (ca == null) {
            if (opt.tlsCert != null) throw new ShoalCli.UserError("--tls-cert needs --tls-ca (TLS) as well");
            return null;
        }
        try {
            TlsChannelCredentials.Builder b = TlsChannelCredentials.newBuilder().trustManager(readable(ca, "--tls-ca"));
            if (opt.tlsCert != null) {
                b.keyManager(readable(opt.tlsCert, "--tls-cert"), readable(opt.tlsKey, "--tls-key"));
            }
            return b.build();
        } catch (java.io.IOException | IllegalArgumentException e) {
            throw new ShoalCli.UserError("TLS files: " + rootMessage(e));
        }
    }

    /** The bearer token from --token-file, else $SHOAL_TOKEN; "" for none. */
    static String token(ServerOption opt, Map<String, String> env) {
        if (opt.tokenFile != null) {
            try {
                return java.nio.file.Files.readString(
                                readable(opt.tokenFile, "--token-file").toPath())
                        .strip();
            } catch (java.io.IOException e) {
                throw new ShoalCli.UserError("--token-file " + opt.tokenFile + ": " + rootMessage(e));
            }
        }
        String t = env.get(TOKEN_ENV);
        return t == null ? "" : t.strip();
    }

    private static java.io.File readable(java.nio.file.Path p, String flag) {
        if (!java.nio.file.Files.isRegularFile(p) || !java.nio.file.Files.isReadable(p)) {
            throw new ShoalCli.UserError(flag + " " + p + ": no such readable file");
        }
        return p.toFile();
    }

    /** Adds "authorization: Bearer TOKEN" to every call. */
    private static ClientInterceptor bearer(String token) {
        Metadata.Key<String> key = Metadata.Key.of("authorization", Metadata.ASCII_STRING_MARSHALLER);
        return new ClientInterceptor() {
            @Override
            public <Q, R> ClientCall<Q, R> interceptCall(
                    MethodDescriptor<Q, R> method, CallOptions options, Channel next) {
                return new ForwardingClientCall.SimpleForwardingClientCall<>(next.newCall(method, options)) {
                    @Override
                    public void start(Listener<R> listener, Metadata headers) {
                        headers.put(key, "Bearer " + token);
                        super.start(listener, headers);
                    }
                };
            }
        };
    }

    /** --server, else $SHOAL_SERVER, else shoal.grpc.client-server; checked to be host:port. */
    static String serverAddress(String flag, Map<String, String> env, Config config) {
        String s;
        String from;
        if (flag != null) {
            s = flag;
            from = "--server";
        } else if (env.get(SERVER_ENV) != null && !env.get(SERVER_ENV).isBlank()) {
            s = env.get(SERVER_ENV);
            from = "$" + SERVER_ENV;
        } else {
            s = config.getString("shoal.grpc.client-server");
            from = "shoal.grpc.client-server";
        }
        s = s.strip();
        int colon = s.lastIndexOf(':');
        int port = -1;
        if (colon > 0) {
            try {
                port = Integer.parseInt(s.substring(colon + 1));
            } catch (NumberFormatException e) {
                port = -1;
            }
        }
        if (port < 1 || port > 65535) {
            throw new ShoalCli.UserError(from + " \"" + s + "\" must be host:port with a port in 1..65535");
        }
        return s;
    }

    /** A stub for one unary call, with the --timeout deadline. */
    JobServiceGrpc.JobServiceBlockingStub call() {
        return JobServiceGrpc.newBlockingStub(channel).withDeadlineAfter(timeoutSeconds, TimeUnit.SECONDS);
    }

    /** A stub for a stream that lasts as long as the job. */
    JobServiceGrpc.JobServiceBlockingStub stream() {
        return JobServiceGrpc.newBlockingStub(channel);
    }

    /** Prints one line for a failed call and returns the exit code. */
    int fail(StatusRuntimeException e, PrintWriter err) {
        Status s = e.getStatus();
        String d = s.getDescription() == null ? s.getCode().toString() : s.getDescription();
        int code;
        String line;
        switch (s.getCode()) {
            case UNAVAILABLE -> {
                code = EXIT_UNREACHABLE;
                line = s.getCause() != null
                        ? "cannot reach the Shoal server at " + server + ": " + rootMessage(s.getCause())
                                + " (is a node running there? set --server or $" + SERVER_ENV + ")"
                        : "server " + server + ": " + d;
            }
            case DEADLINE_EXCEEDED -> {
                code = EXIT_UNREACHABLE;
                line = "no answer from the Shoal server at " + server + " within " + timeoutSeconds + " s";
            }
            case INVALID_ARGUMENT -> {
                code = EXIT_USAGE;
                line = d;
            }
            case NOT_FOUND -> {
                code = EXIT_NOT_FOUND;
                line = d;
            }
            case FAILED_PRECONDITION -> {
                code = EXIT_REFUSED;
                line = d;
            }
            case UNAUTHENTICATED -> {
                code = EXIT_UNAUTHENTICATED;
                line = "the Shoal server at " + server + " refused the credentials: " + d + " (set $" + TOKEN_ENV
                        + " or --token-file)";
            }
            default -> {
                code = EXIT_FAILURE;
                line = "server " + server + " answered " + s.getCode() + ": " + d;
            }
        }
        err.println("error: " + line);
        err.flush();
        return code;
    }

    private static String rootMessage(Throwable t) {
        while (t.getCause() != null) t = t.getCause();
        return t.getMessage() == null ? t.getClass().getSimpleName() : t.getMessage();
    }

    @Override
    public void close() {
        channel.shutdownNow();
        try {
            channel.awaitTermination(2, TimeUnit.SECONDS);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }
}
