// What a new mesh loads when the coordinator recovers from the in-memory peer copies instead of the
// durable checkpoint: the lost mesh's epoch, the step of its newest complete peer-copy set, and for
// each rank of that mesh the copy-service endpoints ("host:port") of the live workers holding its shard
// (its own worker first, then its buddy). It travels in the rendezvous table under KEY (added by the
// coordinator to the table of ConnectMesh), with every rank's own entry PEER_KEY_PREFIX<R> =
// "<node>|<host:port>" that says where rank R keeps and serves copies.
// Guarantees: epoch >= 1, step >= 1, every saving rank has at least one holder; encode/decode round-trip.
package dev.shoal.actors.worker;

import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

public record PeerRestore(long epoch, long step, List<List<String>> holders) {
    /** The rendezvous key of the restore plan. */
    public static final String KEY = "restore/peers";
    /** Starts the message of a join that failed because the peer copies could not be loaded. */
    public static final String UNAVAILABLE = "peer copies unavailable";
    /** Prefix of each rank's "<node>|<host:port>" entry. */
    public static final String PEER_KEY_PREFIX = "peer/rank";

    public PeerRestore {
        if (epoch < 1) throw new IllegalArgumentException("peer restore of mesh epoch " + epoch + " < 1");
        if (step < 1) throw new IllegalArgumentException("peer restore of step " + step + " < 1");
        List<List<String>> copy = new ArrayList<>();
        for (int r = 0; r < holders.size(); r++) {
            if (holders.get(r).isEmpty()) {
                throw new IllegalArgumentException("peer restore of step " + step + ": rank " + r + " has no holder");
            }
            copy.add(List.copyOf(holders.get(r)));
        }
        holders = List.copyOf(copy);
    }

    /** Key of rank's "<node>|<endpoint>" entry. */
    public static String peerKey(int rank) {
        return PEER_KEY_PREFIX + rank;
    }

    /** The entry's value. */
    public static byte[] peerEntry(String node, String endpoint) {
        return (node + "|" + endpoint).getBytes(StandardCharsets.UTF_8);
    }

    /** {node, endpoint} of a peer entry. */
    public static String[] parsePeerEntry(byte[] b) {
        String s = new String(b, StandardCharsets.UTF_8);
        int bar = s.lastIndexOf('|');
        if (bar < 0) throw new IllegalArgumentException("peer entry '" + s + "' is not <node>|<host:port>");
        return new String[] {s.substring(0, bar), s.substring(bar + 1)};
    }

    public byte[] encode() {
        StringBuilder b = new StringBuilder().append(epoch).append('\n').append(step);
        for (List<String> h : holders) b.append('\n').append(String.join(",", h));
        return b.toString().getBytes(StandardCharsets.UTF_8);
    }

    public static PeerRestore decode(byte[] bytes) {
        String[] lines = new String(bytes, StandardCharsets.UTF_8).split("\n", -1);
        if (lines.length < 3) throw new IllegalArgumentException("peer restore plan of " + lines.length + " lines");
        List<List<String>> holders = new ArrayList<>();
        for (int i = 2; i < lines.length; i++) holders.add(Arrays.asList(lines[i].split(",")));
        return new PeerRestore(Long.parseLong(lines[0]), Long.parseLong(lines[1]), holders);
    }
}
