// `shoal demo`: the whole system on one machine in about a minute. Starts three `shoal node` JVMs on
// 127.0.0.1 (2 + 1 + 1 CPU ranks) around a shared H2 journal, prepares a bilingual corpus (Debian's
// English and Chinese fortunes when installed, else the project's generated corpus) with the
// byte-level tokenizer, submits a tiny-model CPT job at an ALMR with tp 2 × dp 2 to the coordinator,
// prints its progress and per-language validation losses, says where the checkpoint went, and stops
// the JVMs (also on Ctrl-C).
// The job is submitted and watched through node 0's gRPC JobService (Submit, Watch, Get,
// ListCheckpoints); this process also joins as a Pekko cluster client only to see the ranks register.
// Exit codes: 0 the job completed, 1 it failed or the cluster did not come up, 2 a bad option.
package dev.shoal.cli;

import dev.shoal.actors.coordinator.Coordinator;
import dev.shoal.actors.node.LocalCluster;
import dev.shoal.proto.v1.CheckpointInfo;
import dev.shoal.proto.v1.DataSource;
import dev.shoal.proto.v1.GetRequest;
import dev.shoal.proto.v1.JobEvent;
import dev.shoal.proto.v1.JobServiceGrpc;
import dev.shoal.proto.v1.JobSpec;
import dev.shoal.proto.v1.JobStatus;
import dev.shoal.proto.v1.ListCheckpointsRequest;
import dev.shoal.proto.v1.LrSchedule;
import dev.shoal.proto.v1.Parallelism;
import dev.shoal.proto.v1.Phase;
import dev.shoal.proto.v1.SourceLoss;
import dev.shoal.proto.v1.StepMetrics;
import dev.shoal.proto.v1.SubmitRequest;
import dev.shoal.proto.v1.WatchRequest;
import dev.shoal.runtime.data.DemoCorpus;
import dev.shoal.runtime.data.FortuneFiles;
import dev.shoal.runtime.data.Preparer;
import dev.shoal.runtime.data.SourceSpec;
import dev.shoal.runtime.train.ByteLevelTokenizer;
import dev.shoal.runtime.train.MetricsLog;
import io.grpc.ManagedChannel;
import io.grpc.ManagedChannelBuilder;
import io.grpc.StatusRuntimeException;
import java.io.IOException;
import java.io.PrintStream;
import java.io.PrintWriter;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.Callable;
import java.util.concurrent.TimeUnit;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

@Command(
        name = "demo",
        mixinStandardHelpOptions = true,
        description = {
            "Runs Shoal end to end on this machine: 3 node JVMs on 127.0.0.1 with CPU ranks, a bilingual",
            "corpus (Debian fortunes + fortunes-zh when installed, else a generated one), a tiny-model CPT",
            "job at an ALMR with tp 2 x dp 2 across the JVMs, its progress, per-language validation losses",
            "and checkpoint; then stops the JVMs.",
            ""
        })
public final class DemoCommand implements Callable<Integer> {

    @Option(names = "--dir", paramLabel = "DIR", description = "Working folder (default: shoal-demo).")
    Path dir = Path.of("shoal-demo");

    @Option(names = "--steps", paramLabel = "N", description = "Training steps (default: ${DEFAULT-VALUE}).")
    int steps = 30;

    @Option(
            names = "--almr",
            paramLabel = "R",
            description = "Share of Chinese sequences, in (0, 1) (default: ${DEFAULT-VALUE}).")
    double almr = 0.3;

    @Option(
            names = "--fortunes",
            paramLabel = "DIR",
            description = "Fortune files (default: /usr/share/games/fortunes).")
    Path fortunes = FortuneFiles.DEFAULT_DIR;

    @CommandLine.Spec
    CommandLine.Model.CommandSpec spec;

    @Override
    public Integer call() throws Exception {
        PrintWriter out = spec.commandLine().getOut();
        // This process is only a client: its own cluster chatter (joins, the shutdown) is not news.
        if (System.getProperty("shoal.log.level") == null) System.setProperty("shoal.log.level", "ERROR");
        if (steps < 1) throw new ShoalCli.UserError("--steps " + steps + " must be >= 1");
        if (!(almr > 0 && almr < 1)) throw new ShoalCli.UserError("--almr " + almr + " must be in (0, 1)");
        long t0 = System.nanoTime();
        Path work = dir.toAbsolutePath().normalize();
        Path ckpt = work.resolve("checkpoints");
        deleteTree(ckpt);
        deleteTree(work.resolve("cluster"));
        Files.createDirectories(work);

        // 1. The corpus, tokenized into shards.
        PrintStream log = new PrintStream(new WriterOut(out), true, StandardCharsets.UTF_8);
        List<SourceSpec> sources = DemoCorpus.sources(FortuneFiles.find(fortunes), work.resolve("corpus"), 0.05, log);
        Path tok = ByteLevelTokenizer.write(work.resolve("bytes.tiktoken"));
        Path data = work.resolve("data");
        Preparer.Report prep = Preparer.run(new Preparer.Config(
                tok, data, sources, Math.max(1, Runtime.getRuntime().availableProcessors()), 1 << 20, true, null));
        prep.summary().lines().forEach(l -> say(out, "data: " + l));
        say(out, "data: token shards in " + data);

        // 2. Three node JVMs: 2 + 1 + 1 CPU ranks; the coordinator runs on the first.
        say(out, "cluster: starting 3 node JVMs on 127.0.0.1 (logs in " + work.resolve("cluster") + ")");
        try (LocalCluster cluster = LocalCluster.start(
                work.resolve("cluster"),
                new int[] {2, 1, 1},
                List.of("-Dshoal.node.engine=dev.shoal.actors.engine.EngineStepRunner$Factory"),
                Duration.ofSeconds(120))) {
            Coordinator.Status s = awaitRanks(cluster, 4, Duration.ofSeconds(60));
            say(
                    out,
                    String.format(
                            "cluster: up after %.0f s, %d ranks on %d nodes",
                            secs(t0),
                            s.workers().size(),
                            s.workers().stream()
                                    .map(w -> w.info().node())
                                    .distinct()
                                    .count()));

            // 3. The job, through node 0's gRPC control API.
            ManagedChannel channel = ManagedChannelBuilder.forAddress("127.0.0.1", cluster.grpcPort(0))
                    .usePlaintext()
                    .build();
            try {
                var stub = JobServiceGrpc.newBlockingStub(channel);
                JobSpec job = job(data, ckpt);
                String jobId;
                try {
                    jobId = stub.withDeadlineAfter(30, TimeUnit.SECONDS)
                            .submit(SubmitRequest.newBuilder().setSpec(job).build())
                            .getJobId();
                } catch (StatusRuntimeException e) {
                    say(out, "error: the job was refused: " + e.getStatus().getDescription());
                    return 1;
                }
                say(
                        out,
                        String.format(
                                Locale.ROOT,
                                "job %s (gRPC 127.0.0.1:%d): tiny Llama, ALMR %.2f (zh) / %.2f (en), tp 2 x dp 2 (ZeRO-1),"
                                        + " %d steps of %d x %d tokens",
                                jobId,
                                cluster.grpcPort(0),
                                almr,
                                1 - almr,
                                steps,
                                job.getGlobalBatch(),
                                job.getSeqLen()));

                // 4. Watch it to the end.
                StepMetrics last = watch(stub, jobId, out);
                JobStatus end = stub.withDeadlineAfter(30, TimeUnit.SECONDS)
                        .get(GetRequest.newBuilder().setJobId(jobId).build());
                if (end.getPhase() != Phase.COMPLETED) {
                    say(out, "error: the job did not complete: " + end.getPhase() + " (" + end.getMessage() + ")");
                    say(out, cluster.logTails());
                    return 1;
                }
                var checkpoints = stub.withDeadlineAfter(30, TimeUnit.SECONDS)
                        .listCheckpoints(ListCheckpointsRequest.newBuilder()
                                .setJobId(jobId)
                                .build())
                        .getCheckpointsList();
                report(out, last, checkpoints, ckpt);
            } finally {
                channel.shutdownNow();
            }
        }
        say(out, String.format("demo: done in %.0f s; the node JVMs are stopped", secs(t0)));
        return 0;
    }

    private JobSpec job(Path data, Path ckpt) {
        return JobSpec.newBuilder()
                .setName("demo-cpt")
                .setModel("tiny")
                .addSources(DataSource.newBuilder()
                        .setName("en")
                        .setLanguage("en")
                        .setPath(data.toString())
                        .setWeight(1 - almr))
                .addSources(DataSource.newBuilder()
                        .setName("zh")
                        .setLanguage("zh")
                        .setPath(data.toString())
                        .setWeight(almr)
                        .setAdditional(true))
                .setSeqLen(64)
                .setGlobalBatch(8)
                .setMicroBatch(2)
                .setSteps(steps)
                .setSeed(1)
                .setLr(LrSchedule.newBuilder()
                        .setKind(LrSchedule.Kind.COSINE)
                        .setPeakLr(3e-3)
                        .setMinLr(3e-4)
                        .setWarmupSteps(Math.max(1, steps / 10)))
                .setParallelism(
                        Parallelism.newBuilder().setTp(2).setPp(1).setDp(2).setZero1(true))
                .setEvalInterval(Math.max(1, steps / 3))
                .setCheckpointInterval(Math.max(1, steps / 2))
                .setCheckpointDir(ckpt.toString())
                .build();
    }

    private static Coordinator.Status awaitRanks(LocalCluster cluster, int ranks, Duration timeout) {
        long deadline = System.nanoTime() + timeout.toNanos();
        Coordinator.Status s = null;
        while (System.nanoTime() < deadline) {
            s = cluster.status(Duration.ofSeconds(2));
            if (s != null && s.workers().size() >= ranks) return s;
            sleep(200);
        }
        throw new IllegalStateException("only " + (s == null ? 0 : s.workers().size()) + " of " + ranks
                + " ranks registered within " + timeout.toSeconds() + " s" + cluster.logTails());
    }

    /** Prints the job's events (Watch stream) until it ends; returns the last step's metrics. */
    private static StepMetrics watch(JobServiceGrpc.JobServiceBlockingStub stub, String jobId, PrintWriter out) {
        StepMetrics last = null;
        var events = stub.withDeadlineAfter(30, TimeUnit.MINUTES)
                .watch(WatchRequest.newBuilder().setJobId(jobId).build());
        while (events.hasNext()) {
            JobEvent e = events.next();
            if (e.hasStep()) {
                StepMetrics m = e.getStep();
                StringBuilder line = new StringBuilder(String.format(
                        Locale.ROOT,
                        "step %3d  loss %.4f  grad norm %.3f  lr %.2e  %.2f s  %.0f tok/s",
                        m.getStep(),
                        m.getLoss(),
                        m.getGradNorm(),
                        m.getLr(),
                        m.getStepSeconds(),
                        m.getTokensPerSecond()));
                for (SourceLoss l : m.getValidationList()) {
                    line.append(String.format(Locale.ROOT, "  val %s %.4f", l.getSource(), l.getLoss()));
                }
                say(out, line.toString());
                last = m;
            } else if (e.hasPhase()) {
                say(
                        out,
                        String.format(
                                Locale.ROOT,
                                "phase: %s -> %s after %.1f s (%s)",
                                e.getPhase().getFrom(),
                                e.getPhase().getTo(),
                                e.getPhase().getSeconds(),
                                e.getPhase().getCause()));
            } else if (e.hasCheckpoint()) {
                say(out, "checkpoint committed: step " + e.getCheckpoint().getStep());
            }
        }
        return last;
    }

    /** Per-language validation before and after, and the committed checkpoints. */
    private static void report(PrintWriter out, StepMetrics last, List<CheckpointInfo> checkpoints, Path ckpt)
            throws IOException {
        var before = MetricsLog.read(ckpt.resolve("metrics.jsonl")).get(0).get("val_loss");
        say(out, "validation loss per language (held-out text, before -> after training):");
        for (SourceLoss l : last == null ? List.<SourceLoss>of() : last.getValidationList()) {
            double b = before != null && before.has(l.getSource())
                    ? before.get(l.getSource()).asDouble()
                    : Double.NaN;
            say(out, String.format(Locale.ROOT, "  %-3s %.4f -> %.4f", l.getSource(), b, l.getLoss()));
        }
        for (CheckpointInfo c : checkpoints) {
            say(
                    out,
                    String.format(
                            Locale.ROOT,
                            "checkpoint: step %d -> %s (%.1f MB, 4 rank shards, committed in mesh epoch %d)",
                            c.getStep(),
                            c.getPath(),
                            c.getBytes() / 1e6,
                            c.getMeshEpoch()));
        }
        say(out, "metrics: " + ckpt.resolve("metrics.jsonl"));
    }

    private static void say(PrintWriter out, String line) {
        out.println(line);
        out.flush();
    }

    private static double secs(long t0) {
        return (System.nanoTime() - t0) / 1e9;
    }

    private static void sleep(long ms) {
        try {
            Thread.sleep(ms);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException("interrupted");
        }
    }

    private static void deleteTree(Path p) throws IOException {
        if (!Files.exists(p)) return;
        try (var s = Files.walk(p)) {
            for (Path x : s.sorted(java.util.Comparator.reverseOrder()).toList()) Files.delete(x);
        }
    }

    /** Lets DemoCorpus's PrintStream write through the command's writer. */
    private static final class WriterOut extends java.io.OutputStream {
        private final PrintWriter w;
        private final java.io.ByteArrayOutputStream buf = new java.io.ByteArrayOutputStream();

        WriterOut(PrintWriter w) {
            this.w = w;
        }

        @Override
        public void write(int b) {
            if (b == '\n') flushLine();
            else buf.write(b);
        }

        @Override
        public void flush() {
            if (buf.size() > 0) flushLine();
        }

        private void flushLine() {
            w.println(buf.toString(StandardCharsets.UTF_8));
            w.flush();
            buf.reset();
        }
    }
}
