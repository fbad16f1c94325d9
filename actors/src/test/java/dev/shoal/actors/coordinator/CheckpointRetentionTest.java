// The coordinator's checkpoint retention: of the journaled checkpoints it drops what the spec's
// keep_last / keep_every do not keep, never the newest journaled one, and only folders it journaled (a
// newer folder committed on disk but not journaled yet, a temp folder and another job's folder stay).
package dev.shoal.actors.coordinator;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.shoal.proto.v1.CheckpointInfo;
import dev.shoal.proto.v1.JobSpec;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class CheckpointRetentionTest {

    @TempDir
    Path root;

    private CheckpointInfo info(long step) throws IOException {
        Path d = root.resolve(String.format("step-%06d", step));
        Files.createDirectories(d);
        Files.writeString(d.resolve("manifest.pb"), "m");
        Files.writeString(d.resolve("rank-00000.shard"), "s");
        return CheckpointInfo.newBuilder()
                .setStep(step)
                .setPath(d.toString())
                .setMeshEpoch(1)
                .build();
    }

    private static JobSpec keep(int last, long every) {
        return JobSpec.newBuilder()
                .setCheckpointKeepLast(last)
                .setCheckpointKeepEvery(every)
                .build();
    }

    private List<String> left() throws IOException {
        try (Stream<Path> s = Files.list(root)) {
            return s.map(p -> p.getFileName().toString()).sorted().toList();
        }
    }

    @Test
    void dropsWhatTheSpecDoesNotKeepNeverTheNewestJournaled() throws IOException {
        List<CheckpointInfo> journaled = new ArrayList<>();
        for (long s = 2; s <= 12; s += 2) journaled.add(info(s));
        // On disk but not journaled yet (rank 0 committed, the report is on its way), and a save in flight.
        info(14);
        Files.createDirectories(root.resolve("step-000016.tmp-e1"));

        assertEquals(List.of(), CheckpointRetention.toDelete(keep(0, 0), journaled), "keep_last 0 keeps all");
        assertEquals(
                List.of(2L, 6L),
                CheckpointRetention.toDelete(keep(2, 4), journaled).stream()
                        .map(CheckpointInfo::getStep)
                        .toList());
        CheckpointRetention.apply(CheckpointRetention.toDelete(keep(2, 4), journaled), msg -> {});
        assertEquals(
                List.of(
                        "step-000004",
                        "step-000008",
                        "step-000010",
                        "step-000012",
                        "step-000014",
                        "step-000016.tmp-e1"),
                left());
        // Applied again (the next commit recomputes over the whole journal): the gone folders are skipped.
        CheckpointRetention.apply(CheckpointRetention.toDelete(keep(2, 4), journaled), msg -> {});
        assertEquals(6, left().size());
        // keep_last 1 with no keep_every: only the newest journaled (12) of the journaled ones is left.
        List<String> log = new ArrayList<>();
        CheckpointRetention.apply(CheckpointRetention.toDelete(keep(1, 0), journaled), log::add);
        assertEquals(List.of("step-000012", "step-000014", "step-000016.tmp-e1"), left());
        assertEquals(3, log.size(), log::toString);
        assertTrue(log.get(0).startsWith("checkpoint retention: deleted " + root.resolve("step-000004")), log.get(0));
    }

    @Test
    void theNewestJournaledIsKeptWhateverItsPlaceAmongTheFolders() throws IOException {
        List<CheckpointInfo> journaled = List.of(info(4), info(8));
        assertEquals(
                List.of(4L),
                CheckpointRetention.toDelete(keep(1, 0), journaled).stream()
                        .map(CheckpointInfo::getStep)
                        .toList());
        assertEquals(List.of(), CheckpointRetention.toDelete(keep(1, 0), List.of()));
    }
}
