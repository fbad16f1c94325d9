// CudaStepRunner without a GPU: the factory picks it for CUDA devices and EngineStepRunner for CPU
// ranks, and what GPU ranks cannot run yet is refused in rendezvous phase 1 naming the value (before
// any native call, so these checks run on every build).
package dev.shoal.actors.engine;

import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.shoal.actors.worker.MeshAssignment;
import dev.shoal.actors.worker.StepRunner;
import dev.shoal.actors.worker.WorkerInfo;
import dev.shoal.comm.ParallelDims;
import dev.shoal.nccl.NcclCommunicator;
import dev.shoal.proto.v1.JobSpec;
import java.util.List;
import org.junit.jupiter.api.Test;

class CudaStepRunnerTest {

    static final WorkerInfo GPU = new WorkerInfo("pekko://shoal@127.0.0.1:2552", WorkerInfo.CUDA, 0);

    static CudaStepRunner runner() {
        return new CudaStepRunner(GPU, 1, NcclCommunicator.Options.defaults());
    }

    static MeshAssignment mesh(ParallelDims dims, String checkpointDir, String resumeFrom) {
        JobSpec spec = JobSpec.newBuilder()
                .setModel("tiny")
                .setCheckpointDir(checkpointDir)
                .build();
        return new MeshAssignment(2, 0, dims, 1, resumeFrom, List.of(), spec);
    }

    @Test
    void theFactoryGivesGpuDevicesTheNcclRunnerAndCpuRanksTheTcpRunner() throws Exception {
        var f = new EngineStepRunner.Factory();
        try (StepRunner gpu = f.create(GPU)) {
            assertTrue(gpu instanceof CudaStepRunner, gpu.getClass().getName());
            assertTrue(gpu.backendAddress().isEmpty(), "a GPU rank has no TCP endpoint");
        }
        try (StepRunner cpu = f.create(new WorkerInfo("pekko://shoal@127.0.0.1:2552", WorkerInfo.CPU, 0))) {
            assertTrue(cpu instanceof EngineStepRunner, cpu.getClass().getName());
        }
    }

    @Test
    void tensorAndPipelineLayoutsAreRefusedNamingTpAndPp() {
        try (CudaStepRunner r = runner()) {
            String e = assertThrows(
                            IllegalArgumentException.class, () -> r.prepareMesh(mesh(ParallelDims.of(2, 1, 2), "", "")))
                    .getMessage();
            assertTrue(
                    e.contains("GPU ranks run data parallelism only (tp 1 × pp 1); this mesh is tp 2 × pp 1 × dp 2"),
                    e);
            e = assertThrows(
                            IllegalArgumentException.class, () -> r.prepareMesh(mesh(ParallelDims.of(1, 2, 1), "", "")))
                    .getMessage();
            assertTrue(e.contains("tp 1 × pp 2"), e);
        }
    }

    @Test
    void aGpuRankNeedsTheRendezvousTable() {
        try (CudaStepRunner r = runner()) {
            String e = assertThrows(
                            IllegalStateException.class, () -> r.joinMesh(mesh(ParallelDims.of(1, 1, 1), "", "")))
                    .getMessage();
            assertTrue(e.contains("only with a rendezvous table"), e);
        }
    }

    @Test
    void onlyCudaDevicesGetIt() {
        var cpu = new WorkerInfo("pekko://shoal@127.0.0.1:2552", WorkerInfo.CPU, 0);
        assertThrows(
                IllegalArgumentException.class, () -> new CudaStepRunner(cpu, 1, NcclCommunicator.Options.defaults()));
    }
}
