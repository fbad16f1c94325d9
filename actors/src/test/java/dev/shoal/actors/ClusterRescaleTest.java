// Rescale with real processes: `shoal node` JVMs with one CPU rank each train a tiny-model job with
// replicated DP (tp 1) while its mesh is re-formed mid-run, dp 2 → 3 → 2 → 3:
// 1. auto-grow (shoal.coordinator.auto-grow = on): the job starts on 2 JVMs (dp 2), a third node
//    joins, and the mesh grows to dp 3 on its own;
// 2. `shoal scale --dp 2`, then 3. `shoal scale --dp 3`, through node 0's control plane.
// Each rescale commits a checkpoint at the step boundary, re-forms the mesh under a new epoch, and
// every rank reloads that state. One cluster for all three keeps the test's JVM start-ups to three.
// The nodes run the real engine behind PacedEngineStepRunner, which only lets the test hold steps
// (a file) while it acts, so that the tiny model cannot finish before a JVM has started.
// In both, every step's tokens (the global batch) are unchanged, and every step's loss agrees with the
// uninterrupted single-process Trainer (`shoal train`) on the same spec within TOL: float reordering
// of the changed grad accumulation (6 micro-batches as 3 × 2 or 2 × 3). Prints the rescale timings
// (drain, re-mesh, reload, first step) that the Watch events report. Tagged slow: it runs in CI.
package dev.shoal.actors;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import dev.shoal.actors.coordinator.Coordinator;
import dev.shoal.actors.node.LocalCluster;
import dev.shoal.cli.ShoalCli;
import dev.shoal.proto.v1.CheckpointInfo;
import dev.shoal.proto.v1.JobSpec;
import dev.shoal.proto.v1.Parallelism;
import dev.shoal.proto.v1.Phase;
import dev.shoal.proto.v1.PhaseChange;
import dev.shoal.proto.v1.StepMetrics;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CopyOnWriteArrayList;
import org.apache.pekko.actor.typed.ActorRef;
import org.apache.pekko.actor.typed.Props;
import org.apache.pekko.actor.typed.javadsl.Behaviors;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import picocli.CommandLine;

@Tag("slow")
class ClusterRescaleTest {

    /** |cluster loss − Trainer loss| per step: float reordering of a different grad accumulation. */
    static final double TOL = 2e-5;

    static final int SEQ = 32;
    static final int GLOBAL = 6;
    static final int STEPS = 30;

    @TempDir
    Path dir;

    private LocalCluster cluster;
    private final Map<Long, StepMetrics> steps = new ConcurrentHashMap<>();
    private final List<PhaseChange> phases = new CopyOnWriteArrayList<>();

    @AfterEach
    void stop() {
        if (cluster != null) cluster.close();
    }

    /** ClusterTrainTest's job at tp 1 × dp 2, ZeRO-1 (moments resharded at every rescale), global batch 6. */
    static JobSpec spec(Path data, Path ckpt, long steps) {
        return ClusterTrainTest.spec(data, ckpt).toBuilder()
                .setSteps(steps)
                .setGlobalBatch(GLOBAL)
                .setMicroBatch(1)
                .setParallelism(
                        Parallelism.newBuilder().setTp(1).setPp(1).setDp(2).setZero1(true))
                .setCheckpointInterval(0)
                .setEvalInterval(0)
                .build();
    }

    @Test
    void autoGrowThenScaleDownAndUpMidRunKeepTheBatchAndTheLosses() throws Exception {
        Path data = ClusterTrainTest.prepare(dir);
        JobSpec spec = spec(data, dir.resolve("ckpt"), STEPS);
        Map<Long, JsonNode> ref = reference(spec);
        long t0 = System.nanoTime();
        cluster = LocalCluster.start(dir.resolve("cluster"), new int[] {1, 1}, jvmArgs(), Duration.ofSeconds(120));
        double up = (System.nanoTime() - t0) / 1e9;
        cluster.awaitStatus(s -> s.workers().size() == 2, "2 registered ranks", Duration.ofSeconds(30));
        subscribe();
        submit(spec);
        Coordinator.Status before = cluster.awaitStatus(
                s -> s.phase() == Phase.TRAINING && s.step() >= 2, "step 2", Duration.ofSeconds(60));

        // 1. Auto-grow: a third node joins; the mesh grows to dp 3 on its own.
        hold(true);
        long added = System.nanoTime();
        cluster.addNode(1, Duration.ofSeconds(120));
        double joined = (System.nanoTime() - added) / 1e9;
        cluster.awaitStatus(
                s -> s.phase() == Phase.RESCALING || !active(s), "RESCALING by auto-grow", Duration.ofSeconds(30));
        hold(false);
        Coordinator.Status three = cluster.awaitStatus(
                s -> (s.phase() == Phase.TRAINING && s.meshRanks().size() == 3) || !active(s),
                "the dp 3 mesh",
                Duration.ofSeconds(60));
        assertEquals(Phase.TRAINING, three.phase(), () -> three.message() + cluster.logTails());
        assertEquals(3, three.spec().getParallelism().getDp());
        assertTrue(three.meshEpoch() > before.meshEpoch());
        long grown = three.checkpoints().get(0).getStep() + 1;
        cluster.awaitStatus(s -> s.step() >= grown + 1 || !active(s), "two steps at dp 3", Duration.ofSeconds(60));

        // 2. `shoal scale --dp 2`: the free rank stays free (auto-grow reacts to new workers only).
        hold(true);
        long shrink = scaleWithCli(2);
        hold(false);
        cluster.awaitStatus(
                s -> (s.phase() == Phase.TRAINING && s.meshRanks().size() == 2 && s.step() >= shrink + 1) || !active(s),
                "two steps at dp 2",
                Duration.ofSeconds(60));

        // 3. `shoal scale --dp 3` again.
        hold(true);
        long regrow = scaleWithCli(3);
        hold(false);
        Coordinator.Status done = cluster.awaitStatus(s -> !active(s), "the job to end", Duration.ofSeconds(90));
        assertEquals(Phase.COMPLETED, done.phase(), () -> done.message() + cluster.logTails());
        assertEquals(STEPS, done.step());
        assertEquals(3, done.meshRanks().size());

        // One boundary checkpoint per rescale, with the shards of the mesh that wrote it.
        List<Long> ckpts =
                done.checkpoints().stream().map(CheckpointInfo::getStep).toList();
        assertEquals(List.of(grown - 1, shrink - 1, regrow - 1, (long) STEPS), ckpts);
        int[] shards = {2, 3, 2, 3};
        for (int i = 0; i < shards.length; i++) {
            Path d = Path.of(done.checkpoints().get(i).getPath());
            var manifest = dev.shoal.runtime.checkpoint.CheckpointDir.verify(d, true);
            assertEquals(shards[i], manifest.getFilesCount(), d::toString);
            assertEquals(shards[i], manifest.getMesh().getDp(), d::toString);
        }

        double worst = compare(ref, STEPS);
        List<String> rescales = timings();
        assertEquals(3, rescales.size(), () -> "three rescales: " + phases);
        assertTrue(rescales.get(0).contains("auto-grow: 3 ranks registered"), rescales.get(0));
        assertTrue(rescales.get(1).contains("requested through the control plane"), rescales.get(1));
        System.out.printf(
                "cluster rescale: tiny, tp 1, dp 2 -> 3 (auto-grow, from step %d) -> 2 (from step %d) -> 3 (from step"
                        + " %d), %d steps; the third node joined %.1f s after it started; worst |loss - Trainer|"
                        + " %.2e (tol %.0e); cluster up %.1f s; box shared with other builds%n  %s%n",
                grown, shrink, regrow, STEPS, joined, worst, TOL, up, String.join("\n  ", rescales));
    }

    private List<String> jvmArgs() {
        return List.of(
                "-Dshoal.node.engine=dev.shoal.actors.engine.PacedEngineStepRunner$Factory",
                "-Dshoal.test.hold-file=" + dir.resolve("hold"),
                "-Dshoal.test.min-step-millis=100",
                "-Dshoal.coordinator.step-timeout=120s",
                "-Dshoal.coordinator.auto-grow=on");
    }

    /** Holds (true) or releases every rank's next step. */
    private void hold(boolean on) throws java.io.IOException {
        if (on) Files.writeString(dir.resolve("hold"), "held by the test");
        else Files.deleteIfExists(dir.resolve("hold"));
    }

    /** Every step's loss within TOL of the reference, and every step trained the whole global batch. */
    private double compare(Map<Long, JsonNode> ref, long n) {
        double worst = 0;
        for (long s = 1; s <= n; s++) {
            StepMetrics m = steps.get(s);
            assertTrue(m != null, "step " + s + " was published");
            assertEquals((long) GLOBAL * SEQ, m.getTokens(), "global batch of step " + s);
            double want = ref.get(s).get("loss").asDouble();
            worst = Math.max(worst, Math.abs(m.getLoss() - want));
            assertEquals(want, m.getLoss(), TOL, "loss of step " + s);
            assertEquals(ref.get(s).get("lr").asDouble(), m.getLr(), 1e-12, "lr of step " + s);
        }
        return worst;
    }

    /** The causes of RESCALING → TRAINING and of the first step after it, one line per rescale. */
    private List<String> timings() {
        List<String> out = new java.util.ArrayList<>();
        for (int i = 0; i < phases.size(); i++) {
            PhaseChange p = phases.get(i);
            if (p.getFrom() != Phase.RESCALING || p.getTo() != Phase.TRAINING) continue;
            String first = "";
            for (int j = i + 1; j < phases.size(); j++) {
                if (phases.get(j).getFrom() == Phase.TRAINING && phases.get(j).getTo() == Phase.TRAINING) {
                    first = phases.get(j).getCause();
                    break;
                }
            }
            out.add(String.format("%s | %s (RESCALING %.2f s)", p.getCause(), first, p.getSeconds()));
        }
        return out;
    }

    /** `shoal scale --dp N` against node 0's control plane; returns the first step at the new size. */
    private long scaleWithCli(int dp) {
        CommandLine cl = ShoalCli.commandLine();
        StringWriter out = new StringWriter();
        StringWriter err = new StringWriter();
        cl.setOut(new PrintWriter(out));
        cl.setErr(new PrintWriter(err));
        int code = cl.execute("scale", "--dp", String.valueOf(dp), "--server", "127.0.0.1:" + cluster.grpcPort(0));
        assertEquals(0, code, () -> out + " / " + err);
        String line = out.toString().strip();
        String marker = "the new mesh trains from step ";
        assertTrue(line.contains(marker), line);
        return Long.parseLong(
                line.substring(line.indexOf(marker) + marker.length()).split(" ")[0]);
    }

    /** Collects every StepMetrics and PhaseChange the coordinator publishes. */
    private void subscribe() {
        ActorRef<Coordinator.Published> sub = cluster.client()
                .systemActorOf(
                        Behaviors.receive(Coordinator.Published.class)
                                .onMessage(Coordinator.Published.class, p -> {
                                    if (p.event().hasStep())
                                        steps.put(
                                                p.event().getStep().getStep(),
                                                p.event().getStep());
                                    if (p.event().hasPhase())
                                        phases.add(p.event().getPhase());
                                    return Behaviors.same();
                                })
                                .build(),
                        "rescale-test-events",
                        Props.empty());
        cluster.coordinator().tell(new Coordinator.Subscribe(sub));
    }

    /** The uninterrupted run: the single-process Trainer on the same spec; loss by step. */
    private Map<Long, JsonNode> reference(JobSpec spec) throws Exception {
        Map<Long, JsonNode> byStep = new java.util.HashMap<>();
        for (JsonNode n : ClusterTrainTest.reference(spec, dir.resolve("ref")))
            byStep.put(n.get("step").asLong(), n);
        return byStep;
    }

    private static boolean active(Coordinator.Status s) {
        return ClusterRecoveryTest.active(s);
    }

    private void submit(JobSpec spec) throws Exception {
        cluster.submit(spec);
    }
}
