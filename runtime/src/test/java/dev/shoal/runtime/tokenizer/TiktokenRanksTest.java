// Rank-file loader: malformed files are refused with the file name and line number; write/load round-trips.
package dev.shoal.runtime.tokenizer;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class TiktokenRanksTest {

    @TempDir
    Path dir;

    private Path file(String content) throws IOException {
        Path p = dir.resolve("tokenizer.model");
        Files.writeString(p, content, StandardCharsets.US_ASCII);
        return p;
    }

    private String failure(String content) throws IOException {
        Path p = file(content);
        return assertThrows(TiktokenRanks.FormatException.class, () -> TiktokenRanks.load(p))
                .getMessage();
    }

    @Test
    void loadsRanksInAnyOrder() throws IOException {
        // "a" = YQ==, "b" = Yg==, "ab" = YWI=
        TiktokenRanks r = TiktokenRanks.load(file("Yg== 1\nYQ== 0\nYWI= 2\n"));
        assertEquals(3, r.size());
        assertArrayEquals("a".getBytes(StandardCharsets.US_ASCII), r.bytes(0));
        assertArrayEquals("ab".getBytes(StandardCharsets.US_ASCII), r.bytes(2));
    }

    @Test
    void errorsNameFileAndLine() throws IOException {
        String m = failure("YQ== 0\nnot base64! 1\n");
        assertTrue(m.contains("tokenizer.model:2:"), m);
        m = failure("YQ== 0\nYg==1\n");
        assertTrue(m.contains(":2: expected '<base64-token> <rank>'"), m);
        m = failure("YQ== 0\nYg== x1\n");
        assertTrue(m.contains(":2: rank 'x1' is not a non-negative integer"), m);
        m = failure("YQ== 0\nYg== 0\n");
        assertTrue(m.contains(":2: rank 0 already given on line 1"), m);
        m = failure("YQ== 0\nYg== 1\nYQ== 2\n");
        assertTrue(m.contains(":3: token already has rank 0 (line 1)"), m);
        m = failure("YQ== 0\nYg== 2\n");
        assertTrue(m.contains("rank 1 is missing"), m);
        m = failure("");
        assertTrue(m.contains("empty file"), m);
    }

    @Test
    void missingFileIsNamed() {
        Path p = dir.resolve("nope.model");
        String m = assertThrows(TiktokenRanks.FormatException.class, () -> TiktokenRanks.load(p))
                .getMessage();
        assertTrue(m.contains("nope.model"), m);
    }

    @Test
    void writeThenLoadIsIdentity() throws IOException {
        Path src = TiktokenRanks.copyJtokkitCl100k(dir.resolve("cl100k.model"));
        TiktokenRanks a = TiktokenRanks.load(src);
        assertEquals(100256, a.size());
        Path out = dir.resolve("out.model");
        a.write(out);
        assertArrayEquals(Files.readAllBytes(src), Files.readAllBytes(out));
    }
}
