// Checkpoints across real processes: two JVMs (dp 2, ZeRO-1, over TCP) commit step 2 through the shared
// directory; during the save of step 4 rank 1 is killed with SIGKILL before writing, so rank 0 gives up
// the commit after its timeout, naming rank 1. latest() then returns step 2, logging the left-over
// temp folder of step 4, and step 2 loads on one in-process rank and trains on with the losses the
// processes saw (within 1e-5 relative: dp 2 vs dp 1 summation order).
package dev.shoal.runtime.checkpoint;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.shoal.runtime.checkpoint.MeshRun.Layout;
import java.io.File;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

@Tag("slow")
class CheckpointProcessTest {
    @TempDir
    Path dir;

    @Test
    void aKilledRankLeavesNoCommittedCheckpoint() throws Exception {
        String java = Path.of(System.getProperty("java.home"), "bin", "java").toString();
        List<Process> procs = new ArrayList<>();
        try {
            for (int r = 0; r < 2; r++) {
                ProcessBuilder pb = new ProcessBuilder(
                        java,
                        "-Xmx256m",
                        "-cp",
                        System.getProperty("java.class.path"),
                        CkptRankProcess.class.getName(),
                        dir.toString(),
                        Integer.toString(r));
                pb.redirectErrorStream(true);
                pb.redirectOutput(new File(dir.toFile(), "rank-" + r + ".log"));
                procs.add(pb.start());
            }
            Path held = dir.resolve("held.txt");
            for (long deadline = System.currentTimeMillis() + 120_000; !Files.exists(held); Thread.sleep(50)) {
                assertTrue(System.currentTimeMillis() < deadline && procs.get(1).isAlive(), log(1));
            }
            procs.get(1).destroyForcibly().waitFor(30, TimeUnit.SECONDS); // SIGKILL mid-save
            assertTrue(procs.get(0).waitFor(120, TimeUnit.SECONDS), "rank 0 did not give up: " + log(0));
            assertEquals(3, procs.get(0).exitValue(), log(0));
        } finally {
            procs.forEach(Process::destroyForcibly);
        }
        String err = Files.readString(dir.resolve("rank0-error.txt"));
        assertTrue(err.contains("rank 1 did not finish") && err.contains("step 4 not committed"), err);

        Path root = dir.resolve("ckpt");
        List<String> skipped = new ArrayList<>();
        Optional<Path> latest = CheckpointDir.latest(root, true, skipped::add);
        assertEquals(Optional.of(CheckpointDir.stepDir(root, 2)), latest);
        assertEquals(1, skipped.size(), skipped.toString());
        assertTrue(
                skipped.get(0).contains("step-000004.tmp-e1") && skipped.get(0).contains("uncommitted"),
                skipped.get(0));

        double[] want = Files.readAllLines(dir.resolve("losses.txt")).stream()
                .mapToDouble(Double::parseDouble)
                .toArray();
        try (MeshRun run = new MeshRun(Layout.of(1, 1, 1, false), null)) {
            run.onAll((r, t, c) -> CheckpointLoader.load(latest.get(), t, c));
            double[] got = run.train(2, 4);
            for (int i = 0; i < 2; i++) {
                assertTrue(Math.abs(got[i] - want[i]) <= 1e-5 * Math.abs(want[i]), got[i] + " vs " + want[i]);
            }
        }
    }

    private String log(int r) throws Exception {
        Path f = dir.resolve("rank-" + r + ".log");
        return Files.exists(f) ? Files.readString(f) : "(no log)";
    }
}
