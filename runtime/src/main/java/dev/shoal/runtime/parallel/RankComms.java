// The communicators one rank of a (tp, pp, dp) mesh uses: its TP group, its DP group and its pipeline.
// Guarantees: each communicator's rank is this rank's coordinate on that axis and its size the axis size.
package dev.shoal.runtime.parallel;

import dev.shoal.comm.Communicator;
import dev.shoal.comm.ParallelDims;

public record RankComms(int globalRank, ParallelDims.Coord coord, Communicator tp, Communicator dp, Communicator pp) {
    public RankComms {
        check("tp", tp, coord.tp());
        check("dp", dp, coord.dp());
        check("pp", pp, coord.pp());
    }

    private static void check(String axis, Communicator c, int expected) {
        if (c.rank() != expected) {
            throw new IllegalArgumentException(axis + " communicator has rank " + c.rank() + " but this rank's " + axis
                    + " coordinate is " + expected);
        }
    }
}
