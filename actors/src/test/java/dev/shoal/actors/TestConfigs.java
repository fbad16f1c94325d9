// Configs for in-process tests: a node config with the H2 journal in a given directory, or the
// PostgreSQL journal from SHOAL_TEST_PG_* variables, optionally without clustering.
package dev.shoal.actors;

import com.typesafe.config.Config;
import com.typesafe.config.ConfigFactory;
import com.typesafe.config.ConfigValueFactory;
import dev.shoal.actors.cluster.ShoalConfig;
import java.nio.file.Path;
import java.util.Map;

public final class TestConfigs {

    private TestConfigs() {}

    /** A local (non-cluster) ActorSystem config with the H2 journal under {@code dir}. */
    public static Config localH2(Path dir, String persistenceId) {
        return localH2(dir, persistenceId, "");
    }

    /** As {@link #localH2(Path, String)}, with extra HOCON on top (e.g. coordinator settings). */
    public static Config localH2(Path dir, String persistenceId, String hocon) {
        return local(ConfigFactory.parseString(hocon)
                .withValue("shoal.journal.h2.dir", ConfigValueFactory.fromAnyRef(dir.toString()))
                .withValue("shoal.coordinator.persistence-id", ConfigValueFactory.fromAnyRef(persistenceId)));
    }

    /** A local ActorSystem config with the PostgreSQL journal; null when SHOAL_TEST_PG_URL is unset. */
    public static Config localPostgres(String persistenceId, String hocon) {
        String url = System.getenv("SHOAL_TEST_PG_URL");
        if (url == null || url.isBlank()) return null;
        return local(ConfigFactory.parseString(hocon)
                .withValue("shoal.journal.kind", ConfigValueFactory.fromAnyRef("postgres"))
                .withValue("shoal.journal.postgres.url", ConfigValueFactory.fromAnyRef(url))
                .withValue("shoal.journal.postgres.user", ConfigValueFactory.fromAnyRef(env("SHOAL_TEST_PG_USER")))
                .withValue(
                        "shoal.journal.postgres.password", ConfigValueFactory.fromAnyRef(env("SHOAL_TEST_PG_PASSWORD")))
                .withValue("shoal.coordinator.persistence-id", ConfigValueFactory.fromAnyRef(persistenceId)));
    }

    private static Config local(Config overrides) {
        Config derived = ShoalConfig.derive(ShoalConfig.layered(overrides), Map.of());
        // A configured CPU peak: these tests need no measured one (NodeAgentTest measures it).
        return ConfigFactory.parseString(
                        "pekko.actor.provider = local\npekko.loglevel = WARNING\nshoal.node.cpu-peak-flops = 1e10")
                .withFallback(derived);
    }

    private static String env(String name) {
        String v = System.getenv(name);
        return v == null ? "" : v;
    }
}
