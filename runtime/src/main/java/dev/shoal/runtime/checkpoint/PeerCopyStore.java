// The in-memory peer copies one worker holds: its own shard snapshots and the shards its mesh peers
// sent it, kept off-heap (PeerShard) until a recovery asks for them.
// Bounded: per sender (a rank of a mesh epoch) at most KEEP_PER_SENDER copies, the newest steps (a
// sender starts a copy only after its previous one was acknowledged, so the newest complete set of
// the mesh and the one being sent fit); a copy of a newer mesh epoch drops every copy of older epochs.
// Guarantees: get() hands out a retained reference (the caller releases it), so eviction never frees a
// shard that is being sent or loaded; thread-safe.
package dev.shoal.runtime.checkpoint;

import java.util.ArrayList;
import java.util.Iterator;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;

public final class PeerCopyStore implements AutoCloseable {
    /** Copies kept per sender: the newest complete set's and the one in flight. */
    public static final int KEEP_PER_SENDER = 2;

    // sender rank → step → shard, all of mesh epoch `epoch`.
    private final Map<Integer, TreeMap<Long, PeerShard>> bySender = new TreeMap<>();
    private long epoch = -1;

    /** Takes over one reference of s (the caller must not release it). */
    public synchronized void put(PeerShard s) {
        if (s.meshEpoch() < epoch) {
            s.release(); // a late copy of a mesh that is gone
            return;
        }
        if (s.meshEpoch() > epoch) {
            clear();
            epoch = s.meshEpoch();
        }
        TreeMap<Long, PeerShard> steps = bySender.computeIfAbsent(s.rank(), k -> new TreeMap<>());
        PeerShard old = steps.put(s.step(), s);
        if (old != null) old.release();
        while (steps.size() > KEEP_PER_SENDER) steps.pollFirstEntry().getValue().release();
    }

    /** The copy of sender's shard at step of mesh epoch e, retained for the caller; null when not held. */
    public synchronized PeerShard get(long e, int sender, long step) {
        if (e != epoch) return null;
        TreeMap<Long, PeerShard> steps = bySender.get(sender);
        PeerShard s = steps == null ? null : steps.get(step);
        return s == null ? null : s.retain();
    }

    /** What is held, for logs: "epoch 3: rank 1 steps [8, 10], rank 2 steps [10]". */
    public synchronized String describe() {
        List<String> parts = new ArrayList<>();
        for (var e : bySender.entrySet())
            parts.add("rank " + e.getKey() + " steps " + e.getValue().keySet());
        return parts.isEmpty() ? "nothing" : "epoch " + epoch + ": " + String.join(", ", parts);
    }

    /** Bytes of shard data held. */
    public synchronized long bytesHeld() {
        long n = 0;
        for (TreeMap<Long, PeerShard> steps : bySender.values()) {
            for (PeerShard s : steps.values()) n += s.bytes();
        }
        return n;
    }

    private void clear() {
        for (TreeMap<Long, PeerShard> steps : bySender.values()) {
            for (Iterator<PeerShard> it = steps.values().iterator(); it.hasNext(); ) {
                it.next().release();
                it.remove();
            }
        }
        bySender.clear();
    }

    @Override
    public synchronized void close() {
        clear();
        epoch = -1;
    }
}
