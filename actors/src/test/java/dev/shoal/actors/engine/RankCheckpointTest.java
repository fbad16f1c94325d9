// Which saved shard a rank of a new mesh reads (RankCheckpoint.sourceRank): its own on the same layout;
// across dp with the same tp × pp and replicated DP, the shard of its (tp, pp) position; ZeRO-1 across
// dp and another tp or pp are refused naming both layouts.
package dev.shoal.actors.engine;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.shoal.comm.ParallelDims;
import dev.shoal.runtime.hf.HostTensor;
import dev.shoal.runtime.hf.SafetensorsDType;
import dev.shoal.runtime.hf.SafetensorsWriter;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;
import org.bytedeco.javacpp.FloatPointer;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class RankCheckpointTest {

    @TempDir
    Path dir;

    /** A step folder with one metadata-only shard per rank of {@code saved}. */
    private Path folder(ParallelDims saved, boolean zero1) throws IOException {
        Path step = RankCheckpoint.stepDir(dir, 7);
        Files.createDirectories(step);
        try (FloatPointer p = new FloatPointer(1)) {
            for (int r = 0; r < saved.world(); r++) {
                SafetensorsWriter.write(
                        step.resolve(RankCheckpoint.fileName(r)),
                        Map.of("param.x", new HostTensor(new long[] {1}, p)),
                        SafetensorsDType.F32,
                        Map.of(
                                "layout",
                                "tp " + saved.tp() + " x pp " + saved.pp() + " x dp " + saved.dp(),
                                "zero1",
                                Boolean.toString(zero1)));
            }
        }
        return step;
    }

    @Test
    void sameLayoutReadsItsOwnShard() throws IOException {
        Path step = folder(ParallelDims.of(2, 1, 2), true);
        for (int r = 0; r < 4; r++) assertEquals(r, RankCheckpoint.sourceRank(step, r, ParallelDims.of(2, 1, 2), true));
    }

    @Test
    void anotherDpWithReplicatedDpReadsTheShardOfItsTpPpPosition() throws IOException {
        Path step = folder(ParallelDims.of(2, 1, 2), false);
        ParallelDims three = ParallelDims.of(2, 1, 3);
        for (int r = 0; r < 6; r++) {
            ParallelDims.Coord c = three.coord(r);
            assertEquals(
                    ParallelDims.of(2, 1, 2).rank(c.tp(), c.pp(), 0),
                    RankCheckpoint.sourceRank(step, r, three, false),
                    "rank " + r);
        }
        ParallelDims one = ParallelDims.of(2, 1, 1);
        assertEquals(0, RankCheckpoint.sourceRank(step, 0, one, false));
        assertEquals(1, RankCheckpoint.sourceRank(step, 1, one, false));
    }

    @Test
    void zero1AcrossDpAndAnotherTpOrPpAreRefusedNamingBothLayouts() throws IOException {
        Path z = folder(ParallelDims.of(2, 1, 2), true);
        String zero1 = assertThrows(
                        IOException.class, () -> RankCheckpoint.sourceRank(z, 0, ParallelDims.of(2, 1, 3), false))
                .getMessage();
        assertTrue(
                zero1.contains("written by a tp 2 x pp 1 x dp 2 mesh with ZeRO-1; this mesh is tp 2 x pp 1 x dp 3"),
                zero1);
        assertTrue(zero1.contains("replicated DP only"), zero1);
        String tp = assertThrows(
                        IOException.class, () -> RankCheckpoint.sourceRank(z, 0, ParallelDims.of(1, 1, 4), false))
                .getMessage();
        assertTrue(tp.contains("this mesh is tp 1 x pp 1 x dp 4 (loading at another tp or pp"), tp);
        String none = assertThrows(
                        IOException.class,
                        () -> RankCheckpoint.sourceRank(dir.resolve("nothing"), 0, ParallelDims.of(1, 1, 1), false))
                .getMessage();
        assertTrue(none.contains("has no shard for rank 0"), none);
    }
}
