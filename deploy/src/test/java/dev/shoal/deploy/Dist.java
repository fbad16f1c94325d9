// Test helper: unpacks the built distribution tarball into a directory, as a user would.
package dev.shoal.deploy;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;

final class Dist {

    private Dist() {}

    static String version() {
        return System.getProperty("shoal.version");
    }

    /** Unpacks shoal-VERSION.tar.gz into {@code dir}; returns the unpacked SHOAL_HOME. */
    static Path unpack(Path dir) throws Exception {
        Path tarball = Path.of(System.getProperty("shoal.dist.tarball"));
        assertTrue(Files.isRegularFile(tarball), "missing " + tarball);
        Process untar = new ProcessBuilder("tar", "-xzf", tarball.toString(), "-C", dir.toString())
                .inheritIO()
                .start();
        assertEquals(0, untar.waitFor());
        return dir.resolve("shoal-" + version());
    }
}
