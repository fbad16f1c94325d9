// `shoal prepare` end to end in-process: a run on generated input, the re-run that skips every chunk,
// and one-line errors for the user's mistakes.
package dev.shoal.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.shoal.runtime.data.DocFormat;
import dev.shoal.runtime.data.Manifest;
import dev.shoal.runtime.data.SourceSpec;
import dev.shoal.runtime.data.SyntheticCorpus;
import dev.shoal.runtime.tokenizer.TiktokenRanks;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class PrepareCommandTest {

    @TempDir
    Path dir;

    @Test
    void preparesAndThenSkipsOnRerun() throws IOException {
        Path model = TiktokenRanks.copyJtokkitCl100k(dir.resolve("tokenizer.model"));
        Path en = dir.resolve("en.jsonl");
        Path zh = dir.resolve("zh");
        SyntheticCorpus.writeJsonl(en, "en", 5, 100);
        SyntheticCorpus.writeFortune(zh, "zh", 6, 100);
        Path out = dir.resolve("out");
        String[] args = {
            "prepare",
            "--tokenizer",
            model.toString(),
            "--out",
            out.toString(),
            "--source",
            "name=en,lang=en,path=" + en,
            "--source",
            "name=zh,lang=zh,path=" + zh + ",valid=0.1",
            "--threads",
            "2"
        };
        ShoalCliTest.Run r = ShoalCliTest.run(args);
        assertEquals(0, r.code(), r.err());
        assertTrue(r.out().contains("1 chunks tokenized") || r.out().contains("2 chunks tokenized"), r.out());
        assertTrue(r.err().contains("prepare ["), "progress bar on stderr: " + r.err());
        Manifest m = Manifest.read(out);
        assertEquals("fortune", m.source("zh").format());
        assertEquals(100, m.source("zh").train().docs() + m.source("zh").valid().docs());
        assertEquals(100, m.source("en").train().docs() + m.source("en").valid().docs());

        ShoalCliTest.Run again = ShoalCliTest.run(args);
        assertEquals(0, again.code(), again.err());
        assertTrue(again.out().contains("0 chunks tokenized, 2 reused"), again.out());

        // shoal sample over the prepared data: 16 rows per step, exactly 4 from zh at ALMR 0.25
        ShoalCliTest.Run sample = ShoalCliTest.run(
                "sample",
                "--data",
                out.toString(),
                "--mix",
                "en:en:0.75,zh:zh:0.25",
                "--additional-lang",
                "zh",
                "--seq-len",
                "32",
                "--global-batch",
                "16",
                "--steps",
                "0:3",
                "--audit");
        assertEquals(0, sample.code(), sample.err());
        assertTrue(sample.out().contains("step 0: en=12 zh=4 | additional share so far 0.2500 (4/16)"), sample.out());
        assertTrue(sample.out().contains("step 2: en=12 zh=4"), sample.out());
        assertTrue(sample.out().contains("  row 15 "), sample.out());
        assertTrue(sample.out().contains("label tokens consumed after step 2: en=1152"), sample.out());

        ShoalCliTest.Run bad = ShoalCliTest.run(
                "sample", "--data", out.toString(), "--mix", "en:en:1,xx:zh:1", "--additional-lang", "zh");
        assertEquals(2, bad.code());
        assertTrue(bad.err().contains("no source 'xx'"), bad.err());
    }

    @Test
    void sourceSyntax() throws IOException {
        Path f = Files.writeString(dir.resolve("a.txt"), "para\n");
        SourceSpec s = PrepareCommand.parseSource("name=a,lang=en,path=" + f + ",valid=0.5", "text", 0.01);
        assertEquals(DocFormat.TEXT, s.format());
        assertEquals(0.5, s.validFraction());
        assertEquals(DocFormat.JSONL, PrepareCommand.guess(Path.of("x.jsonl")));
        assertEquals(DocFormat.FORTUNE, PrepareCommand.guess(Path.of("tang300")));
    }

    @Test
    void mistakesAreOneLineErrors() throws IOException {
        Path model = TiktokenRanks.copyJtokkitCl100k(dir.resolve("tokenizer.model"));
        String out = dir.resolve("out").toString();
        String[][] cases = {
            {"--source", "name=a,lang=en"},
            {"--source", "name=a,path=x.jsonl"},
            {"--source", "name=a,lang=en,path=" + dir.resolve("nope.jsonl")},
            {"--source", "name=a,lang=en,colour=red,path=x"},
            {"--source", "name=a,lang=en,format=csv,path=" + model},
            {"--source", "justtext"},
        };
        String[] expected = {
            "path= is required", "lang= is required", "nope.jsonl", "unknown key 'colour'", "'csv'", "not key=value"
        };
        for (int i = 0; i < cases.length; i++) {
            String[] args = new String[4 + cases[i].length];
            args[0] = "prepare";
            args[1] = "--tokenizer=" + model;
            args[2] = "--out=" + out;
            args[3] = "--quiet";
            System.arraycopy(cases[i], 0, args, 4, cases[i].length);
            ShoalCliTest.Run r = ShoalCliTest.run(args);
            assertEquals(2, r.code(), r.err());
            assertTrue(r.err().startsWith("error: ") && r.err().contains(expected[i]), r.err());
            assertEquals(1, r.err().strip().lines().count(), r.err());
        }
        ShoalCliTest.Run r = ShoalCliTest.run("prepare", "--tokenizer=" + model, "--out=" + out);
        assertEquals(2, r.code());
        assertTrue(r.err().contains("no sources"), r.err());
    }
}
