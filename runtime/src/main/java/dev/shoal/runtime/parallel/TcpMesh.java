// One rank's communicators for a (tp, pp, dp) mesh whose ranks are processes talking TCP: each rank
// owns one TcpTransport, and its TP, DP and pipeline groups are formed by rendezvous on the members'
// addresses, named by axis and coordinates so the groups of one mesh never cross.
// Guarantees: every rank forms its groups in the same order (TP, DP, PP), so rendezvous never waits
// on a group its peer has not reached; a member that does not show up within the timeout is named in
// the error (TcpTransport); the epoch keeps a stale mesh out.
package dev.shoal.runtime.parallel;

import dev.shoal.comm.Communicator;
import dev.shoal.comm.ParallelDims;
import dev.shoal.runtime.comm.TcpTransport;
import java.net.InetSocketAddress;
import java.util.List;

public final class TcpMesh {
    private TcpMesh() {}

    /** rank's communicators; addresses.get(r) is global rank r's transport address. */
    public static RankComms forRank(
            TcpTransport transport,
            List<InetSocketAddress> addresses,
            ParallelDims dims,
            int rank,
            long epoch,
            long timeoutMillis) {
        if (addresses.size() != dims.world()) {
            throw new IllegalArgumentException(
                    "mesh " + dims + " needs " + dims.world() + " rank addresses, got " + addresses.size());
        }
        ParallelDims.Coord c = dims.coord(rank);
        Communicator tp = group(
                transport,
                addresses,
                "tp/pp" + c.pp() + "/dp" + c.dp(),
                dims.tpGroup(rank),
                rank,
                epoch,
                timeoutMillis);
        Communicator dp = group(
                transport,
                addresses,
                "dp/pp" + c.pp() + "/tp" + c.tp(),
                dims.dpGroup(rank),
                rank,
                epoch,
                timeoutMillis);
        Communicator pp = group(
                transport,
                addresses,
                "pp/dp" + c.dp() + "/tp" + c.tp(),
                dims.ppGroup(rank),
                rank,
                epoch,
                timeoutMillis);
        return new RankComms(rank, c, tp, dp, pp);
    }

    private static Communicator group(
            TcpTransport transport,
            List<InetSocketAddress> addresses,
            String name,
            List<Integer> members,
            int rank,
            long epoch,
            long timeoutMillis) {
        List<InetSocketAddress> addrs = members.stream().map(addresses::get).toList();
        return transport.group(name, epoch, addrs, members.indexOf(rank), timeoutMillis);
    }
}
