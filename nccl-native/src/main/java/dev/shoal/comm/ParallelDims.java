// The (tp, pp, dp) layout of a mesh and its rank <-> coordinate maps.
//
// Order: TP varies fastest, then DP, then PP:  rank = tp + TP·(dp + DP·pp).
// So a TP group is TP consecutive ranks (inside a node), and PP stages are the slowest axis
// (across nodes), as Megatron lays them out.
//
// Guarantees: every field is ≥ 1 and tp·pp·dp == world; a mismatch throws with the whole picture.
package dev.shoal.comm;

import java.util.ArrayList;
import java.util.List;

public record ParallelDims(int tp, int pp, int dp, int world) {

    /** A rank's position in the mesh. */
    public record Coord(int tp, int pp, int dp) {}

    public ParallelDims {
        if (tp < 1 || pp < 1 || dp < 1 || world < 1) {
            throw new IllegalArgumentException(
                    "parallel sizes must be >= 1: tp " + tp + ", pp " + pp + ", dp " + dp + ", world " + world);
        }
        if ((long) tp * pp * dp != world) {
            throw new IllegalArgumentException(
                    "tp " + tp + " × pp " + pp + " × dp " + dp + " = " + ((long) tp * pp * dp) + " ≠ world " + world);
        }
    }

    public static ParallelDims of(int tp, int pp, int dp) {
        return new ParallelDims(tp, pp, dp, tp * pp * dp);
    }

    public int rank(Coord c) {
        return rank(c.tp(), c.pp(), c.dp());
    }

    public int rank(int tpRank, int ppRank, int dpRank) {
        check("tp", tpRank, tp);
        check("pp", ppRank, pp);
        check("dp", dpRank, dp);
        return tpRank + tp * (dpRank + dp * ppRank);
    }

    public Coord coord(int rank) {
        check("rank", rank, world);
        int t = rank % tp;
        int d = (rank / tp) % dp;
        int p = rank / (tp * dp);
        return new Coord(t, p, d);
    }

    /** Global ranks of the TP group that holds {@code rank}, ordered by tp coordinate. */
    public List<Integer> tpGroup(int rank) {
        Coord c = coord(rank);
        List<Integer> g = new ArrayList<>(tp);
        for (int t = 0; t < tp; t++) g.add(rank(t, c.pp(), c.dp()));
        return g;
    }

    /** Global ranks of the DP group that holds {@code rank}, ordered by dp coordinate. */
    public List<Integer> dpGroup(int rank) {
        Coord c = coord(rank);
        List<Integer> g = new ArrayList<>(dp);
        for (int d = 0; d < dp; d++) g.add(rank(c.tp(), c.pp(), d));
        return g;
    }

    /** Global ranks of the PP group (the pipeline) that holds {@code rank}, ordered by stage. */
    public List<Integer> ppGroup(int rank) {
        Coord c = coord(rank);
        List<Integer> g = new ArrayList<>(pp);
        for (int p = 0; p < pp; p++) g.add(rank(c.tp(), p, c.dp()));
        return g;
    }

    private static void check(String what, int value, int bound) {
        if (value < 0 || value >= bound) {
            throw new IllegalArgumentException(what + " " + value + " is outside [0, " + bound + ")");
        }
    }
}
