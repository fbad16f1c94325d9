// The training engine behind a GpuWorker on CPU ranks: one rank of a (tp, pp, dp) mesh whose ranks
// are processes talking TCP. It listens on a TcpTransport from the moment the worker starts; in the
// rendezvous it publishes that endpoint (prepareMesh: "tcp/rank<R>" → host:port), and on joinMesh it
// reads every rank's endpoint from the table the coordinator handed out, forms its TP/DP/PP
// communicators with TcpMesh, and trains its shard with the runtime's RankTrainer on the micro-batches its replica's
// DataLoader sends (RankBatches) instead of reading them itself.
//
// Guarantees:
// - Step s (counted from 1) trains on the sampler rows of engine step s − 1 with lr(s − 1), as
//   `shoal train` does; initial weights are the preset's seeded init (the same on every layout) or
//   the rank's slice of an HF directory; so the per-step losses match the single-process Trainer
//   within float reordering.
// - Everything of a mesh is tagged by its epoch: a step or batch of another epoch is refused or
//   dropped, and abortMesh unblocks a step waiting on a batch or a collective.
// - A checkpoint shard is durable (fsynced, renamed, folder fsynced) before runStep returns it.
// - Rank 0 writes checkpoint_dir/metrics.jsonl (the same lines as `shoal train`, step 0 included).
package dev.shoal.actors.engine;

import com.typesafe.config.ConfigFactory;
import dev.shoal.actors.worker.MeshAssignment;
import dev.shoal.actors.worker.Rendezvous;
import dev.shoal.actors.worker.StepResult;
import dev.shoal.actors.worker.StepRunner;
import dev.shoal.actors.worker.WorkerInfo;
import dev.shoal.comm.Communicator;
import dev.shoal.comm.ParallelDims;
import dev.shoal.runtime.comm.TcpTransport;
import dev.shoal.runtime.parallel.RankComms;
import dev.shoal.runtime.parallel.TcpMesh;
import dev.shoal.runtime.train.JobConfig;
import dev.shoal.runtime.train.MetricsLog;
import dev.shoal.runtime.train.RankTrainer;
import java.io.IOException;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

public final class EngineStepRunner implements StepRunner {

    /** How long forming the mesh's groups may take (all peers must connect). */
    static final long RENDEZVOUS_MILLIS = 60_000;

    private final WorkerInfo device;
    private final int threads;
    private final TcpTransport transport;
    private final RankBatches batches = new RankBatches();

    // The joined mesh; written on the compute thread, read by abortMesh from the actor.
    private volatile Mesh mesh;

    /** Everything a rank holds for one mesh. */
    private record Mesh(
            MeshAssignment assignment, JobConfig job, RankComms comms, RankTrainer trainer, MetricsLog metrics) {}

    EngineStepRunner(WorkerInfo device, int threads) throws IOException {
        this.device = device;
        this.threads = threads;
        this.transport = TcpTransport.bind(new InetSocketAddress(device.host(), 0));
    }

    @Override
    public String backendAddress() {
        InetSocketAddress a = transport.address();
        return device.host() + ":" + a.getPort();
    }

    /** Rendezvous phase 1: this rank's TCP endpoint, for every peer to connect to. */
    @Override
    public Map<String, byte[]> prepareMesh(MeshAssignment a) {
        return Map.of(Rendezvous.tcpKey(a.rank()), backendAddress().getBytes(StandardCharsets.UTF_8));
    }

    /** Without a rendezvous table: the assignment's static peer list (callers without a coordinator). */
    @Override
    public void joinMesh(MeshAssignment a) throws Exception {
        if (a.peers().isEmpty()) {
            throw new IllegalArgumentException(
                    "mesh epoch " + a.epoch() + " came without a rendezvous or peer addresses");
        }
        join(a, a.peers());
    }

    /** Rendezvous phase 2: every rank's endpoint from the gathered table. */
    @Override
    public void joinMesh(MeshAssignment a, Rendezvous rendezvous) throws Exception {
        if (rendezvous.epoch() != a.epoch()) {
            throw new IllegalArgumentException(
                    "rendezvous of mesh epoch " + rendezvous.epoch() + " for mesh epoch " + a.epoch());
        }
        List<String> endpoints = new ArrayList<>();
        for (int r = 0; r < a.dims().world(); r++) endpoints.add(rendezvous.tcpEndpoint(r));
        join(a, endpoints);
    }

    private void join(MeshAssignment a, List<String> endpoints) throws Exception {
        closeMesh();
        JobConfig job = JobSpecs.toJobConfig(a.spec(), threads);
        ParallelDims dims = a.dims();
        batches.reset(a.epoch());
        List<InetSocketAddress> peers = new ArrayList<>();
        for (String p : endpoints) peers.add(parse(p));
        RankComms comms = null;
        RankTrainer trainer = null;
        try {
            comms = TcpMesh.forRank(transport, peers, dims, a.rank(), a.epoch(), RENDEZVOUS_MILLIS);
            boolean zero1 = a.spec().getParallelism().getZero1();
            // Builds the shard and loads a preset's seeded init (the Trainer's) or the HF slice.
            trainer = new RankTrainer(job, dims, comms, new RankTrainer.Options(zero1, threads, null, null, null));
            if (!a.checkpointPath().isEmpty()) {
                RankCheckpoint.load(Path.of(a.checkpointPath()), a.rank(), dims, trainer.trainer());
                trainer.setStepsDone(a.startStep() - 1);
            }
            MetricsLog metrics = null;
            if (a.rank() == 0 && !a.spec().getCheckpointDir().isBlank()) {
                metrics = new MetricsLog(job.metricsFile(), a.startStep() > 1 ? a.startStep() - 1 : -1);
            }
            mesh = new Mesh(a, job, comms, trainer, metrics);
            if (a.startStep() == 1) {
                // The loss before training, as `shoal train` records it (step 0 of metrics.jsonl).
                Map<String, Double> v = trainer.evaluate();
                if (metrics != null) metrics.write(0, Double.NaN, 0, 0, 0, 0, v);
            }
        } catch (Exception | Error e) {
            mesh = null;
            if (trainer != null) trainer.close();
            if (comms != null) closeComms(comms);
            throw e;
        }
    }

    @Override
    public StepResult runStep(long epoch, long step) throws Exception {
        return runStep(epoch, step, false, "");
    }

    @Override
    public StepResult runStep(long epoch, long step, boolean evaluate, String checkpointDir) throws Exception {
        Mesh m = mesh;
        if (m == null || m.assignment().epoch() != epoch) {
            throw new IllegalStateException("step " + step + " of mesh epoch " + epoch + ": this rank is in "
                    + (m == null ? "no mesh" : "mesh epoch " + m.assignment().epoch()));
        }
        long t0 = System.nanoTime();
        ParallelDims.Coord c = m.comms().coord();
        int pp = m.assignment().dims().pp();
        // 1. This replica's rows, from its loader: inputs on the first stage, targets on the last.
        int[][] rows = batches.take(
                epoch,
                step,
                c.pp() == 0,
                c.pp() == pp - 1,
                m.job(),
                m.assignment().dims().dp(),
                c.dp());
        // 2. Forward, backward and the DP optimizer step at the LR of engine step step − 1.
        RankTrainer.StepMetrics r = m.trainer().step(step - 1, rows);
        double lr = r.lr();
        // 3. Held-out losses and the checkpoint shard, when asked.
        Map<String, Double> val = evaluate ? m.trainer().evaluate() : Map.of();
        String ckptPath = "";
        long ckptBytes = 0;
        if (!checkpointDir.isEmpty()) {
            RankCheckpoint.Written w = RankCheckpoint.save(
                    Path.of(checkpointDir),
                    step,
                    m.assignment(),
                    m.trainer().trainer(),
                    m.job().lrSchedule(),
                    m.job());
            ckptPath = w.stepDir().toString();
            ckptBytes = w.bytes();
        }
        long tokens = (long) m.job().globalBatch() * m.job().seqLen();
        if (m.metrics() != null) {
            double secs = Math.max(1e-9, (System.nanoTime() - t0) / 1e9);
            m.metrics().write(step, r.loss(), r.gradNorm(), lr, step * tokens, tokens / secs, evaluate ? val : null);
        }
        return new StepResult(r.loss(), tokens, val, r.gradNorm(), lr, ckptPath, ckptBytes);
    }

    @Override
    public void offerBatch(Batch batch) {
        batches.offer(batch);
    }

    @Override
    public void abortMesh(long epoch) {
        batches.abort(epoch);
        Mesh m = mesh;
        if (m != null && m.assignment().epoch() == epoch) {
            String why = "mesh epoch " + epoch + " left";
            for (Communicator c :
                    List.of(m.comms().tp(), m.comms().dp(), m.comms().pp())) {
                try {
                    c.abort(why);
                } catch (RuntimeException ignored) {
                    // aborting is best effort: the communicator may be closed already
                }
            }
        }
    }

    /** Releases the previous mesh's communicators, threads and metrics file (compute thread). */
    private void closeMesh() {
        Mesh m = mesh;
        mesh = null;
        if (m == null) return;
        m.trainer().close();
        closeComms(m.comms());
        if (m.metrics() != null) {
            try {
                m.metrics().close();
            } catch (IOException ignored) {
                // the lines written so far are flushed
            }
        }
    }

    private static void closeComms(RankComms comms) {
        for (Communicator c : List.of(comms.tp(), comms.dp(), comms.pp())) {
            try {
                c.close();
            } catch (RuntimeException ignored) {
                // closing is best effort
            }
        }
    }

    @Override
    public void close() {
        closeMesh();
        transport.close();
    }

    private static InetSocketAddress parse(String hostPort) {
        int colon = hostPort.lastIndexOf(':');
        if (colon < 1) throw new IllegalArgumentException("peer address '" + hostPort + "' is not host:port");
        return new InetSocketAddress(hostPort.substring(0, colon), Integer.parseInt(hostPort.substring(colon + 1)));
    }

    /**
     * Makes the runner of each device; found through META-INF/services: a CudaStepRunner (data parallel
     * over NCCL) for a CUDA GPU, an EngineStepRunner (TCP) for a CPU rank. Compute threads per rank come
     * from shoal.node.threads-per-rank (default 1).
     */
    public static final class Factory implements StepRunner.Factory {
        @Override
        public StepRunner create(WorkerInfo device) throws IOException {
            var c = ConfigFactory.load();
            int threads = c.hasPath("shoal.node.threads-per-rank") ? c.getInt("shoal.node.threads-per-rank") : 1;
            if (threads < 1) throw new IllegalArgumentException("shoal.node.threads-per-rank must be >= 1");
            if (WorkerInfo.CUDA.equals(device.deviceKind())) {
                return new CudaStepRunner(device, threads, dev.shoal.nccl.NcclCommunicator.Options.defaults());
            }
            return new EngineStepRunner(device, threads);
        }
    }
}
