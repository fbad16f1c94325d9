package dev.shoal.deploy;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;

/** Every shell script of the project passes `bash -n` and shellcheck (CI installs shellcheck). */
class ScriptLintTest {

    static final Path ROOT = Path.of("..").toAbsolutePath().normalize();

    static List<Path> scripts() throws IOException {
        List<Path> out = new ArrayList<>();
        out.add(ROOT.resolve("shoal"));
        out.add(ROOT.resolve(".ci/run"));
        try (Stream<Path> s = Files.walk(ROOT.resolve("deploy/src"))) {
            s.filter(Files::isRegularFile)
                    .filter(p -> p.toString().endsWith(".sh") || p.getParent().endsWith("bin"))
                    .forEach(out::add);
        }
        for (String dir : List.of("deploy/gpu-check", "deploy/tls", "deploy/slurm", "deploy/bench")) {
            Path d = ROOT.resolve(dir);
            if (Files.isDirectory(d)) {
                try (Stream<Path> s = Files.list(d)) {
                    s.filter(p -> p.toString().endsWith(".sh") || p.toString().endsWith(".sbatch"))
                            .forEach(out::add);
                }
            }
        }
        return out;
    }

    static String run(List<String> cmd) throws IOException, InterruptedException {
        Process p = new ProcessBuilder(cmd).redirectErrorStream(true).start();
        String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        int code = p.waitFor();
        return code == 0 ? "" : "exit " + code + ":\n" + out;
    }

    @Test
    void everyScriptParses() throws Exception {
        for (Path s : scripts()) {
            assertEquals("", run(List.of("bash", "-n", s.toString())), s.toString());
        }
    }

    @Test
    void everyScriptPassesShellcheck() throws Exception {
        boolean have = run(List.of("sh", "-c", "command -v shellcheck")).isEmpty();
        assumeTrue(have, "shellcheck is not installed (apt-get install shellcheck; .ci/run installs it)");
        List<String> cmd = new ArrayList<>(List.of("shellcheck", "-x"));
        scripts().forEach(p -> cmd.add(p.toString()));
        assertEquals("", run(cmd));
    }
}
