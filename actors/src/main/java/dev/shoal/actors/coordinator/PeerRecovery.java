// The coordinator's side of the in-memory peer copies (docs/checkpoints.md, "In-memory peer copies").
// With the job's peer_copy_every = K > 0, every rank snapshots its shard every K steps and sends it to
// its buddy (PeerBuddies: the same position in another DP replica on another node), and reports the
// step in its StepDone once the buddy holds it. This class, kept by the Coordinator, follows those
// acknowledgements; once every rank of the mesh has a copy of the same step held by its buddy, the
// coordinator journals PeerCopiesComplete (metadata only: epoch, step, the workers, buddies and copy
// endpoints of that mesh). On recovery, decide() picks the source of the new mesh's state: the peer
// copies when their step is newer than the last durable checkpoint and every saving rank's shard has a
// live holder (its own worker, which keeps its own snapshot, or its buddy); else the durable checkpoint.
// The plan rides to the ranks in the rendezvous table (PeerRestore.KEY); a rank that cannot load it
// fails its join with PeerRestore.UNAVAILABLE and the coordinator recovers again from the durable one.
// Guarantees: a set is complete only when every rank acknowledged that step (a rank without a buddy
// never does, so such a mesh never has one, and the log says so once); decide() is pure apart from
// remembering its plan for the epoch it was made for; the reason for either source is in its text.
package dev.shoal.actors.coordinator;

import dev.shoal.actors.worker.PeerRestore;
import dev.shoal.actors.worker.Rendezvous;
import dev.shoal.comm.ParallelDims;
import dev.shoal.runtime.checkpoint.PeerBuddies;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;
import org.slf4j.Logger;

final class PeerRecovery {

    /** The source a recovery resumes from, and why. */
    record Decision(boolean fromPeers, long step, String why, PeerRestore restore) {
        String summary() {
            return fromPeers
                    ? "state from the in-memory peer copies of step " + step + " (" + why + ")"
                    : "state from the durable checkpoint of step " + step + " (" + why + ")";
        }
    }

    private Coordinator.PeerCopiesComplete latest; // journaled: the newest complete set
    private boolean failed; // loading `latest` failed: the durable checkpoint until a newer set

    // The running mesh (transient).
    private long epoch = -1;
    private List<String> ranks = List.of();
    private List<String> endpoints; // null: this mesh's ranks publish no copy service
    private int[] buddy = new int[0];
    private final List<TreeSet<Long>> acked = new ArrayList<>(); // per rank, its newest two acknowledged steps
    private long proposed; // the newest set handed out for journaling on this mesh

    private PeerRestore plan; // for mesh epoch planEpoch
    private long planEpoch = -1;

    /** Follows the journal (replay included). */
    void apply(Coordinator.Event e) {
        if (e instanceof Coordinator.JobSubmitted) {
            latest = null;
            failed = false;
            plan = null;
            epoch = -1;
        } else if (e instanceof Coordinator.PeerCopiesComplete p) {
            if (latest == null || p.step() > latest.step() || p.epoch() > latest.epoch()) {
                latest = p;
                failed = false;
            }
        }
    }

    /** The newest complete set known (journaled), or null. */
    Coordinator.PeerCopiesComplete latest() {
        return latest;
    }

    /**
     * The rendezvous of a forming mesh is complete: remembers where its ranks keep copies and who is
     * whose buddy, and adds the restore plan when this mesh loads from peer copies.
     */
    Rendezvous onTable(
            Rendezvous table, List<String> meshRanks, ParallelDims dims, int every, String jobId, Logger log) {
        epoch = table.epoch();
        ranks = List.copyOf(meshRanks);
        acked.clear();
        proposed = 0;
        List<String> eps = new ArrayList<>(), nodes = new ArrayList<>();
        for (int r = 0; r < dims.world(); r++) {
            byte[] b = table.entries().get(PeerRestore.peerKey(r));
            if (b == null) {
                eps = null;
                break;
            }
            String[] ne = PeerRestore.parsePeerEntry(b);
            nodes.add(ne[0]);
            eps.add(ne[1]);
            acked.add(new TreeSet<>());
        }
        endpoints = eps;
        buddy = eps == null ? new int[0] : PeerBuddies.of(dims, nodes);
        if (every > 0) {
            String without = eps == null ? "all (their engine keeps no copies)" : PeerBuddies.without(buddy);
            if (!without.isEmpty()) {
                log.warn(
                        "job {}: peer copies every {} steps are off on mesh epoch {}: ranks {} have no buddy on another"
                                + " node; recovery will use the durable checkpoint",
                        jobId,
                        every,
                        epoch,
                        without);
            }
        }
        if (plan == null || planEpoch != table.epoch()) return table;
        Map<String, byte[]> entries = new HashMap<>(table.entries());
        entries.put(PeerRestore.KEY, plan.encode());
        return new Rendezvous(table.epoch(), entries);
    }

    /**
     * Rank {@code rank} of mesh {@code e} reports that its buddy holds its copy of {@code step} (0:
     * nothing new). Returns the event to journal when that completes a newer set, else null.
     */
    Coordinator.PeerCopiesComplete acked(long e, int rank, long step) {
        if (e != epoch || step <= 0 || endpoints == null || rank < 0 || rank >= acked.size()) return null;
        TreeSet<Long> mine = acked.get(rank);
        mine.add(step);
        while (mine.size() > dev.shoal.runtime.checkpoint.PeerCopyStore.KEEP_PER_SENDER) mine.pollFirst();
        for (Long s : acked.get(0).descendingSet()) {
            if (s <= proposed) break;
            boolean all = true;
            for (TreeSet<Long> a : acked) all &= a.contains(s);
            if (all) {
                proposed = s;
                List<Integer> b = new ArrayList<>();
                for (int x : buddy) b.add(x);
                return new Coordinator.PeerCopiesComplete(epoch, s, ranks, b, endpoints);
            }
        }
        return null;
    }

    /**
     * Where the mesh of epoch {@code newEpoch} resumes from: the newest complete peer-copy set when it is
     * newer than the durable checkpoint of step {@code durableStep} and every shard has a live holder
     * among {@code alive} (worker ids); the durable checkpoint otherwise. Remembers the plan for newEpoch.
     */
    Decision decide(long newEpoch, long durableStep, Set<String> alive) {
        Decision d = choose(latest, failed, durableStep, alive);
        plan = d.restore();
        planEpoch = newEpoch;
        return d;
    }

    /** The choice itself (pure). */
    static Decision choose(Coordinator.PeerCopiesComplete set, boolean failed, long durableStep, Set<String> alive) {
        if (set == null) return new Decision(false, durableStep, "no complete peer copy set", null);
        if (failed) {
            return new Decision(
                    false,
                    durableStep,
                    "loading the peer copies of step " + set.step() + " failed; using the durable one",
                    null);
        }
        if (set.step() <= durableStep) {
            return new Decision(
                    false,
                    durableStep,
                    "the newest peer copies, of step " + set.step() + ", are not newer than it",
                    null);
        }
        List<List<String>> holders = new ArrayList<>();
        for (int r = 0; r < set.ranks().size(); r++) {
            List<String> h = new ArrayList<>();
            if (alive.contains(set.ranks().get(r))) h.add(set.endpoints().get(r)); // its own snapshot
            int b = set.buddies().get(r);
            if (b != PeerBuddies.NONE && alive.contains(set.ranks().get(b)))
                h.add(set.endpoints().get(b));
            if (h.isEmpty()) {
                return new Decision(
                        false,
                        durableStep,
                        "the peer copies of step " + set.step() + " are newer, but rank " + r + "'s shard has no live"
                                + " holder (worker " + set.ranks().get(r) + " and its buddy "
                                + (b == PeerBuddies.NONE
                                        ? "(none)"
                                        : set.ranks().get(b)) + " are gone)",
                        null);
            }
            holders.add(h);
        }
        return new Decision(
                true,
                set.step(),
                "newer than the durable checkpoint of step " + durableStep + "; every shard has a live holder",
                new PeerRestore(set.epoch(), set.step(), holders));
    }

    /** The step mesh {@code e} resumes after: the plan's when it loads from peers, else the durable one's. */
    long resumeAfter(long e, long durableStep) {
        return plan != null && planEpoch == e ? plan.step() : durableStep;
    }

    /** True when a join failed because the rank could not load the peer copies. */
    static boolean isPeerLoadFailure(Throwable t) {
        return t != null && String.valueOf(t.getMessage()).contains(PeerRestore.UNAVAILABLE);
    }

    /** Loading the plan failed: the durable checkpoint until a newer set completes. */
    void loadFailed() {
        failed = true;
        plan = null;
    }
}
