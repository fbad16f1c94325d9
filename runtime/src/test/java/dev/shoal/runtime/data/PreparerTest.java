// shoal prepare as a library: counts of good and bad records on hand-written fixtures, exact text
// recovery from the shards, a thread-count-independent output, the validation split rule, skip-on-rerun
// with checksum verification, and (when installed) Debian's real fortune files.
package dev.shoal.runtime.data;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.shoal.runtime.tokenizer.Llama3Tokenizer;
import dev.shoal.runtime.tokenizer.TiktokenRanks;
import java.io.IOException;
import java.io.RandomAccessFile;
import java.net.URISyntaxException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class PreparerTest {

    @TempDir
    static Path shared;

    static Path model;
    static Llama3Tokenizer tok;

    @TempDir
    Path dir;

    @BeforeAll
    static void tokenizer() throws IOException {
        model = TiktokenRanks.copyJtokkitCl100k(shared.resolve("tokenizer.model"));
        tok = Llama3Tokenizer.load(model);
    }

    static Path fixture(String name) {
        try {
            return Path.of(PreparerTest.class.getResource("/data/" + name).toURI());
        } catch (URISyntaxException e) {
            throw new IllegalStateException(e);
        }
    }

    Preparer.Report prepare(Path out, int threads, int chunkBytes, SourceSpec... sources) throws IOException {
        return Preparer.run(new Preparer.Config(model, out, List.of(sources), threads, chunkBytes, true, null), tok);
    }

    /** All documents of a split, decoded back to text. */
    static List<String> texts(Path out, String source, PreparedSource.Split split) throws IOException {
        PreparedSource s = PreparedSource.open(out, source, split, true);
        List<String> texts = new ArrayList<>();
        for (int d = 0; d < s.numDocs(); d++) texts.add(tok.decode(s.doc(d)));
        return texts;
    }

    @Test
    void fixturesGiveExactDocumentsAndBadRecordCounts() throws IOException {
        Path out = dir.resolve("out");
        Preparer.Report r = prepare(
                out,
                2,
                1 << 20,
                new SourceSpec("en", "en", DocFormat.JSONL, List.of(fixture("en.jsonl")), "text", 0.0),
                new SourceSpec("zh", "zh", DocFormat.FORTUNE, List.of(fixture("zh.fortune")), null, 0.0),
                new SourceSpec("notes", "en", DocFormat.TEXT, List.of(fixture("notes.txt")), null, 0.0));
        Manifest m = Manifest.read(out);
        assertEquals(r.manifest(), m);

        Manifest.SourceEntry en = m.source("en");
        assertEquals(11, en.records());
        assertEquals(
                Map.of("invalid-json", 3L, "missing-field", 2L, "field-not-string", 1L, "empty-text", 1L), en.bad());
        assertEquals(
                List.of(
                        "The lighthouse keeper counted the ships that passed each evening.",
                        "Nobody remembered why the bridge had been painted orange.\nIt simply always had been.",
                        "A recipe: two cups of flour, one egg, and patience.",
                        "Escapes work too: tab\there, quote \" and unicode é中."),
                texts(out, "en", PreparedSource.Split.TRAIN));

        Manifest.SourceEntry zh = m.source("zh");
        assertEquals(4, zh.records());
        assertEquals(6, zh.ansiSequencesStripped());
        assertEquals(Map.of("empty-text", 1L), zh.bad());
        List<String> zhTexts = texts(out, "zh", PreparedSource.Split.TRAIN);
        assertEquals(List.of("《山间小屋》\n作者：测试用例\n山路弯弯通向小屋，\n屋前有一棵老槐树。", "晚风吹过田野，\n稻谷低下了头。", "月亮照着安静的村庄。"), zhTexts);

        assertEquals(
                List.of(
                        "First paragraph of the notes file.\nIt spans two lines.",
                        "Second paragraph, after one blank line.",
                        "Third paragraph, after several blank lines."),
                texts(out, "notes", PreparedSource.Split.TRAIN));
        assertEquals(0, m.source("notes").valid().docs());
        assertEquals(tok.vocabSize(), m.tokenizer().vocabSize());
        assertTrue(r.summary().contains("invalid-json=3"), r.summary());
    }

    @Test
    void invalidUtf8AndLoneSurrogatesAreCountedNotFatal() throws IOException {
        Path f = dir.resolve("mixed.jsonl");
        byte[] good = "{\"text\": \"fine\"}\n".getBytes(StandardCharsets.UTF_8);
        byte[] badUtf8 = {'{', '"', 't', 'e', 'x', 't', '"', ':', '"', (byte) 0xC3, (byte) 0x28, '"', '}', '\n'};
        byte[] surrogate = "{\"text\": \"half \\ud800 pair\"}\n".getBytes(StandardCharsets.UTF_8);
        try (var o = Files.newOutputStream(f)) {
            o.write(good);
            o.write(badUtf8);
            o.write(surrogate);
            o.write(good);
        }
        Path out = dir.resolve("out");
        prepare(out, 1, 1 << 20, new SourceSpec("m", "en", DocFormat.JSONL, List.of(f), "text", 0));
        Manifest.SourceEntry e = Manifest.read(out).source("m");
        assertEquals(Map.of("invalid-utf8", 1L, "lone-surrogate", 1L), e.bad());
        assertEquals(2, e.train().docs());
    }

    @Test
    void outputDoesNotDependOnThreadsAndValidationFollowsTheHash() throws IOException {
        Path en = dir.resolve("en.jsonl");
        Path zh = dir.resolve("zh.fortune");
        SyntheticCorpus.writeJsonl(en, "en", 1, 300);
        SyntheticCorpus.writeFortune(zh, "zh", 2, 300);
        SourceSpec sEn = new SourceSpec("en", "en", DocFormat.JSONL, List.of(en), "text", 0.2);
        SourceSpec sZh = new SourceSpec("zh", "zh", DocFormat.FORTUNE, List.of(zh), null, 0.2);
        Manifest one = prepare(dir.resolve("one"), 1, 4096, sEn, sZh).manifest();
        Manifest two = prepare(dir.resolve("two"), 2, 4096, sEn, sZh).manifest();
        assertTrue(one.source("en").train().shards().size() > 5, "several chunks");
        assertEquals(one.sources(), two.sources());

        for (String src : List.of("en", "zh")) {
            List<String> train = texts(dir.resolve("one"), src, PreparedSource.Split.TRAIN);
            List<String> valid = texts(dir.resolve("one"), src, PreparedSource.Split.VALID);
            assertEquals(300, train.size() + valid.size());
            for (String t : train) assertFalse(SourceSpec.isValidation(t, 0.2));
            for (String t : valid) assertTrue(SourceSpec.isValidation(t, 0.2));
            assertTrue(valid.size() > 30 && valid.size() < 90, "about 20% held out: " + valid.size());
            Set<String> expected = new HashSet<>();
            for (int i = 0; i < 300; i++) expected.add(SyntheticCorpus.doc(src, src.equals("en") ? 1 : 2, i));
            Set<String> got = new HashSet<>(train);
            got.addAll(valid);
            assertEquals(expected, got);
        }
    }

    @Test
    void rerunSkipsVerifiedChunksAndRedoesCorruptOnes() throws IOException {
        Path en = dir.resolve("en.jsonl");
        SyntheticCorpus.writeJsonl(en, "en", 3, 200);
        SourceSpec s = new SourceSpec("en", "en", DocFormat.JSONL, List.of(en), "text", 0.1);
        Path out = dir.resolve("out");
        Preparer.Report first = prepare(out, 2, 4096, s);
        int chunks = first.chunksTokenized();
        assertTrue(chunks > 3);
        assertEquals(0, first.chunksReused());

        Preparer.Report second = prepare(out, 2, 4096, s);
        assertEquals(0, second.chunksTokenized());
        assertEquals(chunks, second.chunksReused());
        assertEquals(first.manifest(), second.manifest());

        Manifest.Shard victim = first.manifest().source("en").train().shards().get(1);
        try (RandomAccessFile f =
                new RandomAccessFile(out.resolve(victim.tokens()).toFile(), "rw")) {
            f.seek(0);
            int b = f.read();
            f.seek(0);
            f.write(b ^ 0xFF);
        }
        assertThrows(IOException.class, () -> PreparedSource.open(out, "en", PreparedSource.Split.TRAIN, true));
        Preparer.Report third = prepare(out, 2, 4096, s);
        assertEquals(1, third.chunksTokenized());
        assertEquals(chunks - 1, third.chunksReused());
        assertEquals(first.manifest(), third.manifest());

        // A changed setting invalidates every chunk.
        SourceSpec moreValid = new SourceSpec("en", "en", DocFormat.JSONL, List.of(en), "text", 0.3);
        Preparer.Report fourth = prepare(out, 2, 4096, moreValid);
        assertEquals(chunks, fourth.chunksTokenized());
        assertNotEquals(
                first.manifest().source("en").valid().docs(),
                fourth.manifest().source("en").valid().docs());
    }

    @Test
    void smallFilesShareAShardAndKeepTheirOrder() throws IOException {
        List<Path> files = new ArrayList<>();
        for (int i = 0; i < 5; i++) {
            Path f = dir.resolve("part" + i + ".jsonl");
            Files.writeString(f, "{\"text\": \"file " + i + " doc a\"}\n{\"text\": \"file " + i + " doc b\"}\n");
            files.add(f);
        }
        Path out = dir.resolve("out");
        Manifest m = prepare(out, 2, 1 << 20, new SourceSpec("p", "en", DocFormat.JSONL, files, "text", 0))
                .manifest();
        assertEquals(1, m.source("p").train().shards().size());
        List<String> expected = new ArrayList<>();
        for (int i = 0; i < 5; i++) {
            expected.add("file " + i + " doc a");
            expected.add("file " + i + " doc b");
        }
        assertEquals(expected, texts(out, "p", PreparedSource.Split.TRAIN));
    }

    @Test
    void documentOrderDoesNotDependOnChunkSize() throws IOException {
        Path en = dir.resolve("en.jsonl");
        SyntheticCorpus.writeJsonl(en, "en", 4, 150);
        SourceSpec s = new SourceSpec("en", "en", DocFormat.JSONL, List.of(en), "text", 0.1);
        Manifest small = prepare(dir.resolve("small"), 2, 2048, s).manifest();
        Manifest big = prepare(dir.resolve("big"), 2, 1 << 20, s).manifest();
        assertTrue(small.source("en").train().shards().size() > 5);
        assertEquals(1, big.source("en").train().shards().size());
        for (PreparedSource.Split split : PreparedSource.Split.values()) {
            assertEquals(texts(dir.resolve("small"), "en", split), texts(dir.resolve("big"), "en", split));
        }
    }

    @Test
    void specMistakesAreNamed() {
        Path missing = dir.resolve("missing.jsonl");
        var e = assertThrows(
                IllegalArgumentException.class,
                () -> new SourceSpec("en", "en", DocFormat.JSONL, List.of(missing), "text", 0));
        assertTrue(e.getMessage().contains("missing.jsonl"), e.getMessage());
        e = assertThrows(
                IllegalArgumentException.class,
                () -> new SourceSpec("a b", "en", DocFormat.JSONL, List.of(fixture("en.jsonl")), "text", 0));
        assertTrue(e.getMessage().contains("'a b'"), e.getMessage());
        e = assertThrows(
                IllegalArgumentException.class,
                () -> new SourceSpec("en", "en", DocFormat.JSONL, List.of(fixture("en.jsonl")), "text", 1.0));
        assertTrue(e.getMessage().contains("validation fraction 1.0"), e.getMessage());
        e = assertThrows(IllegalArgumentException.class, () -> DocFormat.parse("csv"));
        assertTrue(e.getMessage().contains("'csv'"), e.getMessage());
    }

    /** The two small Chinese files (tang300, song100): the big one would make this test slow. */
    static List<Path> small(List<Path> chinese) {
        return chinese.stream()
                .filter(p -> !p.getFileName().toString().equals("chinese"))
                .toList();
    }

    @Test
    void realFortuneFiles() throws IOException {
        FortuneFiles f = FortuneFiles.find();
        Assumptions.assumeTrue(f.present(), f.absentReason());
        Path out = dir.resolve("out");
        Preparer.Report r = prepare(
                out,
                2,
                1 << 20,
                new SourceSpec("en", "en", DocFormat.FORTUNE, f.english().subList(0, 4), null, 0.05),
                new SourceSpec("zh", "zh", DocFormat.FORTUNE, small(f.chinese()), null, 0.05));
        Manifest.SourceEntry zh = r.manifest().source("zh");
        assertTrue(zh.ansiSequencesStripped() > 400, "fortunes-zh is coloured: " + zh.ansiSequencesStripped());
        assertTrue(zh.train().docs() > 300, "docs " + zh.train().docs());
        assertTrue(r.manifest().source("en").train().docs() > 300);
        assertTrue(zh.valid().docs() > 5);
        PreparedSource zs = PreparedSource.open(out, "zh", PreparedSource.Split.TRAIN, true);
        for (int d = 0; d < zs.numDocs(); d += 97) {
            String text = tok.decode(zs.doc(d));
            assertFalse(text.contains("\u001b"), "escape left in doc " + d);
            assertArrayEquals(zs.doc(d), tok.encode(text));
        }
    }
}
