// BackendRankTrainer on real GPUs (tag gpu): NCCL communicators formed from ncclUniqueId BYTES (as the
// coordinator hands them out) and training steps whose losses follow the single-process CPU Trainer
// within bf16 tolerance. (a) one rank on GPU 0; (b) with two GPUs, two ranks (one thread each) as a
// dp 2 mesh over NCCL: the same losses, and both replicas end with the same weights.
// Skips, naming the reason, without CUDA/cuBLAS/NVRTC/NCCL or with too few GPUs.
package dev.shoal.runtime.train;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import com.fasterxml.jackson.databind.JsonNode;
import dev.shoal.comm.ParallelDims;
import dev.shoal.cuda.CudaDevice;
import dev.shoal.cuda.NativeLibs;
import dev.shoal.nccl.NcclCommunicator;
import dev.shoal.nccl.NcclUniqueId;
import dev.shoal.runtime.cuda.CudaOps;
import dev.shoal.runtime.model.LlamaModel;
import dev.shoal.runtime.tensor.Compute;
import dev.shoal.runtime.tensor.Tensor;
import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

@Tag("gpu")
class BackendRankTrainerGpuTest {

    /** bf16 compute against the fp32 CPU engine: relative loss difference per step (BackendLlama's curve bound). */
    static final double LOSS_TOL = 3e-2;

    static final int STEPS = 4;

    @TempDir
    static Path dir;

    static List<JsonNode> cpu; // the CPU Trainer's metrics.jsonl (step 0: validation before training)

    static void assumeGpus(int n) {
        String why = NativeLibs.unavailableReason(NativeLibs.Lib.CUBLAS, NativeLibs.Lib.NVRTC, NativeLibs.Lib.NCCL);
        assumeTrue(why.isEmpty(), why);
        int have = CudaDevice.count();
        assumeTrue(have >= n, "needs " + n + " CUDA GPUs, this machine has " + have);
    }

    @BeforeAll
    static void cpuReference() throws IOException {
        assumeGpus(1);
        TrainFixture.prepare(dir);
        try (Trainer t =
                new Trainer(JobConfigReader.load(TrainFixture.config(dir, "cpu.conf", "ckpt-cpu", "")), null, null)) {
            t.run(false, STEPS);
        }
        cpu = MetricsLog.read(dir.resolve("ckpt-cpu/metrics.jsonl"));
    }

    static JobConfig job(String name) throws IOException {
        return JobConfigReader.load(TrainFixture.config(dir, name + ".conf", "ckpt-" + name, ""));
    }

    static void assertLossClose(double want, double got, String what) {
        double rel = Math.abs(got - want) / Math.abs(want);
        System.out.printf("%s: cpu %.6f gpu %.6f (rel %.2e)%n", what, want, got, rel);
        assertTrue(rel <= LOSS_TOL, what + ": GPU " + got + " vs CPU " + want + " (rel " + rel + ")");
    }

    /** One rank's run of STEPS steps on GPU `device` as DP rank `rank` of `size`; returns its losses. */
    static List<Double> runRank(JobConfig job, byte[] idBytes, int rank, int size, int device, LlamaModel out)
            throws IOException {
        return runRank(job, idBytes, rank, size, device, out, false);
    }

    static List<Double> runRank(
            JobConfig job, byte[] idBytes, int rank, int size, int device, LlamaModel out, boolean zero1)
            throws IOException {
        List<Double> losses = new ArrayList<>();
        NcclUniqueId id = NcclUniqueId.fromBytes(idBytes);
        try (NcclCommunicator dp =
                        NcclCommunicator.create(id, rank, size, 1, device, NcclCommunicator.Options.defaults());
                CudaOps ops = CudaOps.create(device, null);
                BackendRankTrainer t = new BackendRankTrainer(job, ParallelDims.of(1, 1, size), dp, ops, zero1)) {
            for (long s = 0; s < STEPS; s++) {
                BackendRankTrainer.StepMetrics m = t.step(s, t.rows(s));
                assertEquals(job.lrSchedule().lr(s), m.lr());
                assertTrue(Double.isFinite(m.gradNorm()) && m.gradNorm() > 0, "grad norm " + m.gradNorm());
                losses.add(m.loss());
            }
            Map<String, Double> val = t.evaluate();
            losses.add(val.get("en"));
            losses.add(val.get("zh"));
            if (out != null) t.downloadParams(out);
        }
        return losses;
    }

    @Test
    void oneRankFromUniqueIdBytesTrainsLikeTheCpuEngine() throws IOException {
        assumeGpus(1);
        byte[] bytes = NcclUniqueId.generate().toBytes(); // what the group root publishes
        assertEquals(NcclUniqueId.BYTES, bytes.length);
        List<Double> got = runRank(job("gpu1"), bytes, 0, 1, 0, null);
        for (int s = 1; s <= STEPS; s++) {
            assertLossClose(cpu.get(s).get("loss").asDouble(), got.get(s - 1), "1 GPU, step " + s + " loss");
        }
        // Validation after STEPS steps (the CPU run evaluates at eval_interval 4 = STEPS).
        JsonNode val = cpu.get(STEPS).get("val_loss");
        assertLossClose(val.get("en").asDouble(), got.get(STEPS), "1 GPU, val en");
        assertLossClose(val.get("zh").asDouble(), got.get(STEPS + 1), "1 GPU, val zh");
    }

    @Test
    void twoRanksOnTwoGpusTrainDataParallelOverNccl() throws Exception {
        assumeGpus(2);
        JobConfig job = job("gpu2");
        byte[] bytes = NcclUniqueId.generate().toBytes();
        var cfg = TrainData.modelConfig(job);
        try (Compute cx = Compute.cpu(1)) {
            LlamaModel w0 = new LlamaModel(cfg, 1, 1, cx, false);
            LlamaModel w1 = new LlamaModel(cfg, 1, 1, cx, false);
            ExecutorService pool = Executors.newFixedThreadPool(2);
            try {
                Future<List<Double>> r0 = pool.submit(() -> runRank(job, bytes, 0, 2, 0, w0));
                Future<List<Double>> r1 = pool.submit(() -> runRank(job, bytes, 1, 2, 1, w1));
                List<Double> l0 = r0.get(5, TimeUnit.MINUTES), l1 = r1.get(5, TimeUnit.MINUTES);
                assertEquals(l0, l1, "both replicas report the DP-averaged numbers");
                for (int s = 1; s <= STEPS; s++) {
                    assertLossClose(cpu.get(s).get("loss").asDouble(), l0.get(s - 1), "dp 2, step " + s + " loss");
                }
            } finally {
                pool.shutdownNow();
            }
            double worst = 0;
            for (Map.Entry<String, Tensor> e : w0.params().entrySet()) {
                Tensor b = w1.params().get(e.getKey());
                for (long i = 0; i < b.numel(); i++)
                    worst = Math.max(worst, Math.abs(e.getValue().get(i) - b.get(i)));
            }
            assertEquals(0.0, worst, "the replicas' weights differ after the same averaged updates");
        }
    }

    @Test
    void zero1OnTwoGpusGivesTheReplicatedRun() throws Exception {
        assumeGpus(2);
        JobConfig job = job("gpu2z");
        ExecutorService pool = Executors.newFixedThreadPool(2);
        try {
            List<List<Double>> runs = new ArrayList<>();
            for (boolean zero1 : new boolean[] {false, true}) {
                byte[] bytes = NcclUniqueId.generate().toBytes();
                Future<List<Double>> r0 = pool.submit(() -> runRank(job, bytes, 0, 2, 0, null, zero1));
                Future<List<Double>> r1 = pool.submit(() -> runRank(job, bytes, 1, 2, 1, null, zero1));
                List<Double> l0 = r0.get(5, TimeUnit.MINUTES);
                assertEquals(l0, r1.get(5, TimeUnit.MINUTES), "zero1 " + zero1 + ": both replicas agree");
                runs.add(l0);
            }
            System.out.println("dp 2 replicated " + runs.get(0) + ", ZeRO-1 " + runs.get(1));
            // The same kernels on the same GPUs: only the order of fp32 atomics (embedding backward) may differ.
            for (int i = 0; i < runs.get(0).size(); i++) {
                double want = runs.get(0).get(i), got = runs.get(1).get(i);
                assertTrue(
                        Math.abs(got - want) <= 1e-5 * Math.abs(want),
                        "dp 2 ZeRO-1 vs replicated, value " + i + ": " + got + " vs " + want);
            }
        } finally {
            pool.shutdownNow();
        }
    }
}
