// The TCP collective backend for CPU ranks in different processes: one listening socket per
// process, and per group two connections per pair of ranks, one for each direction, made by a
// rendezvous on known addresses.
//
// Guarantees: a group forms only when every member connected within the timeout (the error names
// the missing ranks); the hello names group, epoch and ranks, so a stale epoch never joins a group.
package dev.shoal.runtime.comm;

import dev.shoal.comm.CommException;
import dev.shoal.comm.Communicator;
import java.io.IOException;
import java.net.InetSocketAddress;
import java.net.StandardSocketOptions;
import java.nio.ByteBuffer;
import java.nio.channels.ServerSocketChannel;
import java.nio.channels.SocketChannel;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;

public final class TcpTransport implements AutoCloseable {
    private final ServerSocketChannel server;
    private final Thread acceptor;
    private final ConcurrentHashMap<String, CompletableFuture<SocketChannel>> pending = new ConcurrentHashMap<>();
    private volatile boolean closed;

    private TcpTransport(ServerSocketChannel server) {
        this.server = server;
        this.acceptor =
                new Thread(this::acceptLoop, "shoal-tcp-accept-" + address().getPort());
        this.acceptor.setDaemon(true);
        this.acceptor.start();
    }

    /** Listens on {@code address} (port 0 picks a free port). */
    public static TcpTransport bind(InetSocketAddress address) throws IOException {
        ServerSocketChannel s = ServerSocketChannel.open();
        s.setOption(StandardSocketOptions.SO_REUSEADDR, true);
        s.bind(address, 256);
        return new TcpTransport(s);
    }

    public InetSocketAddress address() {
        try {
            return (InetSocketAddress) server.getLocalAddress();
        } catch (IOException e) {
            throw new IllegalStateException("transport is closed", e);
        }
    }

    private static String key(String group, long epoch, int from, int to) {
        return group + "|" + epoch + "|" + from + "->" + to;
    }

    private CompletableFuture<SocketChannel> slot(String key) {
        return pending.computeIfAbsent(key, k -> new CompletableFuture<>());
    }

    private void acceptLoop() {
        while (!closed) {
            try {
                SocketChannel ch = server.accept();
                tune(ch);
                ByteBuffer len = readFully(ch, 4);
                ByteBuffer hello = readFully(ch, len.getInt(0));
                long epoch = hello.getLong();
                int from = hello.getInt();
                int to = hello.getInt();
                byte[] name = new byte[hello.remaining()];
                hello.get(name);
                slot(key(new String(name, StandardCharsets.UTF_8), epoch, from, to))
                        .complete(ch);
            } catch (IOException e) {
                if (closed) return;
                // A broken or foreign connection attempt is dropped; the group's timeout reports it.
            }
        }
    }

    static void tune(SocketChannel ch) throws IOException {
        ch.setOption(StandardSocketOptions.TCP_NODELAY, true);
        ch.setOption(StandardSocketOptions.SO_SNDBUF, 4 << 20);
        ch.setOption(StandardSocketOptions.SO_RCVBUF, 4 << 20);
    }

    static ByteBuffer readFully(SocketChannel ch, int bytes) throws IOException {
        ByteBuffer b = ByteBuffer.allocate(bytes);
        while (b.hasRemaining()) {
            if (ch.read(b) < 0) throw new IOException("connection closed by peer");
        }
        return b.flip();
    }

    /**
     * Forms one group: {@code members.get(i)} is the transport address of group rank i, and this
     * process is rank {@code myRank}. Blocks until connected to every other member.
     */
    public Communicator group(
            String name, long epoch, List<InetSocketAddress> members, int myRank, long timeoutMillis) {
        return group(name, epoch, members, myRank, timeoutMillis, timeoutMillis);
    }

    /** As above, with separate limits for forming the group and for each later operation. */
    public Communicator group(
            String name,
            long epoch,
            List<InetSocketAddress> members,
            int myRank,
            long timeoutMillis,
            long opTimeoutMillis) {
        return group(name, epoch, members, myRank, timeoutMillis, opTimeoutMillis, TcpRing.Mode.configured());
    }

    /**
     * How this JVM's TCP rings run now: lock-step or duplex, with the setting and the counts it was
     * chosen from (shoal.comm.tcp.ring; auto by default).
     */
    public static String ringMode() {
        return TcpRing.describeConfigured();
    }

    /** As above, with the way its rings run (tests force each). */
    Communicator group(
            String name,
            long epoch,
            List<InetSocketAddress> members,
            int myRank,
            long timeoutMillis,
            long opTimeoutMillis,
            TcpRing.Mode ringMode) {
        int n = members.size();
        if (myRank < 0 || myRank >= n) {
            throw new IllegalArgumentException("rank " + myRank + " is outside group '" + name + "' of " + n);
        }
        long deadline = System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(timeoutMillis);
        // One connection per direction: out[j] carries only this rank's frames to j, in[j] only j's
        // frames to this rank. On a connection used both ways, a rank's sending and receiving threads
        // contend for the one socket's lock, and on loopback the peer's incoming data is processed by
        // whichever of them holds it: a bare two-rank stream measured 26 % slower that way.
        SocketChannel[] out = new SocketChannel[n], in = new SocketChannel[n];
        List<Integer> missing = new ArrayList<>();
        try {
            for (int j = 0; j < n; j++) {
                if (j != myRank) out[j] = connect(name, epoch, members.get(j), myRank, j, deadline);
            }
            for (int j = 0; j < n; j++) {
                if (j == myRank) continue;
                CompletableFuture<SocketChannel> f = slot(key(name, epoch, j, myRank));
                long left = deadline - System.nanoTime();
                try {
                    in[j] = f.get(Math.max(1, left), TimeUnit.NANOSECONDS);
                    pending.remove(key(name, epoch, j, myRank));
                } catch (TimeoutException e) {
                    missing.add(j);
                }
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            closeAll(out);
            closeAll(in);
            throw new CommException(CommException.Kind.ABORTED, "forming group '" + name + "': interrupted");
        } catch (Exception e) {
            closeAll(out);
            closeAll(in);
            throw new CommException(
                    CommException.Kind.PEER_LOST,
                    "forming group '" + name + "' epoch " + epoch + ": " + e.getMessage(),
                    e);
        }
        if (!missing.isEmpty()) {
            closeAll(out);
            closeAll(in);
            throw new CommException(
                    CommException.Kind.TIMEOUT,
                    "forming group '" + name + "' epoch " + epoch + ": rank " + myRank + " heard nothing from ranks "
                            + missing + " within " + timeoutMillis + " ms");
        }
        return new TcpCommunicator(name, epoch, myRank, out, in, opTimeoutMillis, ringMode);
    }

    private static SocketChannel connect(String name, long epoch, InetSocketAddress to, int me, int peer, long deadline)
            throws IOException, InterruptedException {
        IOException last = null;
        while (System.nanoTime() < deadline) {
            SocketChannel ch = SocketChannel.open();
            try {
                ch.connect(to);
                tune(ch);
                byte[] nm = name.getBytes(StandardCharsets.UTF_8);
                ByteBuffer hello = ByteBuffer.allocate(4 + 16 + nm.length);
                hello.putInt(16 + nm.length)
                        .putLong(epoch)
                        .putInt(me)
                        .putInt(peer)
                        .put(nm)
                        .flip();
                while (hello.hasRemaining()) ch.write(hello);
                return ch;
            } catch (IOException e) {
                ch.close();
                last = e;
                Thread.sleep(20);
            }
        }
        throw new IOException("rank " + me + " could not connect to rank " + peer + " at " + to
                + (last == null ? "" : " (" + last.getMessage() + ")"));
    }

    static void closeAll(SocketChannel[] chs) {
        for (SocketChannel c : chs) {
            if (c == null) continue;
            try {
                c.close();
            } catch (IOException ignored) {
                // closing is best effort
            }
        }
    }

    @Override
    public void close() {
        closed = true;
        try {
            server.close();
        } catch (IOException ignored) {
            // closing is best effort
        }
        pending.values().forEach(f -> f.thenAccept(ch -> closeAll(new SocketChannel[] {ch})));
    }
}
