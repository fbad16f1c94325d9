// `shoal node`: runs one cluster node in this JVM until SIGTERM (or until the cluster downs it).
// Flags override HOCON (application.conf, -D); see docs/cluster.md for every key.
//
// Guarantees: prints exactly one line to stdout once the node is Up ("joined ..."); bad flags or
// config exit 2 with one line naming the key; the start-up checks are printed to stderr first and a
// FAIL among them exits 1 before joining; SIGTERM leaves the cluster gracefully (the JVM's
// shutdown hook runs Pekko's coordinated shutdown, which hands the coordinator over); a node that
// the cluster downed says so on stderr and exits 1.
package dev.shoal.cli;

import com.typesafe.config.Config;
import com.typesafe.config.ConfigFactory;
import com.typesafe.config.ConfigValueFactory;
import dev.shoal.actors.cluster.ShoalConfig;
import dev.shoal.actors.node.ShoalNode;
import dev.shoal.actors.node.StartupChecks;
import java.io.PrintWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.Callable;
import org.apache.pekko.actor.CoordinatedShutdown;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

@Command(
        name = "node",
        mixinStandardHelpOptions = true,
        description =
                "Runs a Shoal cluster node: its devices' workers, and the coordinator when it is the oldest node.")
public final class NodeCommand implements Callable<Integer> {

    @Spec
    picocli.CommandLine.Model.CommandSpec spec;

    @Option(names = "--config", paramLabel = "FILE", description = "HOCON file with shoal.* keys.")
    Path configFile;

    @Option(names = "--host", description = "Address other nodes reach this node at (shoal.node.host).")
    String host;

    @Option(names = "--port", description = "Cluster port (shoal.node.port).")
    Integer port;

    @Option(
            names = "--seeds",
            split = ",",
            paramLabel = "HOST:PORT",
            description = "Seed nodes (shoal.cluster.seed-nodes); default: $SLURM_JOB_NODELIST, else this node.")
    List<String> seeds;

    @Option(names = "--cpu-ranks", description = "CPU ranks this node offers (shoal.node.cpu-ranks).")
    Integer cpuRanks;

    @Option(names = "--journal", description = "h2 or postgres (shoal.journal.kind).")
    String journal;

    @Option(names = "--journal-dir", description = "H2 journal directory (shoal.journal.h2.dir).")
    Path journalDir;

    @Option(
            names = "--journal-url",
            description =
                    "JDBC URL of the journal: shoal.journal.postgres.url, or shoal.journal.h2.url with --journal h2.")
    String journalUrl;

    @Option(
            names = "--journal-user",
            description = "PostgreSQL user (shoal.journal.postgres.user); the password comes from"
                    + " $SHOAL_JOURNAL_PASSWORD or the config file.")
    String journalUser;

    @Option(
            names = "--grpc-port",
            description = "Port of this node's control-plane gRPC server (shoal.grpc.port); 0: any free port,"
                    + " -1: none. Default 50051.")
    Integer grpcPort;

    @Option(names = "--role", split = ",", description = "Cluster roles (shoal.node.roles); default: node.")
    List<String> roles;

    @Override
    public Integer call() {
        Config config;
        try {
            config = config();
        } catch (IllegalArgumentException e) {
            throw new ShoalCli.UserError(e.getMessage());
        }
        PrintWriter out = spec.commandLine().getOut();
        PrintWriter err = spec.commandLine().getErr();
        List<StartupChecks.Check> checks;
        try {
            checks = StartupChecks.run(config, StartupChecks.dataDirs(config), StartupChecks.thisMachine());
        } catch (IllegalArgumentException | com.typesafe.config.ConfigException e) {
            throw new ShoalCli.UserError(e.getMessage());
        }
        err.print(StartupChecks.table(checks));
        err.flush();
        if (!StartupChecks.passed(checks)) {
            err.println(
                    "error: node not started: a start-up check failed (see FAIL above; `shoal check` repeats them)");
            return 1;
        }
        ShoalNode node;
        try {
            node = ShoalNode.start(config);
        } catch (IllegalStateException e) {
            spec.commandLine().getErr().println("error: " + e.getMessage());
            return 1;
        }
        node.joined()
                .thenRun(() -> ShoalCli.printTo(
                        out,
                        "joined cluster " + config.getString("shoal.cluster.name")
                                + " as " + node.address() + " (" + node.members() + " member(s) up, "
                                + config.getInt("shoal.node.cpu-ranks") + " cpu rank(s)"
                                + (node.controlAddress() == null
                                        ? ", no control plane"
                                        : ", control plane on " + node.controlAddress())
                                + ")"));
        // SIGTERM runs Pekko's coordinated shutdown from the JVM's hook; the system then terminates.
        node.system().getWhenTerminated().toCompletableFuture().join();
        var reason = CoordinatedShutdown.get(node.system()).getShutdownReason();
        boolean asked = reason.isEmpty() || reason.get() instanceof CoordinatedShutdown.JvmExitReason$;
        if (!asked) spec.commandLine().getErr().println("node stopped: " + reason.get());
        return asked ? 0 : 1;
    }

    /** The node's config: flags over --config over application.conf/-D over reference.conf. */
    Config config() {
        Config flags = ConfigFactory.empty();
        if (host != null) flags = set(flags, "shoal.node.host", host);
        if (port != null) flags = set(flags, "shoal.node.port", port);
        if (seeds != null) flags = set(flags, "shoal.cluster.seed-nodes", seeds);
        if (cpuRanks != null) flags = set(flags, "shoal.node.cpu-ranks", cpuRanks);
        if (roles != null) flags = set(flags, "shoal.node.roles", roles);
        if (grpcPort != null) flags = set(flags, "shoal.grpc.port", grpcPort);
        if (journal != null) flags = set(flags, "shoal.journal.kind", journal);
        if (journalDir != null) flags = set(flags, "shoal.journal.h2.dir", journalDir.toString());
        String kind = journal != null ? journal : null;
        if (journalUrl != null) {
            boolean h2 = "h2".equals(kind) || (kind == null && journalUrl.startsWith("jdbc:h2:"));
            if (!h2 && kind == null) flags = set(flags, "shoal.journal.kind", "postgres");
            flags = set(flags, h2 ? "shoal.journal.h2.url" : "shoal.journal.postgres.url", journalUrl);
        }
        if (journalUser != null) flags = set(flags, "shoal.journal.postgres.user", journalUser);
        if (configFile != null) {
            if (!Files.isRegularFile(configFile)) {
                throw new IllegalArgumentException("--config " + configFile + ": no such file");
            }
            try {
                flags = flags.withFallback(ConfigFactory.parseFile(configFile.toFile()));
            } catch (com.typesafe.config.ConfigException e) {
                throw new IllegalArgumentException("--config " + configFile + ": " + e.getMessage());
            }
        }
        Config c = ShoalConfig.load(flags);
        new dev.shoal.actors.node.CpuRanks().count(c);
        ShoalConfig.journal(c);
        dev.shoal.actors.control.ControlSettings.from(c);
        return c;
    }

    private static Config set(Config c, String key, Object value) {
        return c.withValue(key, ConfigValueFactory.fromAnyRef(value));
    }
}
