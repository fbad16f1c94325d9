// ShoalConfig: shoal.* keys become the Artery address, roles, seed nodes and journal database.
package dev.shoal.actors.cluster;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.typesafe.config.Config;
import com.typesafe.config.ConfigFactory;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

class ShoalConfigTest {

    private static Config base(String hocon) {
        return ShoalConfig.layered(ConfigFactory.parseString(hocon));
    }

    @Test
    void arteryAddressRolesAndDefaultsAreDerived() {
        Config c = ShoalConfig.derive(base("shoal.node { host = \"10.1.2.3\", port = 2600 }"), Map.of());
        assertEquals("10.1.2.3", c.getString("pekko.remote.artery.canonical.hostname"));
        assertEquals(2600, c.getInt("pekko.remote.artery.canonical.port"));
        assertEquals("tcp", c.getString("pekko.remote.artery.transport"));
        assertEquals(List.of("node"), c.getStringList("pekko.cluster.roles"));
        // No seeds, no Slurm: the node forms a cluster of its own.
        assertEquals(List.of("pekko://shoal@10.1.2.3:2600"), c.getStringList("pekko.cluster.seed-nodes"));
        assertEquals("off", c.getString("pekko.actor.allow-java-serialization"));
        assertEquals("keep-majority", c.getString("pekko.cluster.split-brain-resolver.active-strategy"));
    }

    @Test
    void explicitSeedsWinOverSlurm() {
        Config c = ShoalConfig.derive(
                base("shoal.cluster.seed-nodes = [\"h1:2552\", \"pekko://shoal@h2:2553\"]"),
                Map.of(ShoalConfig.SLURM_NODELIST_ENV, "gpu[01-02]"));
        assertEquals(
                List.of("pekko://shoal@h1:2552", "pekko://shoal@h2:2553"), c.getStringList("pekko.cluster.seed-nodes"));
    }

    @Test
    void slurmListGivesTheFirstHostsOnTheNodePort() {
        Config c = ShoalConfig.derive(
                base("shoal.node.port = 2700"), Map.of(ShoalConfig.SLURM_NODELIST_ENV, "gpu[01-04,07],login1"));
        assertEquals(
                List.of("pekko://shoal@gpu01:2700", "pekko://shoal@gpu02:2700", "pekko://shoal@gpu03:2700"),
                c.getStringList("pekko.cluster.seed-nodes"));
        Config one = ShoalConfig.derive(
                base("shoal.cluster { slurm-nodelist = \"a[5-6]\", slurm-seed-count = 1 }"), Map.of());
        assertEquals(List.of("pekko://shoal@a5:2552"), one.getStringList("pekko.cluster.seed-nodes"));
    }

    @Test
    void h2IsTheDefaultJournalInTheConfiguredDirectory(@org.junit.jupiter.api.io.TempDir Path dir) {
        Config c = ShoalConfig.derive(base("shoal.journal.h2.dir = \"" + dir + "\""), Map.of());
        String db = "pekko-persistence-jdbc.shared-databases.shoal.";
        assertEquals("slick.jdbc.H2Profile$", c.getString(db + "profile"));
        assertEquals("org.h2.Driver", c.getString(db + "db.driver"));
        assertTrue(c.getString(db + "db.url").startsWith("jdbc:h2:file:" + dir.resolve("shoal")));
        assertEquals("shoal", c.getString("jdbc-journal.use-shared-db"));
        assertEquals("jdbc-journal", c.getString("pekko.persistence.journal.plugin"));
        assertEquals(dir, ShoalConfig.h2Directory(c));
    }

    @Test
    void postgresIsChosenByConfig() {
        Config c = ShoalConfig.derive(
                base("shoal.journal { kind = postgres, postgres { url = \"jdbc:postgresql://db:5432/s\","
                        + " user = u, password = p } }"),
                Map.of());
        String db = "pekko-persistence-jdbc.shared-databases.shoal.";
        assertEquals("slick.jdbc.PostgresProfile$", c.getString(db + "profile"));
        assertEquals("org.postgresql.Driver", c.getString(db + "db.driver"));
        assertEquals("jdbc:postgresql://db:5432/s", c.getString(db + "db.url"));
        assertEquals("u", c.getString(db + "db.user"));
        assertEquals("p", c.getString(db + "db.password"));
    }

    @Test
    void badValuesNameTheKey() {
        assertError("shoal.journal.kind = mysql", "shoal.journal.kind must be h2 or postgres");
        assertError("shoal.journal.kind = postgres", "shoal.journal.postgres.url is empty");
        assertError("shoal.journal.h2.url = \"jdbc:pg:x\"", "shoal.journal.h2.url must start with jdbc:h2:");
        assertError("shoal.node.port = 70000", "shoal.node.port 70000 is outside");
        assertError("shoal.node.port = abc", "shoal.node.port must be a port number");
        assertError("shoal.cluster.seed-nodes = [\"h1\"]", "seed node \"h1\" must be host:port");
        assertError("shoal.cluster.seed-nodes = [\"h1:x\"]", "bad port \"x\"");
        assertError("shoal.cluster.seed-nodes = [\"pekko://other@h1:1\"]", "must be pekko://shoal@host:port");
        assertError("shoal.cluster.slurm-nodelist = \"g[2-1]\"", "descending range");
    }

    private static void assertError(String hocon, String expected) {
        IllegalArgumentException e =
                assertThrows(IllegalArgumentException.class, () -> ShoalConfig.derive(base(hocon), Map.of()));
        assertTrue(e.getMessage().contains(expected), () -> hocon + " -> " + e.getMessage());
    }
}
