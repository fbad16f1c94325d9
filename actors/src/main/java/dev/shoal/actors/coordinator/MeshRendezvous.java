// The coordinator's side of the two-phase rendezvous of one mesh epoch: every rank answers JoinMesh
// with what its backend publishes (TCP endpoints, or the ncclUniqueId of each group the rank is root
// of); once all ranks of the epoch have answered, the gathered table goes to every rank in ConnectMesh.
// Pure state, no actors: the Coordinator feeds it answers and sends what it returns.
// Guarantees: an answer of another epoch is STALE and changes nothing; a rank answers once (a repeat is
// DUPLICATE); two ranks publishing the same key is a CONFLICT naming both; the table is complete only
// when every rank of the world has answered, and then it holds exactly the union of the entries.
package dev.shoal.actors.coordinator;

import dev.shoal.actors.worker.Rendezvous;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.TreeSet;

final class MeshRendezvous {

    /** What one answer did. */
    enum Outcome {
        /** Of another epoch: dropped. */
        STALE,
        /** This rank had answered already: dropped. */
        DUPLICATE,
        /** Two ranks published the same key: the mesh cannot form (see problem()). */
        CONFLICT,
        /** Recorded; ranks are still missing. */
        WAITING,
        /** Recorded; every rank has answered: hand out table(). */
        COMPLETE
    }

    private final long epoch;
    private final int world;
    private final Map<Integer, Map<String, byte[]>> answers = new HashMap<>();
    private final Map<String, Integer> publisher = new HashMap<>(); // key → rank that published it
    private String problem = "";

    MeshRendezvous(long epoch, int world) {
        if (epoch < 1) throw new IllegalArgumentException("mesh epoch " + epoch + " < 1");
        if (world < 1) throw new IllegalArgumentException("mesh world " + world + " < 1");
        this.epoch = epoch;
        this.world = world;
    }

    long epoch() {
        return epoch;
    }

    /** Records rank's published entries for mesh {@code answerEpoch}. */
    Outcome offer(long answerEpoch, int rank, Map<String, byte[]> published) {
        if (answerEpoch != epoch) return Outcome.STALE;
        if (rank < 0 || rank >= world) {
            throw new IllegalArgumentException(
                    "rank " + rank + " is outside mesh epoch " + epoch + "'s world " + world);
        }
        if (answers.containsKey(rank)) return Outcome.DUPLICATE;
        for (String key : published.keySet()) {
            Integer other = publisher.get(key);
            if (other != null) {
                problem = "ranks " + other + " and " + rank + " both published rendezvous entry '" + key
                        + "' for mesh epoch " + epoch;
                return Outcome.CONFLICT;
            }
        }
        answers.put(rank, new LinkedHashMap<>(published));
        for (String key : published.keySet()) publisher.put(key, rank);
        return answers.size() == world ? Outcome.COMPLETE : Outcome.WAITING;
    }

    /** Why the last offer was a CONFLICT. */
    String problem() {
        return problem;
    }

    /** Ranks that have not answered yet, ascending. */
    TreeSet<Integer> missing() {
        TreeSet<Integer> m = new TreeSet<>();
        for (int r = 0; r < world; r++) if (!answers.containsKey(r)) m.add(r);
        return m;
    }

    /** The gathered table; only once every rank has answered. */
    Rendezvous table() {
        if (answers.size() != world) {
            throw new IllegalStateException("rendezvous of mesh epoch " + epoch + " is not complete: ranks " + missing()
                    + " have not answered");
        }
        Map<String, byte[]> all = new LinkedHashMap<>();
        for (int r = 0; r < world; r++) all.putAll(answers.get(r));
        return new Rendezvous(epoch, all);
    }
}
