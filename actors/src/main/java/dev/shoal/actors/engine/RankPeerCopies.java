// The rank side of the in-memory peer copies (docs/checkpoints.md, "In-memory peer copies"), one per
// EngineStepRunner (worker), outliving its meshes: the worker's PeerCopyStore (its own snapshots and the
// copies its peers sent) served by its PeerCopyService; every K steps the rank's shard is copied to
// host memory at the step boundary and sealed (CRC32C), kept and sent to the buddy on one background
// thread; the acknowledged step is handed to the next StepResult; a mesh whose rendezvous carries a
// PeerRestore plan loads from the copies' holders instead of the durable checkpoint.
// Guarantees: only the host copy holds the training thread; a copy is skipped (logged) while the
// previous one is in flight, so a rank has at most one copy on the way; an acknowledgement is reported
// only to the mesh epoch that made it; a load asks each shard's holders in order (its own store without
// the network) and fails with PeerRestore.UNAVAILABLE, naming every holder's answer, when none has it.
package dev.shoal.actors.engine;

import dev.shoal.actors.worker.MeshAssignment;
import dev.shoal.actors.worker.PeerRestore;
import dev.shoal.actors.worker.Rendezvous;
import dev.shoal.actors.worker.WorkerInfo;
import dev.shoal.proto.v1.checkpoint.RankIndex;
import dev.shoal.runtime.checkpoint.CheckpointLoader;
import dev.shoal.runtime.checkpoint.PeerBuddies;
import dev.shoal.runtime.checkpoint.PeerCheckpoint;
import dev.shoal.runtime.checkpoint.PeerCopyService;
import dev.shoal.runtime.checkpoint.PeerCopyStore;
import dev.shoal.runtime.checkpoint.PeerShard;
import dev.shoal.runtime.parallel.RankComms;
import dev.shoal.runtime.train.RankTrainer;
import java.io.IOException;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.atomic.AtomicReference;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

final class RankPeerCopies implements AutoCloseable {
    /** How long sending or fetching one peer copy may go without progress. */
    static final Duration TIMEOUT = Duration.ofSeconds(60);

    private static final Logger LOG = LoggerFactory.getLogger(RankPeerCopies.class);

    private final WorkerInfo device;
    private final PeerCopyStore store = new PeerCopyStore();
    private final PeerCopyService service;
    private final ExecutorService sender;
    private Future<?> sending; // the copy in flight (compute thread)
    private final AtomicReference<long[]> acked = new AtomicReference<>(); // {mesh epoch, step} not reported yet

    RankPeerCopies(WorkerInfo device) throws IOException {
        this.device = device;
        this.service = PeerCopyService.start(device.host(), store);
        this.sender = Executors.newSingleThreadExecutor(r -> {
            Thread t = new Thread(r, "peer-copy-sender-" + device.id());
            t.setDaemon(true);
            return t;
        });
    }

    /** This rank's rendezvous entry: its node and copy endpoint. */
    byte[] entry() {
        return PeerRestore.peerEntry(device.node(), service.endpoint());
    }

    /** This rank's buddy's copy endpoint in mesh a (from the rendezvous), or null: no copies (logged). */
    static String buddy(MeshAssignment a, Rendezvous rendezvous) {
        int every = a.spec().getPeerCopyEvery();
        if (every <= 0 || rendezvous == null) return null;
        List<String> nodes = new ArrayList<>(), eps = new ArrayList<>();
        for (int r = 0; r < a.dims().world(); r++) {
            String[] ne = PeerRestore.parsePeerEntry(rendezvous.bytes(PeerRestore.peerKey(r)));
            nodes.add(ne[0]);
            eps.add(ne[1]);
        }
        int b = PeerBuddies.of(a.dims(), nodes)[a.rank()];
        if (b == PeerBuddies.NONE) {
            LOG.warn(
                    "rank {} of mesh epoch {} ({}): no DP replica of its position lives on another node; no in-memory"
                            + " peer copies (recovery uses the durable checkpoint)",
                    a.rank(),
                    a.epoch(),
                    a.dims());
            return null;
        }
        LOG.info(
                "rank {} of mesh epoch {}: in-memory peer copy every {} steps to rank {} at {}",
                a.rank(),
                a.epoch(),
                every,
                b,
                eps.get(b));
        return eps.get(b);
    }

    /**
     * Step {@code step} of mesh {@code epoch} is done: copies this rank's shard to host memory now (all
     * that holds the step), then on the sender thread takes its CRCs, keeps it as this worker's own copy
     * and sends it to the buddy at {@code to}; skipped (logged) while the previous copy is in flight.
     */
    void send(RankTrainer trainer, RankComms comms, int rank, long epoch, long step, String to) {
        if (sending != null && !sending.isDone()) {
            LOG.warn("rank {}: the previous peer copy is still being sent; no peer copy of step {}", rank, step);
            return;
        }
        long t0 = System.nanoTime();
        PeerShard.Unsealed copy =
                PeerShard.copy(trainer.trainer(), comms, ClusterCheckpoints.state(step, trainer), 1 << 20);
        double stallMs = (System.nanoTime() - t0) / 1e6;
        try {
            sending = sender.submit(() -> {
                long t1 = System.nanoTime();
                PeerShard s = copy.seal(); // CRC32C blocks, off the training thread
                store.put(s.retain()); // its own copy: a survivor serves it to the ranks of a new layout
                try {
                    PeerCopyService.send(to, s, TIMEOUT);
                    acked.accumulateAndGet(
                            new long[] {epoch, step}, (a, b) -> a == null || a[0] != b[0] || b[1] > a[1] ? b : a);
                    // Rank 0 at INFO (RecoveryBench reads it), the others at DEBUG.
                    LOG.atLevel(rank == 0 ? org.slf4j.event.Level.INFO : org.slf4j.event.Level.DEBUG)
                            .log(
                                    "rank {}: peer copy of step {} ({} bytes) held by {}: snapshot held the step {} ms,"
                                            + " sealed and sent in {} ms",
                                    rank,
                                    step,
                                    s.bytes(),
                                    to,
                                    String.format(Locale.ROOT, "%.2f", stallMs),
                                    String.format(Locale.ROOT, "%.1f", (System.nanoTime() - t1) / 1e6));
                } catch (IOException | RuntimeException e) {
                    LOG.warn("rank {}: peer copy of step {} not kept: {}", rank, step, e.getMessage());
                } finally {
                    s.release();
                }
            });
        } catch (RejectedExecutionException e) {
            copy.discard(); // the runner is closing
        }
    }

    /** The newest step of mesh {@code epoch} whose copy the buddy acknowledged since the last call; 0: none. */
    long takeAcked(long epoch) {
        long[] a = acked.get();
        return a != null && a[0] == epoch && acked.compareAndSet(a, null) ? a[1] : 0;
    }

    /** Fills the trainer from the peer copies of plan (fetching what it needs from their holders). */
    CheckpointLoader.Restored load(MeshAssignment a, PeerRestore plan, RankTrainer trainer) throws IOException {
        try {
            if (plan.step() != a.startStep() - 1) {
                throw new IOException(
                        "the plan restores step " + plan.step() + ", the mesh starts at step " + a.startStep());
            }
            List<RankIndex> indexes = new ArrayList<>();
            for (int r = 0; r < plan.holders().size(); r++) {
                int sender = r;
                indexes.add(fromHolders(plan, sender, (ep, mine) -> {
                    if (mine) {
                        PeerShard s = store.get(plan.epoch(), sender, plan.step());
                        if (s == null) return null;
                        s.release();
                        return s.index();
                    }
                    return PeerCopyService.fetchIndex(ep, plan.epoch(), sender, plan.step(), TIMEOUT);
                }));
            }
            var manifest = PeerCheckpoint.manifest(indexes);
            return PeerCheckpoint.load(
                    manifest,
                    sender -> fromHolders(
                            plan,
                            sender,
                            (ep, mine) -> mine
                                    ? store.get(plan.epoch(), sender, plan.step())
                                    : PeerCopyService.fetchShard(ep, plan.epoch(), sender, plan.step(), TIMEOUT)),
                    trainer.trainer(),
                    trainer.comms());
        } catch (IOException | RuntimeException e) {
            throw new IOException(
                    PeerRestore.UNAVAILABLE + ": rank " + a.rank() + " of mesh epoch " + a.epoch()
                            + " could not load the peer copies of step " + plan.step() + ": " + e.getMessage(),
                    e);
        }
    }

    @FunctionalInterface
    private interface HolderCall<T> {
        T call(String endpoint, boolean mine) throws IOException;
    }

    /** Asks the holders of sender's copy in order; the first that has it answers. */
    private <T> T fromHolders(PeerRestore plan, int sender, HolderCall<T> call) throws IOException {
        List<String> why = new ArrayList<>();
        for (String ep : plan.holders().get(sender)) {
            try {
                T got = call.call(ep, ep.equals(service.endpoint()));
                if (got != null) return got;
                why.add(ep + ": not held");
            } catch (IOException e) {
                why.add(e.getMessage());
            }
        }
        throw new IOException("no holder of rank " + sender + "'s copy answered (" + String.join("; ", why) + ")");
    }

    @Override
    public void close() {
        sender.shutdownNow();
        service.close();
        store.close();
    }
}
