// Multi-JVM equivalence: a tp 2 × dp 2 mesh (ZeRO-1) and a tp 2 × pp 2 mesh, each rank its own JVM
// talking TCP (TcpRankProcess), train the tiny model for 3 steps and must match the single-rank
// reference within the same 1e-5 relative tolerance as the thread-rank tests; the ZeRO-1 mesh also with
// duplex rings on half its ranks.
package dev.shoal.runtime.parallel;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.shoal.comm.ParallelDims;
import dev.shoal.runtime.model.LlamaConfig;
import dev.shoal.runtime.model.ModelShard;
import dev.shoal.runtime.tensor.Tensor;
import java.io.File;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

@Tag("slow")
class MultiProcessTcpTest {
    @TempDir
    Path dir;

    @Test
    void tp2Dp2Zero1AcrossProcesses() throws Exception {
        check(2, 2, 1, DataParallelOptimizer.Mode.ZERO1);
    }

    @Test
    void tp2Pp2AcrossProcesses() throws Exception {
        check(2, 1, 2, DataParallelOptimizer.Mode.REPLICATED);
    }

    /**
     * The ZeRO-1 mesh with duplex rings on even ranks and lock-step ones on odd ranks: the duplex path
     * across processes, and the two ways interoperating on one wire.
     */
    @Test
    void tp2Dp2Zero1AcrossProcessesWithDuplexAndLockStepRanks() throws Exception {
        ringModes = r -> r % 2 == 0 ? "duplex" : "lock-step";
        check(2, 2, 1, DataParallelOptimizer.Mode.ZERO1);
    }

    /** Rank → its JVM's shoal.comm.tcp.ring ("auto" unless a test says otherwise). */
    private java.util.function.IntFunction<String> ringModes = r -> "auto";

    void check(int tp, int dp, int pp, DataParallelOptimizer.Mode mode) throws Exception {
        LlamaConfig cfg = ParallelEquivalenceTest.TINY;
        ParallelDims dims = ParallelDims.of(tp, pp, dp);
        String java = Path.of(System.getProperty("java.home"), "bin", "java").toString();
        List<Process> procs = new ArrayList<>();
        for (int r = 0; r < dims.world(); r++) {
            ProcessBuilder pb = new ProcessBuilder(
                    java,
                    "-Xmx256m",
                    "-Dshoal.comm.tcp.ring=" + ringModes.apply(r),
                    "-cp",
                    System.getProperty("java.class.path"),
                    TcpRankProcess.class.getName(),
                    dir.toString(),
                    Integer.toString(r),
                    Integer.toString(tp),
                    Integer.toString(dp),
                    Integer.toString(pp),
                    mode.name());
            pb.redirectErrorStream(true);
            pb.redirectOutput(new File(dir.toFile(), "rank-" + r + ".log"));
            procs.add(pb.start());
        }
        for (int r = 0; r < procs.size(); r++) {
            Process p = procs.get(r);
            boolean done = p.waitFor(180, TimeUnit.SECONDS);
            if (!done) {
                procs.forEach(Process::destroyForcibly);
            }
            assertTrue(
                    done && p.exitValue() == 0,
                    "rank " + r + " failed: " + Files.readString(dir.resolve("rank-" + r + ".log")));
        }
        // Gather replica 0's shards of every stage into full weights.
        Map<String, Tensor> init = ParallelEquivalenceTest.initialWeights(cfg);
        Map<String, Tensor> full = new LinkedHashMap<>();
        init.forEach((k, v) -> full.put(k, Tensor.zeros(v.shape())));
        StagePlan stages = StagePlan.balanced(cfg, pp);
        TpPlan plan = new TpPlan(cfg, tp);
        double[] losses = null;
        for (int p = 0; p < pp; p++) {
            List<Map<String, Tensor>> shards = new ArrayList<>();
            for (int t = 0; t < tp; t++) {
                TcpRankProcess.Output out = TcpRankProcess.read(dir.resolve("rank-" + dims.rank(t, p, 0) + ".out"));
                losses = losses == null ? out.losses() : losses;
                assertEquals(losses[losses.length - 1], out.losses()[losses.length - 1], 0.0, "every rank's loss");
                ModelShard shard = ModelShard.of(cfg, t, tp, stages.layerStart(p), stages.layerEnd(p));
                Map<String, Tensor> m = new LinkedHashMap<>();
                int tpRank = t;
                out.params().forEach((k, v) -> m.put(k, Tensor.of(v, shapeOf(k, init.get(k), plan, tpRank))));
                assertEquals(
                        shard.paramCount(cfg),
                        m.values().stream().mapToLong(Tensor::numel).sum());
                shards.add(m);
            }
            plan.gather(shards, full);
        }
        ParallelEquivalenceTest.Run ref = ParallelEquivalenceTest.reference(cfg, init);
        ParallelEquivalenceTest.Run run = new ParallelEquivalenceTest.Run(losses, ref.norms(), full);
        double le = ParallelEquivalenceTest.lossError(run, ref), we = ParallelEquivalenceTest.weightError(run, ref);
        System.out.printf(
                "tiny tp %d dp %d pp %d %s, %d JVMs over TCP: loss rel err %.2e  weight rel err %.2e%n",
                tp, dp, pp, mode, dims.world(), le, we);
        assertTrue(le <= ParallelEquivalenceTest.TOL, "loss relative error " + le);
        assertTrue(we <= ParallelEquivalenceTest.TOL, "weight relative error " + we);
    }

    /** The shard shape of a full tensor for TP rank t. */
    static int[] shapeOf(String name, Tensor full, TpPlan plan, int t) {
        int[] shape = full.shape().clone();
        switch (TpPlan.split(name)) {
            case ROWS -> shape[0] = plan.range(name, t)[1] - plan.range(name, t)[0];
            case COLUMNS -> shape[1] = plan.range(name, t)[1] - plan.range(name, t)[0];
            case REPLICATED -> {}
        }
        return shape;
    }
}
