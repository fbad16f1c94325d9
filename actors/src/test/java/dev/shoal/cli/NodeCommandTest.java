// `shoal node` flags: they override HOCON, and bad values are one-line usage errors (exit 2).
package dev.shoal.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.typesafe.config.Config;
import java.util.List;
import org.junit.jupiter.api.Test;
import picocli.CommandLine;

class NodeCommandTest {

    private static Config parse(String... args) {
        NodeCommand cmd = new NodeCommand();
        new CommandLine(cmd).parseArgs(args);
        return cmd.config();
    }

    @Test
    void flagsOverrideTheConfig() {
        Config c = parse(
                "--host",
                "10.0.0.7",
                "--port",
                "2600",
                "--seeds",
                "10.0.0.1:2600,10.0.0.2:2600",
                "--cpu-ranks",
                "2",
                "--journal-dir",
                "/tmp/j");
        assertEquals("10.0.0.7", c.getString("pekko.remote.artery.canonical.hostname"));
        assertEquals(2600, c.getInt("pekko.remote.artery.canonical.port"));
        assertEquals(
                List.of("pekko://shoal@10.0.0.1:2600", "pekko://shoal@10.0.0.2:2600"),
                c.getStringList("pekko.cluster.seed-nodes"));
        assertEquals(2, c.getInt("shoal.node.cpu-ranks"));
        assertTrue(c.getString("pekko-persistence-jdbc.shared-databases.shoal.db.url")
                .startsWith("jdbc:h2:file:/tmp/j/shoal"));
    }

    @Test
    void aPostgresUrlSelectsThePostgresJournal() {
        Config c = parse("--journal-url", "jdbc:postgresql://db:5432/shoal", "--journal-user", "shoal");
        assertEquals("postgres", c.getString("shoal.journal.kind"));
        assertEquals(
                "slick.jdbc.PostgresProfile$", c.getString("pekko-persistence-jdbc.shared-databases.shoal.profile"));
        assertEquals("shoal", c.getString("pekko-persistence-jdbc.shared-databases.shoal.db.user"));
    }

    @Test
    void badValuesAreOneLineUsageErrors() {
        ShoalCliTest.Run r = ShoalCliTest.run("node", "--port", "70000");
        assertEquals(2, r.code());
        assertEquals("error: shoal.node.port 70000 is outside 0..65535", r.err().strip());
        r = ShoalCliTest.run("node", "--cpu-ranks", "-3");
        assertEquals(2, r.code());
        assertTrue(r.err().contains("shoal.node.cpu-ranks must be in 0..1024, got -3"), r.err());
        r = ShoalCliTest.run("node", "--journal", "mysql");
        assertEquals(2, r.code());
        assertTrue(r.err().contains("shoal.journal.kind must be h2 or postgres"), r.err());
    }

    @Test
    void helpListsTheFlags() {
        ShoalCliTest.Run r = ShoalCliTest.run("node", "--help");
        assertEquals(0, r.code());
        for (String flag : List.of("--host", "--port", "--seeds", "--cpu-ranks", "--journal-dir", "--journal-url")) {
            assertTrue(r.out().contains(flag), flag);
        }
    }
}
