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

    /** A usage error: exit 2 with one "error: ..." line; returns the message after "error: ". */
    static String userError(Run r) {
        assertEquals(2, r.code(), r.out() + r.err());
        assertEquals(1, r.err().strip().lines().count(), r.err());
        assertTrue(r.err().startsWith("error: "), r.err());
        return r.err().strip().substring("error: ".length());
    }

    /**
     * Generated en/zh documents ({@code docs} each, 10% held out) run through `shoal prepare` with a
     * byte-level tokenizer into dir/data.
     */
    static void prepareBilingual(java.nio.file.Path dir, int docs) throws java.io.IOException {
        java.nio.file.Path tok = dev.shoal.runtime.train.ByteLevelTokenizer.write(dir.resolve("bytes.tiktoken"));
        dev.shoal.runtime.data.SyntheticCorpus.writeJsonl(dir.resolve("en.jsonl"), "en", 1, docs);
        dev.shoal.runtime.data.SyntheticCorpus.writeJsonl(dir.resolve("zh.jsonl"), "zh", 2, docs);
        Run prep = run(
                "prepare",
                "--tokenizer",
                tok.toString(),
                "--out",
                dir.resolve("data").toString(),
                "--source",
                "name=en,lang=en,path=" + dir.resolve("en.jsonl") + ",valid=0.1",
                "--source",
                "name=zh,lang=zh,path=" + dir.resolve("zh.jsonl") + ",valid=0.1",
                "--quiet");
        assertEquals(0, prep.code(), prep.err());
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
