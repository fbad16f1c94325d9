// The collective benchmark's TCP table, run small: every row of every op is printed, checked correct on
// every rank, and carries its references (the bare ring, the op-sized ring, the floor — the op-sized
// ring doing the op's least memory work — and the copy bandwidth at the op's size). Timings are printed,
// never asserted.
package dev.shoal.runtime.bench;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.util.List;
import org.junit.jupiter.api.Test;

class CollectiveBenchTest {

    @Test
    void tcpTableHasEveryRowCorrectWithItsReferences() throws Exception {
        PrintStream out = System.out;
        ByteArrayOutputStream buf = new ByteArrayOutputStream();
        try {
            System.setOut(new PrintStream(buf, true, StandardCharsets.UTF_8));
            CollectiveBench.main(
                    new String[] {"tcp", "2", "1", "avg", "all_reduce,reduce_scatter,all_gather", "256", "8"});
        } finally {
            System.setOut(out);
        }
        String text = buf.toString(StandardCharsets.UTF_8);
        System.out.print(text);
        assertTrue(text.contains("floor/lim") && text.contains("copy(GB/s)"), text);
        assertFalse(text.contains("WRONG"), text);
        List<String> rows = text.lines()
                .filter(l -> l.matches("^(ALL_REDUCE|REDUCE_SCATTER|ALL_GATHER) .*"))
                .toList();
        assertEquals(6, rows.size(), "three ops at 256 KiB and 1 MiB:\n" + text);
        for (String row : rows) {
            String[] f = row.trim().split("\\s+");
            assertEquals("ok", f[5], row);
            // lim, ring/op, floor/lim and copy are measured on every row.
            assertEquals(14, f.length, row);
            for (int col : new int[] {6, 9, 11, 13}) {
                assertTrue(Double.parseDouble(f[col]) > 0, "column " + col + ": " + row);
            }
        }
    }
}
