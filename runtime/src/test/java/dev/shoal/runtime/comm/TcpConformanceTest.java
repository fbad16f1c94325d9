package dev.shoal.runtime.comm;

import static org.junit.jupiter.api.Assertions.assertEquals;
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

/** The conformance suite over real TCP sockets on 127.0.0.1, one transport per rank. */
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
                        .group(name, 1, addrs, rank, Math.max(timeoutMillis, 5_000), timeoutMillis)));
            }
            Communicator[] out = new Communicator[n];
            for (int r = 0; r < n; r++) out[r] = fs.get(r).get(30, TimeUnit.SECONDS);
            return out;
        } finally {
            pool.shutdownNow();
        }
    }

    @Test
    void lockStepPiecesLeaveAtMostTheSendBufferUnread() {
        // A ring leaves at most n pieces, each with a frame header, unread on a connection: that must fit
        // in the bytes the communicator allows, for any group size and buffer; pieces are whole pages.
        for (long unread : new long[] {0, 64 << 10, 212_992, 4 << 20, 8 << 20}) {
            for (int n = 2; n <= 64; n++) {
                long piece = TcpCommunicator.pieceBytes(unread, n);
                assertEquals(0, piece % 4096, "piece " + piece);
                if (piece > 4096) assertTrue(n * (piece + 16) <= unread, n + " × " + piece + " > " + unread);
            }
        }
        assertEquals(2 << 20, TcpCommunicator.pieceBytes(4 << 20, 2) + 4096, "2 ranks, 4 MiB: 2 MiB less a page");
    }
}
