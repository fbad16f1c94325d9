// `shoal submit | status | watch | stop` against a real one-node cluster over a real socket: output,
// exit codes (0 ok, 2 invalid file or spec, 3 unreachable, 4 job failed, 5 no such job, 6 refused),
// one-line errors that name the file and key or the spec field, and --help on every command.
package dev.shoal.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.typesafe.config.ConfigFactory;
import dev.shoal.actors.control.ControlTestNode;
import dev.shoal.actors.node.FreePorts;
import dev.shoal.proto.v1.Phase;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.MethodOrderer;
import org.junit.jupiter.api.Order;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestMethodOrder;
import org.junit.jupiter.api.io.TempDir;

@TestMethodOrder(MethodOrderer.OrderAnnotation.class)
class ControlCommandsTest {

    @TempDir
    static Path dir;

    static ControlTestNode cluster;

    @BeforeAll
    static void startNode() throws Exception {
        // The job files name dir/data: the coordinator's data loaders read it (the test engine does not).
        dev.shoal.actors.TestData.prepareBilingual(dir);
        cluster = ControlTestNode.start(dir.resolve("journal"), 2, 10);
    }

    @AfterAll
    static void stopNode() {
        if (cluster != null) cluster.close();
    }

    @AfterEach
    void noRunningJobAndNoFailures() throws Exception {
        cluster.engine.runners.values().forEach(r -> r.failSteps(null));
        if (cluster.status().phase() == Phase.TRAINING || cluster.status().phase() == Phase.FORMING) {
            run("stop");
        }
    }

    /** The CLI in this JVM, talking to the test node. */
    private static ShoalCliTest.Run run(String... args) {
        String[] all = new String[args.length + 2];
        System.arraycopy(args, 0, all, 0, args.length);
        all[args.length] = "--server";
        all[args.length + 1] = cluster.server;
        return ShoalCliTest.run(all);
    }

    private static Path jobFile(String name, long steps, int dp, String extra) throws IOException {
        Path f = dir.resolve(name);
        Files.writeString(
                f,
                """
                train {
                  model = tiny
                  data {
                    dir = data
                    sources = [ { name = en, language = en, weight = 3 }, { name = zh, language = zh, weight = 1 } ]
                    additional_language = zh
                  }
                  seq_len = 32
                  global_batch = 8
                  micro_batch = 2
                  steps = %d
                  lr { peak_lr = 1e-3, warmup_steps = 0 }
                  checkpoint_dir = ckpt
                  parallelism { dp = %d }
                  %s
                }
                """
                        .formatted(steps, dp, extra));
        return f;
    }

    private static void assertOneLine(String err) {
        assertEquals(1, err.strip().lines().count(), () -> "expected one line, got:\n" + err);
        assertFalse(err.contains("\tat "), err);
    }

    @Test
    @Order(1)
    void statusBeforeAnyJobIsNotFound() {
        ShoalCliTest.Run r = run("status");
        assertEquals(5, r.code(), r::toString);
        assertEquals("error: no job has been submitted to this cluster", r.err().strip());
        // The cluster table is there before any job: this node, its two CPU ranks, the coordinator.
        assertTrue(r.out().startsWith("NODE  "), r.out());
        assertTrue(
                r.out()
                        .lines()
                        .anyMatch(l -> l.contains("  up  ") && l.contains("cpu 2/2") && l.contains("coordinator")),
                r.out());
    }

    @Test
    @Order(2)
    void submitWatchRunsAJobToCompletion() throws Exception {
        // Steps wait until the watch has subscribed, so that it sees every step.
        cluster.engine.hold(true);
        Path conf = jobFile("cpt.conf", 10, 2, "");
        CompletableFuture<ShoalCliTest.Run> submit =
                CompletableFuture.supplyAsync(() -> run("submit", conf.toString(), "--watch"));
        cluster.awaitWatchSessions(1);
        cluster.engine.hold(false);
        ShoalCliTest.Run r = submit.get(60, TimeUnit.SECONDS);
        assertEquals(0, r.code(), r::toString);
        String out = r.out();
        assertTrue(out.startsWith("submitted job-"), out);
        assertTrue(out.contains("(cpt: 10 steps, tp 1 × pp 1 × dp 2) to " + cluster.server), out);
        for (int step = 1; step <= 10; step++) {
            assertTrue(
                    out.contains(
                            String.format(java.util.Locale.ROOT, "step %d/10 loss %.6f tokens/s ", step, 1.0 / step)),
                    out);
        }
        assertTrue(out.contains("eval step 10: en 0.200000, zh 0.300000"), out);
        assertTrue(out.contains("phase TRAINING -> COMPLETED after "), out);
        assertTrue(out.strip().endsWith("COMPLETED at step 10 (last checkpoint step 10): trained all 10 steps"), out);

        r = run("status");
        assertEquals(0, r.code(), r::toString);
        assertTrue(r.out().contains("phase       COMPLETED: trained all 10 steps"), r.out());
        assertTrue(r.out().contains("step        10 / 10"), r.out());
        assertTrue(r.out().contains("mesh        epoch 1, tp 1 × pp 1 × dp 2 = 2 ranks"), r.out());
        assertTrue(r.out().contains("workers     2 registered"), r.out());
        // The cluster table: this node (coordinator, 2 CPU ranks, health from its checks) and the mesh.
        String node = cluster.node.address().substring("pekko://shoal@".length());
        assertTrue(
                r.out()
                        .lines()
                        .anyMatch(l -> l.startsWith(node + "  up  ")
                                && l.contains("node,coordinator")
                                && l.contains("cpu 2/2")
                                && l.matches(".*  (ok|warn: .*)  .*")),
                r.out());
        assertTrue(r.out().contains("RANK  TP  PP  DP  WORKER"), r.out());
        assertTrue(r.out().contains("1     0   0   1   pekko://shoal@" + node + "/cpu1"), r.out());

        r = run("stop");
        assertEquals(6, r.code(), r::toString);
        assertTrue(r.err().contains("is not running (COMPLETED"), r.err());
        assertOneLine(r.err());

        r = run("status", "job-nope");
        assertEquals(5, r.code(), r::toString);
        assertTrue(r.err().startsWith("error: unknown job id 'job-nope'"), r.err());
    }

    @Test
    @Order(3)
    void aSecondSubmitIsRefusedAndStopEndsTheRunningJob() throws Exception {
        ShoalCliTest.Run r =
                run("submit", jobFile("long.conf", 1_000_000, 2, "").toString());
        assertEquals(0, r.code(), r::toString);
        String id = r.out().split(" ")[1];
        r = run("submit", jobFile("other.conf", 5, 2, "").toString());
        assertEquals(6, r.code(), r::toString);
        assertTrue(r.err().contains("stop it before submitting another"), r.err());
        r = run("stop", id);
        assertEquals(0, r.code(), r::toString);
        assertTrue(
                r.out().strip().startsWith("stopped " + id + ": COMPLETED — stopped by request after step "), r.out());
        r = run("status", id);
        assertEquals(0, r.code(), r::toString);
        assertTrue(r.out().contains("COMPLETED: stopped by request after step"), r.out());
    }

    @Test
    @Order(4)
    void aFailingJobMakesWatchAndStatusExit4() throws Exception {
        ShoalCliTest.Run r =
                run("submit", jobFile("doomed.conf", 1_000_000, 2, "").toString());
        assertEquals(0, r.code(), r::toString);
        CompletableFuture<ShoalCliTest.Run> watch = CompletableFuture.supplyAsync(() -> run("watch", "--plain"));
        cluster.awaitWatchSessions(1);
        cluster.engine.runners.values().forEach(x -> x.failSteps("disk on fire"));
        r = watch.get(60, TimeUnit.SECONDS);
        assertEquals(4, r.code(), r::toString);
        // Each failed step sends the job to RECOVERING; the same failure again and again fails it.
        assertTrue(r.out().contains("phase TRAINING -> RECOVERING after "), r.out());
        assertTrue(r.out().contains("phase TRAINING -> FAILED after "), r.out());
        assertTrue(
                r.out()
                        .strip()
                        .endsWith("(after 3 recoveries in a row without getting past step "
                                + cluster.status().step() + "; the last committed checkpoint is step 0)"),
                r.out());
        assertTrue(r.out().contains("IllegalStateException: disk on fire at step"), r.out());
        r = run("status");
        assertEquals(4, r.code(), r::toString);
        assertTrue(r.out().contains("phase       FAILED: rank "), r.out());
    }

    @Test
    @Order(5)
    void invalidFilesAndSpecsExit2NamingTheFileAndKeyOrField() throws IOException {
        Path conf = jobFile("bad-dp.conf", 10, 0, "");
        ShoalCliTest.Run r = run("submit", conf.toString());
        assertEquals(2, r.code(), r::toString);
        assertEquals(
                "error: " + conf + ": train.parallelism.dp = 0: must be a whole number >= 1",
                r.err().strip());

        conf = jobFile("bad-kind.conf", 10, 2, "optimizer { beta1 = 1.5 }");
        r = run("submit", conf.toString());
        assertEquals(2, r.code(), r::toString);
        assertEquals(
                "error: " + conf + ": train.optimizer.beta1 = 1.5: must be in [0, 1)",
                r.err().strip());

        conf = jobFile("typo.conf", 10, 2, "parallelism.dpp = 2");
        r = run("submit", conf.toString());
        assertEquals(2, r.code(), r::toString);
        assertTrue(r.err().contains(conf + ": unknown key train.parallelism.dpp (allowed under"), r.err());

        r = run("submit", dir.resolve("missing.conf").toString());
        assertEquals(2, r.code(), r::toString);
        assertEquals(
                "error: " + dir.resolve("missing.conf") + ": no such file",
                r.err().strip());

        // Valid on its own, but 3 data-parallel ranks do not fit the 2 registered: the server names it.
        r = run("submit", jobFile("wide.conf", 10, 3, "global_batch = 6").toString());
        assertEquals(2, r.code(), r::toString);
        assertTrue(
                r.err().contains("tp 1 × pp 1 × dp 3 = 3 ≠ world 2 (the registered ranks); dp 2 would fit"), r.err());
        assertOneLine(r.err());
    }

    @Test
    void anUnreachableServerIsOneLineAndExit3() {
        String nobody = "127.0.0.1:" + FreePorts.pick();
        for (List<String> args :
                List.of(List.of("status"), List.of("stop"), List.of("watch"), List.of("status", "j"))) {
            String[] a = new String[args.size() + 2];
            for (int i = 0; i < args.size(); i++) a[i] = args.get(i);
            a[args.size()] = "--server";
            a[args.size() + 1] = nobody;
            ShoalCliTest.Run r = ShoalCliTest.run(a);
            assertEquals(3, r.code(), r::toString);
            assertTrue(r.err().startsWith("error: cannot reach the Shoal server at " + nobody + ": "), r.err());
            assertOneLine(r.err());
        }
    }

    @Test
    void aServerWhoseCoordinatorDoesNotAnswerIsExit3() {
        var system = cluster.node.system();
        org.apache.pekko.actor.typed.ActorRef<dev.shoal.actors.coordinator.Coordinator.Command> silent =
                system.systemActorOf(
                        org.apache.pekko.actor.typed.javadsl.Behaviors.ignore(),
                        "silent-for-cli",
                        org.apache.pekko.actor.typed.Props.empty());
        var settings = new dev.shoal.actors.control.ControlSettings(
                "127.0.0.1", 0, java.time.Duration.ofSeconds(1), java.time.Duration.ofSeconds(1));
        try (var server = dev.shoal.actors.control.ControlServer.start(system, silent, settings)) {
            ShoalCliTest.Run r = ShoalCliTest.run("status", "--server", server.address());
            assertEquals(3, r.code(), r::toString);
            assertTrue(
                    r.err()
                            .startsWith("error: server " + server.address()
                                    + ": the coordinator did not answer within 1 s"),
                    r.err());
            assertOneLine(r.err());
        }
    }

    @Test
    @Order(6)
    void scaleRefusesNamingTheValueAndRescalesARunningJob() throws Exception {
        ShoalCliTest.Run r = run("scale", "--dp", "2");
        assertEquals(6, r.code(), r::toString);
        assertTrue(r.err().contains("no running job"), r.err());
        assertOneLine(r.err());

        // 1 of the 2 ranks trains; global batch 8 in micro-batches of 2.
        r = run("submit", jobFile("scale.conf", 100_000, 1, "").toString());
        assertEquals(0, r.code(), r::toString);
        awaitStatus(s -> s.phase() == Phase.TRAINING && s.step() >= 1);

        r = run("scale", "--dp", "3");
        assertEquals(2, r.code(), r::toString);
        assertTrue(
                r.err()
                        .contains(
                                "dp 3: global_batch 8 is not divisible by micro_batch 2 × dp 3; dp 1, 2 or 4 would work"),
                r.err());
        assertOneLine(r.err());
        r = run("scale", "--dp", "4");
        assertEquals(6, r.code(), r::toString);
        assertTrue(r.err().contains("dp 4: tp 1 × pp 1 × dp 4 = 4 ranks, but 2 are registered"), r.err());

        r = run("scale", "--dp", "2");
        assertEquals(0, r.code(), r::toString);
        assertTrue(r.out().startsWith("rescaling to dp 2: the new mesh trains from step "), r.out());
        var grown =
                awaitStatus(s -> s.phase() == Phase.TRAINING && s.meshRanks().size() == 2);
        assertEquals(2, grown.spec().getParallelism().getDp());
        assertEquals(1, grown.checkpoints().size(), "the boundary step's checkpoint");
        run("stop");
    }

    private static dev.shoal.actors.coordinator.Coordinator.Status awaitStatus(
            java.util.function.Predicate<dev.shoal.actors.coordinator.Coordinator.Status> p) throws Exception {
        long deadline = System.nanoTime() + java.time.Duration.ofSeconds(30).toNanos();
        var s = cluster.status();
        while (!p.test(s)) {
            if (System.nanoTime() > deadline) throw new AssertionError("timed out; last status " + s);
            Thread.sleep(20);
            s = cluster.status();
        }
        return s;
    }

    @Test
    void theServerAddressComesFromTheFlagThenTheEnvironmentThenTheConfig() {
        var config = ConfigFactory.parseString("shoal.grpc.client-server = \"10.0.0.9:7000\"");
        assertEquals("h:1", ControlClient.serverAddress("h:1", Map.of("SHOAL_SERVER", "e:2"), config));
        assertEquals("e:2", ControlClient.serverAddress(null, Map.of("SHOAL_SERVER", "e:2"), config));
        assertEquals("10.0.0.9:7000", ControlClient.serverAddress(null, Map.of(), config));
        assertEquals("127.0.0.1:50051", ControlClient.serverAddress(null, Map.of(), ConfigFactory.load()));
        ShoalCliTest.Run r = ShoalCliTest.run("status", "--server", "nohost");
        assertEquals(2, r.code(), r::toString);
        assertEquals(
                "error: --server \"nohost\" must be host:port with a port in 1..65535",
                r.err().strip());
    }

    @Test
    void everyCommandHasHelpWithItsExitCodes() {
        for (String cmd : List.of("submit", "status", "watch", "stop", "scale")) {
            ShoalCliTest.Run r = ShoalCliTest.run(cmd, "--help");
            assertEquals(0, r.code(), cmd);
            assertTrue(r.out().contains("Usage: shoal " + cmd), r.out());
            assertTrue(r.out().contains("--server=HOST:PORT"), r.out());
            assertTrue(r.out().contains("Exit codes:"), r.out());
            assertTrue(r.out().contains("3   server unreachable"), r.out());
        }
    }
}
