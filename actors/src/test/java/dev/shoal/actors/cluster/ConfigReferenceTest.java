// docs/configuration.md is exactly what ConfigReference generates from reference.conf.
package dev.shoal.actors.cluster;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;

class ConfigReferenceTest {

    @Test
    void theCommittedReferenceIsCurrent() throws Exception {
        Path doc = Path.of("..", "docs", "configuration.md");
        assertTrue(Files.isRegularFile(doc), "docs/configuration.md is missing");
        assertEquals(
                ConfigReference.markdown(),
                Files.readString(doc),
                "docs/configuration.md is stale: regenerate it with"
                        + " `java -cp ... dev.shoal.actors.cluster.ConfigReference docs/configuration.md`"
                        + " (see the class header)");
    }

    @Test
    void everyKeyIsDocumented() {
        String md = ConfigReference.markdown();
        for (String key :
                new String[] {"shoal.node.host", "shoal.tls.enabled", "shoal.metrics.port", "shoal.journal.kind"}) {
            assertTrue(md.contains("| `" + key + "` |"), key);
        }
        assertTrue(
                md.contains("| `shoal.tls.key-store-password` | `\"\" or $SHOAL_TLS_STORE_PASSWORD` |"),
                "a password key shows its environment variable, never a value");
    }
}
