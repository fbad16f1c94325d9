// Turns Shoal's own keys (shoal.node.*, shoal.cluster.*, shoal.journal.*) into the Pekko keys a node
// needs: the Artery address, the cluster roles, the seed nodes and the JDBC journal's database.
//
// Guarantees: the returned Config is resolved and has every derived key set; a bad value throws
// IllegalArgumentException naming the key and the value (callers show it as one line).
package dev.shoal.actors.cluster;

import com.typesafe.config.Config;
import com.typesafe.config.ConfigException;
import com.typesafe.config.ConfigFactory;
import com.typesafe.config.ConfigValueFactory;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

public final class ShoalConfig {

    /** The environment variable Slurm sets to the job's host list. */
    public static final String SLURM_NODELIST_ENV = "SLURM_JOB_NODELIST";

    /** Where the journal lives, as chosen by shoal.journal.* (for logs and checks). */
    public record Journal(String kind, String url, String user) {}

    private ShoalConfig() {}

    /** Shoal's settings of Pekko and JDBC-plugin keys (a classpath resource). */
    public static final String NODE_DEFAULTS = "shoal-node.conf";

    /** Flags over -D over application.conf (or -Dconfig.file) over shoal-node.conf over reference.conf, then the derived Pekko keys. */
    public static Config load(Config overrides) {
        return derive(layered(overrides), System.getenv());
    }

    /**
     * The layers without the derived keys, unresolved. shoal-node.conf sits above every reference.conf
     * so that Shoal's Pekko settings win over the libraries' defaults whatever the classpath order.
     */
    public static Config layered(Config overrides) {
        ConfigFactory.invalidateCaches();
        Config nodeDefaults = ConfigFactory.parseResources(ShoalConfig.class.getClassLoader(), NODE_DEFAULTS);
        if (nodeDefaults.isEmpty()) throw new IllegalStateException(NODE_DEFAULTS + " is missing from the classpath");
        return overrides
                .withFallback(ConfigFactory.defaultOverrides())
                .withFallback(ConfigFactory.defaultApplication())
                .withFallback(nodeDefaults)
                .withFallback(ConfigFactory.defaultReference());
    }

    /** Adds the Pekko keys derived from {@code base}'s shoal.* keys; {@code env} supplies Slurm's list. */
    public static Config derive(Config base, Map<String, String> env) {
        try {
            base = base.resolve();
            String host = base.getString("shoal.node.host");
            int port = port(base, "shoal.node.port");
            if (host.isBlank()) throw new IllegalArgumentException("shoal.node.host is empty");
            String systemName = base.getString("shoal.cluster.name");
            Map<String, Object> derived = new HashMap<>();
            derived.put("pekko.remote.artery.canonical.hostname", host);
            derived.put("pekko.remote.artery.canonical.port", port);
            derived.put("pekko.cluster.roles", base.getStringList("shoal.node.roles"));
            derived.put("pekko.cluster.seed-nodes", seedNodes(base, env, systemName, host, port));
            derived.putAll(tls(base));
            Journal journal = journal(base);
            String db = "pekko-persistence-jdbc.shared-databases.shoal.";
            int pool = base.getInt("shoal.journal.pool-size");
            if (pool < 1) throw new IllegalArgumentException("shoal.journal.pool-size must be >= 1, got " + pool);
            boolean h2 = journal.kind().equals("h2");
            derived.put(db + "profile", h2 ? "slick.jdbc.H2Profile$" : "slick.jdbc.PostgresProfile$");
            derived.put(db + "db.driver", h2 ? "org.h2.Driver" : "org.postgresql.Driver");
            derived.put(db + "db.url", journal.url());
            derived.put(db + "db.user", journal.user());
            derived.put(
                    db + "db.password",
                    base.getString(h2 ? "shoal.journal.h2.password" : "shoal.journal.postgres.password"));
            derived.put(db + "db.numThreads", pool);
            derived.put(db + "db.maxConnections", pool);
            derived.put(db + "db.minConnections", 1);
            return ConfigFactory.parseMap(derived, "derived from shoal.*")
                    .withFallback(base)
                    .resolve();
        } catch (ConfigException e) {
            throw new IllegalArgumentException(e.getMessage(), e);
        }
    }

    /**
     * Artery's mutual-TLS keys from shoal.tls.*: empty when TLS is off. Stores must exist and be
     * readable, and passwords must be set, so a misconfigured node stops at start with the key named
     * rather than failing every handshake later. Passwords are never part of a message.
     */
    static Map<String, Object> tls(Config base) {
        Map<String, Object> out = new HashMap<>();
        if (!base.getBoolean("shoal.tls.enabled")) return out;
        String engine = "pekko.remote.artery.ssl.config-ssl-engine.";
        out.put("pekko.remote.artery.transport", "tls-tcp");
        out.put(engine + "key-store", store(base, "shoal.tls.key-store"));
        out.put(engine + "trust-store", store(base, "shoal.tls.trust-store"));
        String keyPw = password(base, "shoal.tls.key-store-password");
        out.put(engine + "key-store-password", keyPw);
        out.put(engine + "key-password", keyPw);
        out.put(engine + "trust-store-password", password(base, "shoal.tls.trust-store-password"));
        out.put(engine + "require-mutual-authentication", true);
        out.put(engine + "hostname-verification", base.getBoolean("shoal.tls.hostname-verification"));
        out.put(engine + "protocol", "TLSv1.3");
        return out;
    }

    private static String store(Config base, String key) {
        String path = base.getString(key).strip();
        if (path.isEmpty()) throw new IllegalArgumentException(key + " is empty but shoal.tls.enabled is on");
        Path p = Path.of(path).toAbsolutePath().normalize();
        if (!java.nio.file.Files.isRegularFile(p) || !java.nio.file.Files.isReadable(p)) {
            throw new IllegalArgumentException(key + " " + p + " is not a readable file");
        }
        return p.toString();
    }

    private static String password(Config base, String key) {
        String pw = base.getString(key);
        if (pw.isEmpty()) {
            throw new IllegalArgumentException(
                    key + " is empty but shoal.tls.enabled is on; set SHOAL_TLS_STORE_PASSWORD or the key");
        }
        return pw;
    }

    /** The journal database that {@code config} (already derived or not) selects. */
    public static Journal journal(Config config) {
        String kind = config.getString("shoal.journal.kind").strip().toLowerCase(java.util.Locale.ROOT);
        switch (kind) {
            case "h2": {
                String url = config.getString("shoal.journal.h2.url").strip();
                if (url.isEmpty()) {
                    String dir = config.getString("shoal.journal.h2.dir").strip();
                    if (dir.isEmpty()) throw new IllegalArgumentException("shoal.journal.h2.dir is empty");
                    Path file = Path.of(dir).toAbsolutePath().normalize().resolve("shoal");
                    // The pool closes the database when the node stops; H2's own exit hook would race
                    // with Pekko's coordinated shutdown, so it is off.
                    url = "jdbc:h2:file:" + file + ";DB_CLOSE_ON_EXIT=FALSE";
                } else if (!url.startsWith("jdbc:h2:")) {
                    throw new IllegalArgumentException(
                            "shoal.journal.h2.url must start with jdbc:h2:, got \"" + url + "\"");
                }
                return new Journal("h2", url, config.getString("shoal.journal.h2.user"));
            }
            case "postgres": {
                String url = config.getString("shoal.journal.postgres.url").strip();
                if (url.isEmpty()) {
                    throw new IllegalArgumentException("shoal.journal.postgres.url is empty; set it (e.g."
                            + " jdbc:postgresql://db:5432/shoal) or use shoal.journal.kind = h2");
                }
                if (!url.startsWith("jdbc:postgresql:")) {
                    throw new IllegalArgumentException(
                            "shoal.journal.postgres.url must start with jdbc:postgresql:, got \"" + url + "\"");
                }
                return new Journal("postgres", url, config.getString("shoal.journal.postgres.user"));
            }
            default:
                throw new IllegalArgumentException("shoal.journal.kind must be h2 or postgres, got \"" + kind + "\"");
        }
    }

    /** The H2 journal directory when the journal is an H2 file, else null. */
    public static Path h2Directory(Config config) {
        Journal j = journal(config);
        if (!j.kind().equals("h2") || !config.getString("shoal.journal.h2.url").isBlank()) return null;
        return Path.of(config.getString("shoal.journal.h2.dir"))
                .toAbsolutePath()
                .normalize();
    }

    /** Seed node addresses: explicit list, else the first Slurm hosts, else this node. */
    static List<String> seedNodes(Config base, Map<String, String> env, String system, String host, int port) {
        List<String> explicit = base.getStringList("shoal.cluster.seed-nodes");
        List<String> seeds = new ArrayList<>();
        if (!explicit.isEmpty()) {
            for (String s : explicit) seeds.add(address(s.strip(), system));
            return seeds;
        }
        String slurm = base.getString("shoal.cluster.slurm-nodelist").strip();
        if (slurm.isEmpty()) slurm = env.getOrDefault(SLURM_NODELIST_ENV, "").strip();
        if (!slurm.isEmpty()) {
            List<String> hosts = SlurmNodeList.expand(slurm);
            int count = base.getInt("shoal.cluster.slurm-seed-count");
            if (count < 1) {
                throw new IllegalArgumentException("shoal.cluster.slurm-seed-count must be >= 1, got " + count);
            }
            for (String h : hosts.subList(0, Math.min(count, hosts.size()))) {
                seeds.add("pekko://" + system + "@" + h + ":" + port);
            }
            return seeds;
        }
        seeds.add("pekko://" + system + "@" + host + ":" + port);
        return seeds;
    }

    /** "host:port" or a full "pekko://system@host:port" to a full address. */
    static String address(String entry, String system) {
        String hostPort = entry;
        if (entry.startsWith("pekko://")) {
            int at = entry.indexOf('@');
            String name = at < 0 ? "" : entry.substring("pekko://".length(), at);
            if (at < 0 || !name.equals(system)) {
                throw new IllegalArgumentException("seed node \"" + entry + "\" must be pekko://" + system
                        + "@host:port (shoal.cluster.name is \"" + system + "\")");
            }
            hostPort = entry.substring(at + 1);
        }
        int colon = hostPort.lastIndexOf(':');
        if (colon <= 0 || colon == hostPort.length() - 1) {
            throw new IllegalArgumentException("seed node \"" + entry + "\" must be host:port");
        }
        String p = hostPort.substring(colon + 1);
        int port;
        try {
            port = Integer.parseInt(p);
        } catch (NumberFormatException e) {
            throw new IllegalArgumentException("seed node \"" + entry + "\" has a bad port \"" + p + "\"");
        }
        if (port < 1 || port > 65535) {
            throw new IllegalArgumentException("seed node \"" + entry + "\" has port " + port + " outside 1..65535");
        }
        return "pekko://" + system + "@" + hostPort;
    }

    private static int port(Config c, String key) {
        int port;
        try {
            port = c.getInt(key);
        } catch (ConfigException.WrongType e) {
            throw new IllegalArgumentException(
                    key + " must be a port number, got \"" + c.getValue(key).unwrapped() + "\"");
        }
        // 0 lets the OS pick (tests); a real node uses a fixed port so that seeds can reach it.
        if (port < 0 || port > 65535) throw new IllegalArgumentException(key + " " + port + " is outside 0..65535");
        return port;
    }

    /** A Config with one key, for overrides built in code (CLI flags, tests). */
    public static Config of(String key, Object value) {
        return ConfigFactory.empty().withValue(key, ConfigValueFactory.fromAnyRef(value));
    }
}
