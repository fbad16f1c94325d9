// The CLI's side of the control plane: the --server option every job command shares, the gRPC channel
// to a node's JobService, and the mapping of gRPC failures to one line on stderr and an exit code.
//
// Exit codes of submit, status, watch and stop (docs/cluster.md):
//   0 ok · 1 other failure · 2 usage error or invalid job (file key or spec field named) ·
//   3 server unreachable or not answering · 4 the job failed · 5 no such job · 6 refused in the job's
//   current state (a job is already running; the job is not running).
// Guarantees: no stack trace for any of these; the server address comes from --server, else
// $SHOAL_SERVER, else shoal.grpc.client-server (127.0.0.1:50051 by default).
package dev.shoal.cli;

import com.typesafe.config.Config;
import com.typesafe.config.ConfigFactory;
import dev.shoal.proto.v1.JobServiceGrpc;
import io.grpc.ManagedChannel;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import io.grpc.netty.shaded.io.grpc.netty.NettyChannelBuilder;
import java.io.PrintWriter;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import picocli.CommandLine.Option;

final class ControlClient implements AutoCloseable {

    static final int EXIT_OK = 0;
    static final int EXIT_FAILURE = 1;
    static final int EXIT_USAGE = 2;
    static final int EXIT_UNREACHABLE = 3;
    static final int EXIT_JOB_FAILED = 4;
    static final int EXIT_NOT_FOUND = 5;
    static final int EXIT_REFUSED = 6;

    /** For each job command's --help. */
    static final String[] EXIT_CODES = {
        "0:ok",
        "1:other failure",
        "2:usage error, or an invalid job file or spec (the key or field is named)",
        "3:server unreachable, or the coordinator is not answering",
        "4:the job failed",
        "5:no such job",
        "6:refused in the job's current state (a job is already running; the job is not running)"
    };

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
    }

    final String server;
    final ManagedChannel channel;
    private final long timeoutSeconds;

    private ControlClient(String server, long timeoutSeconds) {
        this.server = server;
        this.timeoutSeconds = timeoutSeconds;
        // Pings every 20 s (the server permits 10 s) so that a watch notices a node that died.
        this.channel = NettyChannelBuilder.forTarget(server)
                .usePlaintext()
                .keepAliveTime(20, TimeUnit.SECONDS)
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
        return new ControlClient(serverAddress(opt.server, System.getenv(), config), opt.timeoutSeconds);
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
