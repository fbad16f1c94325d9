package dev.shoal.comm;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import java.util.HashSet;
import java.util.List;
import java.util.Set;
import org.junit.jupiter.api.Test;

class ParallelDimsTest {

    @Test
    void rankAndCoordAreInverseAndTpIsFastest() {
        ParallelDims d = ParallelDims.of(4, 2, 3);
        Set<Integer> seen = new HashSet<>();
        for (int r = 0; r < d.world(); r++) {
            ParallelDims.Coord c = d.coord(r);
            assertEquals(r, d.rank(c));
            seen.add(r);
        }
        assertEquals(24, seen.size());
        assertEquals(new ParallelDims.Coord(1, 0, 0), d.coord(1));
        assertEquals(new ParallelDims.Coord(0, 0, 1), d.coord(4));
        assertEquals(new ParallelDims.Coord(0, 1, 0), d.coord(12));
    }

    @Test
    void groupsPartitionTheWorld() {
        ParallelDims d = ParallelDims.of(2, 2, 2);
        assertEquals(List.of(0, 1), d.tpGroup(1));
        assertEquals(List.of(1, 3), d.dpGroup(1));
        assertEquals(List.of(1, 5), d.ppGroup(1));
        assertEquals(List.of(6, 7), d.tpGroup(6));
    }

    @Test
    void mismatchNamesEverySize() {
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> new ParallelDims(4, 2, 3, 16));
        assertEquals("tp 4 × pp 2 × dp 3 = 24 ≠ world 16", e.getMessage());
        assertThrows(IllegalArgumentException.class, () -> ParallelDims.of(0, 1, 1));
        assertThrows(
                IllegalArgumentException.class, () -> ParallelDims.of(2, 1, 1).coord(2));
    }
}
