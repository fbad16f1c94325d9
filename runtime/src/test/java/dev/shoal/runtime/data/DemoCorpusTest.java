// The demo corpus falls back to the generated one when the fortune files are absent, and says so.
package dev.shoal.runtime.data;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class DemoCorpusTest {

    @TempDir
    Path dir;

    @Test
    void fallsBackToTheSyntheticCorpusAndSaysSo() throws IOException {
        FortuneFiles none = FortuneFiles.find(dir.resolve("no-fortunes-here"));
        assertFalse(none.present());
        ByteArrayOutputStream log = new ByteArrayOutputStream();
        List<SourceSpec> s =
                DemoCorpus.sources(none, dir.resolve("gen"), 0.01, new PrintStream(log, true, StandardCharsets.UTF_8));
        String line = log.toString(StandardCharsets.UTF_8);
        assertTrue(line.contains("falling back to the generated synthetic corpus"), line);
        assertTrue(line.contains("no-fortunes-here"), line);
        assertEquals(List.of("en", "zh"), s.stream().map(SourceSpec::name).toList());
        assertEquals(DocFormat.JSONL, s.get(0).format());
        assertEquals(
                DemoCorpus.SYNTHETIC_DOCS,
                Files.readAllLines(s.get(1).inputs().get(0)).size());
    }

    @Test
    void usesFortunesWhenInstalled() throws IOException {
        FortuneFiles f = FortuneFiles.find();
        Assumptions.assumeTrue(f.present(), f.absentReason());
        ByteArrayOutputStream log = new ByteArrayOutputStream();
        List<SourceSpec> s = DemoCorpus.sources(f, dir, 0.01, new PrintStream(log, true, StandardCharsets.UTF_8));
        assertTrue(log.toString(StandardCharsets.UTF_8).startsWith("corpus: Debian fortune files"));
        assertEquals(DocFormat.FORTUNE, s.get(1).format());
    }

    @Test
    void syntheticDocumentsAreDeterministicAndLookLikeTheirLanguage() {
        assertEquals(SyntheticCorpus.english(1, 5), SyntheticCorpus.english(1, 5));
        assertNotEquals(SyntheticCorpus.english(1, 5), SyntheticCorpus.english(1, 6));
        String zh = SyntheticCorpus.chinese(2, 0);
        assertTrue(zh.codePoints().filter(c -> c >= 0x4E00 && c <= 0x9FFF).count() > zh.length() / 2, zh);
        assertTrue(SyntheticCorpus.english(1, 0).matches("(?s)[A-Z][a-z].*[.?]"));
    }
}
