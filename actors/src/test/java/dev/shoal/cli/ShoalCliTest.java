package dev.shoal.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.PrintWriter;
import java.io.StringWriter;
import org.junit.jupiter.api.Test;
import picocli.CommandLine;

class ShoalCliTest {

    record Run(int code, String out, String err) {}

    static Run run(String... args) {
        CommandLine cl = ShoalCli.commandLine();
        StringWriter out = new StringWriter();
        StringWriter err = new StringWriter();
        cl.setOut(new PrintWriter(out));
        cl.setErr(new PrintWriter(err));
        int code = cl.execute(args);
        return new Run(code, out.toString(), err.toString());
    }

    @Test
    void versionNamesTheProjectVersion() {
        Run r = run("--version");
        assertEquals(0, r.code());
        assertTrue(r.out().startsWith("shoal 0."), r.out());
    }

    @Test
    void helpListsUsage() {
        Run r = run("--help");
        assertEquals(0, r.code());
        assertTrue(r.out().contains("Usage: shoal"), r.out());
    }

    @Test
    void unknownOptionIsAUsageError() {
        Run r = run("--no-such-flag");
        assertEquals(2, r.code());
        assertTrue(r.err().contains("Unknown option: '--no-such-flag'"), r.err());
    }
}
