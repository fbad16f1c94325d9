// Escape-sequence stripping and the record/cut rules of each input format.
package dev.shoal.runtime.data;

import static org.junit.jupiter.api.Assertions.assertEquals;

import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;

class AnsiAndFormatTest {

    @Test
    void stripsAndCountsEscapeSequences() {
        assertEquals(new AnsiStripper.Result("plain", 0), AnsiStripper.strip("plain"));
        assertEquals(new AnsiStripper.Result("red text", 2), AnsiStripper.strip("\u001b[1;31mred\u001b[0m text"));
        assertEquals(new AnsiStripper.Result("title", 1), AnsiStripper.strip("\u001b]0;window\u0007title"));
        assertEquals(new AnsiStripper.Result("ab", 2), AnsiStripper.strip("a\u001b(Bb\u001bc"));
        assertEquals(new AnsiStripper.Result("x", 1), AnsiStripper.strip("x\u001b"));
        assertEquals(new AnsiStripper.Result("中文", 2), AnsiStripper.strip("\u001b[32m中\u001b[m文"));
        assertEquals(new AnsiStripper.Result("8bit", 1), AnsiStripper.strip("\u009b33m8bit"));
    }

    static List<String> records(DocFormat f, String s) {
        byte[] b = s.getBytes(StandardCharsets.UTF_8);
        List<int[]> out = new ArrayList<>();
        f.records(b, b.length, out);
        List<String> r = new ArrayList<>();
        for (int[] x : out) r.add(new String(b, x[0], x[1] - x[0], StandardCharsets.UTF_8));
        return r;
    }

    @Test
    void recordsPerFormat() {
        assertEquals(List.of("{\"a\":1}", "{\"b\":2}"), records(DocFormat.JSONL, "{\"a\":1}\r\n\n  \n{\"b\":2}"));
        assertEquals(List.of("p1 l1\np1 l2", "p2"), records(DocFormat.TEXT, "p1 l1\np1 l2\n\n\n\np2\n"));
        assertEquals(List.of("a\nb", "c", "", "d"), records(DocFormat.FORTUNE, "a\nb\n%\nc\n%\n%\nd\n"));
        assertEquals(List.of("a", "b"), records(DocFormat.FORTUNE, "a\n%\nb"));
        assertEquals(List.of("a", "b"), records(DocFormat.FORTUNE, "a\n%\nb\n%\n"));
    }

    @Test
    void cutsFallOnDocumentBoundaries() {
        byte[] j = "{}\n{}\n".getBytes(StandardCharsets.UTF_8);
        assertEquals(3, DocFormat.JSONL.nextCut(j, 0, j.length));
        byte[] t = "a\nb\n\nc".getBytes(StandardCharsets.UTF_8);
        assertEquals(5, DocFormat.TEXT.nextCut(t, 0, t.length));
        byte[] f = "a\n%\nb\n%\n".getBytes(StandardCharsets.UTF_8);
        assertEquals(4, DocFormat.FORTUNE.nextCut(f, 0, f.length));
        assertEquals(8, DocFormat.FORTUNE.nextCut(f, 5, f.length));
        assertEquals(-1, DocFormat.FORTUNE.nextCut(f, 7, f.length));
    }
}
