// Generates docs/configuration.md from reference.conf: every shoal.* key with its default and the
// comment above it, grouped by section. The build checks that the committed file equals the generated
// one (ConfigReferenceTest), so the reference can never drift from the keys a node really reads.
//   regenerate: ./mvnw -q -pl actors -am compile exec:java -Dexec.mainClass=dev.shoal.actors.cluster.ConfigReference
//               (or run main with the output path as its argument)
package dev.shoal.actors.cluster;

import com.typesafe.config.Config;
import com.typesafe.config.ConfigFactory;
import com.typesafe.config.ConfigRenderOptions;
import com.typesafe.config.ConfigValue;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;

public final class ConfigReference {

    private ConfigReference() {}

    /** The Markdown reference of Shoal's own keys in reference.conf. */
    public static String markdown() {
        Config ref = ConfigFactory.parseResources(ConfigReference.class.getClassLoader(), "reference.conf");
        // Unresolved: an environment fallback like ${?SHOAL_TLS_STORE_PASSWORD} shows as its name, never
        // as this machine's value.
        Config shoal = ref.getConfig("shoal");
        Map<String, ConfigValue> keys = new TreeMap<>(ConfigReference::bySection);
        for (Map.Entry<String, ConfigValue> e : shoal.entrySet()) keys.put(e.getKey(), e.getValue());
        StringBuilder md = new StringBuilder();
        md.append("# Configuration reference\n\n");
        md.append("Generated from `actors/src/main/resources/reference.conf` by")
                .append(" `dev.shoal.actors.cluster.ConfigReference`; a test fails when this file is stale.\n")
                .append("Set keys in `conf/shoal.conf` (the distribution passes it as `-Dconfig.file`), with")
                .append(" `-Dkey=value`, or with the flags of `shoal node`. Shoal's settings of Pekko's own keys")
                .append(" are in `shoal-node.conf` (see `docs/cluster.md`).\n");
        String section = null;
        for (Map.Entry<String, ConfigValue> e : keys.entrySet()) {
            String key = e.getKey();
            String top = key.contains(".") ? key.substring(0, key.indexOf('.')) : key;
            if (!top.equals(section)) {
                section = top;
                md.append("\n## shoal.").append(top).append("\n\n| key | default | meaning |\n|---|---|---|\n");
            }
            ConfigValue v = e.getValue();
            String dflt = v.render(ConfigRenderOptions.concise()).replaceAll(",?\\$\\{\\?([A-Z_]+)\\}", " or \\$$1");
            List<String> lines = new ArrayList<>();
            for (String c : v.origin().comments()) lines.add(c.strip());
            md.append("| `shoal.")
                    .append(key)
                    .append("` | `")
                    .append(dflt.replace("|", "\\|"))
                    .append("` | ")
                    .append(String.join(" ", lines).replace("|", "\\|"))
                    .append(" |\n");
        }
        return md.toString();
    }

    private static int bySection(String a, String b) {
        return a.compareTo(b);
    }

    public static void main(String[] args) throws IOException {
        Path out = Path.of(args.length > 0 ? args[0] : "docs/configuration.md");
        Files.writeString(out, markdown(), StandardCharsets.UTF_8);
        System.out.println("wrote " + out.toAbsolutePath());
    }
}
