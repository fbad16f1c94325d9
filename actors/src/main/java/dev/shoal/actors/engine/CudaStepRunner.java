// The training engine behind a GpuWorker that owns a CUDA GPU: one data-parallel rank whose gradients
// are averaged over NCCL. Rendezvous: in prepareMesh the root of the rank's DP group (its DP rank 0)
// makes the group's ncclUniqueId (published as "nccl/dp/pp0/tp<T>"); in joinMesh every member reads
// it from the table the coordinator handed out and forms the group with a non-blocking
// ncclCommInitRankConfig (NcclCommunicator). It then trains the rank's replica with the runtime's
// BackendRankTrainer (BackendLlama: bf16 compute, fp32 master weights) on the micro-batches its DataLoader
// sends.
//
// Guarantees:
// - Layouts other than tp 1 × pp 1 are refused in prepareMesh with a message naming the value (GPU
//   tensor/pipeline parallelism is not built): the job fails at forming, saying why, before any GPU work.
// - Checkpoints are the cluster's sharded format (ClusterCheckpoints over BackendRankTrainer.save/load, via
//   host memory): a GPU job's checkpoint resumes on GPU or CPU ranks of any layout, and the other way
//   round; rank 0 reports a commit only once every shard is durable, and a lost mesh never commits.
// - abortMesh(epoch) aborts the NCCL communicator (ncclCommAbort), including one still forming (its
//   init polls a cancel flag), and unblocks a step waiting for its batch; NcclCommunicator's own
//   watchdog aborts on an asynchronous NCCL error or an operation older than its timeout.
// - The CUDA context (kernels compiled by NVRTC, cuBLAS, the memory pool) is made once, on the first
//   mesh, on the worker's compute thread; it is released by close().
package dev.shoal.actors.engine;

import dev.shoal.actors.worker.MeshAssignment;
import dev.shoal.actors.worker.Rendezvous;
import dev.shoal.actors.worker.StepResult;
import dev.shoal.actors.worker.StepRunner;
import dev.shoal.actors.worker.WorkerInfo;
import dev.shoal.comm.ParallelDims;
import dev.shoal.nccl.NcclCommunicator;
import dev.shoal.nccl.NcclUniqueId;
import dev.shoal.runtime.checkpoint.Checkpointer;
import dev.shoal.runtime.comm.InJvmWorld;
import dev.shoal.runtime.cuda.CudaOps;
import dev.shoal.runtime.parallel.RankComms;
import dev.shoal.runtime.train.BackendRankTrainer;
import dev.shoal.runtime.train.JobConfig;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Map;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

public final class CudaStepRunner implements StepRunner {
    private static final Logger LOG = LoggerFactory.getLogger(CudaStepRunner.class);

    private final WorkerInfo device;
    private final int threads;
    private final NcclCommunicator.Options ncclOptions;
    private final RankBatches batches = new RankBatches();
    private CudaOps ops; // made on the first mesh (compute thread)
    private volatile long cancelledEpoch = -1; // a joinMesh forming this epoch's group gives up
    private volatile Mesh mesh;

    private record Mesh(
            MeshAssignment assignment,
            JobConfig job,
            NcclCommunicator dp,
            BackendRankTrainer trainer,
            ClusterCheckpoints checkpoints) {} // checkpoints: null without a checkpoint_dir

    CudaStepRunner(WorkerInfo device, int threads, NcclCommunicator.Options ncclOptions) {
        if (!WorkerInfo.CUDA.equals(device.deviceKind())) {
            throw new IllegalArgumentException("CudaStepRunner needs a cuda device, got " + device.id());
        }
        this.device = device;
        this.threads = threads;
        this.ncclOptions = ncclOptions;
    }

    /** Refuses what GPU ranks cannot run yet, naming the value; empty when the mesh is runnable. */
    static String unsupported(MeshAssignment a) {
        ParallelDims d = a.dims();
        if (d.tp() != 1 || d.pp() != 1) {
            return "GPU ranks run data parallelism only (tp 1 × pp 1); this mesh is tp " + d.tp() + " × pp " + d.pp()
                    + " × dp " + d.dp() + " (tensor and pipeline parallelism run on CPU ranks only so far)";
        }
        return "";
    }

    /** Rendezvous phase 1: the DP group's root makes its ncclUniqueId. */
    @Override
    public Map<String, byte[]> prepareMesh(MeshAssignment a) {
        String why = unsupported(a);
        if (!why.isEmpty()) throw new IllegalArgumentException(device.id() + ": " + why);
        closeMesh();
        if (!Rendezvous.isRoot(a.dims(), a.rank(), Rendezvous.Axis.DP)) return Map.of();
        return Map.of(
                Rendezvous.ncclKey(a.dims(), a.rank(), Rendezvous.Axis.DP),
                NcclUniqueId.generate().toBytes());
    }

    @Override
    public void joinMesh(MeshAssignment a) {
        throw new IllegalStateException(
                device.id() + ": a GPU rank joins mesh epoch " + a.epoch() + " only with a rendezvous table");
    }

    /** Rendezvous phase 2: forms the DP group from the root's id and builds the rank's model. */
    @Override
    public void joinMesh(MeshAssignment a, Rendezvous rendezvous) throws Exception {
        String why = unsupported(a);
        if (!why.isEmpty()) throw new IllegalArgumentException(device.id() + ": " + why);
        if (rendezvous.epoch() != a.epoch()) {
            throw new IllegalArgumentException(
                    "rendezvous of mesh epoch " + rendezvous.epoch() + " for mesh epoch " + a.epoch());
        }
        closeMesh();
        JobConfig job = JobSpecs.toJobConfig(a.spec(), threads);
        ParallelDims dims = a.dims();
        batches.reset(a.epoch());
        NcclUniqueId id =
                NcclUniqueId.fromBytes(rendezvous.bytes(Rendezvous.ncclKey(dims, a.rank(), Rendezvous.Axis.DP)));
        int dpRank = dims.coord(a.rank()).dp();
        long epoch = a.epoch();
        NcclCommunicator dp = NcclCommunicator.create(
                id, dpRank, dims.dp(), epoch, device.localIndex(), ncclOptions, () -> cancelledEpoch >= epoch);
        BackendRankTrainer trainer = null;
        ClusterCheckpoints ckpt = null;
        try {
            if (ops == null) ops = CudaOps.create(device.localIndex(), null);
            BackendRankTrainer t = trainer = new BackendRankTrainer(
                    job, dims, dp, ops, a.spec().getParallelism().getZero1());
            String root = a.spec().getCheckpointDir();
            // The rank's communicators as the checkpoint format sees them: its NCCL DP group; TP and PP have one rank.
            RankComms comms = new RankComms(
                    a.rank(),
                    dims.coord(a.rank()),
                    InJvmWorld.group(1, epoch, 1)[0],
                    dp,
                    InJvmWorld.group(1, epoch, 1)[0]);
            if (!a.checkpointPath().isEmpty()) {
                // Any layout's checkpoint (CPU or GPU ranks) loads here: the sharded format through host memory.
                var r = ClusterCheckpoints.resume(
                        Path.of(a.checkpointPath()), a.startStep() - 1, epoch, a.rank(), t::load, LOG::warn);
                LOG.info(
                        "GPU rank {} of mesh epoch {} ({}) loaded {} (saved by tp {} x pp {} x dp {}): {} bytes",
                        a.rank(),
                        epoch,
                        dims,
                        a.checkpointPath(),
                        r.savedMesh().tp(),
                        r.savedMesh().pp(),
                        r.savedMesh().dp(),
                        r.bytesCopied());
            } else if (a.rank() == 0 && !root.isBlank()) {
                ClusterCheckpoints.skipNewer(Path.of(root), a.startStep() - 1, epoch, null, LOG::warn);
            }
            if (!root.isBlank()) ckpt = new ClusterCheckpoints(Path.of(root), comms, Duration.ZERO);
            mesh = new Mesh(a, job, dp, trainer, ckpt);
        } catch (Exception | Error e) {
            if (ckpt != null) ckpt.close(LOG::warn);
            if (trainer != null) trainer.close();
            dp.close();
            throw e;
        }
    }

    @Override
    public StepResult runStep(long epoch, long step) throws Exception {
        return runStep(epoch, step, false, "");
    }

    @Override
    public StepResult runStep(long epoch, long step, boolean evaluate, String checkpointDir) throws Exception {
        return runStep(epoch, step, evaluate, checkpointDir, false);
    }

    @Override
    public StepResult runStep(long epoch, long step, boolean evaluate, String checkpointDir, boolean commitNow)
            throws Exception {
        Mesh m = mesh;
        if (m == null || m.assignment().epoch() != epoch) {
            throw new IllegalStateException("step " + step + " of mesh epoch " + epoch + ": this rank is in "
                    + (m == null ? "no mesh" : "mesh epoch " + m.assignment().epoch()));
        }
        // 0. An aborted communicator (mesh left, NCCL error, watchdog timeout) fails the step with its reason.
        m.dp().synchronize();
        ParallelDims dims = m.assignment().dims();
        int dpRank = dims.coord(m.assignment().rank()).dp();
        // 1. This replica's rows from its loader (tp = pp = 1: the rank is its replica's first and last stage).
        int[][] rows = batches.take(epoch, step, true, true, m.job(), dims.dp(), dpRank);
        // 2. Forward and backward per micro-batch, gradient all-reduce over NCCL, clipped AdamW at lr(step − 1).
        BackendRankTrainer.StepMetrics r = m.trainer().step(step - 1, rows);
        // 3. Held-out losses, when asked.
        Map<String, Double> val = evaluate ? m.trainer().evaluate() : Map.of();
        // 4. The checkpoint, when asked: a copy of this rank's share to host memory, written in the background.
        ClusterCheckpoints ck = m.checkpoints();
        if (!checkpointDir.isEmpty()) {
            if (ck == null || !ck.root().equals(Path.of(checkpointDir))) {
                throw new IllegalStateException("step " + step + " asks for a checkpoint in " + checkpointDir
                        + ", but the job's checkpoint_dir is '"
                        + m.assignment().spec().getCheckpointDir() + "'");
            }
            ck.save(step, m.job(), m.trainer());
            // The job's last checkpoint, and a rescale boundary's, is reported with its step: wait for it.
            if (commitNow || step == m.job().steps()) ck.await();
        }
        // 5. Rank 0: a checkpoint committed since the last report; every rank: its own save time.
        double ckptSeconds = ck == null ? -1 : ck.takeWrittenSeconds();
        Checkpointer.Committed done = ck == null ? null : ck.takeCommitted();
        long tokens = (long) m.job().globalBatch() * m.job().seqLen();
        return new StepResult(
                r.loss(),
                tokens,
                val,
                r.gradNorm(),
                r.lr(),
                done == null ? "" : done.dir().toString(),
                done == null ? 0 : done.bytes(),
                ckptSeconds);
    }

    @Override
    public void offerBatch(Batch batch) {
        batches.offer(batch);
    }

    @Override
    public void abortMesh(long epoch) {
        cancelledEpoch = Math.max(cancelledEpoch, epoch);
        batches.abort(epoch);
        Mesh m = mesh;
        if (m != null && m.assignment().epoch() <= epoch) {
            if (m.checkpoints() != null) m.checkpoints().abort(); // a lost mesh never commits a step
            m.dp().abort("mesh epoch " + m.assignment().epoch() + " left");
        }
    }

    private void closeMesh() {
        Mesh m = mesh;
        mesh = null;
        if (m == null) return;
        if (m.checkpoints() != null) m.checkpoints().close(LOG::warn);
        m.trainer().close();
        m.dp().close();
    }

    @Override
    public void close() {
        closeMesh();
        if (ops != null) {
            ops.close();
            ops = null;
        }
    }
}
