// The rendezvous table of one mesh epoch: what each rank's backend published in the first phase of
// joining (JoinMesh → MeshPrepared), gathered by the coordinator and handed to every rank in the
// second phase (ConnectMesh). Keys name what the bytes are for:
//   tcp/rank<R>           the TCP endpoint ("host:port", UTF-8) of global rank R (each rank publishes its own);
//   nccl/<group>          the 128-byte ncclUniqueId of a group, published by the group's root (its rank 0);
// where <group> is "world", "tp/pp<P>/dp<D>", "dp/pp<P>/tp<T>" or "pp/tp<T>/dp<D>" (the names TcpMesh uses).
// The coordinator hands each rank only its share (forRank): the TCP endpoints of the members of its
// TP, DP and PP groups and the ids of its groups, so the tables of one mesh total O(world × (tp + dp + pp))
// entries instead of world² (keys of other kinds go to every rank).
// Guarantees: epoch >= 1; immutable (keys sorted, byte arrays copied in and out); a missing key throws
// naming the key, the epoch and the keys that are there.
package dev.shoal.actors.worker;

import dev.shoal.comm.ParallelDims;
import java.nio.charset.StandardCharsets;
import java.util.Arrays;
import java.util.Collections;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;

public record Rendezvous(long epoch, Map<String, byte[]> entries) {

    /** The axes a rank's groups are built on. */
    public enum Axis {
        WORLD,
        TP,
        DP,
        PP
    }

    public Rendezvous {
        if (epoch < 1) throw new IllegalArgumentException("rendezvous epoch " + epoch + " < 1");
        TreeMap<String, byte[]> copy = new TreeMap<>();
        if (entries != null) {
            for (Map.Entry<String, byte[]> e : entries.entrySet()) {
                if (e.getKey() == null || e.getKey().isBlank() || e.getValue() == null) {
                    throw new IllegalArgumentException("rendezvous entry '" + e.getKey() + "' has no key or no bytes");
                }
                copy.put(e.getKey(), e.getValue().clone());
            }
        }
        entries = Collections.unmodifiableMap(copy);
    }

    /** The bytes published under {@code key}; throws naming the key when no rank published it. */
    public byte[] bytes(String key) {
        byte[] b = entries.get(key);
        if (b == null) {
            throw new IllegalStateException("the rendezvous of mesh epoch " + epoch + " has no entry '" + key
                    + "' (entries: " + entries.keySet() + ")");
        }
        return b.clone();
    }

    /** The TCP endpoint ("host:port") of global rank {@code rank}. */
    public String tcpEndpoint(int rank) {
        return new String(bytes(tcpKey(rank)), StandardCharsets.UTF_8);
    }

    /**
     * What rank {@code rank} of {@code dims} needs of this table: the "tcp/" endpoints of its TP, DP and PP
     * groups' members, the "nccl/" ids of its groups, and every entry of another kind.
     */
    public Rendezvous forRank(ParallelDims dims, int rank) {
        return forRanks(dims, List.of(rank));
    }

    /**
     * The union of {@link #forRank} over {@code ranks} (one node's ranks: what its agent hands out); its
     * {@code forRank(dims, r)} equals this table's for every r of {@code ranks}.
     */
    public Rendezvous forRanks(ParallelDims dims, java.util.Collection<Integer> ranks) {
        if (entries.isEmpty()) return this; // nothing published (e.g. simulated ranks): no groups to work out
        TreeMap<String, byte[]> share = new TreeMap<>();
        for (Map.Entry<String, byte[]> e : entries.entrySet()) {
            if (!e.getKey().startsWith("tcp/") && !e.getKey().startsWith("nccl/")) share.put(e.getKey(), e.getValue());
        }
        java.util.TreeSet<Integer> peers = new java.util.TreeSet<>();
        for (int rank : ranks) peers.addAll(peers(dims, rank));
        for (int peer : peers) {
            byte[] b = entries.get(tcpKey(peer));
            if (b != null) share.put(tcpKey(peer), b);
        }
        for (int rank : ranks) {
            for (Axis axis : Axis.values()) {
                String key = ncclKey(dims, rank, axis);
                byte[] b = entries.get(key);
                if (b != null) share.put(key, b);
            }
        }
        return new Rendezvous(epoch, share);
    }

    /** The global ranks that share a TP, DP or PP group with {@code rank} (itself included), ascending. */
    public static java.util.SortedSet<Integer> peers(ParallelDims dims, int rank) {
        java.util.TreeSet<Integer> out = new java.util.TreeSet<>();
        out.addAll(dims.tpGroup(rank));
        out.addAll(dims.dpGroup(rank));
        out.addAll(dims.ppGroup(rank));
        return out;
    }

    /** Key of rank {@code rank}'s TCP endpoint. */
    public static String tcpKey(int rank) {
        return "tcp/rank" + rank;
    }

    /** Key of the NCCL unique id of the {@code axis} group that holds {@code rank}. */
    public static String ncclKey(ParallelDims dims, int rank, Axis axis) {
        return "nccl/" + groupName(dims, rank, axis);
    }

    /** The group's name, the same on every member: e.g. "dp/pp0/tp1". */
    public static String groupName(ParallelDims dims, int rank, Axis axis) {
        ParallelDims.Coord c = dims.coord(rank);
        return switch (axis) {
            case WORLD -> "world";
            case TP -> "tp/pp" + c.pp() + "/dp" + c.dp();
            case DP -> "dp/pp" + c.pp() + "/tp" + c.tp();
            case PP -> "pp/tp" + c.tp() + "/dp" + c.dp();
        };
    }

    /** Global ranks of the {@code axis} group that holds {@code rank}, in group-rank order. */
    public static List<Integer> members(ParallelDims dims, int rank, Axis axis) {
        return switch (axis) {
            case WORLD ->
                java.util.stream.IntStream.range(0, dims.world()).boxed().toList();
            case TP -> dims.tpGroup(rank);
            case DP -> dims.dpGroup(rank);
            case PP -> dims.ppGroup(rank);
        };
    }

    /** True when {@code rank} is its {@code axis} group's root (group rank 0), the one that publishes its id. */
    public static boolean isRoot(ParallelDims dims, int rank, Axis axis) {
        return members(dims, rank, axis).get(0) == rank;
    }

    @Override
    public boolean equals(Object o) {
        if (!(o instanceof Rendezvous r)
                || r.epoch != epoch
                || !r.entries.keySet().equals(entries.keySet())) {
            return false;
        }
        for (String k : entries.keySet()) {
            if (!Arrays.equals(entries.get(k), r.entries.get(k))) return false;
        }
        return true;
    }

    @Override
    public int hashCode() {
        int h = Long.hashCode(epoch);
        for (Map.Entry<String, byte[]> e : entries.entrySet())
            h = 31 * h + e.getKey().hashCode() ^ Arrays.hashCode(e.getValue());
        return h;
    }

    @Override
    public String toString() {
        return "Rendezvous[epoch " + epoch + ", " + entries.keySet() + "]";
    }
}
