// Slurm host-list expansion: ranges, padding, products, order, and errors that name the position.
package dev.shoal.actors.cluster;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.List;
import org.junit.jupiter.api.Test;

class SlurmNodeListTest {

    @Test
    void expandsRangesListsAndPlainHostsInOrder() {
        assertEquals(
                List.of("gpu01", "gpu02", "gpu03", "gpu04", "gpu07", "login1"),
                SlurmNodeList.expand("gpu[01-04,07],login1"));
    }

    @Test
    void singleHostAndSurroundingWhitespace() {
        assertEquals(List.of("node7"), SlurmNodeList.expand("  node7 "));
    }

    @Test
    void keepsZeroPaddingOfTheLowerBound() {
        assertEquals(List.of("n008", "n009", "n010", "n011"), SlurmNodeList.expand("n[008-011]"));
        assertEquals(List.of("n8", "n9", "n10"), SlurmNodeList.expand("n[8-10]"));
    }

    @Test
    void severalGroupsExpandAsAProductLeftmostSlowest() {
        assertEquals(List.of("r1-g1", "r1-g2", "r2-g1", "r2-g2"), SlurmNodeList.expand("r[1-2]-g[1-2]"));
    }

    @Test
    void suffixAfterBracketsAndDuplicatesDropped() {
        assertEquals(List.of("a1.ib", "a2.ib", "b"), SlurmNodeList.expand("a[1-2].ib,b,a1.ib"));
    }

    @Test
    void malformedListsNameTheProblemAndPosition() {
        assertMessage("gpu[01-04", "unclosed '['");
        assertMessage("gpu01]", "']' without '['");
        assertMessage("gpu[04-01]", "descending range 04-01");
        assertMessage("gpu[a-b]", "'a' is not a number");
        assertMessage("gpu01,,gpu02", "empty host entry");
        assertMessage("gpu[1,]", "empty range in brackets");
        assertMessage("gpu[[1]]", "nested '['");
        assertMessage("", "empty");
        assertMessage("n[0-99999999]", "too large");
    }

    private static void assertMessage(String list, String expected) {
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> SlurmNodeList.expand(list));
        assertTrue(e.getMessage().contains(expected), () -> "message for \"" + list + "\": " + e.getMessage());
    }
}
