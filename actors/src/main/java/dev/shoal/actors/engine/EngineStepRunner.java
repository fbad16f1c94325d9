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
// - Checkpoints use the runtime's sharded format (ClusterCheckpoints): a step that writes one
//   snapshots the rank's share and returns while the shard is written in the background; rank 0
//   reports a checkpoint (StepResult.checkpointPath, at a later step or, for the job's last step, at
//   once) only after its folder is committed, i.e. after every rank's shard is durable. A new mesh
//   loads the coordinator's last committed checkpoint at its own layout, whatever layout saved it.
// - With shoal.audit.enabled, every mesh join and every step a rank trains is recorded in
//   checkpoint_dir/audit/ for DataAudit.
// - Rank 0 writes checkpoint_dir/metrics.jsonl (the same lines as `shoal train`, step 0 included).
// - In-memory peer copies (RankPeerCopies; the job's peer_copy_every = K > 0): every K steps the rank snapshots its
//   shard (PeerShard: what its durable shard would hold), keeps it in its own PeerCopyStore and sends
//   it in the background to its buddy's copy service (PeerBuddies: the same position in another DP
//   replica, on another node); the step the buddy acknowledged is reported with a later StepResult.
//   A copy is skipped (logged) while the previous one is still being sent. A mesh whose rendezvous
//   carries a PeerRestore plan loads from the copies (PeerCheckpoint, any layout) instead of the
//   durable checkpoint; failing that, the join fails with PeerRestore.UNAVAILABLE.
// - The job's cpu_engine picks the model: "llama" (or unset) trains the rank's shard of LlamaModel with
//   RankTrainer; "backend" trains BackendLlama on the CPU tensor backend (BackendRankTrainer.onCpu, fp32,
//   the same numbers within summation order) for tp 1 × pp 1 layouts, replicated or ZeRO-1 over the TCP
//   DP group, with the same checkpoints, metrics and data audit; other layouts, and in-memory peer copies
//   (which snapshot LlamaModel shards), are refused at the join naming the value.
package dev.shoal.actors.engine;

import com.typesafe.config.ConfigFactory;
import dev.shoal.actors.coordinator.JobSpecCheck;
import dev.shoal.actors.worker.MeshAssignment;
import dev.shoal.actors.worker.PeerRestore;
import dev.shoal.actors.worker.Rendezvous;
import dev.shoal.actors.worker.StepResult;
import dev.shoal.actors.worker.StepRunner;
import dev.shoal.actors.worker.WorkerInfo;
import dev.shoal.comm.Communicator;
import dev.shoal.comm.ParallelDims;
import dev.shoal.runtime.checkpoint.Checkpointer;
import dev.shoal.runtime.comm.TcpTransport;
import dev.shoal.runtime.data.DataAudit;
import dev.shoal.runtime.parallel.RankComms;
import dev.shoal.runtime.parallel.TcpMesh;
import dev.shoal.runtime.train.BackendRankTrainer;
import dev.shoal.runtime.train.JobConfig;
import dev.shoal.runtime.train.MetricsLog;
import dev.shoal.runtime.train.RankTrainer;
import java.io.IOException;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

public final class EngineStepRunner implements StepRunner {

    /** How long forming the mesh's groups may take (all peers must connect). */
    static final long RENDEZVOUS_MILLIS = 60_000;

    private static final Logger LOG = LoggerFactory.getLogger(EngineStepRunner.class);

    private final WorkerInfo device;
    private final int threads;
    private final Duration shardWriteDelay; // test knob: a slow checkpoint disk
    private final boolean audit; // shoal.audit.enabled
    private final TcpTransport transport;
    private final RankBatches batches = new RankBatches();
    private final RankPeerCopies peerCopies; // in-memory peer copies: kept, served, sent

    // The joined mesh; written on the compute thread, read by abortMesh from the actor.
    private volatile Mesh mesh;

    /** Everything a rank holds for one mesh. */
    private record Mesh(
            MeshAssignment assignment,
            JobConfig job,
            RankComms comms,
            RankTrainer trainer, // null on the backend engine
            BackendRankTrainer backend, // the backend engine's rank (cpu_engine = backend), else null
            MetricsLog metrics,
            ClusterCheckpoints checkpoints, // null without a checkpoint_dir
            DataAudit.Log audit, // null: no data audit
            String buddy) {} // the buddy's copy endpoint; null: no peer copies

    EngineStepRunner(WorkerInfo device, int threads, Duration shardWriteDelay, boolean audit) throws IOException {
        this.device = device;
        this.threads = threads;
        this.shardWriteDelay = shardWriteDelay;
        this.audit = audit;
        this.transport = TcpTransport.bind(new InetSocketAddress(device.host(), 0));
        try {
            this.peerCopies = new RankPeerCopies(device);
        } catch (IOException | RuntimeException e) {
            transport.close();
            throw e;
        }
    }

    @Override
    public String backendAddress() {
        InetSocketAddress a = transport.address();
        return device.host() + ":" + a.getPort();
    }

    /** What the job's cpu_engine cannot run on this mesh (JobSpecCheck's rule), naming the value; empty when it can. */
    static String unsupported(MeshAssignment a) {
        return String.join(
                "; ",
                JobSpecCheck.cpuEngineProblems(a.spec(), a.dims().tp(), a.dims().pp()));
    }

    /** Rendezvous phase 1: this rank's TCP endpoint, and its node and peer-copy endpoint. */
    @Override
    public Map<String, byte[]> prepareMesh(MeshAssignment a) {
        String why = unsupported(a);
        if (!why.isEmpty()) throw new IllegalArgumentException(device.id() + ": " + why);
        return Map.of(
                Rendezvous.tcpKey(a.rank()),
                backendAddress().getBytes(StandardCharsets.UTF_8),
                PeerRestore.peerKey(a.rank()),
                peerCopies.entry());
    }

    /** Without a rendezvous table: the assignment's static peer list (callers without a coordinator). */
    @Override
    public void joinMesh(MeshAssignment a) throws Exception {
        if (a.peers().isEmpty()) {
            throw new IllegalArgumentException(
                    "mesh epoch " + a.epoch() + " came without a rendezvous or peer addresses");
        }
        join(a, a.peers(), null);
    }

    /** Rendezvous phase 2: every rank's endpoint from the gathered table. */
    @Override
    public void joinMesh(MeshAssignment a, Rendezvous rendezvous) throws Exception {
        if (rendezvous.epoch() != a.epoch()) {
            throw new IllegalArgumentException(
                    "rendezvous of mesh epoch " + rendezvous.epoch() + " for mesh epoch " + a.epoch());
        }
        // The coordinator sends each rank only its groups' endpoints (Rendezvous.forRank); TcpMesh
        // connects to group members only, so the other ranks' slots are never read.
        var peers = Rendezvous.peers(a.dims(), a.rank());
        List<String> endpoints = new ArrayList<>();
        for (int r = 0; r < a.dims().world(); r++) endpoints.add(peers.contains(r) ? rendezvous.tcpEndpoint(r) : null);
        join(a, endpoints, rendezvous);
    }

    /** The slot of a rank that shares no group with this one (TcpMesh never reads it). */
    private static final InetSocketAddress NOT_A_PEER = InetSocketAddress.createUnresolved("not-a-peer", 1);

    private void join(MeshAssignment a, List<String> endpoints, Rendezvous rendezvous) throws Exception {
        String why = unsupported(a);
        if (!why.isEmpty()) throw new IllegalArgumentException(device.id() + ": " + why);
        closeMesh();
        JobConfig job = JobSpecs.toJobConfig(a.spec(), threads);
        ParallelDims dims = a.dims();
        batches.reset(a.epoch());
        List<InetSocketAddress> peers = new ArrayList<>();
        for (String p : endpoints) peers.add(p == null ? NOT_A_PEER : parse(p));
        RankComms comms = null;
        RankTrainer trainer = null;
        BackendRankTrainer backend = null;
        ClusterCheckpoints ckpt = null;
        DataAudit.Log log = null;
        try {
            comms = TcpMesh.forRank(transport, peers, dims, a.rank(), a.epoch(), RENDEZVOUS_MILLIS);
            boolean zero1 = a.spec().getParallelism().getZero1();
            String engine =
                    a.spec().getCpuEngine().isEmpty() ? "llama" : a.spec().getCpuEngine();
            String root = a.spec().getCheckpointDir();
            if (engine.equals("backend")) {
                backend = joinBackend(a, dims, comms, zero1, rendezvous, job);
            } else {
                // Builds the shard and loads a preset's seeded init (the Trainer's) or the HF slice.
                trainer = new RankTrainer(job, dims, comms, new RankTrainer.Options(zero1, threads, null, null, null));
                PeerRestore restore = rendezvous != null && rendezvous.entries().containsKey(PeerRestore.KEY)
                        ? PeerRestore.decode(rendezvous.bytes(PeerRestore.KEY))
                        : null;
                if (restore != null) {
                    // The coordinator chose the in-memory peer copies: newer than the durable checkpoint.
                    if (a.rank() == 0 && !root.isBlank()) {
                        ClusterCheckpoints.skipNewer(
                                Path.of(root),
                                restore.step(),
                                a.epoch(),
                                Path.of("the in-memory peer copies of step " + restore.step()),
                                LOG::warn);
                    }
                    var r = peerCopies.load(a, restore, trainer);
                    trainer.setStepsDone(a.startStep() - 1);
                    LOG.info(
                            "rank {} of mesh epoch {} ({}) loaded the in-memory peer copies of step {} (saved by tp {} x pp {}"
                                    + " x dp {}{} on mesh epoch {}): {} bytes",
                            a.rank(),
                            a.epoch(),
                            dims,
                            restore.step(),
                            r.savedMesh().tp(),
                            r.savedMesh().pp(),
                            r.savedMesh().dp(),
                            r.savedZero1() ? ", ZeRO-1" : "",
                            restore.epoch(),
                            r.bytesCopied());
                } else if (!a.checkpointPath().isEmpty()) {
                    // Resharding load at this mesh's layout, whatever layout saved it.
                    var r = ClusterCheckpoints.resume(
                            Path.of(a.checkpointPath()), a.startStep() - 1, a.epoch(), trainer, LOG::warn);
                    trainer.setStepsDone(a.startStep() - 1);
                    LOG.info(
                            "rank {} of mesh epoch {} ({}) loaded {} (saved by tp {} x pp {} x dp {}{}): {} bytes",
                            a.rank(),
                            a.epoch(),
                            dims,
                            a.checkpointPath(),
                            r.savedMesh().tp(),
                            r.savedMesh().pp(),
                            r.savedMesh().dp(),
                            r.savedZero1() ? ", ZeRO-1" : "",
                            r.bytesCopied());
                } else if (a.rank() == 0 && !root.isBlank()) {
                    ClusterCheckpoints.skipNewer(Path.of(root), a.startStep() - 1, a.epoch(), null, LOG::warn);
                }
            }
            if (!root.isBlank()) ckpt = new ClusterCheckpoints(Path.of(root), comms, shardWriteDelay);
            if (audit && !root.isBlank()) {
                log = DataAudit.Log.open(Path.of(root, "audit"), device.id());
                log.join(a.epoch(), a.rank(), dims.tp(), dims.pp(), dims.dp(), a.startStep());
            }
            MetricsLog metrics = null;
            if (a.rank() == 0 && !a.spec().getCheckpointDir().isBlank()) {
                metrics = new MetricsLog(job.metricsFile(), a.startStep() > 1 ? a.startStep() - 1 : -1);
            }
            mesh = new Mesh(
                    a,
                    job,
                    comms,
                    trainer,
                    backend,
                    metrics,
                    ckpt,
                    log,
                    backend != null ? null : RankPeerCopies.buddy(a, rendezvous));
            if (a.startStep() == 1) {
                // The loss before training, as `shoal train` records it (step 0 of metrics.jsonl).
                Map<String, Double> v = backend != null ? backend.evaluate() : trainer.evaluate();
                if (metrics != null) metrics.write(0, Double.NaN, 0, 0, 0, 0, v);
            }
        } catch (Exception | Error e) {
            mesh = null;
            if (ckpt != null) ckpt.close(LOG::warn);
            if (log != null) log.close();
            if (trainer != null) trainer.close();
            if (backend != null) backend.close();
            if (comms != null) closeComms(comms);
            throw e;
        }
    }

    /**
     * cpu_engine = backend: this rank's BackendLlama on the CPU tensor backend (tp 1 × pp 1, checked by
     * unsupported(); DP over the mesh's TCP group), loaded from the mesh's durable checkpoint when it has one.
     */
    private BackendRankTrainer joinBackend(
            MeshAssignment a, ParallelDims dims, RankComms comms, boolean zero1, Rendezvous rendezvous, JobConfig job)
            throws IOException {
        if (rendezvous != null && rendezvous.entries().containsKey(PeerRestore.KEY)) {
            throw new IllegalArgumentException(device.id() + ": the coordinator chose in-memory peer copies, which"
                    + " cpu_engine backend cannot load (they are LlamaModel shards)");
        }
        String root = a.spec().getCheckpointDir();
        BackendRankTrainer t = BackendRankTrainer.onCpu(job, dims, comms.dp(), zero1);
        try {
            if (!a.checkpointPath().isEmpty()) {
                // Any layout's checkpoint (LlamaModel or backend ranks, CPU or GPU) loads here.
                var r = ClusterCheckpoints.resume(
                        Path.of(a.checkpointPath()), a.startStep() - 1, a.epoch(), a.rank(), t::load, LOG::warn);
                LOG.info(
                        "backend rank {} of mesh epoch {} ({}) loaded {} (saved by tp {} x pp {} x dp {}): {} bytes",
                        a.rank(),
                        a.epoch(),
                        dims,
                        a.checkpointPath(),
                        r.savedMesh().tp(),
                        r.savedMesh().pp(),
                        r.savedMesh().dp(),
                        r.bytesCopied());
            } else if (a.rank() == 0 && !root.isBlank()) {
                ClusterCheckpoints.skipNewer(Path.of(root), a.startStep() - 1, a.epoch(), null, LOG::warn);
            }
            return t;
        } catch (IOException | RuntimeException | Error e) {
            t.close();
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
        double loss, gradNorm, lr;
        if (m.backend() != null) {
            BackendRankTrainer.StepMetrics r = m.backend().step(step - 1, rows);
            loss = r.loss();
            gradNorm = r.gradNorm();
            lr = r.lr();
        } else {
            RankTrainer.StepMetrics r = m.trainer().step(step - 1, rows);
            loss = r.loss();
            gradNorm = r.gradNorm();
            lr = r.lr();
        }
        if (m.audit() != null) {
            int per = m.job().globalBatch() / m.assignment().dims().dp();
            m.audit()
                    .consumed(
                            epoch,
                            m.assignment().rank(),
                            step,
                            c.dp(),
                            m.assignment().dims().dp(),
                            rows,
                            c.dp() * per,
                            per,
                            c.pp() == 0,
                            c.pp() == pp - 1,
                            m.job().seqLen());
        }
        // 3. Held-out losses and the checkpoint, when asked: a host snapshot now, written in the background.
        Map<String, Double> val = !evaluate
                ? Map.of()
                : m.backend() != null ? m.backend().evaluate() : m.trainer().evaluate();
        if (!checkpointDir.isEmpty()) {
            if (m.checkpoints() == null || !m.checkpoints().root().equals(Path.of(checkpointDir))) {
                throw new IllegalStateException("step " + step + " asks for a checkpoint in " + checkpointDir
                        + ", but the job's checkpoint_dir is '"
                        + m.assignment().spec().getCheckpointDir() + "'");
            }
            if (m.backend() != null) {
                m.checkpoints().save(step, m.job(), m.backend());
            } else {
                m.checkpoints().save(step, m.trainer());
            }
            if (m.assignment().rank() == 0) {
                LOG.info(
                        "checkpoint of step {}: save() held the step {} ms (host snapshot; the shard is written in"
                                + " the background)",
                        step,
                        String.format(
                                java.util.Locale.ROOT, "%.3f", m.checkpoints().lastStallSeconds() * 1e3));
            }
            // The job's last checkpoint, and one the coordinator waits for (commitNow: a rescale
            // boundary), is reported with its step: wait for it (rank 0: for the commit).
            if (commitNow || step == m.job().steps()) m.checkpoints().await();
        }
        // 4. Every K steps: the in-memory peer copy (a host snapshot now, sent in the background).
        int every = m.assignment().spec().getPeerCopyEvery();
        if (every > 0 && step % every == 0 && m.buddy() != null) {
            peerCopies.send(m.trainer(), m.comms(), m.assignment().rank(), epoch, step, m.buddy());
        }
        long peerStep = peerCopies.takeAcked(epoch);
        // 5. Rank 0: a checkpoint committed since the last report (every shard durable, folder renamed).
        String ckptPath = "";
        long ckptBytes = 0;
        // Every rank: its own save finished since the last report (the node's checkpoint-save metric).
        double ckptSeconds = m.checkpoints() == null ? -1 : m.checkpoints().takeWrittenSeconds();
        Checkpointer.Committed done =
                m.checkpoints() == null ? null : m.checkpoints().takeCommitted();
        if (done != null) {
            ckptPath = done.dir().toString();
            ckptBytes = done.bytes();
        }
        long tokens = (long) m.job().globalBatch() * m.job().seqLen();
        if (m.metrics() != null) {
            double secs = Math.max(1e-9, (System.nanoTime() - t0) / 1e9);
            m.metrics().write(step, loss, gradNorm, lr, step * tokens, tokens / secs, evaluate ? val : null);
        }
        return new StepResult(loss, tokens, val, gradNorm, lr, ckptPath, ckptBytes, ckptSeconds, peerStep);
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
            if (m.checkpoints() != null) m.checkpoints().abort(); // a lost mesh never commits a step
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
        if (m.checkpoints() != null) m.checkpoints().close(LOG::warn);
        if (m.audit() != null) m.audit().close();
        if (m.trainer() != null) m.trainer().close();
        if (m.backend() != null) m.backend().close();
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
        peerCopies.close();
    }

    private static InetSocketAddress parse(String hostPort) {
        int colon = hostPort.lastIndexOf(':');
        if (colon < 1) throw new IllegalArgumentException("peer address '" + hostPort + "' is not host:port");
        return new InetSocketAddress(hostPort.substring(0, colon), Integer.parseInt(hostPort.substring(colon + 1)));
    }

    /**
     * Makes the runner of each device; found through META-INF/services: a CudaStepRunner (data parallel
     * over NCCL) for a CUDA GPU, an EngineStepRunner (TCP) for a CPU rank. Compute threads per rank come
     * from shoal.node.threads-per-rank (default 1); shoal.audit.enabled turns the data audit on;
     * shoal.checkpoint.test-shard-write-delay slows shard writes (tests).
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
            Duration delay = c.hasPath("shoal.checkpoint.test-shard-write-delay")
                    ? c.getDuration("shoal.checkpoint.test-shard-write-delay")
                    : Duration.ZERO;
            boolean audit = c.hasPath("shoal.audit.enabled") && c.getBoolean("shoal.audit.enabled");
            return new EngineStepRunner(device, threads, delay, audit);
        }
    }
}
