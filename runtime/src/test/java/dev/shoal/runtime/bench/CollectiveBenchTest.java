// The collective benchmark's TCP table, run small: every row of every op is printed, checked correct on
// every rank, and carries its references (the bare ring, the op-sized ring, the ring with the add, and
// the copy bandwidth at the op's size). Timings are printed, never asserted.
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
        assertTrue(text.contains("copy(GB/s)"), text);
        assertFalse(text.contains("WRONG"), text);
        List<String> rows = text.lines()
                .filter(l -> l.matches("^(ALL_REDUCE|REDUCE_SCATTER|ALL_GATHER) .*"))
                .toList();
        assertEquals(6, rows.size(), "three ops at 256 KiB and 1 MiB:\n" + text);
        for (String row : rows) {
            String[] f = row.trim().split("\\s+");
            assertEquals("ok", f[5], row);
            // Reducing rows end with add/lim and bus/add; allGather prints "-" there. Every row ends with copy.
            assertEquals(14, f.length, row);
            assertTrue(Double.parseDouble(f[13]) > 0, "copy bandwidth: " + row);
            assertEquals(f[0].equals("ALL_GATHER"), f[11].equals("-"), row);
        }
    }
}
