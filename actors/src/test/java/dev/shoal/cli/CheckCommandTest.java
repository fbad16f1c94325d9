// `shoal check` on this machine: a table with a verdict per check, exit 0 unless one failed; a
// missing --config file is a usage error.
package dev.shoal.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class CheckCommandTest {

    @TempDir
    Path dir;

    @Test
    void printsOneVerdictPerCheck() {
        ShoalCliTest.Run r = ShoalCliTest.run(
                "check", "--dir", dir.toString(), "--config", write("shoal.journal.h2.dir = \"" + dir + "\"\n"));
        assertTrue(r.code() == 0 || r.code() == 1, r.err());
        for (String name : new String[] {"gpus", "nccl", "disk " + dir, "clock", "open files", "locked memory"}) {
            assertTrue(
                    r.out()
                            .lines()
                            .anyMatch(l -> l.matches("(OK|WARN|FAIL) +" + java.util.regex.Pattern.quote(name) + " .*")),
                    "no verdict for " + name + " in\n" + r.out());
        }
        assertEquals(r.out().contains("FAIL ") ? 1 : 0, r.code(), r.out());
    }

    @Test
    void missingConfigIsAUsageError() {
        ShoalCliTest.Run r =
                ShoalCliTest.run("check", "--config", dir.resolve("nope.conf").toString());
        assertEquals(2, r.code());
        assertTrue(r.err().contains("nope.conf: no such file"), r.err());
    }

    private String write(String text) {
        try {
            Path f = dir.resolve("node.conf");
            java.nio.file.Files.writeString(f, text);
            return f.toString();
        } catch (java.io.IOException e) {
            throw new java.io.UncheckedIOException(e);
        }
    }
}
