// Mutual TLS between nodes, end to end over real sockets on 127.0.0.1: certificates come from
// deploy/tls/gen-certs.sh (two independent CAs), nodes are configured only through shoal.tls.*.
// A node with a certificate from the cluster's CA joins; a node whose certificate comes from another
// CA never becomes a member, and the cluster goes on unaffected. Tagged slow (TLS handshakes and
// membership timing take seconds).
package dev.shoal.actors.cluster;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import com.typesafe.config.Config;
import com.typesafe.config.ConfigFactory;
import dev.shoal.actors.node.FreePorts;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.function.BooleanSupplier;
import org.apache.pekko.actor.typed.ActorSystem;
import org.apache.pekko.actor.typed.javadsl.Adapter;
import org.apache.pekko.actor.typed.javadsl.Behaviors;
import org.apache.pekko.cluster.Cluster;
import org.apache.pekko.cluster.MemberStatus;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

@Tag("slow")
class TlsClusterTest {

    static final Path GEN_CERTS =
            Path.of("..", "deploy", "tls", "gen-certs.sh").toAbsolutePath().normalize();

    @TempDir
    Path dir;

    private final List<ActorSystem<Void>> systems = new ArrayList<>();

    @AfterEach
    void stop() throws Exception {
        for (ActorSystem<Void> s : systems) s.terminate();
        for (ActorSystem<Void> s : systems)
            s.getWhenTerminated().toCompletableFuture().get(30, TimeUnit.SECONDS);
    }

    @Test
    void onlyNodesWithTheClustersCertificateJoin() throws Exception {
        assumeTrue(onPath("openssl") && onPath("keytool"), "openssl and keytool are needed to make certificates");
        Path good = dir.resolve("good"), rogue = dir.resolve("rogue");
        genCerts(good, "127.0.0.1");
        genCerts(rogue, "127.0.0.1");
        String goodPw = Files.readString(good.resolve("store-password"));
        String roguePw = Files.readString(rogue.resolve("store-password"));

        int seedPort = FreePorts.pick();
        ActorSystem<Void> seed = node(seedPort, seedPort, good, good, goodPw);
        awaitTrue(() -> status(seed) == MemberStatus.up(), 20, "the seed node never came up with TLS on");

        // Same CA: joins.
        ActorSystem<Void> member = node(FreePorts.pick(), seedPort, good, good, goodPw);
        awaitTrue(() -> status(member) == MemberStatus.up(), 20, "a node with the cluster's certificate did not join");

        // A certificate from another CA, even one that trusts the cluster's CA: the seed refuses it.
        ActorSystem<Void> stranger = node(FreePorts.pick(), seedPort, rogue, good, roguePw, goodPw);
        Thread.sleep(6000);
        assertFalse(
                Cluster.get(Adapter.toClassic(stranger)).selfMember().status() == MemberStatus.up(),
                "a node with a foreign certificate became a member");
        int members = 0;
        for (var m : Cluster.get(Adapter.toClassic(seed)).state().getMembers()) members++;
        assertEquals(2, members, "the cluster should still have exactly its two members");
    }

    @Test
    void aMisconfiguredTlsNodeStopsAtStartNamingTheKey() {
        Config c = ConfigFactory.parseMap(Map.of(
                "shoal.tls.enabled",
                true,
                "shoal.tls.key-store",
                dir.resolve("missing.p12").toString(),
                "shoal.tls.trust-store",
                dir.resolve("missing.p12").toString(),
                "shoal.tls.key-store-password",
                "x",
                "shoal.tls.trust-store-password",
                "x"));
        IllegalArgumentException e = assertThrows(
                IllegalArgumentException.class, () -> ShoalConfig.derive(ShoalConfig.layered(c), Map.of()));
        assertTrue(e.getMessage().startsWith("shoal.tls.key-store "), e.getMessage());
        assertTrue(e.getMessage().contains("missing.p12"), e.getMessage());
    }

    private ActorSystem<Void> node(int port, int seedPort, Path keys, Path trust, String pw) {
        return node(port, seedPort, keys, trust, pw, pw);
    }

    private ActorSystem<Void> node(int port, int seedPort, Path keys, Path trust, String keyPw, String trustPw) {
        Config overrides = ConfigFactory.parseMap(Map.of(
                        "shoal.node.host",
                        "127.0.0.1",
                        "shoal.node.port",
                        port,
                        "shoal.cluster.seed-nodes",
                        List.of("127.0.0.1:" + seedPort),
                        "shoal.tls.enabled",
                        true,
                        "shoal.tls.key-store",
                        keys.resolve("nodes/127.0.0.1.p12").toString(),
                        "shoal.tls.trust-store",
                        trust.resolve("truststore.p12").toString(),
                        "shoal.tls.key-store-password",
                        keyPw,
                        "shoal.tls.trust-store-password",
                        trustPw))
                .withFallback(ConfigFactory.parseString("pekko.loglevel = WARNING\n"
                        + "pekko.remote.artery.advanced.stop-idle-outbound-after = 5s\n"
                        + "shoal.journal.h2.dir = \"" + dir.resolve("journal-" + port) + "\""));
        Config config = ShoalConfig.derive(ShoalConfig.layered(overrides), Map.of());
        assertEquals("tls-tcp", config.getString("pekko.remote.artery.transport"));
        ActorSystem<Void> s = ActorSystem.create(Behaviors.empty(), "shoal", config);
        systems.add(s);
        return s;
    }

    private static MemberStatus status(ActorSystem<Void> s) {
        return Cluster.get(Adapter.toClassic(s)).selfMember().status();
    }

    private static void genCerts(Path out, String host) throws IOException, InterruptedException {
        Process p = new ProcessBuilder("bash", GEN_CERTS.toString(), out.toString(), "--node", host)
                .redirectErrorStream(true)
                .start();
        String log = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        assertTrue(p.waitFor(60, TimeUnit.SECONDS), "gen-certs.sh hung");
        assertEquals(0, p.exitValue(), "gen-certs.sh failed:\n" + log);
    }

    private static boolean onPath(String tool) {
        for (String d : System.getenv().getOrDefault("PATH", "").split(":")) {
            if (Files.isExecutable(Path.of(d, tool))) return true;
        }
        return false;
    }

    private static void awaitTrue(BooleanSupplier cond, int seconds, String what) throws InterruptedException {
        long end = System.nanoTime() + TimeUnit.SECONDS.toNanos(seconds);
        while (System.nanoTime() < end) {
            if (cond.getAsBoolean()) return;
            Thread.sleep(200);
        }
        throw new AssertionError(what + " within " + seconds + " s");
    }
}
