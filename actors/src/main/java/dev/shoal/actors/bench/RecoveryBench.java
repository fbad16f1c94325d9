// Recovery benchmark (issue 8): a local 3-node cluster (LocalCluster: 2 + 1 + 1 CPU ranks, tiny Llama,
// tp 2 × dp 2 ZeRO-1, checkpoint every 4 steps in the sharded format) trains; once a checkpoint is
// committed, node 2's JVM is killed with SIGKILL. Three scenarios, each on a fresh cluster:
//   restart   the node is started again at once; the full mesh re-forms (recovery-grace 60 s);
//   shrink    no restart; after recovery-grace (1 s) the job re-forms on the TP pair left (dp 1);
//   restart-grow  the node is started again at once, but the job does not wait for it: after
//             recovery-grace (1 s) it re-forms at dp 1, and auto-grow takes it back to dp 2 once the node
//             has rejoined (the DLRover-style policy: recovery time is the shrink's; the grow-back is a
//             rescale at a step boundary, timed from the kill too). It trains 200 steps, so the job is
//             still running when the node is back;
//   peer      as shrink, but durable checkpoints every 8 steps and in-memory peer copies every 2,
//             killed after step 11: the new mesh loads the newer peer copies (reshards from memory).
// Prints one row per scenario: detection (kill → RECOVERING seen by this client), re-mesh (detection →
// mesh chosen, by the coordinator's clock; includes waiting for the restarted node or the grace),
// reload (every rank joined and loaded the checkpoint), first step (mesh formed → first step done) and
// total (kill → first step done, this client's clock), the new layout and the state's source (durable
// checkpoint or peer copies, with the coordinator's reason); and the async-save stall: the extra wall time of
// the steps that save a checkpoint over those that do not, and the time rank 0's save() call held its
// step (the host snapshot, from its log), each as a fraction of the step time.
//
//   java -cp <actors classpath> dev.shoal.actors.bench.RecoveryBench [--dir DIR] [--steps N]
//        [--scenarios restart,shrink,peer]
package dev.shoal.actors.bench;

import dev.shoal.actors.coordinator.Coordinator;
import dev.shoal.actors.node.LocalCluster;
import dev.shoal.proto.v1.JobEvent;
import dev.shoal.proto.v1.JobSpec;
import dev.shoal.proto.v1.Phase;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.apache.pekko.actor.typed.ActorRef;
import org.apache.pekko.actor.typed.Props;
import org.apache.pekko.actor.typed.javadsl.Behaviors;

public final class RecoveryBench {
    private RecoveryBench() {}

    private static final Pattern FORMED = Pattern.compile("re-mesh ([0-9.]+) s after detection, reload ([0-9.]+) s");
    private static final Pattern STALL = Pattern.compile("save\\(\\) held the step ([0-9.]+) ms");
    private static final Pattern PEER_COPY = Pattern.compile(
            "peer copy of step \\d+ \\((\\d+) bytes\\).*snapshot held the step ([0-9.]+) ms,\\s+sealed and sent in ([0-9.]+) ms");
    private static final Pattern FIRST = Pattern.compile("finished ([0-9.]+) s after the mesh formed");

    /** An event as this client received it, with its arrival time. */
    private record Seen(long nanos, JobEvent event) {}

    /** One scenario's row. */
    private record Row(
            String scenario,
            double detect,
            double remesh,
            double reload,
            double firstStep,
            double total,
            double stepSeconds,
            double saveStepSeconds,
            double stallSeconds,
            String layout,
            String source,
            String peerCopies) {}

    public static void main(String[] args) throws Exception {
        Path dir = Path.of("/tmp/shoal-recovery-bench");
        int steps = 24;
        List<String> scenarios = List.of("restart", "shrink", "peer", "restart-grow");
        for (int i = 0; i < args.length; i++) {
            switch (args[i]) {
                case "--dir" -> dir = Path.of(args[++i]);
                case "--steps" -> steps = Integer.parseInt(args[++i]);
                case "--scenarios" -> scenarios = List.of(args[++i].split(","));
                default ->
                    throw new IllegalArgumentException(
                            "unknown argument " + args[i]
                                    + " (usage: RecoveryBench [--dir DIR] [--steps N] [--scenarios restart,shrink,peer,restart-grow])");
            }
        }
        if (System.getProperty("shoal.log.level") == null) System.setProperty("shoal.log.level", "ERROR");
        Files.createDirectories(dir);
        Path data = prepare(dir);
        List<Row> rows = new ArrayList<>();
        for (String sc : scenarios) {
            if (!List.of("restart", "shrink", "peer", "restart-grow").contains(sc)) {
                throw new IllegalArgumentException("scenario " + sc + ": restart, shrink, peer or restart-grow");
            }
            rows.add(run(dir.resolve(sc), data, steps, sc));
        }
        System.out.printf(
                "%nrecovery from kill -9 of node 2 (1 of 4 ranks), tiny Llama, tp 2 x dp 2 ZeRO-1 over 3 JVMs,"
                        + " checkpoint every 4 steps (peer: every 8, peer copies every 2); seconds (goal: total <= 5 s)%n");
        System.out.println("| scenario | detection | re-mesh | reload | first step | total | new mesh | state from |");
        System.out.println("|---|---|---|---|---|---|---|---|");
        for (Row r : rows) {
            System.out.printf(
                    Locale.ROOT,
                    "| %s | %.2f | %.2f | %.2f | %.2f | %.2f | %s | %s |%n",
                    r.scenario(),
                    r.detect(),
                    r.remesh(),
                    r.reload(),
                    r.firstStep(),
                    r.total(),
                    r.layout(),
                    r.source());
        }
        System.out.println();
        System.out.println("| scenario | step time, no save | step time, async save | extra wall time per save |"
                + " save() call on rank 0 (snapshot) |");
        System.out.println("|---|---|---|---|---|");
        for (Row r : rows) {
            System.out.printf(
                    Locale.ROOT,
                    "| %s | %.3f s | %.3f s | %.3f s (%.1f %% of a step) | %.4f s (%.2f %% of a step) |%n",
                    r.scenario(),
                    r.stepSeconds(),
                    r.saveStepSeconds(),
                    r.saveStepSeconds() - r.stepSeconds(),
                    100 * (r.saveStepSeconds() - r.stepSeconds()) / r.stepSeconds(),
                    r.stallSeconds(),
                    100 * r.stallSeconds() / r.stepSeconds());
        }
        for (Row r : rows) {
            if (!r.peerCopies().isEmpty())
                System.out.printf("%s: in-memory peer copies on rank 0: %s%n", r.scenario(), r.peerCopies());
        }
        System.out.printf("load average %.1f at the end%n", loadAverage());
    }

    private static Row run(Path dir, Path data, int steps, String name) throws Exception {
        boolean grow = name.equals("restart-grow");
        boolean restart = name.equals("restart") || grow, peer = name.equals("peer");
        if (grow) steps = Math.max(steps, 200); // still training when the restarted node is back
        int every = peer ? 8 : 4; // durable checkpoint interval
        System.out.printf("%s: starting 3 node JVMs (logs in %s)%n", name, dir.resolve("cluster"));
        try (LocalCluster cluster = LocalCluster.start(
                dir.resolve("cluster"),
                new int[] {2, 1, 1},
                List.of(
                        "-Dshoal.node.engine=dev.shoal.actors.engine.EngineStepRunner$Factory",
                        "-Dshoal.coordinator.recovery-grace=" + (restart && !grow ? "60s" : "1s"),
                        "-Dshoal.coordinator.auto-grow=" + (grow ? "on" : "off"),
                        "-Dshoal.coordinator.step-timeout=30s"),
                Duration.ofSeconds(120))) {
            cluster.awaitStatus(s -> s.workers().size() == 4, "4 registered ranks", Duration.ofSeconds(60));
            LinkedBlockingQueue<Seen> events = new LinkedBlockingQueue<>();
            ActorRef<Coordinator.Published> sub = cluster.client()
                    .systemActorOf(
                            Behaviors.receive(Coordinator.Published.class)
                                    .onMessage(Coordinator.Published.class, p -> {
                                        events.add(new Seen(System.nanoTime(), p.event()));
                                        return Behaviors.same();
                                    })
                                    .build(),
                            "recovery-bench-" + name,
                            Props.empty());
            cluster.coordinator().tell(new Coordinator.Subscribe(sub));
            Path ckpt = dir.resolve("ckpt");
            JobSpec spec = TinyClusterJob.spec("recovery-bench", data, ckpt, steps, 0, every).toBuilder()
                    .setPeerCopyEvery(peer ? 2 : 0)
                    .build();
            cluster.submit(spec);
            long killAfter = peer ? 11 : 9;
            cluster.awaitStatus(
                    s -> s.phase() == Phase.TRAINING && !s.checkpoints().isEmpty() && s.step() >= killAfter,
                    "a committed checkpoint and step " + killAfter,
                    Duration.ofSeconds(120));
            long killed = System.nanoTime();
            cluster.kill(2);
            if (restart) cluster.restart(2, Duration.ofSeconds(120));
            Coordinator.Status end = cluster.awaitStatus(
                    s -> s.phase() == Phase.COMPLETED || s.phase() == Phase.FAILED,
                    "the job to end",
                    Duration.ofSeconds(180));
            if (end.phase() != Phase.COMPLETED) {
                throw new IllegalStateException(name + ": the job " + end.phase() + ": " + end.message());
            }
            // Timings from the events: detection and total by this client's clock, the rest the coordinator's.
            double detect = Double.NaN, remesh = Double.NaN, reload = Double.NaN, first = Double.NaN;
            double total = Double.NaN, grown = Double.NaN;
            String layout = "", source = "";
            double plain = 0, saving = 0;
            int nPlain = 0, nSaving = 0;
            for (Seen e : events) {
                JobEvent ev = e.event();
                double at = (e.nanos() - killed) / 1e9;
                if (ev.hasPhase()) {
                    var p = ev.getPhase();
                    if (p.getTo() == Phase.RECOVERING && Double.isNaN(detect) && at > 0) detect = at;
                    Matcher f = FORMED.matcher(p.getCause());
                    if (p.getFrom() == Phase.RECOVERING && p.getTo() == Phase.TRAINING && f.find()) {
                        remesh = Double.parseDouble(f.group(1));
                        reload = Double.parseDouble(f.group(2));
                        int on = p.getCause().lastIndexOf(" on ");
                        layout = on < 0 ? "" : p.getCause().substring(on + 4);
                        int semi = layout.indexOf("; ");
                        if (semi >= 0) {
                            source = layout.substring(semi + 2).replaceFirst("^state from the ", "");
                            layout = layout.substring(0, semi);
                        }
                    }
                    Matcher g = FIRST.matcher(p.getCause());
                    if (p.getFrom() == Phase.RESCALING
                            && p.getTo() == Phase.TRAINING
                            && at > 0
                            && Double.isNaN(grown)) {
                        grown = at;
                    }
                    if (p.getFrom() == Phase.TRAINING
                            && p.getTo() == Phase.TRAINING
                            && Double.isNaN(first)
                            && at > 0
                            && g.find()) {
                        first = Double.parseDouble(g.group(1));
                        total = at;
                    }
                } else if (ev.hasStep() && at < 0 && ev.getStep().getStep() > 1) {
                    // Before the kill: steps that save (every 4th) against those that do not.
                    double sec = ev.getStep().getStepSeconds();
                    if (ev.getStep().getStep() % every == 0) {
                        saving += sec;
                        nSaving++;
                    } else {
                        plain += sec;
                        nPlain++;
                    }
                }
            }
            System.out.printf(
                    Locale.ROOT,
                    "%s: detection %.2f s, re-mesh %.2f s, reload %.2f s, first step %.2f s, total %.2f s (%s; %s)%n",
                    name,
                    detect,
                    remesh,
                    reload,
                    first,
                    total,
                    layout,
                    source);
            if (grow) {
                System.out.printf(
                        Locale.ROOT,
                        "%s: auto-grow back to the full mesh formed %.2f s after the kill (%s)%n",
                        name,
                        grown,
                        Double.isNaN(grown) ? "never: the job ended first" : "a rescale at a step boundary");
            }
            // Rank 0 logs how long each save() held its step (the host snapshot).
            double stall = 0, copyStall = 0, copySend = 0;
            int nStall = 0, nCopies = 0;
            long copyBytes = 0;
            for (Path log : cluster.logs()) {
                if (!Files.isRegularFile(log)) continue;
                String text = Files.readString(log);
                Matcher m = STALL.matcher(text);
                while (m.find()) {
                    stall += Double.parseDouble(m.group(1)) / 1e3;
                    nStall++;
                }
                Matcher c = PEER_COPY.matcher(text);
                while (c.find()) {
                    copyBytes = Long.parseLong(c.group(1));
                    copyStall += Double.parseDouble(c.group(2)) / 1e3;
                    copySend += Double.parseDouble(c.group(3)) / 1e3;
                    nCopies++;
                }
            }
            String peerCopies = nCopies == 0
                    ? ""
                    : String.format(
                            Locale.ROOT,
                            "%d copies of %d bytes, snapshot held the step %.4f s (%.2f %% of a step), CRC and send %.4f s"
                                    + " (background), on average",
                            nCopies,
                            copyBytes,
                            copyStall / nCopies,
                            100 * copyStall / nCopies / (plain / Math.max(1, nPlain)),
                            copySend / nCopies);
            return new Row(
                    name,
                    detect,
                    remesh,
                    reload,
                    first,
                    total,
                    plain / Math.max(1, nPlain),
                    saving / Math.max(1, nSaving),
                    stall / Math.max(1, nStall),
                    layout,
                    source,
                    peerCopies);
        }
    }

    /** The synthetic bilingual corpus (300 documents per source), prepared once per --dir. */
    private static Path prepare(Path dir) throws Exception {
        Path data = dir.resolve("data");
        if (Files.isRegularFile(data.resolve("manifest.json"))) return data;
        return TinyClusterJob.prepare(dir, 300);
    }

    private static double loadAverage() {
        return java.lang.management.ManagementFactory.getOperatingSystemMXBean().getSystemLoadAverage();
    }
}
