// `shoal sweep --config sweep.conf [--out DIR] [--cluster[=HOST:PORT]]`: runs an ALMR × LR (× token budget)
// grid, one training job per point, into DIR (default: a folder named after the sweep next to its config):
// sequentially in this process (LocalPointExecutor), or with --cluster as cluster jobs, several at once
// (ClusterPointExecutor; the same TLS and token options as `shoal submit`). Resumable: finished points are skipped, a
// half-run point resumes from its
// newest checkpoint. One progress bar over the whole grid on stderr; one line per finished point on stdout.
// Exit codes: 0 every point ran (diverged points are recorded and listed; see --retry-failed), 1 a runtime
// failure (disk), 2 a user mistake (bad grid value or key, a point folder of another job), one line.
package dev.shoal.cli;

import dev.shoal.runtime.hf.HfFormatException;
import dev.shoal.runtime.sweep.LocalPointExecutor;
import dev.shoal.runtime.sweep.SweepConfig;
import dev.shoal.runtime.sweep.SweepConfigException;
import dev.shoal.runtime.sweep.SweepPoint;
import dev.shoal.runtime.sweep.SweepRunner;
import dev.shoal.runtime.train.JobConfigException;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.OutputStream;
import java.io.PrintStream;
import java.io.PrintWriter;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.Locale;
import java.util.concurrent.Callable;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

@Command(
        name = "sweep",
        mixinStandardHelpOptions = true,
        description = {
            "Runs an ALMR × peak-LR grid (optionally × token budgets) of a base training job, one point after",
            "another (or, with --cluster, as concurrent cluster jobs), recording each point's per-source validation loss curves in DIR/points/<id>/. Rerun the same",
            "command to resume: finished points are skipped, a half-run point continues from its checkpoint.",
            "Then `shoal fit --sweep DIR` fits the laws and writes the report. See docs/sweep.md.",
            ""
        })
public final class SweepCommand implements Callable<Integer> {

    @Option(
            names = "--config",
            required = true,
            paramLabel = "FILE",
            description = "HOCON sweep config (sweep { ... }).")
    Path config;

    @Option(names = "--out", paramLabel = "DIR", description = "Output folder (default: <config folder>/<sweep name>).")
    Path out;

    @Option(names = "--retry-failed", description = "Run points whose earlier run diverged again.")
    boolean retryFailed;

    @Option(names = "--dry-run", description = "List the points and their state; run nothing.")
    boolean dryRun;

    @Option(names = "--quiet", description = "No progress bar.")
    boolean quiet;

    @Option(
            names = "--cluster",
            arity = "0..1",
            fallbackValue = "",
            paramLabel = "HOST:PORT",
            description = "Run the points as jobs on the cluster whose control plane is at HOST:PORT (default:"
                    + " --server, $SHOAL_SERVER, shoal.grpc.client-server), as many at once as it has job slots"
                    + " and free ranks. The nodes must see the sweep folder and the data at the same paths.")
    String cluster;

    @Option(
            names = "--max-parallel",
            paramLabel = "N",
            defaultValue = "16",
            description = "With --cluster: at most N points submitted at once. Default: ${DEFAULT-VALUE}.")
    int maxParallel;

    @Option(
            names = "--tp",
            paramLabel = "N",
            defaultValue = "1",
            description = "With --cluster: tensor parallel size of each point's job.")
    int tp;

    @Option(
            names = "--pp",
            paramLabel = "N",
            defaultValue = "1",
            description = "With --cluster: pipeline stages of each point's job.")
    int pp;

    @Option(
            names = "--dp",
            paramLabel = "N",
            defaultValue = "1",
            description = "With --cluster: data parallel replicas of each point's job.")
    int dp;

    @CommandLine.Mixin
    ControlClient.ServerOption server;

    @CommandLine.Spec
    CommandLine.Model.CommandSpec spec;

    @Override
    public Integer call() {
        PrintWriter o = spec.commandLine().getOut();
        try {
            SweepConfig c = SweepConfig.load(config);
            Path dir = out != null ? out : config.toAbsolutePath().getParent().resolve(c.name());
            if (dryRun) {
                for (SweepPoint p : c.points()) {
                    Path pd = SweepRunner.pointDir(dir, p);
                    String state = java.nio.file.Files.exists(pd.resolve("done.json"))
                            ? "done"
                            : java.nio.file.Files.exists(pd.resolve("failed.json"))
                                    ? "failed"
                                    : java.nio.file.Files.exists(pd.resolve("point.json")) ? "started" : "to run";
                    o.printf(Locale.ROOT, "%-32s %s%n", p.id(), state);
                }
                o.flush();
                return 0;
            }
            PrintStream notes = new PrintStream(new WriterStream(o), true, StandardCharsets.UTF_8);
            PrintStream err = quiet
                    ? null
                    : new PrintStream(new WriterStream(spec.commandLine().getErr()), true, StandardCharsets.UTF_8);
            o.printf(
                    Locale.ROOT,
                    "sweep %s: %d points into %s%n",
                    c.name(),
                    c.points().size(),
                    dir);
            o.flush();
            SweepRunner.Summary s;
            if (cluster == null) {
                s = new SweepRunner(c, dir, new LocalPointExecutor()).run(notes, err, retryFailed);
            } else {
                if (maxParallel < 1) throw new ShoalCli.UserError("--max-parallel " + maxParallel + " must be >= 1");
                if (tp < 1 || pp < 1 || dp < 1) {
                    throw new ShoalCli.UserError("--tp " + tp + " --pp " + pp + " --dp " + dp + ": each must be >= 1");
                }
                if (!cluster.isEmpty()) server.server = cluster;
                var par = dev.shoal.proto.v1.Parallelism.newBuilder()
                        .setTp(tp)
                        .setPp(pp)
                        .setDp(dp)
                        .build();
                try (ControlClient client = ControlClient.connect(server)) {
                    o.printf(
                            Locale.ROOT,
                            "running the points as cluster jobs on %s (tp %d × pp %d × dp %d each)%n",
                            client.server,
                            tp,
                            pp,
                            dp);
                    o.flush();
                    s = new SweepRunner(
                                    c,
                                    dir,
                                    new ClusterPointExecutor(
                                            client, par, maxParallel, java.time.Duration.ofMillis(250)))
                            .run(notes, err, retryFailed);
                }
            }
            o.printf(
                    Locale.ROOT,
                    "ran %d, skipped %d (done before), diverged %d%s in %.1fs%nnext: shoal fit --sweep %s%n",
                    s.ran(),
                    s.skipped(),
                    s.failed().size(),
                    s.failed().isEmpty() ? "" : " " + s.failed(),
                    s.seconds(),
                    dir);
            o.flush();
            return 0;
        } catch (SweepConfigException | JobConfigException | HfFormatException e) {
            throw new ShoalCli.UserError(e.getMessage());
        } catch (IOException e) {
            spec.commandLine().getErr().println("error: " + e.getMessage());
            spec.commandLine().getErr().flush();
            return 1;
        }
    }

    /** Adapts one of picocli's PrintWriters to a PrintStream. */
    static final class WriterStream extends OutputStream {
        private final PrintWriter w;
        private final ByteArrayOutputStream pending = new ByteArrayOutputStream();

        WriterStream(PrintWriter w) {
            this.w = w;
        }

        @Override
        public synchronized void write(int b) {
            pending.write(b);
        }

        @Override
        public synchronized void flush() {
            w.print(pending.toString(StandardCharsets.UTF_8));
            w.flush();
            pending.reset();
        }
    }
}
