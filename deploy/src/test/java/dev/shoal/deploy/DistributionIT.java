package dev.shoal.deploy;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Unpacks the built tarball somewhere else and runs its launcher, as a user would. */
class DistributionIT {

    @TempDir
    Path tmp;

    @Test
    void tarballUnpacksAndRunsShoalVersion() throws Exception {
        String version = Dist.version();
        Path home = Dist.unpack(tmp);
        assertTrue(Files.isExecutable(home.resolve("bin/shoal")), "bin/shoal is not executable");
        assertTrue(Files.isRegularFile(home.resolve("LICENSE")), "LICENSE missing");
        for (String f : new String[] {
            "THIRD-PARTY.txt", "conf/shoal.conf", "systemd/shoal-node.service", "slurm/shoal.sbatch", "tls/gen-certs.sh"
        }) {
            assertTrue(Files.isRegularFile(home.resolve(f)), f + " missing from the distribution");
        }
        assertTrue(Files.isExecutable(home.resolve("tls/gen-certs.sh")), "tls/gen-certs.sh is not executable");
        String notices = Files.readString(home.resolve("THIRD-PARTY.txt"));
        assertTrue(notices.contains("org.apache.pekko:pekko-cluster-typed"), "THIRD-PARTY.txt does not list Pekko");
        try (var jars = Files.list(home.resolve("lib"))) {
            assertTrue(
                    jars.anyMatch(p -> p.getFileName().toString().startsWith("shoal-actors-")),
                    "lib/ lacks shoal-actors");
        }

        Process shoal = new ProcessBuilder(home.resolve("bin/shoal").toString(), "--version")
                .redirectErrorStream(true)
                .start();
        String out = new String(shoal.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        assertTrue(shoal.waitFor(60, TimeUnit.SECONDS), "bin/shoal --version did not finish");
        assertEquals(0, shoal.exitValue(), out);
        assertTrue(out.startsWith("shoal " + version), out);
    }
}
