// `shoal tokenize` end to end, in-process, with the cl100k ranks jtokkit ships standing in for Llama-3's file.
package dev.shoal.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.shoal.runtime.tokenizer.Llama3Tokenizer;
import dev.shoal.runtime.tokenizer.TiktokenRanks;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.stream.Collectors;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class TokenizeCommandTest {

    @TempDir
    static Path dir;

    static Path model;
    static Llama3Tokenizer tok;

    @BeforeAll
    static void setUp() throws IOException {
        model = TiktokenRanks.copyJtokkitCl100k(dir.resolve("tokenizer.model"));
        tok = Llama3Tokenizer.load(model);
    }

    static String ids(int[] ids) {
        return Arrays.stream(ids).mapToObj(Integer::toString).collect(Collectors.joining(" "));
    }

    @Test
    void printsIdsOfTextExactlyAsGiven() {
        String text = "  Hello, 世界! 😀 \n";
        ShoalCliTest.Run r = ShoalCliTest.run("tokenize", "--tokenizer", model.toString(), "--text", text);
        assertEquals(0, r.code(), r.err());
        assertEquals(ids(tok.encode(text)), r.out().strip());
        assertTrue(r.out().startsWith(Integer.toString(tok.encode(text)[0])), "leading spaces are kept");
    }

    @Test
    void jsonWithBosEos() {
        ShoalCliTest.Run r = ShoalCliTest.run(
                "tokenize", "--tokenizer", model.toString(), "--text", "hi", "--bos", "--eos", "--json");
        assertEquals(0, r.code(), r.err());
        int[] expected = tok.encode("hi", true, true);
        assertEquals(
                Arrays.stream(expected).mapToObj(Integer::toString).collect(Collectors.joining(",", "[", "]")),
                r.out().strip());
    }

    @Test
    void readsAFile() throws IOException {
        Path f = dir.resolve("in.txt");
        Files.writeString(f, "line one\nline two\n");
        ShoalCliTest.Run r = ShoalCliTest.run("tokenize", "--tokenizer", model.toString(), "--file", f.toString());
        assertEquals(0, r.code(), r.err());
        assertEquals(ids(tok.encode("line one\nline two\n")), r.out().strip());
    }

    @Test
    void userMistakesAreOneLineErrors() throws IOException {
        ShoalCliTest.Run r = ShoalCliTest.run(
                "tokenize", "--tokenizer", dir.resolve("missing.model").toString(), "--text", "x");
        assertEquals(2, r.code());
        assertTrue(r.err().startsWith("error: ") && r.err().contains("missing.model"), r.err());
        assertEquals(1, r.err().strip().lines().count(), r.err());

        Path bad = dir.resolve("bad.model");
        Files.writeString(bad, "YQ== 0\n!!! 1\n");
        r = ShoalCliTest.run("tokenize", "--tokenizer", bad.toString(), "--text", "x");
        assertEquals(2, r.code());
        assertTrue(r.err().contains("bad.model:2:"), r.err());

        Path latin1 = dir.resolve("latin1.txt");
        Files.write(latin1, new byte[] {'c', 'a', 'f', (byte) 0xE9});
        r = ShoalCliTest.run("tokenize", "--tokenizer", model.toString(), "--file", latin1.toString());
        assertEquals(2, r.code());
        assertTrue(r.err().contains("not valid UTF-8"), r.err());

        r = ShoalCliTest.run("tokenize", "--tokenizer", model.toString());
        assertEquals(2, r.code());
        r = ShoalCliTest.run("tokenize", "--tokenizer", model.toString(), "--text", "a", "--file", "b");
        assertEquals(2, r.code());
    }
}
