// The GPU StepRunner through the worker SPI (tag gpu): rendezvous phase 1 makes the DP group's
// ncclUniqueId, the table carries its bytes, phase 2 forms the NCCL communicator from them
// (non-blocking ncclCommInitRankConfig) and builds BackendLlama; then steps on the DataLoader's batches
// give the CPU engine's losses (EngineStepRunner on the same batches) within bf16 tolerance, and
// abortMesh aborts the communicator. Skips, naming the reason, without CUDA/cuBLAS/NVRTC/NCCL.
package dev.shoal.actors.engine;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import dev.shoal.actors.TestData;
import dev.shoal.actors.worker.MeshAssignment;
import dev.shoal.actors.worker.Rendezvous;
import dev.shoal.actors.worker.StepResult;
import dev.shoal.actors.worker.StepRunner;
import dev.shoal.actors.worker.WorkerInfo;
import dev.shoal.comm.ParallelDims;
import dev.shoal.cuda.CudaDevice;
import dev.shoal.cuda.NativeLibs;
import dev.shoal.nccl.NcclCommunicator;
import dev.shoal.nccl.NcclUniqueId;
import dev.shoal.proto.v1.DataSource;
import dev.shoal.proto.v1.JobSpec;
import dev.shoal.proto.v1.LrSchedule;
import dev.shoal.proto.v1.Parallelism;
import dev.shoal.runtime.train.TrainData;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

@Tag("gpu")
class CudaStepRunnerGpuTest {

    static final int STEPS = 3;
    static final double LOSS_TOL = 3e-2; // bf16 compute vs the fp32 CPU engine, relative

    @TempDir
    Path dir;

    static JobSpec spec(Path data) {
        return JobSpec.newBuilder()
                .setName("gpu-rank")
                .setModel("tiny")
                .addSources(DataSource.newBuilder()
                        .setName("en")
                        .setLanguage("en")
                        .setPath(data.toString())
                        .setWeight(0.75))
                .addSources(DataSource.newBuilder()
                        .setName("zh")
                        .setLanguage("zh")
                        .setPath(data.toString())
                        .setWeight(0.25)
                        .setAdditional(true))
                .setSeqLen(32)
                .setGlobalBatch(8)
                .setMicroBatch(4)
                .setSteps(STEPS)
                .setSeed(3)
                .setLr(LrSchedule.newBuilder().setPeakLr(3e-3))
                .setParallelism(Parallelism.newBuilder().setTp(1).setPp(1).setDp(1))
                .build();
    }

    /** Both phases of the rendezvous for a one-rank mesh, as the coordinator runs them. */
    static void join(StepRunner r, MeshAssignment a) throws Exception {
        Map<String, byte[]> published = r.prepareMesh(a);
        r.joinMesh(a, new Rendezvous(a.epoch(), published));
    }

    /** Step s's batch of the one replica, as its DataLoader sends it. */
    static StepRunner.Batch batch(TrainData data, long epoch, long step, int t) {
        int[][] rows = data.replicaRows(step - 1, 0, 1);
        int[] in = new int[rows.length * t], tg = new int[rows.length * t];
        for (int i = 0; i < rows.length; i++) {
            System.arraycopy(rows[i], 0, in, i * t, t);
            System.arraycopy(rows[i], 1, tg, i * t, t);
        }
        return new StepRunner.Batch(epoch, step, 0, in, tg);
    }

    static List<Double> train(StepRunner r, MeshAssignment a, TrainData data) throws Exception {
        join(r, a);
        List<Double> losses = new ArrayList<>();
        for (long s = 1; s <= STEPS; s++) {
            r.offerBatch(batch(data, a.epoch(), s, 32));
            StepResult res = r.runStep(a.epoch(), s, s == STEPS, "");
            losses.add(res.loss());
            if (s == STEPS) {
                losses.add(res.validation().get("en"));
                losses.add(res.validation().get("zh"));
            }
        }
        return losses;
    }

    @Test
    void oneGpuRankFromTheHandedOutIdTrainsLikeTheCpuEngine() throws Exception {
        String why = NativeLibs.unavailableReason(NativeLibs.Lib.CUBLAS, NativeLibs.Lib.NVRTC, NativeLibs.Lib.NCCL);
        assumeTrue(why.isEmpty(), why);
        assumeTrue(CudaDevice.count() >= 1, "no CUDA GPU");
        JobSpec spec = spec(TestData.prepareBilingual(dir));
        TrainData data = new TrainData(JobSpecs.toJobConfig(spec, 1), null);
        ParallelDims one = ParallelDims.of(1, 1, 1);
        WorkerInfo gpuDev = new WorkerInfo("pekko://shoal@127.0.0.1:2552", WorkerInfo.CUDA, 0);
        WorkerInfo cpuDev = new WorkerInfo("pekko://shoal@127.0.0.1:2552", WorkerInfo.CPU, 0);
        List<Double> gpu, cpu;
        try (CudaStepRunner r = new CudaStepRunner(gpuDev, 1, NcclCommunicator.Options.defaults())) {
            MeshAssignment a = new MeshAssignment(1, 0, one, 1, "", List.of(), spec);
            Map<String, byte[]> published = r.prepareMesh(a);
            String key = Rendezvous.ncclKey(one, 0, Rendezvous.Axis.DP);
            assertEquals(List.of(key), new ArrayList<>(published.keySet()), "rank 0 is its DP group's root");
            assertEquals(NcclUniqueId.BYTES, published.get(key).length);
            gpu = train(r, new MeshAssignment(2, 0, one, 1, "", List.of(), spec), data);
            // abortMesh reaches the NCCL communicator: the next step of the mesh fails, saying why.
            r.abortMesh(2);
            r.offerBatch(batch(data, 2, STEPS + 1, 32));
            Exception e = assertThrows(Exception.class, () -> r.runStep(2, STEPS + 1));
            assertTrue(String.valueOf(e.getMessage()).contains("epoch 2"), e.toString());
        }
        try (EngineStepRunner r = new EngineStepRunner(cpuDev, 2, java.time.Duration.ZERO, false)) {
            cpu = train(r, new MeshAssignment(1, 0, one, 1, "", List.of(), spec), data);
        }
        System.out.println("losses (steps 1.." + STEPS + ", then val en, zh): cpu " + cpu + " gpu " + gpu);
        for (int i = 0; i < cpu.size(); i++) {
            double rel = Math.abs(gpu.get(i) - cpu.get(i)) / Math.abs(cpu.get(i));
            assertTrue(
                    rel <= LOSS_TOL,
                    "value " + i + ": GPU " + gpu.get(i) + " vs CPU " + cpu.get(i) + " (rel " + rel + ")");
        }
    }

    @Test
    void aGpuCheckpointResumesOnAGpuRankAndOnACpuRank() throws Exception {
        String why = NativeLibs.unavailableReason(NativeLibs.Lib.CUBLAS, NativeLibs.Lib.NVRTC, NativeLibs.Lib.NCCL);
        assumeTrue(why.isEmpty(), why);
        assumeTrue(CudaDevice.count() >= 1, "no CUDA GPU");
        Path root = dir.resolve("ckpt");
        JobSpec spec = spec(TestData.prepareBilingual(dir)).toBuilder()
                .setCheckpointDir(root.toString())
                .build();
        TrainData data = new TrainData(JobSpecs.toJobConfig(spec, 1), null);
        ParallelDims one = ParallelDims.of(1, 1, 1);
        WorkerInfo gpuDev = new WorkerInfo("pekko://shoal@127.0.0.1:2552", WorkerInfo.CUDA, 0);
        WorkerInfo cpuDev = new WorkerInfo("pekko://shoal@127.0.0.1:2552", WorkerInfo.CPU, 0);
        String committed;
        double last;
        try (CudaStepRunner r = new CudaStepRunner(gpuDev, 1, NcclCommunicator.Options.defaults())) {
            MeshAssignment a = new MeshAssignment(1, 0, one, 1, "", List.of(), spec);
            join(r, a);
            r.offerBatch(batch(data, 1, 1, 32));
            r.runStep(1, 1);
            r.offerBatch(batch(data, 1, 2, 32));
            // Step 2 saves and, as a rescale boundary does, waits for the commit: rank 0 reports the folder.
            committed = r.runStep(1, 2, false, root.toString(), true).checkpointPath();
            assertTrue(committed.endsWith("step-000002"), committed);
            r.offerBatch(batch(data, 1, 3, 32));
            last = r.runStep(1, 3).loss();
        }
        // A new GPU mesh resumes from it: step 3 again, the same loss (fp32 state restored exactly).
        try (CudaStepRunner r = new CudaStepRunner(gpuDev, 1, NcclCommunicator.Options.defaults())) {
            MeshAssignment a = new MeshAssignment(2, 0, one, 3, committed, List.of(), spec);
            join(r, a);
            r.offerBatch(batch(data, 2, 3, 32));
            double again = r.runStep(2, 3).loss();
            System.out.printf("step 3 after resuming on the GPU: %.7f, uninterrupted %.7f%n", again, last);
            assertTrue(Math.abs(again - last) <= 1e-5 * last, "GPU resume " + again + " vs " + last);
        }
        // A CPU rank resumes from the GPU checkpoint, within bf16 tolerance of the GPU's step.
        try (EngineStepRunner r = new EngineStepRunner(cpuDev, 2, java.time.Duration.ZERO, false)) {
            MeshAssignment a = new MeshAssignment(3, 0, one, 3, committed, List.of(), spec);
            join(r, a);
            r.offerBatch(batch(data, 3, 3, 32));
            double cpu = r.runStep(3, 3).loss();
            System.out.printf("step 3 after resuming on the CPU: %.7f, GPU %.7f%n", cpu, last);
            assertTrue(Math.abs(cpu - last) <= LOSS_TOL * last, "CPU resume " + cpu + " vs GPU " + last);
        }
    }
}
