// The simulated device: its step time is the planner's cost model for the job's layout, its loss
// falls with the step, it refuses a step of a mesh it did not join, and it never sleeps.
package dev.shoal.actors.sim;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.shoal.actors.worker.MeshAssignment;
import dev.shoal.actors.worker.WorkerInfo;
import dev.shoal.comm.ParallelDims;
import dev.shoal.runtime.model.LlamaConfig;
import dev.shoal.runtime.plan.Cluster;
import dev.shoal.runtime.plan.CostModel;
import dev.shoal.runtime.plan.GpuSpec;
import dev.shoal.runtime.plan.Layout;
import dev.shoal.runtime.plan.Recompute;
import dev.shoal.runtime.plan.TrainSetup;
import java.util.List;
import org.junit.jupiter.api.Test;

class SimStepRunnerTest {

    private static final Scenario SC = new Scenario("t", "llama3-70b", "h100", 128, 8, 8, 8, 16, 1, 8192, 1024, 3, 1);

    @Test
    void stepTimeIsTheCostModelsAndTheClockAdvancesWithoutSleeping() throws Exception {
        var f = new SimStepRunner.Factory(GpuSpec.preset("h100"), 8);
        var r = (SimStepRunner)
                f.create(new WorkerInfo("pekko://shoal@127.0.0.1:1/sim-node-00000", WorkerInfo.CUDA, 0));
        ParallelDims dims = new ParallelDims(8, 8, 16, 1024);
        r.joinMesh(new MeshAssignment(1, 7, dims, 1, "", List.of(), SC.jobSpec()));
        double expected = new CostModel(
                        new Cluster(128, 8, GpuSpec.preset("h100")),
                        TrainSetup.of(LlamaConfig.preset("llama3-70b"), 1024, 8192))
                .estimate(new Layout(8, 8, 16, 1, Recompute.SELECTIVE))
                .stepSeconds();
        long start = System.nanoTime();
        double previous = Double.POSITIVE_INFINITY;
        for (long step = 1; step <= 3; step++) {
            var result = r.runStep(1, step);
            assertTrue(result.loss() < previous, "the loss falls");
            previous = result.loss();
            assertEquals(1024 / 16 * 8192L, result.tokens(), "the replica's tokens");
        }
        assertTrue((System.nanoTime() - start) / 1e9 < expected, "no sleeping: wall time is far below sim time");
        assertEquals(3 * expected, r.simulatedSeconds(), 1e-9);
        assertEquals(List.of(1L), r.joinedEpochs());
        assertEquals(3, r.ran().size());
        assertEquals(7, r.ran().get(0).rank());
        assertEquals(dims.coord(7), r.ran().get(0).coord());
        assertThrows(IllegalStateException.class, () -> r.runStep(2, 4), "a mesh it did not join");
        r.abortMesh(1);
        assertThrows(IllegalStateException.class, () -> r.runStep(1, 4), "an aborted mesh");
        assertTrue(f.explicitOnly(), "never picked as a node's engine by default");
        assertEquals(r, f.runners().get(r.device().id()));
    }
}
