package dev.shoal.runtime.comm;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.shoal.comm.Communicator;
import java.net.InetSocketAddress;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * The conformance suite over real TCP sockets on 127.0.0.1, one transport per rank, with lock-step rings
 * (TcpDuplexConformanceTest runs it again with duplex ones).
 */
class TcpConformanceTest extends CommunicatorConformance {
    static final int MAX_RANKS = 8;
    static final List<TcpTransport> transports = new ArrayList<>();

    @BeforeAll
    static void bind() throws Exception {
        for (int i = 0; i < MAX_RANKS; i++) transports.add(TcpTransport.bind(new InetSocketAddress("127.0.0.1", 0)));
    }

    @AfterAll
    static void unbind() {
        transports.forEach(TcpTransport::close);
        transports.clear();
    }

    /** How the groups' rings run. */
    TcpRing.Mode ringMode() {
        return TcpRing.Mode.LOCK_STEP;
    }

    @Override
    Communicator[] group(String name, int n, long timeoutMillis) throws Exception {
        List<InetSocketAddress> addrs = new ArrayList<>();
        for (int i = 0; i < n; i++) addrs.add(transports.get(i).address());
        ExecutorService pool = Executors.newFixedThreadPool(n);
        try {
            List<Future<Communicator>> fs = new ArrayList<>();
            for (int r = 0; r < n; r++) {
                int rank = r;
                fs.add(pool.submit(() -> transports
                        .get(rank)
                        .group(name, 1, addrs, rank, Math.max(timeoutMillis, 5_000), timeoutMillis, ringMode())));
            }
            Communicator[] out = new Communicator[n];
            for (int r = 0; r < n; r++) out[r] = fs.get(r).get(30, TimeUnit.SECONDS);
            return out;
        } finally {
            pool.shutdownNow();
        }
    }

    @Test
    void autoRunsDuplexRingsOnlyWithCoresToSpare() {
        assertTrue(TcpRing.duplex(TcpRing.Mode.AUTO, 16, 8), "8 ranks on 16 cores");
        assertTrue(TcpRing.duplex(TcpRing.Mode.AUTO, 4, 2));
        assertFalse(TcpRing.duplex(TcpRing.Mode.AUTO, 2, 1), "a 2-core machine stays lock-step");
        assertFalse(TcpRing.duplex(TcpRing.Mode.AUTO, 16, 15));
        assertFalse(TcpRing.duplex(TcpRing.Mode.LOCK_STEP, 64, 1));
        assertTrue(TcpRing.duplex(TcpRing.Mode.DUPLEX, 1, 8));
        String old = System.getProperty("shoal.comm.tcp.ring");
        try {
            System.setProperty("shoal.comm.tcp.ring", "Lock-Step");
            assertEquals(TcpRing.Mode.LOCK_STEP, TcpRing.Mode.configured());
            System.setProperty("shoal.comm.tcp.ring", "fast");
            IllegalArgumentException e = assertThrows(IllegalArgumentException.class, TcpRing.Mode::configured);
            assertEquals("shoal.comm.tcp.ring is 'fast': use auto, lock-step or duplex", e.getMessage());
        } finally {
            if (old == null) System.clearProperty("shoal.comm.tcp.ring");
            else System.setProperty("shoal.comm.tcp.ring", old);
        }
    }

    @Test
    void lockStepPiecesLeaveAtMostTheSendBufferUnread() {
        // A ring leaves at most n pieces unread on a connection: they must fit in the bytes the
        // communicator allows, for any group size, buffer and frame; and the cut covers each frame
        // exactly, in whole elements, with near-equal pieces.
        for (long unread : new long[] {0, 64 << 10, 212_992, 4 << 20, 8 << 20}) {
            for (int n = 2; n <= 64; n++) {
                for (long frame : new long[] {0, 4, 4092, 1 << 20, (4L << 20) / n / 4 * 4, 12_000_028, 1L << 31}) {
                    int pieces = TcpRing.piecesPerFrame(frame, unread, n, 4);
                    long largestPiece = 0;
                    for (int k : new int[] {0, 1, pieces / 3, pieces / 2, pieces - 2, pieces - 1}) {
                        if (k < 0 || k >= pieces) continue;
                        long lo = TcpRing.cut(frame, k, pieces, 4), hi = TcpRing.cut(frame, k + 1, pieces, 4);
                        assertEquals(0, lo % 4, "piece " + k + " of " + frame + " starts mid-element");
                        assertTrue(hi - lo <= frame / pieces + 4, "piece " + k + " of " + frame);
                        largestPiece = Math.max(largestPiece, hi - lo);
                    }
                    assertEquals(0, TcpRing.cut(frame, 0, pieces, 4));
                    assertEquals(frame, TcpRing.cut(frame, pieces, pieces, 4));
                    long held = n * largestPiece;
                    if (largestPiece > 4096)
                        assertTrue(held <= unread, n + " pieces of " + largestPiece + " > " + unread);
                }
            }
        }
        // On 2 ranks with a 4 MiB buffer, frames of up to 2 MiB go in one piece each (a 4 MiB allReduce).
        assertEquals(1, TcpRing.piecesPerFrame(2 << 20, 4 << 20, 2, 4));
        assertEquals(2, TcpRing.piecesPerFrame((2 << 20) + 4, 4 << 20, 2, 4));
    }
}
